"""Deprecated: the Bayer helpers live in :mod:`pdloss.degradations.mosaic` (their one owner).

This module re-exports them for one release and warns once when imported. ``PATTERNS`` here is the
lower-case spelling it always had.
"""

from pdloss._deprecation import warn_once
from pdloss.degradations.mosaic import PATTERNS as _PATTERNS
from pdloss.degradations.mosaic import bayer_masks, bilinear_demosaic, check_pattern, mosaic

__all__ = ["PATTERNS", "bayer_masks", "bilinear_demosaic", "check_pattern", "mosaic"]

PATTERNS = tuple(p.lower() for p in _PATTERNS)

warn_once("pdloss.models.bayer", "pdloss.degradations.mosaic (or pdloss.degradations)", stacklevel=2)
