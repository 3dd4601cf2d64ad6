"""MATLAB-compatible bicubic ``imresize`` (with its antialiasing when shrinking).

MATLAB resizes each axis separately with a cubic kernel (a = -0.5), widened by 1/scale when
shrinking (antialiasing), with coordinates mapped so that pixel centres line up
(``u = x / scale + 0.5 (1 - 1 / scale)``, 1-based) and symmetric (edge-repeating) mirroring at
the borders. Here each axis becomes one dense ``(out, in)`` matrix, so a resize is two batched
matrix products; differentiable.
"""

from __future__ import annotations

import math

import torch

from pdloss.errors import InputError


def _cubic(x: torch.Tensor) -> torch.Tensor:
    ax = x.abs()
    ax2, ax3 = ax**2, ax**3
    near = (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2))
    return near + far


def resize_matrix(in_length: int, out_length: int, scale: float, antialiasing: bool = True) -> torch.Tensor:
    """The ``(out_length, in_length)`` float64 matrix of MATLAB's bicubic resize along one axis."""
    kernel_width = 4.0
    shrink = scale < 1 and antialiasing
    if shrink:
        kernel_width /= scale
    x = torch.arange(1, out_length + 1, dtype=torch.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = torch.floor(u - kernel_width / 2)
    taps = math.ceil(kernel_width) + 2
    indices = left[:, None] + torch.arange(taps, dtype=torch.float64)[None, :]  # 1-based
    distance = u[:, None] - indices
    weights = scale * _cubic(distance * scale) if shrink else _cubic(distance)
    weights = weights / weights.sum(dim=1, keepdim=True)
    # Symmetric mirroring with the edge sample repeated: 0 -> 1, -1 -> 2, n + 1 -> n (1-based).
    zero_based = indices.long() - 1
    period = 2 * in_length
    wrapped = torch.remainder(zero_based, period)
    mirrored = torch.where(wrapped >= in_length, period - 1 - wrapped, wrapped)
    matrix = torch.zeros(out_length, in_length, dtype=torch.float64)
    matrix.scatter_add_(1, mirrored, weights)
    return matrix


def imresize(
    x: torch.Tensor,
    scale: float | None = None,
    size: tuple[int, int] | None = None,
    antialiasing: bool = True,
) -> torch.Tensor:
    """MATLAB ``imresize(x, scale, 'bicubic')`` of ``(..., H, W)``; no clamping, no rounding.

    Give either ``scale`` (output ``ceil(H * scale) x ceil(W * scale)``, as MATLAB) or ``size``
    (then each axis uses its own ``out / in`` scale).
    """
    if x.ndim < 2:
        raise InputError(f"imresize needs (..., H, W), got {tuple(x.shape)}")
    h, w = x.shape[-2:]
    if (scale is None) == (size is None):
        raise InputError("imresize needs exactly one of scale and size")
    if size is not None:
        out_h, out_w = size
        scale_h, scale_w = out_h / h, out_w / w
    else:
        if scale <= 0:
            raise InputError(f"scale must be positive, got {scale}")
        out_h, out_w = math.ceil(h * scale), math.ceil(w * scale)
        scale_h = scale_w = scale
    mh = resize_matrix(h, out_h, scale_h, antialiasing).to(x.device, x.dtype)
    mw = resize_matrix(w, out_w, scale_w, antialiasing).to(x.device, x.dtype)
    return mh @ x @ mw.T
