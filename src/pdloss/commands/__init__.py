"""Sub-commands of the ``pdloss`` command line, discovered by :func:`pdloss.cli.build_parser`.

A module here defines ``register(subparsers: argparse._SubParsersAction) -> None``.
"""

from __future__ import annotations

import argparse


def comma_ints(text: str) -> tuple[int, ...]:
    """An argparse ``type``: ``"0,1, 2"`` -> ``(0, 1, 2)`` (empty parts ignored)."""
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
