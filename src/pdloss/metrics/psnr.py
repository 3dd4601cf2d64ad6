"""Peak signal-to-noise ratio."""

from __future__ import annotations

import torch
from torch import nn

from pdloss.errors import InputError
from pdloss.metrics.color import crop_border as _crop
from pdloss.metrics.color import select_channels
from pdloss.validation import check_image_batch, check_reduction, check_same_shape, reduce


def prepare_pair(
    pred: torch.Tensor,
    target: torch.Tensor,
    data_range: float,
    color: str,
    crop_border: int,
    min_size: int = 1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate a pair ``(B, C, H, W)`` in [0, data_range], crop and convert; returns the pair in [0, 1]."""
    if data_range <= 0:
        raise InputError(f"data_range must be positive, got {data_range}")
    for t, name in ((pred, "prediction"), (target, "target")):
        check_image_batch(t, name, value_range=(0.0, float(data_range)), channels=(1, 3) if color == "y" else None)
    check_same_shape(pred, target)
    pred, target = pred / data_range, target / data_range
    pred, target = _crop(pred, crop_border), _crop(target, crop_border)
    pred, target = select_channels(pred, color), select_channels(target, color)
    if min(pred.shape[-2:]) < min_size:
        raise InputError(
            f"images of {pred.shape[-2]}x{pred.shape[-1]} pixels (after cropping) are smaller "
            f"than the {min_size} pixels this metric needs"
        )
    return pred, target


def psnr(
    pred: torch.Tensor,
    target: torch.Tensor,
    data_range: float = 1.0,
    color: str = "rgb",
    crop_border: int = 0,
    reduction: str = "mean",
) -> torch.Tensor:
    """PSNR in dB, ``10 log10(1 / MSE)`` per image on values scaled to [0, 1].

    Args:
        pred, target: ``(B, C, H, W)`` in [0, data_range].
        data_range: the peak value (1 for [0, 1] tensors, 255 for 0-255 tensors).
        color: ``"rgb"`` (all channels) or ``"y"`` (MATLAB luma; Y is computed on the 0-255
            scale, then rescaled, as in super-resolution papers).
        crop_border: pixels dropped on each side before measuring.
        reduction: ``"none"`` (B,), ``"mean"`` or ``"sum"``.

    Identical images give +inf. Differentiable where MSE > 0.
    """
    check_reduction(reduction)
    p, t = prepare_pair(pred, target, data_range, color, crop_border)
    mse = (p - t).pow(2).flatten(1).mean(dim=1)
    return reduce(-10.0 * torch.log10(mse), reduction)


class FullReferenceMetric(nn.Module):
    """Module form of a full-reference metric ``function(pred, target, data_range, color,
    crop_border, reduction)``; subclasses name the function."""

    higher_is_better = True
    function = staticmethod(psnr)

    def __init__(self, data_range: float = 1.0, color: str = "rgb", crop_border: int = 0, reduction: str = "mean"):
        super().__init__()
        self.data_range, self.color, self.crop_border, self.reduction = data_range, color, crop_border, reduction

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.function(pred, target, self.data_range, self.color, self.crop_border, self.reduction)


class PSNR(FullReferenceMetric):
    """Module form of :func:`psnr` (higher is better)."""

    function = staticmethod(psnr)
