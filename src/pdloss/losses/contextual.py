"""The contextual loss of Mechrez et al. 2018 (the paper's CTXDP and CTXL2 baselines), with the
optional contextual bilateral variant (CoBi, Zhang et al. 2019)."""

from __future__ import annotations

import torch

from pdloss.errors import InputError
from pdloss.functional.contextual import contextual_loss
from pdloss.losses.base import FeatureLoss

# The reference samples 65 x 65 positions when a feature map has more (max_sampling_1d_size = 65).
DEFAULT_MAX_POSITIONS = 65 * 65


class ContextualLoss(FeatureLoss):
    """``pixel_weight * ||u - v||_q + weight * sum_l layer_weight_l * CX_l(phi_l(u), phi_l(v))``.

    ``CX_l`` is :func:`pdloss.contextual.contextual_loss` (``-log`` of the contextual similarity)
    on the features of one layer, per image.

    Besides the arguments of :class:`~pdloss.losses.base.FeatureLoss`:

    Args:
        weight: lambda (paper: 0.01-0.5; 0.1 in the denoising comparison).
        distance: ``"cosine"`` (CTXDP, the dot product of centred unit vectors) or ``"l2"``
            (CTXL2, squared euclidean distance).
        bandwidth: h (paper: 0.5).
        max_positions: when a feature map has more positions than this, the loss is computed on
            this many positions drawn at random (the same ones in prediction and target). The
            default 4225 = 65 x 65 is the reference's; None is exact (memory grows as
            ``(h*w)^2`` per image: 64 x 64 positions already take 64 MiB per matrix).
        spatial_weight: 0 for the contextual loss, > 0 (reference: 0.1) for CoBi.
        seed: seed of the generator of the position sampling (reproducible sequences of draws).

    With ``pixel_weight=0`` prediction and target may have different sizes (the contextual loss
    does not need aligned images).
    """

    def __init__(
        self,
        weight: float = 0.1,
        *,
        distance: str = "cosine",
        bandwidth: float = 0.5,
        max_positions: int | None = DEFAULT_MAX_POSITIONS,
        spatial_weight: float = 0.0,
        seed: int = 0,
        **kwargs,
    ) -> None:
        # Validate the options now (on tiny tensors) rather than at the first training step.
        probe = torch.zeros(1, 1, 1, 1)
        contextual_loss(probe, probe, distance, bandwidth, max_positions, "none", None, spatial_weight)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise InputError(f"seed must be an integer, got {seed!r}")
        super().__init__(weight=weight, **kwargs)
        self.distance = distance
        self.bandwidth = float(bandwidth)
        self.max_positions = max_positions
        self.spatial_weight = float(spatial_weight)
        self.seed = seed
        self._generator = torch.Generator().manual_seed(seed)

    def feature_distance(self, fu: torch.Tensor, fv: torch.Tensor, layer: str) -> torch.Tensor:
        # The generator lives on the CPU whatever the device: indices are drawn there and moved.
        return contextual_loss(
            fu, fv, self.distance, self.bandwidth, self.max_positions, "none", self._generator, self.spatial_weight
        )

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, distance={self.distance!r}, bandwidth={self.bandwidth}, "
            f"max_positions={self.max_positions}, spatial_weight={self.spatial_weight}"
        )
