"""Exceptions raised by pdloss.

All user-facing errors derive from :class:`PdlossError`; the command line prints their message
without a traceback. Input errors are also :class:`ValueError` so that generic code can catch them.
"""

from __future__ import annotations


class PdlossError(Exception):
    """Base class of the errors pdloss raises on purpose, with a message saying what to do."""


class InputError(PdlossError, ValueError):
    """A tensor or image argument has the wrong shape, dtype, range or values."""


class WeightsError(PdlossError, RuntimeError):
    """A weight file is missing, corrupt, or of the wrong layout."""


class ImageReadError(PdlossError, OSError):
    """An image file cannot be read or decoded."""
