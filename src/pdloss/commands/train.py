"""``pdloss train CONFIG`` and ``pdloss sweep CONFIG``."""

from __future__ import annotations

import argparse

from pdloss.commands import comma_ints


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a restoration model with a loss (runs under torchrun for many GPUs)",
        description="Train the run a config describes. Under `torchrun --nproc_per_node N -m pdloss train` "
        "every process trains one shard with DistributedDataParallel.",
    )
    parser.add_argument(
        "config",
        help="a YAML config file, or the name of a packaged preset (`pdloss config list`; "
        "`pdloss config show NAME > mine.yaml` to start your own)",
    )
    parser.add_argument("overrides", nargs="*", help="key=value overrides, e.g. loss.weight=0.01 data.crop=128")
    parser.add_argument("--resume", action="store_true", help="continue from OUTPUT/checkpoints/last.pt")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: this rank's GPU, else cpu)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=_train)

    sweep = subparsers.add_parser(
        "sweep",
        help="train and evaluate a grid of losses and weights, gather one table",
        description="Runs the config's `sweep` list and/or the cartesian product of --set grids.",
    )
    sweep.add_argument("config", help="a YAML config file with a `sweep` list, or a packaged preset's name")
    sweep.add_argument("overrides", nargs="*", help="key=value overrides applied to every run")
    sweep.add_argument(
        "--set",
        dest="grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="a grid axis, e.g. --set loss=perceptual-l1,pdl --set loss.weight=0.01,0.05",
    )
    sweep.add_argument("--device", default=None)
    sweep.add_argument("--no-eval", action="store_true", help="train only")
    sweep.add_argument(
        "--images",
        metavar="DIR_OR_SOURCE",
        help="also evaluate every run on this folder (its subfolders too) or data source (e.g. offline:test): "
        "results-TAG.md; its images are checked against the evaluation's crop before any training",
    )
    sweep.add_argument(
        "--images-only", action="store_true", help="with --images: evaluate on that source only, not on data.valid"
    )
    sweep.add_argument(
        "--reference",
        metavar="ENTRY",
        help="compare every row with this entry (run name without -seedN): paired 95%% intervals",
    )
    sweep.add_argument(
        "--only", action="append", default=None, metavar="ENTRY", help="only this entry and its init (repeatable)"
    )
    sweep.add_argument(
        "--seeds",
        type=comma_ints,
        default=None,
        metavar="S1,S2",
        help="only the runs of these seeds (e.g. --seeds 0: the whole grid at one seed first)",
    )
    sweep.set_defaults(func=_sweep)


def _train(args: argparse.Namespace) -> int:
    from pdloss.config.schema import load_config
    from pdloss.train.presets import resolve_config

    # The config is read and checked before the trainer (and torch) is imported: a wrong
    # argument fails in a fraction of a second instead of after torch's start-up.
    config = load_config(resolve_config(args.config), args.overrides)
    from pdloss.devices import device_argument
    from pdloss.train.trainer import train

    device = device_argument(args.device)  # a missing GPU: one line before any work
    run_dir = train(config, resume=args.resume, device=device, progress=not args.no_progress)
    print(f"run folder: {run_dir}")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from pdloss.train.presets import resolve_config

    config_path = resolve_config(args.config)  # before torch's start-up, as in _train
    from pdloss.devices import device_argument
    from pdloss.sweep import sweep

    root = sweep(
        str(config_path),
        args.grid,
        args.overrides,
        device=device_argument(args.device),
        skip_eval=args.no_eval,
        images=args.images,
        reference=args.reference,
        only=args.only,
        images_only=args.images_only,
        seeds=args.seeds,
    )
    if not args.no_eval and not args.images_only:
        print((root / "results.md").read_text())
        print(f"table:    {root / 'results.md'} (.csv, .json)")
        print(f"pictures: {root / 'crops.png'}, {root / 'feature_cdf.png'}, {root / 'perception_distortion.png'}")
    return 0
