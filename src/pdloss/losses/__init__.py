"""Reference-based losses for image restoration.

- :class:`ProjectedDistributionLoss` (PDL, the paper's loss, eq. 5)
- :class:`PerceptualLoss` (Johnson et al., eq. 6)
"""

from pdloss.losses.base import FeatureLoss, pixel_distance
from pdloss.losses.pdl import ProjectedDistributionLoss
from pdloss.losses.perceptual import PerceptualLoss

__all__ = ["FeatureLoss", "PerceptualLoss", "ProjectedDistributionLoss", "pixel_distance"]
