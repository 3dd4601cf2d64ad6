"""pdloss's Projected Distribution Loss as a BasicSR loss.

Copy this file into ``basicsr/losses/`` (BasicSR imports every ``*_loss.py`` there and registers
its classes by name) and name it in the perceptual slot of the training options
(``train: perceptual_opt: type: ProjectedDistributionLoss``). Needs ``pip install pdloss``.

BasicSR's SR model calls ``l_percep, l_style = cri_perceptual(output, gt)`` and adds each term that
is not None; its losses apply their own ``loss_weight``. So this class returns
``(loss_weight * PDL, None)``: the paper's lambda is ``loss_weight``, and the pixel term is left to
``pixel_opt`` (``pixel_weight: 0`` unless set here).
"""

from __future__ import annotations

from basicsr.utils.registry import LOSS_REGISTRY
from torch import Tensor, nn

from pdloss.losses import ProjectedDistributionLoss as _PDL


@LOSS_REGISTRY.register()
class ProjectedDistributionLoss(nn.Module):
    """Args: ``loss_weight`` (lambda) and any option of ``pdloss.losses.ProjectedDistributionLoss``
    (``weights``, ``layers``, ``projection``, ``input_range``, ...). Images ``(B, 3, H, W)`` RGB in
    ``input_range`` (BasicSR's [0, 1] by default)."""

    def __init__(self, loss_weight: float = 0.01, **options) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.pdl = _PDL(**{"weight": 1.0, "pixel_weight": 0.0, **options})

    def forward(self, pred: Tensor, gt: Tensor, **kwargs) -> tuple[Tensor, None]:
        return self.loss_weight * self.pdl(pred, gt), None  # (perceptual, style)
