"""pdloss's Projected Distribution Loss as a neosr loss.

Copy this file into ``neosr/losses/`` (neosr imports every ``*_loss.py`` there and registers its
classes by name) and name it in a loss slot of the training options
(``[train.perceptual_opt]`` with ``type = "pdl_loss"``). Needs ``pip install pdloss``.

neosr adds what a loss returns to the generator's total as it is; its losses apply their own
``loss_weight``. So this class returns ``loss_weight * PDL``: the paper's lambda is
``loss_weight``, and the pixel term is left to ``pixel_opt`` (``pixel_weight: 0`` unless set here).
"""

from __future__ import annotations

from neosr.utils.registry import LOSS_REGISTRY
from torch import Tensor, nn

from pdloss.losses import ProjectedDistributionLoss


@LOSS_REGISTRY.register()
class pdl_loss(nn.Module):  # neosr's lower-case loss names
    """Args: ``loss_weight`` (lambda) and any option of ``pdloss.losses.ProjectedDistributionLoss``
    (``weights``, ``layers``, ``projection``, ``input_range``, ...). Images ``(B, 3, H, W)`` RGB in
    ``input_range`` (neosr's [0, 1] by default)."""

    def __init__(self, loss_weight: float = 0.01, **options) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.pdl = ProjectedDistributionLoss(**{"weight": 1.0, "pixel_weight": 0.0, **options})

    def forward(self, pred: Tensor, gt: Tensor, **kwargs) -> Tensor:
        return self.loss_weight * self.pdl(pred, gt)
