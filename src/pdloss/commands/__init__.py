"""Sub-commands of the ``pdloss`` command line, discovered by :func:`pdloss.cli.build_parser`.

A module here defines ``register(subparsers: argparse._SubParsersAction) -> None``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pdloss.errors import PdlossError


def comma_ints(text: str) -> tuple[int, ...]:
    """An argparse ``type``: ``"0,1, 2"`` -> ``(0, 1, 2)`` (empty parts ignored)."""
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def require_existing(path: str | None, message: str) -> None:
    """Fail at once when a path argument does not exist: handlers call this before their heavy
    imports, so that a typo costs a fraction of a second, not torch's start-up (4-10 s).

    ``None`` and named sources (``builtin:chelsea``, ``offline:test``) pass; the deeper code checks them.
    """
    if path is None or (":" in path and not Path(path).exists()):
        return
    if not Path(path).expanduser().exists():
        raise PdlossError(message)
