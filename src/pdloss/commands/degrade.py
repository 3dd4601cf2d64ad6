"""``pdloss degrade TASK INPUT_DIR OUTPUT_DIR``: write the degraded copy of every image."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "degrade",
        help="degrade every image of a folder with one of the paper's tasks",
        description=(
            "Write the degraded copy of every image in INPUT_DIR to OUTPUT_DIR as an 8-bit PNG with the "
            "same file stem (a mosaic as a one-channel PNG; values outside [0, 1] are clipped by the 8-bit "
            "file). Each image's randomness is seeded by --seed and its file stem, so adding files does not "
            "change the others. Images whose sides are not multiples of the task's need (4 for sr4x, 2 for "
            "demosaic) are trimmed at the bottom and right, and the trimmed clean copy is written to "
            "OUTPUT_DIR/clean/ when --write-clean is given."
        ),
    )
    parser.add_argument("task", choices=["denoise", "sr4x", "deblur", "jpeg", "demosaic"])
    parser.add_argument(
        "input_dir", help="folder of images (searched recursively), or builtin / debian-photos"
    )
    parser.add_argument("output_dir")
    parser.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    parser.add_argument(
        "--sigma", type=float, help="noise sigma on the 0-255 scale (denoise: 100, demosaic: 2)"
    )
    parser.add_argument("--quality", type=int, help="JPEG quality (jpeg: 20)")
    parser.add_argument("--factor", type=int, help="downscaling factor (sr4x: 4)")
    parser.add_argument(
        "--pattern", choices=["RGGB", "GRBG", "GBRG", "BGGR"], help="Bayer pattern (demosaic)"
    )
    parser.add_argument("--noise-max", type=float, help="deblur: largest noise sigma, 0-255 scale (15)")
    parser.add_argument("--kernels", help="deblur: folder of kernel files (.png/.npy) to draw from")
    parser.add_argument(
        "--save-kernels", help="deblur: folder to write each image's kernel (STEM.png, 16-bit)"
    )
    parser.add_argument("--write-clean", action="store_true", help="also write the (trimmed) clean images")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import hashlib
    import sys
    from pathlib import Path

    from tqdm import tqdm

    from pdloss.data.sources import resolve_images
    from pdloss.degradations import build_degradation, load_kernels, save_kernel, seeded_generator
    from pdloss.errors import InputError
    from pdloss.imageio import read_image, write_image

    options = {
        "denoise": {"sigma": args.sigma},
        "sr4x": {"factor": args.factor},
        "deblur": {
            "noise_sigma_max": args.noise_max,
            "kernels": load_kernels(args.kernels) if args.kernels else None,
        },
        "jpeg": {"quality": args.quality},
        "demosaic": {"sigma": args.sigma, "pattern": args.pattern},
    }[args.task]
    given = {
        "--sigma": args.sigma,
        "--quality": args.quality,
        "--factor": args.factor,
        "--pattern": args.pattern,
        "--noise-max": args.noise_max,
        "--kernels": args.kernels,
        "--save-kernels": args.save_kernels,
    }
    allowed = {
        "denoise": {"--sigma"},
        "sr4x": {"--factor"},
        "jpeg": {"--quality"},
        "demosaic": {"--sigma", "--pattern"},
        "deblur": {"--noise-max", "--kernels", "--save-kernels"},
    }[args.task]
    stray = sorted(k for k, v in given.items() if v is not None and k not in allowed)
    if stray:
        raise InputError(
            f"{', '.join(stray)} does not apply to {args.task}; it takes {', '.join(sorted(allowed))}"
        )
    task = build_degradation(args.task, **options)
    paths = resolve_images(args.input_dir)
    stems = [p.stem for p in paths]
    duplicates = sorted({s for s in stems if stems.count(s) > 1})
    if duplicates:
        raise InputError(
            f"several input files share the stem(s) {', '.join(duplicates)}; outputs would collide"
        )
    out = Path(args.output_dir)
    m = task.crop_multiple
    for path in tqdm(paths, desc=f"degrade {args.task}", file=sys.stderr, disable=len(paths) < 2):
        image = read_image(path, mode="RGB")
        h, w = image.shape[-2:]
        if h < m or w < m:
            raise InputError(f"{path} is {h}x{w} px, too small for {args.task}")
        clean = image[:, : h - h % m, : w - w % m][None]
        stem_key = int.from_bytes(hashlib.sha256(path.stem.encode()).digest()[:7], "big")
        result = task(clean, seeded_generator(args.seed, stem_key))
        write_image(out / f"{path.stem}.png", result.degraded[0])
        if args.write_clean:
            write_image(out / "clean" / f"{path.stem}.png", result.target[0])
        if args.save_kernels and "kernels" in result.extras:
            save_kernel(Path(args.save_kernels) / f"{path.stem}.png", result.extras["kernels"][0])
    print(f"wrote {len(paths)} degraded image(s) to {out}")
    return 0
