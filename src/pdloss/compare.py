"""Distances between two images, as printed by ``pdloss compare``."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import torch

from pdloss.data.builtin import resolve_image_path
from pdloss.errors import InputError
from pdloss.features import build_extractor
from pdloss.functional import perceptual_distance, pixel_distance, projected_distribution_distance
from pdloss.imageio import read_image
from pdloss.validation import check_image_batch
from pdloss.weights import SOURCES
from pdloss.weights.resolver import default_weights


def _center_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    if size > min(h, w):
        raise InputError(f"--crop {size} is larger than the image ({h}x{w})")
    top, left = (h - size) // 2, (w - size) // 2
    return x[..., top : top + size, left : left + size]


def compare_images(
    a: str | os.PathLike,
    b: str | os.PathLike,
    weights: str = "default",
    backbone: str | None = None,
    layers: Sequence[str] = ("relu4_3",),
    crop: int | None = None,
) -> dict:
    """Pixel L1, PSNR (8-bit), PDL distribution term and L1-perceptual distance of A against B.

    Both images are read as RGB in [0, 1]; they must have the same size (or use ``crop``).
    Returns a dict with those numbers, the files, and the weights used (name and sha256 prefix).
    """
    if backbone is None:
        backbone = SOURCES[weights].arch if weights in SOURCES and SOURCES[weights].arch != "any" else "vgg16"
    if weights == "default":
        weights = default_weights(backbone)  # the first installed (docs/weights.md), or $PDLOSS_WEIGHTS
    x = read_image(resolve_image_path(a))[None]
    y = read_image(resolve_image_path(b))[None]
    if crop:
        x, y = _center_crop(x, crop), _center_crop(y, crop)
    if x.shape != y.shape:
        raise InputError(f"images differ in size: {tuple(x.shape[-2:])} and {tuple(y.shape[-2:])}; use --crop")

    extractor = build_extractor(backbone, weights, layers)
    check_image_batch(x, "A", min_size=extractor.min_size)
    with torch.inference_mode():
        fx = extractor(x, layers)
        fy = extractor(y, layers)
        pdl = sum(projected_distribution_distance(fx[k], fy[k]) for k in layers)
        perceptual = sum(perceptual_distance(fx[k], fy[k]) for k in layers)
        l1 = pixel_distance(x, y, 1).item()
        # PSNR on the 8-bit grid, as the evaluation metrics report it.
        mse = ((x * 255).round() - (y * 255).round()).pow(2).mean().item()
    psnr = math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)
    return {
        "a": str(resolve_image_path(a)),
        "b": str(resolve_image_path(b)),
        "size": [int(x.shape[-2]), int(x.shape[-1])],
        "weights": extractor.weights_label,
        "backbone": backbone,
        "layers": list(layers),
        "pixel_l1": l1,
        "psnr": psnr,
        "pdl": float(pdl),
        "perceptual_l1": float(perceptual),
    }
