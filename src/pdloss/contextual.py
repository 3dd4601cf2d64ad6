"""Deprecated: moved to :mod:`pdloss.functional.contextual`; this alias warns once and goes in the next release."""

import sys
import warnings

from pdloss.functional import contextual as _module

warnings.warn(
    "pdloss.contextual moved to pdloss.functional.contextual; the old name goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
# The same module object under both names: attributes set on one (tests, monkeypatching) hold for both.
sys.modules[__name__] = _module
