"""Restoration networks: the paper's SRN, EDSR and PSS-NSC, plus ``small-unet`` for CPU runs.

``build_model(name, task=...)`` returns a :class:`RestorationModel` taking the task's input
(see :data:`TASK_IO`; :func:`list_models` lists the networks); the core networks are usable directly too.
"""

from pdloss._deprecation import module_getattr
from pdloss.degradations.mosaic import PATTERNS as _PATTERNS
from pdloss.degradations.mosaic import bayer_masks as _bayer_masks
from pdloss.degradations.mosaic import bilinear_demosaic as _bilinear_demosaic
from pdloss.degradations.mosaic import mosaic as _mosaic
from pdloss.models.edsr import EDSR
from pdloss.models.layers import count_parameters
from pdloss.models.pssnsc import PSSNSC
from pdloss.models.registry import MODEL_SPECS, build_model, list_models, parameter_count
from pdloss.models.small_unet import SmallUNet
from pdloss.models.srn import SRN
from pdloss.models.wrapper import TASK_IO, RestorationModel

__all__ = [
    "EDSR",
    "MODEL_SPECS",
    "PSSNSC",
    "SRN",
    "TASK_IO",
    "RestorationModel",
    "SmallUNet",
    "build_model",
    "count_parameters",
    "list_models",
    "parameter_count",
]

# Old names, for one release: each warns once. The Bayer helpers belong to pdloss.degradations.
__getattr__ = module_getattr(
    __name__,
    {
        "MODELS": ("pdloss.models.MODEL_SPECS (or list_models())", lambda: MODEL_SPECS),
        "TASKS": ("pdloss.models.TASK_IO", lambda: TASK_IO),
        "PATTERNS": ("pdloss.degradations.PATTERNS", lambda: tuple(p.lower() for p in _PATTERNS)),
        "bayer_masks": ("pdloss.degradations.bayer_masks", lambda: _bayer_masks),
        "bilinear_demosaic": ("pdloss.degradations.bilinear_demosaic", lambda: _bilinear_demosaic),
        "mosaic": ("pdloss.degradations.mosaic", lambda: _mosaic),
    },
)
