"""``pdloss compare A B``: pixel, PSNR, PDL and L1-perceptual distances between two images."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="distances between two images (pixel L1, PSNR, PDL distribution term, L1-perceptual)",
        description="Compare two RGB images of the same size. A and B are files or builtin:NAME photos.",
    )
    parser.add_argument("a", help="first image (the prediction)")
    parser.add_argument("b", help="second image (the reference)")
    parser.add_argument("--weights", default="default", help="VGG weights (see `pdloss weights list`)")
    parser.add_argument(
        "--backbone", default=None, choices=["vgg16", "vgg19"], help="default: the weights' own network, else vgg16"
    )
    parser.add_argument("--layers", nargs="+", default=["relu4_3"], help="VGG layers (default relu4_3)")
    parser.add_argument("--crop", type=int, default=None, help="compare the central CROPxCROP region only")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pdloss.commands import require_existing

    for image in (args.a, args.b):
        require_existing(image, f"image file not found: {image}")
    from pdloss.compare import compare_images

    result = compare_images(
        args.a, args.b, weights=args.weights, backbone=args.backbone, layers=args.layers, crop=args.crop
    )
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"A: {result['a']}  ({result['size'][1]}x{result['size'][0]})")
    print(f"B: {result['b']}")
    print(f"weights: {result['weights']} [{result['backbone']}, layers {', '.join(result['layers'])}]")
    print(f"  pixel L1                      {result['pixel_l1']:.6f}")
    print(f"  PSNR (dB, 8-bit scale)        {result['psnr']:.3f}")
    print(f"  PDL distribution term (W1)    {result['pdl']:.6f}")
    print(f"  L1-perceptual distance        {result['perceptual_l1']:.6f}")
    return 0
