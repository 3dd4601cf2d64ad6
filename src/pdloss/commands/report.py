"""``pdloss report``: regenerate the results page's tables from committed results folders."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="regenerate every results table from docs/results (folders written by `pdloss export`)",
        description=(
            "Without a sub-command: read every results folder under RESULTS (default docs/results; a "
            "folder with study.json, per_image.csv.gz, features.npz, provenance.json) and write its "
            "report.md / report.json (means over seeds, paired bootstrap intervals that resample seeds "
            "and scenes, difference curves), and RESULTS/summary.md from RESULTS/summary.json. No run "
            "folder or checkpoint is read. With --check: write nothing, exit 1 if a committed table "
            "differs from what the committed data give."
        ),
    )
    parser.add_argument("results", nargs="?", default="docs/results", help="results directory (default docs/results)")
    parser.add_argument("--check", action="store_true", help="compare with the committed tables instead of writing")
    parser.add_argument("--boot", type=int, default=None, help="bootstrap replicates (default pdloss.stats.N_BOOT)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pdloss.report.build import build_reports, check_reports
    from pdloss.stats import N_BOOT

    n_boot = args.boot or N_BOOT
    if args.check:
        differ = check_reports(args.results, n_boot)
        for path in differ:
            print(f"differs from what the committed data give: {path}", file=sys.stderr)
        print("all tables re-derive from the committed data" if not differ else f"{len(differ)} table(s) differ")
        return 1 if differ else 0
    for path in build_reports(args.results, n_boot=n_boot):
        print(path)
    return 0
