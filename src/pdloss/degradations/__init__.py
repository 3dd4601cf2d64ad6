"""Degradations of the paper's five tasks, as seeded, batched torch operators.

Interface (every task)::

    from pdloss.degradations import make_degradation
    task = make_degradation("sr4x")                  # the paper's defaults; overrides by keyword
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
from pdloss.degradations.mosaic import PATTERNS, BayerMosaic, bayer_masks, mosaic
from pdloss.degradations.noise import GaussianNoise, add_gaussian_noise
from pdloss.degradations.registry import TASKS, make_degradation, task_names
from pdloss.degradations.resize import BicubicDownsample, bicubic_downsample, imresize, resize_matrix

__all__ = [
    "PATTERNS",
    "TASKS",
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
    "blur",
    "camera_shake_blur",
    "camera_shake_kernels",
    "imresize",
    "jpeg_compress",
    "load_kernel",
    "load_kernels",
    "make_degradation",
    "mosaic",
    "quantize_uint8",
    "random_trajectories",
    "resize_matrix",
    "save_kernel",
    "save_kernels",
    "seeded_generator",
    "task_names",
    "trajectory_kernels",
]
