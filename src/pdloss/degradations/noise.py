"""Additive white Gaussian noise (the denoising task; paper: sigma = 100 on the 0-255 scale)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from pdloss.degradations.base import Degradation, Degraded, randn
from pdloss.errors import InputError


def add_gaussian_noise(
    images: torch.Tensor,
    sigma: float | torch.Tensor,
    generator: torch.Generator | None = None,
    clip: bool = False,
) -> torch.Tensor:
    """``images + sigma / 255 * N(0, 1)``, images ``(B, C, H, W)`` in [0, 1].

    Args:
        sigma: the standard deviation on the 0-255 scale, a number or a ``(B,)`` tensor (one
            level per image).
        clip: clip the result to [0, 1] (off by default: clipping biases the noise).
    """
    sigma_t = torch.as_tensor(sigma, dtype=images.dtype, device=images.device)
    if sigma_t.ndim not in (0, 1) or (sigma_t.ndim == 1 and sigma_t.shape[0] != images.shape[0]):
        raise InputError(f"sigma must be a number or a (B,) tensor, got shape {tuple(sigma_t.shape)}")
    if bool((sigma_t < 0).any()):
        raise InputError(f"sigma must be non-negative, got {sigma}")
    if sigma_t.ndim == 1:
        sigma_t = sigma_t.view(-1, *([1] * (images.ndim - 1)))
    noisy = images + (sigma_t / 255.0) * randn(tuple(images.shape), generator, images)
    return noisy.clamp(0, 1) if clip else noisy


@dataclass
class GaussianNoise(Degradation):
    """Denoising: additive white Gaussian noise of standard deviation ``sigma`` (0-255 scale).

    extras: ``sigma`` (B,) on the 0-255 scale.
    """

    task: ClassVar[str] = "denoise"
    sigma: float = 100.0
    clip: bool = False

    def __post_init__(self) -> None:
        if not self.sigma >= 0:
            raise InputError(f"sigma must be >= 0 (0-255 scale), got {self.sigma}")

    def _apply(self, clean: torch.Tensor, generator: torch.Generator | None) -> Degraded:
        noisy = add_gaussian_noise(clean, self.sigma, generator, clip=self.clip)
        sigma = torch.full((clean.shape[0],), float(self.sigma))
        return Degraded(noisy, clean, {"sigma": sigma})
