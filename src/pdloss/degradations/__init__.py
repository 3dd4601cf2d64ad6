"""Degradations of the paper's five tasks, as seeded, batched torch operators.

Interface (every task)::

    from pdloss.degradations import build_degradation
    task = build_degradation("sr4x")                  # the paper's defaults; overrides by keyword
    out = task(clean, generator)                      # clean: (B, 3, H, W) float in [0, 1]
    out.degraded, out.target, out.extras              # a Degraded named tuple
    degraded, target = task.pair(clean, generator)    # the training pair

``degraded`` is the model input ``(B, task.in_channels, H / task.scale, W / task.scale)`` and
``target`` the image to reconstruct (the clean batch itself, except for a "valid" blur that
trims it). A model reads ``task.in_channels`` (1 for ``demosaic``, else 3) and ``task.scale``
(4 for ``sr4x``, else 1); clean crops must have sides divisible by ``task.crop_multiple``. All
randomness comes from the ``torch.Generator`` passed (a CPU generator gives identical results on
every machine); ``seeded_generator(seed, epoch, index)`` makes independent per-sample streams.
Values of ``degraded`` are not clipped unless a task says so (noise can leave [0, 1]).

Tasks and defaults (the paper's where it gives them):

========== ====================================================================================
denoise    :class:`GaussianNoise`: sigma = 100 on the 0-255 scale, no clipping
sr4x       :class:`BicubicDownsample`: MATLAB imresize bicubic (Keys a = -0.5, antialiased),
           factor 4, rounded to 8 bits like DIV2K's LR files
deblur     :class:`CameraShakeBlur`: Boracchi-Foi random-trajectory kernels on 31x31, noise
           sigma ~ U(0, 15); kernel banks read from / written to PNG or .npy files
jpeg       :class:`JpegCompression`: libjpeg (Pillow) at quality 20, 4:2:0 chroma
demosaic   :class:`BayerMosaic`: RGGB (or GRBG, GBRG, BGGR) one-channel mosaic, noise sigma = 2
========== ====================================================================================
"""

from pdloss._deprecation import module_getattr
from pdloss.degradations.base import Degradation, Degraded, quantize_uint8, seeded_generator
from pdloss.degradations.blur import (
    CameraShakeBlur,
    blur,
    camera_shake_blur,
    camera_shake_kernels,
    load_kernel,
    load_kernels,
    random_trajectories,
    save_kernel,
    save_kernels,
    trajectory_kernels,
)
from pdloss.degradations.jpeg import JpegCompression, jpeg_compress
from pdloss.degradations.mosaic import PATTERNS, BayerMosaic, bayer_masks, bilinear_demosaic, mosaic
from pdloss.degradations.noise import GaussianNoise, add_gaussian_noise
from pdloss.degradations.registry import DEGRADATIONS, build_degradation, list_tasks
from pdloss.degradations.resize import BicubicDownsample, bicubic_downsample, imresize, resize_matrix

__all__ = [
    "DEGRADATIONS",
    "PATTERNS",
    "BayerMosaic",
    "BicubicDownsample",
    "CameraShakeBlur",
    "Degradation",
    "Degraded",
    "GaussianNoise",
    "JpegCompression",
    "add_gaussian_noise",
    "bayer_masks",
    "bicubic_downsample",
    "bilinear_demosaic",
    "blur",
    "build_degradation",
    "camera_shake_blur",
    "camera_shake_kernels",
    "imresize",
    "jpeg_compress",
    "list_tasks",
    "load_kernel",
    "load_kernels",
    "mosaic",
    "quantize_uint8",
    "random_trajectories",
    "resize_matrix",
    "save_kernel",
    "save_kernels",
    "seeded_generator",
    "trajectory_kernels",
]

# Old names, for one release: each warns once.
__getattr__ = module_getattr(
    __name__,
    {
        "TASKS": ("pdloss.degradations.DEGRADATIONS", lambda: DEGRADATIONS),
        "make_degradation": ("pdloss.degradations.build_degradation", lambda: build_degradation),
        "task_names": ("pdloss.degradations.list_tasks", lambda: list_tasks),
    },
)
