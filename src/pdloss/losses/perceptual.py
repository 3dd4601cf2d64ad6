"""The perceptual loss of Johnson et al. (paper eq. 6)."""

from __future__ import annotations

import torch

from pdloss.errors import InputError
from pdloss.functional import perceptual_distance
from pdloss.losses.base import FeatureLoss


class PerceptualLoss(FeatureLoss):
    """``pixel_weight * ||u - v||_q + weight * sum_l layer_weight_l * mean |phi_l(u) - phi_l(v)|^p``.

    Besides the arguments of :class:`~pdloss.losses.base.FeatureLoss`:

    Args:
        weight: lambda.
        p: 1 (L1-perceptual, the paper's "L1") or 2 (mean squared, the paper's "L2").
    """

    def __init__(self, weight: float = 0.01, *, p: float = 1, **kwargs) -> None:
        if p not in (1, 2):
            raise InputError(f"p must be 1 (L1) or 2 (L2), got {p!r}")
        super().__init__(weight=weight, **kwargs)
        self.p = p

    def check_inputs(self, prediction: torch.Tensor, target: torch.Tensor, check_values: bool = True) -> None:
        super().check_inputs(prediction, target, check_values)
        if prediction.shape != target.shape:
            raise InputError(
                f"the perceptual loss compares features position by position: prediction {tuple(prediction.shape)} "
                f"and target {tuple(target.shape)} must have the same shape"
            )

    def feature_distance(self, fu: torch.Tensor, fv: torch.Tensor, layer: str) -> torch.Tensor:
        return perceptual_distance(fu, fv, self.p, reduction="none")

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, p={self.p}"
