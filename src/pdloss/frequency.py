"""Deprecated: moved to :mod:`pdloss.functional.frequency`; this alias warns once and goes in the next release."""

import sys
import warnings

from pdloss.functional import frequency as _module

warnings.warn(
    "pdloss.frequency moved to pdloss.functional.frequency; the old name goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
# The same module object under both names: attributes set on one (tests, monkeypatching) hold for both.
sys.modules[__name__] = _module
