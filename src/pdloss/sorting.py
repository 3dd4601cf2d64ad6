"""Deprecated: moved to :mod:`pdloss.functional.sorting`; this alias warns once and goes in the next release."""

import sys
import warnings

from pdloss.functional import sorting as _module

warnings.warn(
    "pdloss.sorting moved to pdloss.functional.sorting; the old name goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
# The same module object under both names: attributes set on one (tests, monkeypatching) hold for both.
sys.modules[__name__] = _module
