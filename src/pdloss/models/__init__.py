"""Restoration networks: the paper's SRN, EDSR and PSS-NSC, plus ``small-unet`` for CPU runs.

``build_model(name, task=...)`` returns a :class:`RestorationModel` taking the task's input
(see :data:`TASKS`); the core networks are usable directly too.
"""

from pdloss.models.bayer import PATTERNS, bayer_masks, bilinear_demosaic, mosaic
from pdloss.models.edsr import EDSR
from pdloss.models.layers import count_parameters
from pdloss.models.pssnsc import PSSNSC
from pdloss.models.registry import MODELS, build_model, list_models, parameter_count
from pdloss.models.small_unet import SmallUNet
from pdloss.models.srn import SRN
from pdloss.models.wrapper import TASKS, RestorationModel

__all__ = [
    "EDSR",
    "MODELS",
    "PATTERNS",
    "PSSNSC",
    "SRN",
    "TASKS",
    "RestorationModel",
    "SmallUNet",
    "bayer_masks",
    "bilinear_demosaic",
    "build_model",
    "count_parameters",
    "list_models",
    "mosaic",
    "parameter_count",
]
