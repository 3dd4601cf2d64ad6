"""MATLAB-compatible bicubic ``imresize`` (the super-resolution task, DIV2K's bicubic track).

MATLAB's ``imresize(I, 1/s, 'bicubic')`` uses Keys' cubic kernel with a = -0.5 and, when
shrinking, antialiasing: the kernel is stretched by the inverse scale (``h(x) = s * cubic(s x)``,
support ``4 / s``). Output pixel ``x`` (1-based) maps to input coordinate
``u = x / s + 0.5 * (1 - 1 / s)``; the taps are the ``ceil(4 / s) + 2`` integers from
``floor(u - width / 2)``, their weights are normalised to sum 1 and indices falling outside the
image are mirrored symmetrically (edge pixel repeated). Each axis is one dense matrix, so a batch
is resized by two matrix products.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from pdloss.degradations.base import Degradation, Degraded, quantize_uint8
from pdloss.errors import InputError
from pdloss.validation import check_image_batch


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's ``cubic``)."""
    ax = np.abs(x)
    ax2, ax3 = ax**2, ax**3
    inner = (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)
    outer = (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2))
    return inner + outer


@functools.lru_cache(maxsize=64)
def resize_matrix(in_length: int, out_length: int, scale: float, antialias: bool = True) -> np.ndarray:
    """The ``(out_length, in_length)`` float64 matrix of MATLAB's imresize along one axis."""
    if in_length < 1 or out_length < 1 or not scale > 0:
        raise InputError(f"bad resize: {in_length} -> {out_length} pixels at scale {scale}")
    shrink = antialias and scale < 1
    kernel_width = 4.0 / scale if shrink else 4.0
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - kernel_width / 2)
    taps = math.ceil(kernel_width) + 2
    indices = left[:, None] + np.arange(taps)[None, :]  # 1-based
    distance = u[:, None] - indices
    weights = scale * cubic(distance * scale) if shrink else cubic(distance)
    weights = weights / weights.sum(axis=1, keepdims=True)
    # Symmetric mirror of out-of-range indices: 1..n, n..1, repeating.
    mirror = np.concatenate([np.arange(in_length), np.arange(in_length)[::-1]])
    columns = mirror[np.mod(indices.astype(np.int64) - 1, 2 * in_length)]
    matrix = np.zeros((out_length, in_length))
    np.add.at(matrix, (np.repeat(np.arange(out_length), taps), columns.ravel()), weights.ravel())
    matrix.setflags(write=False)
    return matrix


def imresize(
    images: torch.Tensor,
    scale: float | None = None,
    size: tuple[int, int] | None = None,
    antialias: bool = True,
) -> torch.Tensor:
    """Resize ``(..., H, W)`` images like MATLAB's ``imresize(..., 'bicubic')`` (float, no rounding).

    Give either ``scale`` (output size ``ceil(H * scale)``, ``ceil(W * scale)``, as MATLAB) or
    ``size`` = (height, width) (then each axis uses its own scale ``out / in``). Two matrix
    products, differentiable. (The NIQE metric uses this function too.)
    """
    if images.ndim < 2 or not images.is_floating_point():
        raise InputError(
            f"images must be a float tensor (..., H, W), got {tuple(images.shape)} {images.dtype}"
        )
    h, w = images.shape[-2:]
    if (scale is None) == (size is None):
        raise InputError("give exactly one of scale and size")
    if scale is not None:
        if not scale > 0:
            raise InputError(f"scale must be positive, got {scale}")
        out_h, out_w = math.ceil(h * scale), math.ceil(w * scale)
        scale_h = scale_w = float(scale)
    else:
        out_h, out_w = (int(s) for s in size)  # type: ignore[union-attr]
        scale_h, scale_w = out_h / h, out_w / w
    dtype = images.dtype if images.dtype == torch.float64 else torch.float32
    mh = torch.tensor(resize_matrix(h, out_h, scale_h, antialias)).to(images.device, dtype)
    mw = torch.tensor(resize_matrix(w, out_w, scale_w, antialias)).to(images.device, dtype)
    out = torch.matmul(mh, torch.matmul(images.to(dtype), mw.T))
    return out.to(images.dtype)


@dataclass
class BicubicDownsample(Degradation):
    """Super-resolution: MATLAB bicubic downscaling by an integer ``factor`` (paper: 4).

    ``quantize`` (default True) rounds the low-resolution image to 8 bits as MATLAB does on uint8
    input, which is how DIV2K's ``DIV2K_train_LR_bicubic`` files were made.
    extras: ``factor``.
    """

    task: ClassVar[str] = "sr4x"
    factor: int = 4
    quantize: bool = True

    def __post_init__(self) -> None:
        if int(self.factor) != self.factor or self.factor < 1:
            raise InputError(f"factor must be a positive integer, got {self.factor}")
        self.factor = int(self.factor)

    @property
    def scale(self) -> int:
        return self.factor

    @property
    def crop_multiple(self) -> int:
        return self.factor

    def _apply(self, clean: torch.Tensor, generator: torch.Generator | None) -> Degraded:
        h, w = clean.shape[-2:]
        low = imresize(clean, size=(h // self.factor, w // self.factor))
        if self.quantize:
            low = quantize_uint8(low)
        return Degraded(low, clean, {"factor": self.factor})


def bicubic_downsample(images: torch.Tensor, factor: int = 4) -> torch.Tensor:
    """Functional twin of :class:`BicubicDownsample` without rounding: ``(B, C, H/f, W/f)``."""
    check_image_batch(images, "images", channels=None, min_size=factor)
    h, w = images.shape[-2:]
    if h % factor or w % factor:
        raise InputError(f"image sides {h}x{w} must be divisible by the factor {factor}")
    return imresize(images, size=(h // factor, w // factor))
