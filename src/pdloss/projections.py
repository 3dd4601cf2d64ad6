"""Projection matrices: ``from pdloss.projections import make_projection``, a public name of the design's
API contract, kept as a stable (not deprecated) path to :mod:`pdloss.functional.projections`."""

import sys

from pdloss.functional import projections as _module

# The same module object under both names.
sys.modules[__name__] = _module
