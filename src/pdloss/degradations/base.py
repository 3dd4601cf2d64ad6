"""The common interface of the five degradations and their seeded random draws.

A :class:`Degradation` maps a clean batch ``(B, 3, H, W)`` in [0, 1] to a :class:`Degraded`
triple ``(degraded, target, extras)``. Every random number comes from the ``torch.Generator``
passed in, drawn on that generator's device (the CPU when None is passed, using torch's global
generator), so a CPU generator gives the same degraded images on every machine and device.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch

from pdloss.errors import InputError
from pdloss.validation import check_image_batch


class Degraded(NamedTuple):
    """What a degradation returns.

    degraded: the model's input ``(B, in_channels, H / scale, W / scale)``.
    target: the clean image the model must reconstruct ``(B, 3, H', W')``; the clean input
        itself except where a degradation trims borders (``CameraShakeBlur(padding="valid")``).
    extras: per-batch side information (noise levels, kernels, the Bayer pattern, ...).
    """

    degraded: torch.Tensor
    target: torch.Tensor
    extras: dict[str, Any]


@dataclass
class Degradation:
    """Base class: subclasses are dataclasses whose fields are the task parameters.

    Class attributes a training harness reads:
        task: the registry name (``"denoise"``, ``"sr4x"``, ...).
        in_channels: channels of the degraded image, i.e. of the model input (1 for a mosaic).
        out_channels: channels of the target (3).
    Properties: ``scale`` (target size / degraded size, 4 for sr4x) and ``crop_multiple``
    (clean crops must have sides divisible by it).
    """

    task: ClassVar[str] = ""
    in_channels: ClassVar[int] = 3
    out_channels: ClassVar[int] = 3

    @property
    def scale(self) -> int:
        return 1

    @property
    def crop_multiple(self) -> int:
        return 1

    def __call__(self, clean: torch.Tensor, generator: torch.Generator | None = None) -> Degraded:
        """Degrade a clean batch ``(B, 3, H, W)`` in [0, 1]; H and W multiples of ``crop_multiple``."""
        check_image_batch(clean, "clean image", channels=self.out_channels, min_size=self.crop_multiple)
        m = self.crop_multiple
        if clean.shape[-2] % m or clean.shape[-1] % m:
            raise InputError(
                f"the {self.task or type(self).__name__} degradation needs image sides divisible by {m}, "
                f"got {clean.shape[-2]}x{clean.shape[-1]}; crop the image first"
            )
        return self._apply(clean, generator)

    def pair(
        self, clean: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(degraded, target)``: the training pair of a clean batch."""
        out = self(clean, generator)
        return out.degraded, out.target

    def params(self) -> dict[str, Any]:
        """The task parameters (the dataclass fields) as a dict, for records and result tables."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def _apply(self, clean: torch.Tensor, generator: torch.Generator | None) -> Degraded:
        raise NotImplementedError


def _generator_device(generator: torch.Generator | None) -> torch.device:
    return generator.device if generator is not None else torch.device("cpu")


def randn(shape: tuple[int, ...], generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
    """Standard normal samples drawn on the generator's device, returned on ``like``'s device/dtype."""
    z = torch.randn(shape, generator=generator, device=_generator_device(generator), dtype=torch.float32)
    return z.to(like.device, like.dtype)


def rand(shape: tuple[int, ...], generator: torch.Generator | None) -> torch.Tensor:
    """Uniform [0, 1) float64 samples on the generator's device (moved to the CPU)."""
    return torch.rand(
        shape, generator=generator, device=_generator_device(generator), dtype=torch.float64
    ).cpu()


def seeded_generator(*keys: int) -> torch.Generator:
    """A CPU generator seeded by a well-mixed hash of integer keys (seed, epoch, index, ...).

    Nearby keys give statistically independent streams (numpy's SeedSequence does the mixing).
    """
    if any(int(k) < 0 for k in keys):
        raise InputError(f"seed keys must be non-negative integers, got {keys}")
    state = np.random.SeedSequence([int(k) for k in keys]).generate_state(2, dtype=np.uint64)
    seed = int((int(state[0]) << 1) ^ int(state[1])) & ((1 << 63) - 1)
    return torch.Generator().manual_seed(seed)


def quantize_uint8(x: torch.Tensor) -> torch.Tensor:
    """Round to the 8-bit grid like MATLAB's uint8 conversion (clip, round half away from zero)."""
    return torch.floor(x.clamp(0, 1) * 255 + 0.5) / 255
