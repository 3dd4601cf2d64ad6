"""Sub-commands of the ``pdloss`` command line, discovered by :func:`pdloss.cli.build_parser`.

A module here defines ``register(subparsers: argparse._SubParsersAction) -> None``.
"""
