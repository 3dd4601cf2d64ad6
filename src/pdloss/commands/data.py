"""``pdloss data list`` and ``pdloss data fetch debian-photos``."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "data",
        help="list and fetch the photo sets",
        description="`pdloss data list` shows the photo sets and the fixed train/valid/test split; "
        "`pdloss data fetch debian-photos` fetches the larger offline set. The built-in photos (data "
        "source `builtin`, used by the demo-denoise preset) are files of scikit-image, scikit-learn and "
        "matplotlib: they need the data extra, pip install 'pdloss[data]'.",
    )
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION")
    listing = sub.add_parser("list", help="show which photo sets are present and their image counts")
    listing.add_argument("--files", action="store_true", help="also list the photos of each split subset")
    listing.set_defaults(func=run_list)
    fetch = sub.add_parser(
        "fetch",
        help="fetch a photo set into $PDLOSS_HOME/data (debian-photos: apt-get download + dpkg-deb -x)",
    )
    fetch.add_argument("name", choices=["debian-photos"])
    fetch.set_defaults(func=run_fetch)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def run_list(args: argparse.Namespace) -> int:
    from pdloss.data.sources import list_sources

    rows = list_sources()
    print(f"{'set':<15} {'images':>8}  location")
    for row in rows:
        count = f"{row.present}/{row.expected}" if row.expected is not None else str(row.present)
        state = (
            ""
            if row.present
            else "  (absent: "
            + ("pdloss data fetch debian-photos)" if row.name == "debian-photos" else "pip install 'pdloss[data]')")
        )
        print(f"{row.name:<15} {count:>8}  {row.location}{state}")
    print("any folder of images is also a data source (e.g. DIV2K_train_HR/)")
    print_split(verbose=args.files)
    return 0


def print_split(verbose: bool = False) -> None:
    """The fixed photo split (pdloss.data.split): counts per set and subset, names with --files."""
    from pdloss.data.split import SUBSETS, div2k_root, split_counts, split_names

    print("\nsplit (data sources SET:SUBSET, e.g. offline:train, builtin:train+valid; hyperparameters on valid,")
    print("results on test):")
    print(f"{'set':<15} " + " ".join(f"{s:>6}" for s in SUBSETS))
    for split_set, counts in split_counts().items():
        print(f"{split_set:<15} " + " ".join(f"{counts[s]:>6}" for s in SUBSETS))
        if verbose:
            for subset in SUBSETS:
                print(f"  {subset}: {', '.join(split_names(split_set, (subset,)))}")
    print(f"div2k           DIV2K_train_HR 0001-0700 / 0701-0800 / DIV2K_valid_HR, under {div2k_root()}")


def run_fetch(args: argparse.Namespace) -> int:
    from pdloss.data.debian import fetch_debian_photos

    result = fetch_debian_photos()
    if result.status == "verified":
        print(f"{args.name}: all {result.count} photos present and verified in {result.folder}")
    else:
        print(
            f"{args.name}: fetched {len(result.written)} photos; {result.count} verified in {result.folder}"
        )
    return 0
