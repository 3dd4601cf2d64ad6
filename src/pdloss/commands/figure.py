"""``pdloss figure distances OUT.png``: the paper's figures that stand on their own (Fig. 2);
``pdloss figure crops OUT.png RUN...``: a crop grid of chosen evaluated runs."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "figure",
        help="draw one of the paper's stand-alone figures (distances: Fig. 2)",
        description="Draw one of the paper's figures that needs no trained model, or a crop grid of chosen runs.",
    )
    sub = parser.add_subparsers(dest="figure", metavar="FIGURE")
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])

    dist = sub.add_parser(
        "distances",
        help="Fig. 2: KL, JS and Wasserstein on a shifted histogram and on VGG16 feature histograms",
        description=(
            "Fig. 2 of the paper. (a) A base histogram shifted by 0..--max-shift bins: the Wasserstein "
            "distance grows with the shift, KL and JS stay constant once the supports are disjoint "
            "(KL is smoothed with epsilon 1e-6 per bin to stay finite). (b-e) Histograms of VGG16 "
            "relu4_3 channels of the image's 4x bicubic down- then up-sampled version and of the image "
            "itself, with their W1, KL and JS."
        ),
    )
    dist.add_argument("output", help="the PNG to write")
    dist.add_argument("--weights", default="vgg16-hed", help="VGG16 weights (vgg16-hed; random only for tests)")
    dist.add_argument(
        "--image", help="image file or builtin:NAME (default builtin:astronaut, else the first built-in photo)"
    )
    dist.add_argument("--channels", default="0,1,2,3", help="relu4_3 channels, comma-separated (0,1,2,3)")
    dist.add_argument("--layer", default="relu4_3", help="VGG16 layer (relu4_3, the paper's conv4)")
    dist.add_argument("--crop", type=int, default=512, help="centre crop side before resampling; 0 = whole (512)")
    dist.add_argument("--bins", type=int, default=64, help="histogram bins per channel (64)")
    dist.add_argument("--max-shift", type=int, default=30, help="toy example: largest shift in bins (30)")
    dist.add_argument("--json", help="also write the figure's data here")
    dist.set_defaults(func=_distances)

    crops = sub.add_parser(
        "crops",
        help="a crop grid (input, each run, reference) of runs evaluated on the same images",
        description=(
            "Rows: the most textured windows of the references (chosen on the references alone) or the "
            "centre windows; columns: the degraded input, each run's restoration, the reference. The runs "
            "must have been evaluated on the same images (pdloss evaluate / pdloss sweep; --images TAG "
            "picks RUN/eval-TAG instead of RUN/eval)."
        ),
    )
    crops.add_argument("output", help="the PNG to write")
    crops.add_argument(
        "runs",
        nargs="+",
        help="run folders, in column order; RUN=LABEL sets a column's title; RUN@STEP takes the "
        "evaluation of the run's checkpoint at STEP (evaluate.steps)",
    )
    crops.add_argument("--images", help="the evaluation's source or tag (offline:test -> eval-offline-test)")
    crops.add_argument("--crop", type=int, default=96, help="window side in pixels (96)")
    crops.add_argument("--zoom", type=int, default=2, help="pixel-replication zoom of every window (2)")
    crops.add_argument("--max-images", type=int, default=3, help="rows (3)")
    crops.add_argument("--windows", choices=("textured", "centre"), default="textured")
    crops.set_defaults(func=_crops)


def _channels(text: str) -> list[int]:
    from pdloss.errors import InputError

    try:
        return [int(c) for c in text.split(",") if c.strip()]
    except ValueError:
        raise InputError(f"--channels expects comma-separated integers, got {text!r}") from None


def _distances(args: argparse.Namespace) -> int:
    from pdloss.figures_distances import distance_figure_data, plot_distance_figure, write_json

    data = distance_figure_data(
        image=args.image,
        weights=args.weights,
        channels=_channels(args.channels),
        layer=args.layer,
        crop=args.crop,
        bins=args.bins,
        max_shift=args.max_shift,
    )
    plot_distance_figure(data, args.output)
    if args.json:
        write_json(data, args.json)
    feats = data["features"]
    for panel in feats["channels"]:
        print(
            f"{feats['layer']} channel {panel['channel']}: W1 {panel['w1']:.4g}, "
            f"KL {panel['kl']:.4g} nats, JS {panel['js']:.4g} bits"
        )
    print(f"figure written to {args.output}" + (f", data to {args.json}" if args.json else ""))
    return 0


def _crops(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pdloss.errors import PdlossError
    from pdloss.evaluation.run import images_tag
    from pdloss.report.figures import crop_grid
    from pdloss.runs.layout import eval_folder_name

    tag = None if args.images is None else images_tag(args.images)
    folders, labels, eval_names = [], [], []
    for item in args.runs:
        folder, _, label = item.partition("=")
        # RUN@STEP: the evaluation of the run's earlier checkpoint (evaluate.steps).
        base, at, step = folder.rpartition("@")
        earlier = int(step) if at and step.isdigit() else None
        folder = Path(base if earlier is not None else folder)
        eval_name = eval_folder_name(tag, earlier)
        if not (folder / eval_name / "restored").is_dir():
            raise PdlossError(
                f"{folder} has no {eval_name}/restored/: evaluate it first "
                f"(pdloss evaluate {folder}{'' if args.images is None else ' --images ' + args.images})"
            )
        folders.append(folder)
        labels.append(label or folder.name + (f"@{earlier}" if earlier is not None else ""))
        eval_names.append(eval_name)
    out = crop_grid(
        folders,
        labels,
        Path(args.output),
        crop=args.crop,
        max_images=args.max_images,
        eval_name=eval_names,
        zoom=args.zoom,
        windows=args.windows,
    )
    print(f"crop grid written to {out}")
    return 0
