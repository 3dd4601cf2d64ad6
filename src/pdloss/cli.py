"""The ``pdloss`` command line.

Each sub-command lives in its own module under :mod:`pdloss.commands` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (a callable taking the parsed
arguments and returning an exit code). Command modules keep their heavy imports inside the
handler so that ``pdloss --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import signal
import sys
from collections.abc import Sequence

from pdloss import __version__
from pdloss.errors import PdlossError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pdloss",
        description="Projected Distribution Loss: losses, degradations, models, metrics and training.",
    )
    parser.add_argument("--version", action="version", version=f"pdloss {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    import pdloss.commands as commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"pdloss.commands.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except PdlossError as exc:
        print(f"pdloss {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        # Ctrl-C, or SIGTERM stopping a training run (pdloss.train.stop.Terminated carries its signum):
        # the shell's convention, 128 + the signal's number.
        signum = getattr(exc, "signum", signal.SIGINT)
        print(f"pdloss {args.command}: {'interrupted' if signum == signal.SIGINT else 'stopped'}", file=sys.stderr)
        return 128 + signum


if __name__ == "__main__":
    raise SystemExit(main())
