"""Bayer mosaicking (the demosaicing task): a one-channel mosaic plus mild Gaussian noise.

A pattern names the colours of the top-left 2x2 cell row by row: ``"RGGB"`` puts red at
(0, 0), green at (0, 1) and (1, 0), blue at (1, 1). The paper gives no noise level for its
"mild noise"; the default here is sigma = 2 on the 0-255 scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from pdloss.degradations.base import Degradation, Degraded, randn
from pdloss.errors import InputError
from pdloss.validation import check_image_batch

PATTERNS = ("RGGB", "GRBG", "GBRG", "BGGR")
_CHANNEL = {"R": 0, "G": 1, "B": 2}


def check_pattern(pattern: str) -> str:
    p = str(pattern).upper()
    if p not in PATTERNS:
        raise InputError(f"Bayer pattern must be one of {', '.join(PATTERNS)}, got {pattern!r}")
    return p


def bayer_masks(
    pattern: str, height: int, width: int, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """``(3, H, W)`` 0/1 masks, one per colour, marking where the pattern samples it (case-insensitive
    pattern; they sum to one everywhere)."""
    p = check_pattern(pattern)
    cell = torch.zeros(3, 2, 2)
    for position, colour in enumerate(p):
        cell[_CHANNEL[colour], position // 2, position % 2] = 1
    reps = ((height + 1) // 2, (width + 1) // 2)
    return cell.repeat(1, *reps)[:, :height, :width].to(device=device, dtype=dtype)


def mosaic(images: torch.Tensor, pattern: str = "RGGB") -> torch.Tensor:
    """Sample ``(B, 3, H, W)`` RGB images through a Bayer colour filter: ``(B, 1, H, W)``."""
    check_image_batch(images, "images", channels=3, check_values=False)
    masks = bayer_masks(pattern, images.shape[-2], images.shape[-1], images.device).to(images.dtype)
    return (images * masks).sum(dim=1, keepdim=True)


@dataclass
class BayerMosaic(Degradation):
    """Demosaicing: a Bayer mosaic ``(B, 1, H, W)`` with Gaussian noise of ``sigma`` (0-255 scale).

    extras: ``pattern`` (str), ``sigma`` (B,).
    """

    task: ClassVar[str] = "demosaic"
    in_channels: ClassVar[int] = 1
    pattern: str = "RGGB"
    sigma: float = 2.0
    clip: bool = False

    def __post_init__(self) -> None:
        self.pattern = check_pattern(self.pattern)
        if not self.sigma >= 0:
            raise InputError(f"sigma must be >= 0 (0-255 scale), got {self.sigma}")

    @property
    def crop_multiple(self) -> int:
        return 2  # whole 2x2 cells, so a crop's top-left pixel keeps the pattern's phase

    def _apply(self, clean: torch.Tensor, generator: torch.Generator | None) -> Degraded:
        m = mosaic(clean, self.pattern)
        m = m + (self.sigma / 255.0) * randn(tuple(m.shape), generator, m)
        if self.clip:
            m = m.clamp(0, 1)
        sigma = torch.full((clean.shape[0],), float(self.sigma))
        return Degraded(m, clean, {"pattern": self.pattern, "sigma": sigma})


# Bilinear interpolation kernels: green has 4 direct neighbours, red/blue have 2 or 4.
_KERNEL_G = torch.tensor([[0.0, 1.0, 0.0], [1.0, 4.0, 1.0], [0.0, 1.0, 0.0]]) / 4.0
_KERNEL_RB = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 4.0


def bilinear_demosaic(raw: torch.Tensor, pattern: str = "rggb") -> torch.Tensor:
    """Classic bilinear demosaicing of a Bayer mosaic.

    Args:
        raw: (B, 1, H, W) mosaic, H and W at least 2.
        pattern: one of :data:`PATTERNS` (either case).

    Returns:
        (B, 3, H, W) RGB. Known samples are kept exactly; a missing value is the mean of its
        nearest same-colour neighbours. Borders use reflection without repeating the edge
        (``mode='reflect'``), which maps a site to one of the same colour, so borders are exact
        bilinear too. Differentiable (a fixed linear map).
    """
    if raw.ndim != 4 or raw.shape[1] != 1:
        raise InputError(f"a Bayer mosaic must have shape (B, 1, H, W), got {tuple(raw.shape)}")
    h, w = raw.shape[-2:]
    if h < 2 or w < 2:
        raise InputError(f"a Bayer mosaic needs at least 2x2 pixels, got {h}x{w}")
    masks = bayer_masks(pattern, h, w, device=raw.device, dtype=raw.dtype)
    sparse = raw * masks.unsqueeze(0)  # (B, 3, H, W), zeros at missing sites
    kernels = torch.stack([_KERNEL_RB, _KERNEL_G, _KERNEL_RB]).unsqueeze(1).to(raw.device, raw.dtype)
    return F.conv2d(F.pad(sparse, (1, 1, 1, 1), mode="reflect"), kernels, groups=3)
