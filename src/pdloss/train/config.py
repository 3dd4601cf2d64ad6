"""Deprecated: moved to :mod:`pdloss.config.schema`; this alias warns once and goes in the next release."""

import sys
import warnings

from pdloss.config import schema as _module

warnings.warn(
    "pdloss.train.config moved to pdloss.config.schema; the old name goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
# The same module object under both names: attributes set on one (tests, monkeypatching) hold for both.
sys.modules[__name__] = _module
