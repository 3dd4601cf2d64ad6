"""The Projected Distribution Loss (paper eq. 5, Algorithm 1)."""

from __future__ import annotations

import torch

from pdloss.errors import InputError
from pdloss.functional import projected_distribution_distance
from pdloss.functional.projections import PROJECTION_KINDS, make_projection
from pdloss.losses.base import FeatureLoss


class ProjectedDistributionLoss(FeatureLoss):
    """``pixel_weight * ||u - v||_q + weight * sum_l layer_weight_l * PDD(phi_l(u), phi_l(v))``.

    PDD is :func:`pdloss.functional.projected_distribution_distance`: per image, the mean over
    the K projections of the 1-D p-Wasserstein distance between the spatial distributions of the
    projected features.

    Besides the arguments of :class:`~pdloss.losses.base.FeatureLoss`:

    Args:
        weight: lambda (paper: 0.001-0.02 depending on the task; 0.01 for denoising).
        projection: ``"id"`` (paper default), ``"r2p"``, ``"rpp"`` or ``"rsp"`` (Table 8).
        projection_factor: projections per channel (K = factor * C).
        seed: seed of the random projections.
        resample: draw new random projections at every call (else fixed, held in buffers).
        p: Wasserstein order (paper: 1).

    Example::

        loss_fn = ProjectedDistributionLoss(weight=0.01, weights="vgg16-hed")
        loss = loss_fn(model(noisy), clean)   # images (B, 3, H, W) in [0, 1]
    """

    def __init__(
        self,
        weight: float = 0.01,
        *,
        projection: str = "id",
        projection_factor: int = 1,
        seed: int = 0,
        resample: bool = False,
        p: float = 1,
        **kwargs,
    ) -> None:
        # Checked now, not at the first call (the distance itself also refuses it there).
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not p >= 1:
            raise InputError(f"p (Wasserstein order) must be a number >= 1 (the paper uses 1), got {p!r}")
        super().__init__(weight=weight, **kwargs)
        if projection not in PROJECTION_KINDS:
            raise InputError(f"projection must be one of {PROJECTION_KINDS}, got {projection!r}")
        if projection == "id" and resample:
            raise InputError("resample=True needs a random projection (r2p, rpp or rsp), not 'id'")
        self.projection = projection
        self.projection_factor = projection_factor
        self.seed = seed
        self.resample = resample
        self.p = p
        self._generator = torch.Generator().manual_seed(seed)
        self._buffer_names: dict[str, str] = {}
        for layer in self.layers:
            name = f"projection_{layer}"
            self._buffer_names[layer] = name
            matrix = None
            if projection != "id":
                matrix = make_projection(projection, self.channels[layer], projection_factor, self._generator)
            else:
                make_projection("id", self.channels[layer], projection_factor)  # validates the factor
            self.register_buffer(name, matrix)

    def projection_matrix(self, layer: str) -> torch.Tensor | None:
        """The ``(K, C)`` matrix of ``layer`` (None for the identity)."""
        return getattr(self, self._buffer_names[layer])

    def before_forward(self) -> None:
        if self.resample:
            for layer in self.layers:
                current = self.projection_matrix(layer)
                fresh = make_projection(self.projection, self.channels[layer], self.projection_factor, self._generator)
                current.copy_(fresh.to(device=current.device, dtype=current.dtype))

    def feature_distance(self, fu: torch.Tensor, fv: torch.Tensor, layer: str) -> torch.Tensor:
        return projected_distribution_distance(fu, fv, self.projection_matrix(layer), self.p, reduction="none")

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, projection={self.projection!r}, factor={self.projection_factor}, "
            f"p={self.p}, resample={self.resample}"
        )
