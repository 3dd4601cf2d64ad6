"""Colour conversions the metrics share (MATLAB conventions, as the papers' numbers use)."""

from __future__ import annotations

import torch

from pdloss.errors import InputError

# MATLAB rgb2ycbcr (ITU-R BT.601, "studio swing") luma row for RGB in [0, 1], output on 0-255.
_Y_WEIGHTS = (65.481, 128.553, 24.966)
_Y_OFFSET = 16.0


def rgb_to_y(x: torch.Tensor) -> torch.Tensor:
    """MATLAB ``rgb2ycbcr`` luma of RGB ``(B, 3, H, W)`` in [0, 1]; returns ``(B, 1, H, W)`` in [0, 1].

    Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255, so Y lies in [16/255, 235/255].
    Differentiable.
    """
    if x.ndim != 4 or x.shape[1] != 3:
        raise InputError(f"rgb_to_y needs (B, 3, H, W), got {tuple(x.shape)}")
    w = torch.tensor(_Y_WEIGHTS, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return ((x * w).sum(dim=1, keepdim=True) + _Y_OFFSET) / 255.0


def select_channels(x: torch.Tensor, color: str) -> torch.Tensor:
    """``color="rgb"`` returns ``x``; ``"y"`` its MATLAB luma (grey inputs pass through)."""
    if color == "rgb":
        return x
    if color == "y":
        return x if x.shape[1] == 1 else rgb_to_y(x)
    raise InputError(f"color must be 'rgb' or 'y', got {color!r}")


def crop_border(x: torch.Tensor, border: int) -> torch.Tensor:
    """Drop ``border`` pixels on each side of ``(B, C, H, W)`` (super-resolution convention)."""
    if border < 0:
        raise InputError(f"crop_border must be >= 0, got {border}")
    if border == 0:
        return x
    if x.shape[-1] <= 2 * border or x.shape[-2] <= 2 * border:
        raise InputError(f"crop_border={border} leaves nothing of a {x.shape[-2]}x{x.shape[-1]} image")
    return x[..., border:-border, border:-border]
