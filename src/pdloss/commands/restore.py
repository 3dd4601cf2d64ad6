"""``pdloss restore CHECKPOINT_OR_RUN IN OUT``: apply a trained model to a folder of images."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "restore",
        help="apply a trained model to every image of a folder (or one file)",
        description=(
            "Restore every image of IN (a folder, searched recursively, or one file) with the model of a "
            "run folder or checkpoint and write OUT/STEM.png (8-bit RGB, same stem and sub-folder). The run's "
            "task decides the input: low-resolution RGB for sr4x (outputs are 4x larger), one-channel Bayer "
            "mosaics for demosaic (as `pdloss degrade demosaic` writes them), RGB of any size otherwise. Large "
            "images are restored in overlapping tiles, blended in the overlaps. Unreadable files are skipped "
            "with a warning; existing outputs make it stop before any work unless --overwrite is given."
        ),
    )
    parser.add_argument("run", metavar="CHECKPOINT_OR_RUN", help="a run folder (its checkpoints/last.pt) or a .pt file")
    parser.add_argument("inputs", metavar="IN", help="folder of degraded images, or one image file")
    parser.add_argument("output", metavar="OUT", help="output folder (for one input file: a folder or a .png path)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: the GPU if any, else cpu)")
    parser.add_argument(
        "--tile",
        type=int,
        default=None,
        metavar="N",
        help="restore in tiles of N input pixels (default: only images over the memory budget are tiled)",
    )
    parser.add_argument(
        "--overlap",
        type=int,
        default=None,
        metavar="N",
        help="pixels neighbouring tiles share (default 64, at most half the tile); the outer quarter on "
        "each side is dropped, the middle half blended",
    )
    parser.add_argument(
        "--memory",
        type=float,
        default=None,
        metavar="GB",
        help="memory budget of one pass (default: half the GPU's free memory, 2 on CPU)",
    )
    parser.add_argument(
        "--pattern",
        choices=["RGGB", "GRBG", "GBRG", "BGGR"],
        default=None,
        help="demosaic: Bayer pattern of the mosaics (default: the run's)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys
    import warnings

    from pdloss.commands import require_existing

    require_existing(args.run, f"no checkpoint at {args.run}")
    require_existing(args.inputs, f"input {args.inputs} does not exist")
    from tqdm import tqdm

    from pdloss.restoration import RestoreWarning, restore

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        prefix = "warning" if category is RestoreWarning else category.__name__
        tqdm.write(f"pdloss restore: {prefix}: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("always", RestoreWarning)
        warnings.showwarning = show
        result = restore(
            args.run,
            args.inputs,
            args.output,
            device=args.device,
            tile=args.tile,
            overlap=args.overlap,
            overwrite=args.overwrite,
            memory_gb=args.memory,
            pattern=args.pattern,
            progress=not args.no_progress,
        )
    skipped = f"; skipped {len(result.skipped)} unreadable or unsuitable file(s)" if result.skipped else ""
    folder = result.written[0].parent if len(result.written) == 1 else args.output
    print(f"wrote {len(result.written)} restored image(s) to {folder}{skipped}")
    return 0
