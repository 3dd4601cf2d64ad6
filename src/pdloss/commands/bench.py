"""``pdloss bench``: the paper's Table 1 speed comparison, PDL against its peers, memory scaling."""

from __future__ import annotations

import argparse
import json
import sys

from pdloss.commands import comma_ints


def _csv(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="speed and memory of the losses (paper Table 1), PDL against peers, scaling",
        description=(
            "Measure relative training steps/s per loss (the paper's Table 1), loss-only time and peak "
            "memory, the distribution terms against peer implementations, and scaling with crop size and "
            "number of projections. Prints markdown (and JSON with --json). See docs/benchmarks.md."
        ),
    )
    parser.add_argument("--suite", type=_csv, default=("table1", "terms"),
                        help="comma-separated: table1,terms,scaling,projections or all (default table1,terms)")
    parser.add_argument("--precision", type=_csv, default=("fp32",),
                        help="table1 precisions: fp32, bf16 (autocast + channels_last); comma-separated")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=128, help="crop side in pixels")
    parser.add_argument("--model", default="small-unet", help="restoration model of the training steps")
    parser.add_argument("--weights", default="vgg16-hed", help="VGG16 weights (see `pdloss weights list`)")
    parser.add_argument("--layer", default="relu4_3")
    parser.add_argument("--repeats", type=int, default=5, help="timed interleaved rounds")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    parser.add_argument("--crops", type=comma_ints, default=(64, 128, 256, 512, 1024), help="scaling suite crops")
    parser.add_argument("--factors", type=comma_ints, default=(1, 2, 4, 8), help="projection factors")
    parser.add_argument("--memory-cap-gib", type=float, default=4.0,
                        help="skip exact contextual runs whose estimated matrices exceed this (GiB)")
    parser.add_argument("--no-pot", action="store_true", help="leave POT out even when it is installed")
    parser.add_argument("--quick", action="store_true",
                        help="seconds-long smoke run: random weights, batch 2 of 32 px, one round, small crops")
    parser.add_argument("--json", metavar="PATH", help="also write the full results as JSON ('-': print it)")
    parser.add_argument("--markdown", metavar="PATH", help="also write the markdown to PATH")
    parser.add_argument("--update-doc", metavar="PATH",
                        help="replace the marked section --section of this markdown file with the tables")
    parser.add_argument("--section", default="cpu", help="section name for --update-doc (default cpu)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    from pdloss.bench import SUITES, BenchConfig, format_report, quick_config, run_benchmarks, update_document
    from pdloss.devices import device_argument

    suites = SUITES if "all" in args.suite else args.suite
    args.device = device_argument(args.device)  # a missing GPU: one line; "cuda" -> "cuda:0"

    def progress(message: str) -> None:
        print(f"[bench] {message}", file=sys.stderr, flush=True)

    common = dict(device=args.device, model=args.model, layer=args.layer, progress=progress)
    crops, factors = args.crops, args.factors
    if args.quick:
        config = quick_config(**common)
        crops, factors = tuple(c for c in crops if c <= 128) or (64,), tuple(f for f in factors if f <= 2) or (1,)
    else:
        config = BenchConfig(batch=args.batch, size=args.size, weights=args.weights, repeats=args.repeats,
                             warmup=args.warmup, **common)
    report = run_benchmarks(config, suites, args.precision, crops, factors, args.memory_cap_gib, not args.no_pot)
    markdown = format_report(report)
    if args.json == "-":
        print(json.dumps(report, indent=2))
    else:
        print(markdown)
        if args.json:
            with open(args.json, "w", encoding="utf-8") as f:
                json.dump(report, f, indent=2)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(markdown)
    if args.update_doc:
        title = f"## Results: {report['machine']['device_name']}, {report['machine']['time_utc']}"
        command = "pdloss " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["bench"] else "pdloss bench ..."
        update_document(args.update_doc, args.section, f"{title}\n\nCommand: `{command}`\n\n{markdown}")
    return 0
