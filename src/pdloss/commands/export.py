"""``pdloss export``: a results folder (per-image rows, Inception rows, provenance) from a sweep's
evaluated runs, which ``pdloss report`` turns into tables without the runs."""

from __future__ import annotations

import argparse
import shlex
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write a results folder from a sweep's evaluated runs",
        description=(
            "Read the evaluation of every run of the sweep CONFIG on --images (RUN/eval-TAG/metrics.json "
            "and inception.npz) and write FOLDER/study.json, per_image.csv.gz, features.npz and "
            "provenance.json: everything `pdloss report` needs (commit the folder, not the runs)."
        ),
    )
    parser.add_argument("config", help="the sweep's config file")
    parser.add_argument("folder", help="results folder to write, e.g. docs/results/scale-denoise")
    parser.add_argument("--images", default="offline:test", help="the evaluated source ('valid' for data.valid)")
    parser.add_argument("--only", action="append", default=None, help="export only this entry (repeatable)")
    parser.add_argument("--runs-root", default=None, help="where the run folders are (default: the config's output)")
    parser.add_argument("--reference", default=None, help="the entry every row is compared with")
    parser.add_argument("--compare", action="append", default=[], metavar="A:B", help="also show B minus A")
    parser.add_argument("--note", action="append", default=[], help="a sentence for the report (repeatable)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pdloss.commands import require_existing

    require_existing(args.config, f"config file not found: {args.config}")
    from pdloss.errors import InputError
    from pdloss.report.export import export_study

    pairs = []
    for item in args.compare:
        if item.count(":") != 1:
            raise InputError(f"--compare {item!r}: give two entries as A:B")
        pairs.append(tuple(item.split(":")))
    folder = export_study(
        args.config,
        args.folder,
        source=None if args.images == "valid" else args.images,
        only=args.only,
        runs_root=args.runs_root,
        reference=args.reference,
        comparisons=pairs,
        command=" ".join(shlex.quote(a) for a in ["pdloss", *sys.argv[1:]]),
        notes=args.note,
    )
    print(folder)
    return 0
