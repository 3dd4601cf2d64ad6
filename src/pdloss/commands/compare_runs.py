"""``pdloss compare-runs A B``: B against A on the same images, with paired bootstrap intervals.

A and B are each a run folder (its ``eval/``, or ``eval-TAG/`` with ``--eval-tag``), an
evaluation folder, or several of them separated by commas, one per seed (paired by position).
"""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare-runs",
        help="B - A per metric with a paired bootstrap 95%% interval (images and seeds resampled)",
        description="Compare two trained runs scored on the same images. For PSNR, SSIM, MS-SSIM, LPIPS and "
        "NIQE the per-image differences B - A (pooled over seeds) get a bootstrap interval resampling images "
        "and seeds; FID and KID are bootstrapped over images from the Inception features in inception.npz. "
        "A star marks an interval that excludes 0; the verdict takes each metric's direction into account.",
    )
    parser.add_argument("a", metavar="A", help="run or evaluation folder(s) of the reference side, comma-separated")
    parser.add_argument("b", metavar="B", help="run or evaluation folder(s) compared against A, one per seed of A")
    parser.add_argument(
        "--eval-tag", default=None, metavar="TAG", help="use RUN/eval-TAG (an evaluation on another image folder)"
    )
    parser.add_argument(
        "--metrics", default=None, metavar="LIST", help="comma-separated metrics, e.g. psnr,lpips,fid (default: all)"
    )
    parser.add_argument("--boot", type=int, default=2000, metavar="N", help="bootstrap replicates (default 2000)")
    parser.add_argument(
        "--boot-set", type=int, default=None, metavar="N", help="replicates for FID/KID (default: --boot)"
    )
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the resampling (default 0)")
    parser.add_argument("--confidence", type=float, default=0.95, help="interval coverage (default 0.95)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.set_defaults(func=run)


def _folders(spec: str, tag: str | None) -> list:
    from pdloss.errors import InputError
    from pdloss.evaluation.compare import resolve_evaluation

    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if not parts:
        raise InputError(f"no folder given in {spec!r}")
    return [resolve_evaluation(p, tag) for p in parts]


def run(args: argparse.Namespace) -> int:
    from pdloss.evaluation.compare import compare_evaluations

    metrics = None if args.metrics is None else [m for m in args.metrics.split(",") if m.strip()]
    comparison = compare_evaluations(
        _folders(args.a, args.eval_tag),
        _folders(args.b, args.eval_tag),
        metrics=metrics,
        n_boot=args.boot,
        seed=args.seed,
        confidence=args.confidence,
        n_boot_set=args.boot_set,
        progress=not args.no_progress,
    )
    if args.json:
        print(json.dumps(comparison.to_json(), indent=2))
        return 0
    print(render(comparison))
    return 0


def render(comparison) -> str:
    """The text table of a :class:`pdloss.evaluation.compare.Comparison`."""
    from pdloss.metrics.registry import METRIC_SPECS, format_value
    from pdloss.report.format import format_interval

    titles = {name: spec.title for name, spec in METRIC_SPECS.items()}
    percent = f"{100 * comparison.confidence:g}%"
    lines = [
        f"A: {', '.join(str(p) for p in comparison.evals_a)}",
        f"B: {', '.join(str(p) for p in comparison.evals_b)}",
        "",
    ]
    header = ["metric", "mean A", "mean B", f"B - A [{percent} interval]", "images x seeds", "B vs A"]
    rows = []
    for metric, c in comparison.metrics.items():
        rows.append(
            [
                f"{titles.get(metric, metric)} {'↑' if c.higher_is_better else '↓'}",
                format_value(metric, c.mean_a),
                format_value(metric, c.mean_b),
                format_interval(c, metric),
                f"{c.interval.n_images} x {c.interval.n_seeds}",
                c.verdict,
            ]
        )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    lines.append("")
    lines.append(
        f"* the {percent} interval excludes 0 (paired bootstrap percentile interval, {comparison.n_boot} "
        f"replicates resampling images{' and seeds' if len(comparison.evals_a) > 1 else ''}, seed {comparison.seed})"
    )
    sets = [m for m, c in comparison.metrics.items() if c.kind == "set"]
    if sets and comparison.n_boot_set and comparison.n_boot_set != comparison.n_boot:
        lines.append(f"  ({', '.join(titles.get(m, m) for m in sets)}: {comparison.n_boot_set} replicates)")
    for metric, why in comparison.unavailable.items():
        lines.append(f"{titles.get(metric, metric)} unavailable: {why}")
    return "\n".join(lines)
