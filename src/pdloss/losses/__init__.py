"""Reference-based losses for image restoration, by the names of the paper's tables.

- :class:`ProjectedDistributionLoss` (PDL, the paper's loss, eq. 5)
- :class:`FrequencyDistributionLoss` (FDL, Ni et al. 2024: the frequency distribution loss baseline)
- :class:`PerceptualLoss` (Johnson et al., eq. 6: "L1" and "L2")
- :class:`ContextualLoss` (Mechrez et al.: "CTXDP" and "CTXL2"; CoBi with ``spatial_weight``)
- :class:`AdversarialLoss` with :class:`SRGANDiscriminator` (the SRGAN baseline)
- :class:`PixelLoss` (the "no-perceptual" baseline)
- :class:`CombinedLoss`: several feature losses sharing one backbone pass
- :func:`build_loss` / :func:`list_losses`: the registry (``"l1"``, ``"perceptual-l1"``, ...)
"""

from pdloss._deprecation import module_getattr
from pdloss.functional import pixel_distance
from pdloss.losses.adversarial import AdversarialLoss, SRGANDiscriminator
from pdloss.losses.base import FeatureLoss
from pdloss.losses.combined import CombinedLoss
from pdloss.losses.contextual import ContextualLoss
from pdloss.losses.fdl import FrequencyDistributionLoss
from pdloss.losses.pdl import ProjectedDistributionLoss
from pdloss.losses.perceptual import PerceptualLoss
from pdloss.losses.registry import LOSSES, PixelLoss, build_loss, list_losses

__all__ = [
    "AdversarialLoss",
    "CombinedLoss",
    "ContextualLoss",
    "FeatureLoss",
    "FrequencyDistributionLoss",
    "PerceptualLoss",
    "PixelLoss",
    "ProjectedDistributionLoss",
    "SRGANDiscriminator",
    "build_loss",
    "list_losses",
    "pixel_distance",
]

# Old name, for one release: warns once.
__getattr__ = module_getattr(__name__, {"LOSS_NAMES": ("pdloss.losses.list_losses()", lambda: tuple(LOSSES))})
