"""Building blocks shared by the restoration networks.

- :class:`Conv2dSame`: a convolution with TensorFlow's ``padding='SAME'`` rule, which pads
  asymmetrically for strided convolutions (SRN and PSS-NSC were released in TensorFlow).
- :func:`pad_to_multiple` / :func:`crop_to`: let a network with a total stride ``m`` take any size.
- :func:`xavier_init`: the references' initialisation (Glorot uniform weights, zero biases).
- :func:`count_parameters`: trainable parameter count.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from pdloss.validation import check_image_batch


class Conv2dSame(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow ``SAME`` padding: output size ``ceil(in / stride)``.

    TensorFlow pads ``total = max((ceil(n / s) - 1) * s + k - n, 0)`` pixels, ``total // 2``
    before and the rest after; for a stride-2 5x5 convolution on an even size that is 1 before
    and 2 after, which PyTorch's symmetric ``padding`` cannot express.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=0, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, s = self.kernel_size[0], self.stride[0]
        pads = []
        for n in (x.shape[-1], x.shape[-2]):  # F.pad order: last axis first
            total = max((math.ceil(n / s) - 1) * s + k - n, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad ``x`` (B, C, H, W) at the bottom/right to sizes divisible by ``multiple``.

    Reflect padding where the image is large enough (pad < size), replicate padding otherwise
    (reflection needs a pad smaller than the size). Returns the padded tensor and the original
    (H, W) for :func:`crop_to`.
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x, (h, w)
    mode = "reflect" if (ph < h and pw < w) else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode), (h, w)


def crop_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Keep the top-left ``size`` (H, W) of ``x`` (B, C, H', W')."""
    return x[..., : size[0], : size[1]]


def xavier_init(module: nn.Module) -> None:
    """Glorot-uniform weights and zero biases for every (transposed) convolution in ``module``.

    This is ``tf.contrib.layers.xavier_initializer(uniform=True)`` with zero biases, the
    initialisation of the SRN and PSS-NSC releases (fan in/out include the kernel area in both).
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable scalars (``requires_grad``) in ``module``; shared tensors count once."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def check_channels(x: object, name: str, channels: int | None) -> torch.Tensor:
    """Shape/dtype check of a network input (B, channels, H, W); values are not range-checked
    because degraded inputs (strong noise) legitimately leave [0, 1]."""
    return check_image_batch(x, name, value_range=None, channels=channels, check_values=False)

