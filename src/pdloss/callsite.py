"""Warnings that point at the user's line, not at pdloss's.

A loss's warning is raised several calls deep (``Module.__call__``, ``forward``, the input checks),
and how deep depends on the path (a subclass's ``check_inputs``, ``CombinedLoss``, a compiled
graph). A fixed ``stacklevel`` is right for one path only; :func:`user_stacklevel` counts the
frames up to the first one outside pdloss and torch instead (Python 3.12's ``skip_file_prefixes``
does the same, but pdloss supports 3.10).
"""

from __future__ import annotations

import os
import sys

import torch

_INSIDE = (
    os.path.dirname(os.path.abspath(__file__)) + os.sep,
    os.path.dirname(os.path.abspath(torch.__file__)) + os.sep,
)


def user_stacklevel() -> int:
    """The ``stacklevel`` for ``warnings.warn`` in the function calling this, such that the warning
    names the first caller outside pdloss and torch (the user's code)."""
    frame = sys._getframe(1)  # the function that will call warnings.warn: stacklevel 1
    level = 1
    while frame.f_back is not None and os.path.abspath(frame.f_code.co_filename).startswith(_INSIDE):
        frame = frame.f_back  # (pdloss's own command line: the outermost frame)
        level += 1
    return level
