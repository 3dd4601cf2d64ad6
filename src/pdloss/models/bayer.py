"""Bayer colour filter arrays: pattern masks and bilinear demosaicing.

A pattern string names the 2x2 tile at the top-left corner read row by row: ``"rggb"`` means
R at (0, 0), G at (0, 1) and (1, 0), B at (1, 1). The mosaic is one channel ``(B, 1, H, W)``;
any H, W (odd sizes too: the tile simply repeats from the top-left corner).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pdloss.errors import InputError

PATTERNS = ("rggb", "grbg", "gbrg", "bggr")

# Bilinear interpolation kernels: green has 4 direct neighbours, red/blue have 2 or 4.
_KERNEL_G = torch.tensor([[0.0, 1.0, 0.0], [1.0, 4.0, 1.0], [0.0, 1.0, 0.0]]) / 4.0
_KERNEL_RB = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 4.0


def check_pattern(pattern: str) -> str:
    p = str(pattern).lower()
    if p not in PATTERNS:
        raise InputError(f"unknown Bayer pattern {pattern!r}; expected one of {', '.join(PATTERNS)}")
    return p


def bayer_masks(pattern: str, height: int, width: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """The (3, H, W) 0/1 masks of the R, G, B sites of ``pattern``; they sum to one everywhere."""
    p = check_pattern(pattern)
    masks = torch.zeros(3, height, width, device=device, dtype=dtype)
    for idx, letter in enumerate(p):
        dy, dx = divmod(idx, 2)
        masks["rgb".index(letter), dy::2, dx::2] = 1.0
    return masks


def mosaic(rgb: torch.Tensor, pattern: str = "rggb") -> torch.Tensor:
    """Sample an RGB batch (B, 3, H, W) with ``pattern``: returns the mosaic (B, 1, H, W)."""
    if rgb.ndim != 4 or rgb.shape[1] != 3:
        raise InputError(f"mosaic expects an RGB batch (B, 3, H, W), got {tuple(rgb.shape)}")
    m = bayer_masks(pattern, rgb.shape[-2], rgb.shape[-1], device=rgb.device, dtype=rgb.dtype)
    return (rgb * m).sum(dim=1, keepdim=True)


def bilinear_demosaic(raw: torch.Tensor, pattern: str = "rggb") -> torch.Tensor:
    """Classic bilinear demosaicing of a Bayer mosaic.

    Args:
        raw: (B, 1, H, W) mosaic, H and W at least 2.
        pattern: one of :data:`PATTERNS`.

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
