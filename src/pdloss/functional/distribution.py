"""The distribution term of the PDL: per image, the mean 1-D Wasserstein distance between the
spatial distributions of (projected) feature channels."""

from __future__ import annotations

import torch

from pdloss.errors import InputError
from pdloss.functional.wasserstein import _as_sort_dtype, wasserstein_1d
from pdloss.validation import check_reduction, reduce

__all__ = ["projected_distribution_distance"]


def projected_distribution_distance(
    fu: torch.Tensor,
    fv: torch.Tensor,
    projection: torch.Tensor | None = None,
    p: float = 1,
    reduction: str = "mean",
) -> torch.Tensor:
    """The distribution term of the PDL (paper Algorithm 1, eq. 5) on feature maps.

    Args:
        fu: ``(B, C, H, W)`` features of the prediction.
        fv: ``(B, C, H', W')`` features of the target (H'*W' may differ from H*W).
        projection: ``(K, C)`` projection directions (rows), or None for the identity
            (each channel's marginal distribution, the paper's default).
        p: Wasserstein order.
        reduction: ``"none"`` -> ``(B,)``, ``"mean"`` or ``"sum"`` over the batch -> scalar.

    Returns:
        Per image, the mean over the K projected channels of ``wasserstein_1d`` between the
        spatial distributions of the projected features; reduced over the batch.
    """
    check_reduction(reduction)
    for name, t in (("fu", fu), ("fv", fv)):
        if not isinstance(t, torch.Tensor) or t.ndim != 4 or not t.is_floating_point():
            raise InputError(f"{name} must be a float tensor (B, C, H, W), got {getattr(t, 'shape', type(t))}")
    if fu.shape[:2] != fv.shape[:2]:
        raise InputError(f"fu and fv must share batch and channels, got {tuple(fu.shape)} and {tuple(fv.shape)}")
    # (B, C, H, W) -> (B, C, N), float32 and contiguous: sorting strided (channels_last) rows is
    # about twice as slow as sorting contiguous ones.
    u = _as_sort_dtype(fu.flatten(2))
    v = _as_sort_dtype(fv.flatten(2))
    if projection is not None:
        if projection.ndim != 2 or projection.shape[1] != fu.shape[1]:
            raise InputError(f"projection must be (K, {fu.shape[1]}), got {tuple(projection.shape)}")
        with torch.autocast(device_type=u.device.type, enabled=False):
            weights = projection.to(device=u.device, dtype=u.dtype)
            u = torch.matmul(weights, u)  # (K, C) @ (B, C, N) -> (B, K, N)
            v = torch.matmul(weights, v)
    per_image = wasserstein_1d(u, v, p).mean(-1)
    return reduce(per_image, reduction)
