"""Bayer colour filter arrays: pattern masks and bilinear demosaicing.

A pattern string names the 2x2 tile at the top-left corner read row by row: ``"rggb"`` means
R at (0, 0), G at (0, 1) and (1, 0), B at (1, 1). The mosaic is one channel ``(B, 1, H, W)``;
any H, W (odd sizes too: the tile simply repeats from the top-left corner).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pdloss.degradations.mosaic import PATTERNS as DEGRADATION_PATTERNS
from pdloss.degradations.mosaic import bayer_masks, check_pattern, mosaic
from pdloss.errors import InputError

__all__ = ["PATTERNS", "bayer_masks", "bilinear_demosaic", "check_pattern", "mosaic"]

# One definition of the patterns, masks and mosaic for the whole package: the degradation's.
PATTERNS = tuple(p.lower() for p in DEGRADATION_PATTERNS)

# Bilinear interpolation kernels: green has 4 direct neighbours, red/blue have 2 or 4.
_KERNEL_G = torch.tensor([[0.0, 1.0, 0.0], [1.0, 4.0, 1.0], [0.0, 1.0, 0.0]]) / 4.0
_KERNEL_RB = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 4.0


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
