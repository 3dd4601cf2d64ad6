"""pdloss's Projected Distribution Loss as a traiNNer-redux loss.

Copy this file into ``traiNNer/losses/`` (traiNNer-redux imports every ``*_loss.py`` there and
registers its classes by lower-cased name) and list it under ``train: losses:`` with
``type: projecteddistributionloss``. Needs ``pip install pdloss``.

traiNNer-redux builds each loss with its options (``loss_weight`` included), calls
``loss(output, gt)`` and multiplies the result by ``abs(loss.loss_weight)`` itself. So this class
keeps ``loss_weight`` as an attribute and returns the unweighted PDL; the pixel term is left to
the pixel loss of the list (``pixel_weight: 0`` unless set here).
"""

from __future__ import annotations

from torch import Tensor, nn
from traiNNer.utils.registry import LOSS_REGISTRY

from pdloss.losses import ProjectedDistributionLoss as _PDL


@LOSS_REGISTRY.register()
class ProjectedDistributionLoss(nn.Module):
    """Args: ``loss_weight`` (lambda, applied by the trainer) and any option of
    ``pdloss.losses.ProjectedDistributionLoss`` (``weights``, ``layers``, ``projection``,
    ``input_range``, ...). Images ``(B, 3, H, W)`` RGB in ``input_range`` ([0, 1] by default)."""

    def __init__(self, loss_weight: float = 0.01, **options) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.pdl = _PDL(**{"weight": 1.0, "pixel_weight": 0.0, **options})

    def forward(self, pred: Tensor, gt: Tensor) -> Tensor:
        return self.pdl(pred, gt)
