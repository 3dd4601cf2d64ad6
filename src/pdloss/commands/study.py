"""``pdloss study create | serve | report | export``: the human pairwise-preference study."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "study",
        help="human pairwise-preference study (forced choice, as in the paper's Tables 3 and 5)",
        description="Create, serve and report a forced-choice pairwise-preference study of restorations.",
    )
    sub = parser.add_subparsers(dest="study_command", metavar="ACTION")
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])

    create = sub.add_parser(
        "create",
        help="pair images by file stem, crop, and store the study design",
        description=(
            "Create a study from folders of results (--method NAME=DIR, at least two) or from a sweep "
            "(--from-sweep SWEEP_DIR: each trained run of the sweep's table becomes a method named as in "
            "the table, with the references of the same evaluation)."
        ),
    )
    create.add_argument("study", type=Path, help="study folder (created)")
    create.add_argument(
        "--method",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="a method's name and its folder of results; at least two without --from-sweep (added after its runs)",
    )
    create.add_argument("--reference", type=Path, help="folder of reference images shown below each pair")
    create.add_argument(
        "--from-sweep",
        type=Path,
        metavar="SWEEP_DIR",
        help="a folder written by `pdloss sweep`: its runs' restored images are the methods",
    )
    create.add_argument(
        "--images",
        metavar="TAG",
        help="with --from-sweep: the evaluation on another folder (results-TAG.json, RUN/eval-TAG/); "
        "TAG or that folder's path (its name is the TAG); default the sweep's own evaluation",
    )
    create.add_argument(
        "--run",
        action="append",
        default=[],
        metavar="LABEL_OR_RUN",
        help="with --from-sweep: only this run (its table label or run folder); repeat, in study order",
    )
    create.add_argument(
        "--run-seed",
        type=int,
        metavar="S",
        help="with --from-sweep: the images of seed S for entries trained with several seeds (default: each's first)",
    )
    create.add_argument(
        "--with-input", action="store_true", help="with --from-sweep: add the degraded input as the method 'input'"
    )
    create.add_argument(
        "--crop", type=int, default=800, help="square crop side in pixels; 0 = whole image (800)"
    )
    create.add_argument("--crop-mode", choices=("center", "random"), default="center", help="crop position")
    create.add_argument("--questions", type=int, default=20, help="questions per rater (20)")
    create.add_argument("--seed", type=int, default=0, help="seed of crop positions and question sets (0)")
    create.add_argument("--title", help="study title shown to raters (default: folder name)")
    create.set_defaults(func=_create)

    serve = sub.add_parser(
        "serve",
        help="run the rating web app",
        description=(
            "Serve the study. The admin token is printed at start (set PDLOSS_STUDY_ADMIN_TOKEN to fix it)."
        ),
    )
    serve.add_argument("study", type=Path)
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (127.0.0.1; 0.0.0.0 for a LAN)"
    )
    serve.add_argument("--port", type=int, default=8080, help="port (8080; 0 picks a free one)")
    serve.add_argument("--threads", type=int, default=8, help="worker threads (8)")
    serve.add_argument(
        "--rate-limit", type=float, default=50.0, help="requests/s per client address; 0 = off (50)"
    )
    serve.add_argument("--server", choices=("auto", "waitress", "werkzeug"), default="auto")
    serve.add_argument(
        "--secure-cookie", action="store_true", help="mark the rater cookie Secure (behind an HTTPS proxy)"
    )
    serve.set_defaults(func=_serve)

    report = sub.add_parser("report", help="preference matrix, standard errors and Bradley-Terry scores")
    report.add_argument("study", type=Path)
    report.add_argument("--format", choices=("md", "csv", "json"), default="md")
    report.add_argument("--output", "-o", type=Path, help="write here instead of standard output")
    report.add_argument("--plot", type=Path, help="also save a plot (PNG/PDF/SVG by suffix)")
    report.set_defaults(func=_report)

    export = sub.add_parser("export", help="all votes as CSV (rater numbers, never tokens)")
    export.add_argument("study", type=Path)
    export.add_argument("--output", "-o", type=Path)
    export.set_defaults(func=_export)


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        tmp = output.with_name(f".{output.name}.tmp")
        tmp.write_text(text)
        tmp.replace(output)


def _create(args: argparse.Namespace) -> int:
    from pdloss.errors import InputError
    from pdloss.study.design import create_study, parse_method_spec

    methods = [parse_method_spec(spec) for spec in args.method]
    reference, extra_meta = args.reference, None
    if args.from_sweep is not None:
        from pdloss.study.sweep import sweep_methods

        if args.reference is not None:
            raise InputError(
                "--reference and --from-sweep exclude each other: the references are the sweep evaluation's"
            )
        found = sweep_methods(
            args.from_sweep, images=args.images, with_input=args.with_input, runs=args.run, seed=args.run_seed
        )
        methods = [*found.methods, *methods]
        reference, extra_meta = found.reference, found.meta()
        print(
            f"from {found.results}: "
            + ", ".join(f"{name} <- {path}" for name, path in found.methods)
            + f"; references from {found.reference}",
            file=sys.stderr,
        )
    else:
        options = (
            ("--images", args.images),
            ("--run", args.run),
            ("--with-input", args.with_input),
            ("--run-seed", args.run_seed is not None),
        )
        used = [flag for flag, value in options if value]
        if used:
            raise InputError(f"{', '.join(used)} need --from-sweep SWEEP_DIR")
        if len(methods) < 2:
            raise InputError("give at least two --method NAME=DIR, or --from-sweep SWEEP_DIR")
    summary = create_study(
        args.study,
        methods,
        reference=reference,
        crop=args.crop,
        crop_mode=args.crop_mode,
        questions=args.questions,
        seed=args.seed,
        title=args.title,
        extra_meta=extra_meta,
    )
    for name, count in summary.skipped.items():
        if count:
            print(
                f"pdloss study: {count} image(s) of {name} have no partner in every folder; left out",
                file=sys.stderr,
            )
    print(
        f"created study {summary.folder}: {len(summary.methods)} methods ({', '.join(summary.methods)}), "
        f"{len(summary.stems)} images, {summary.pairs} method pairs, {summary.questions} questions per rater"
    )
    return 0


def _serve(args: argparse.Namespace) -> int:
    from pdloss.study.server import serve

    serve(
        args.study,
        host=args.host,
        port=args.port,
        threads=args.threads,
        rate_limit=args.rate_limit,
        server=args.server,
        secure_cookie=args.secure_cookie,
    )
    return 0


def _report(args: argparse.Namespace) -> int:
    from pdloss.study.report import (
        build_report,
        format_csv,
        format_json,
        format_markdown,
        load_wins,
        plot_report,
    )

    names, wins, info = load_wins(args.study)
    report = build_report(names, wins, info)
    formatter = {"md": format_markdown, "csv": format_csv, "json": format_json}[args.format]
    _emit(formatter(report), args.output)
    if args.plot is not None:
        plot_report(report, args.plot)
        print(f"plot written to {args.plot}", file=sys.stderr)
    return 0


def _export(args: argparse.Namespace) -> int:
    from pdloss.study.export import export_votes

    _emit(export_votes(args.study), args.output)
    return 0
