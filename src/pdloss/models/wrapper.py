"""Task adaptation around a core network.

The five tasks of the paper (the names used everywhere in pdloss):

========== ============================================ ==========================
task       input                                        output
========== ============================================ ==========================
denoise    noisy RGB (B, 3, H, W)                       RGB (B, 3, H, W)
jpeg       JPEG-decoded RGB (B, 3, H, W)                RGB (B, 3, H, W)
deblur     blurred RGB (B, 3, H, W)                     RGB (B, 3, H, W)
demosaic   Bayer mosaic (B, 1, H, W) + pattern string   RGB (B, 3, H, W)
sr4x       low-resolution RGB (B, 3, H, W)              RGB (B, 3, 4H, 4W)
========== ============================================ ==========================

Demosaicing: the mosaic is first demosaiced bilinearly (:func:`pdloss.degradations.bilinear_demosaic`,
known samples kept, exact for every pattern), and the network refines that RGB image. This keeps
each network's reference input layout (SRN's first conv then has the 6 input channels of its
colour release) and lets one model take any of the four patterns.

Super-resolution with a same-size network (SRN, PSS-NSC): the input is first upsampled 4x
bicubically (as in VDSR), then restored. EDSR and small-unet upsample natively (pixel shuffle).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pdloss._deprecation import module_getattr
from pdloss.degradations.mosaic import bilinear_demosaic, check_pattern
from pdloss.errors import InputError
from pdloss.validation import check_image_batch

# Task name -> what a model of that task takes and returns (degradations.DEGRADATIONS: how inputs are made).
TASK_IO: dict[str, str] = {
    "denoise": "Gaussian denoising: noisy RGB -> RGB, same size",
    "jpeg": "JPEG artifact removal: decoded RGB -> RGB, same size",
    "deblur": "motion deblurring: blurred RGB -> RGB, same size",
    "demosaic": "demosaicing: Bayer mosaic (B, 1, H, W) + pattern -> RGB",
    "sr4x": "4x super-resolution: RGB (B, 3, H, W) -> RGB (B, 3, 4H, 4W)",
}
SR_SCALE = 4


def check_task(task: str) -> str:
    if task not in TASK_IO:
        raise InputError(f"unknown task {task!r}; expected one of {', '.join(TASK_IO)}")
    return task


class RestorationModel(nn.Module):
    """A core network adapted to one task.

    Args:
        net: the core network, ``net(x, return_all_scales=...)`` on (B, 3, H, W).
        task: one of :data:`TASK_IO`.
        name: the registry name (for messages and records).
        native_scale: the network's own output/input size ratio (4 for EDSR at sr4x).
        pattern: default Bayer pattern for ``demosaic`` (overridable per call).

    ``forward(x, pattern=None, return_all_scales=False)``: see the task table above; with
    ``return_all_scales`` a list of outputs coarse to fine (one element for single-scale nets).
    """

    def __init__(self, net: nn.Module, task: str, name: str = "", native_scale: int = 1,
                 pattern: str = "rggb") -> None:
        super().__init__()
        self.net = net
        self.task = check_task(task)
        self.name = name
        self.pattern = check_pattern(pattern)
        self.scale = SR_SCALE if task == "sr4x" else 1
        if native_scale not in (1, self.scale):
            raise ValueError(f"a network with scale {native_scale} cannot serve task {task!r}")
        self.pre_upsample = self.scale // native_scale
        self.in_channels = 1 if task == "demosaic" else 3
        # Outputs of return_all_scales=True (3 for SRN and PSS-NSC): a trainer uses this to apply
        # the references' multi-scale loss.
        self.n_scales = int(getattr(net, "n_levels", 1))

    def forward(self, x: torch.Tensor, pattern: str | None = None, return_all_scales: bool = False):
        if self.task == "demosaic":
            check_image_batch(x, f"{self.name or 'model'} input (a Bayer mosaic)", value_range=None,
                              channels=1, min_size=2, check_values=False)
            x = bilinear_demosaic(x, pattern or self.pattern)
        else:
            if pattern is not None:
                raise InputError(f"pattern is only used by the demosaic task, not {self.task!r}")
            check_image_batch(x, f"{self.name or 'model'} input", value_range=None, channels=3,
                              check_values=False)
        if self.pre_upsample > 1:
            x = F.interpolate(x, scale_factor=self.pre_upsample, mode="bicubic", align_corners=False)
        return self.net(x, return_all_scales=return_all_scales)

    def extra_repr(self) -> str:
        return f"name={self.name!r}, task={self.task!r}, scale={self.scale}, n_scales={self.n_scales}"


# Old name, for one release.
__getattr__ = module_getattr(__name__, {"TASKS": ("pdloss.models.TASK_IO", lambda: TASK_IO)})
