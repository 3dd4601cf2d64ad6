"""Pure tensor maths of the Projected Distribution Loss and its baselines: the functional API.

Everything here works on plain tensors (no networks, no weights) and is differentiable. The
module set: this file holds the distribution and perceptual distances; the contextual loss's maths
is its sibling :mod:`pdloss.contextual` and the sort behind ``wasserstein_1d`` (torch.sort or
NumPy) is :mod:`pdloss.sorting`; both are part of this API through the imports below.

Conventions: empirical distributions carry uniform weights; distances are returned as
``W_p`` (not ``W_p^p``); per-image values are reduced over the batch with ``reduction``.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from pdloss.contextual import contextual_bilateral_loss, contextual_loss
from pdloss.errors import InputError
from pdloss.frequency import frequency_distribution_distance
from pdloss.sorting import sort_backend, sorted_last
from pdloss.validation import check_reduction, reduce

__all__ = [
    "contextual_bilateral_loss",
    "contextual_loss",
    "frequency_distribution_distance",
    "perceptual_distance",
    "projected_distribution_distance",
    "sort_backend",
    "wasserstein_1d",
]


def _check_p(p: float) -> float:
    if not isinstance(p, (int, float)) or isinstance(p, bool) or not p >= 1:
        raise InputError(f"p must be a number >= 1 (1 or 2 in the paper), got {p!r}")
    return float(p)


def _as_sort_dtype(x: torch.Tensor) -> torch.Tensor:
    # Sorting and differencing in half precision loses the small gaps the loss is about.
    if x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    return x.contiguous()


@lru_cache(maxsize=64)
def _quantile_grid_cpu(n: int, m: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Indices and weights that integrate ``|F_x^{-1}(t) - F_y^{-1}(t)|^p`` over t in [0, 1].

    Breakpoints of the two quantile functions are ``i/n`` and ``j/m``; in integer units of
    ``1/(n*m)`` they are ``i*m`` and ``j*n``. On each interval between consecutive breakpoints both
    quantile functions are constant: ``x_sorted[floor(t*n)]`` and ``y_sorted[floor(t*m)]`` at the
    interval's midpoint ``t``, which is never itself a breakpoint.
    """
    edges = torch.unique(torch.cat([torch.arange(n + 1) * m, torch.arange(m + 1) * n]))  # sorted
    left, right = edges[:-1], edges[1:]
    twice_mid = left + right
    index_x = torch.div(twice_mid, 2 * m, rounding_mode="floor")
    index_y = torch.div(twice_mid, 2 * n, rounding_mode="floor")
    weights = (right - left).double() / (n * m)
    return index_x, index_y, weights


def _safe_root(value: torch.Tensor, p: float) -> torch.Tensor:
    """``value ** (1/p)`` with a zero (not infinite) gradient where value == 0."""
    if p == 1:
        return value
    positive = value > 0
    return torch.where(positive, torch.where(positive, value, torch.ones_like(value)).pow(1.0 / p), 0.0)


def wasserstein_1d(x: torch.Tensor, y: torch.Tensor, p: float = 1) -> torch.Tensor:
    """p-Wasserstein distance between the 1-D empirical distributions along the last axis.

    Args:
        x: ``(..., N)`` samples of the first distribution.
        y: ``(..., M)`` samples of the second; leading axes broadcast with ``x``'s. M may differ
            from N: the distance is then exact, integrated over the two quantile functions.
        p: order, >= 1.

    Returns:
        ``(...)``: ``W_p = (integral_0^1 |F_x^{-1}(t) - F_y^{-1}(t)|^p dt)^(1/p)``. For N == M and
        p == 1 this is ``mean(|sort(x) - sort(y)|)`` (paper eq. 3 with uniform weights 1/N).
        Computed in at least float32. The gradient flows through the sort permutation (the
        permutation itself is held constant, as in the paper).
    """
    p = _check_p(p)
    for name, t in (("x", x), ("y", y)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            raise InputError(f"{name} must be a floating-point tensor, got {getattr(t, 'dtype', type(t))}")
        if t.ndim == 0 or t.shape[-1] == 0:
            raise InputError(f"{name} needs at least one sample along its last axis, got shape {tuple(t.shape)}")
    try:
        torch.broadcast_shapes(x.shape[:-1], y.shape[:-1])
    except RuntimeError:
        raise InputError(f"leading shapes of x {tuple(x.shape)} and y {tuple(y.shape)} do not broadcast") from None
    xs = sorted_last(_as_sort_dtype(x))
    ys = sorted_last(_as_sort_dtype(y))
    n, m = xs.shape[-1], ys.shape[-1]
    if n == m:
        diff = (xs - ys).abs()
        cost = diff.mean(-1) if p == 1 else diff.pow(p).mean(-1)
    else:
        index_x, index_y, weights = (t.to(xs.device) for t in _quantile_grid_cpu(n, m))
        diff = (xs.index_select(-1, index_x) - ys.index_select(-1, index_y)).abs()
        cost = (diff if p == 1 else diff.pow(p)).mul(weights.to(diff.dtype)).sum(-1)
    return _safe_root(cost, p)


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


def perceptual_distance(fu: torch.Tensor, fv: torch.Tensor, p: float = 1, reduction: str = "mean") -> torch.Tensor:
    """The feature term of the perceptual loss (paper eq. 6, Johnson et al.).

    Args:
        fu: ``(B, C, H, W)`` features of the prediction.
        fv: ``(B, C, H, W)`` features of the target, same shape as ``fu``.
        p: 1 (L1) or 2 (L2): per image the mean of ``|fu - fv|^p`` over C*H*W.
        reduction: ``"none"`` -> ``(B,)``, ``"mean"`` or ``"sum"``.
    """
    check_reduction(reduction)
    p = _check_p(p)
    if not isinstance(fu, torch.Tensor) or not isinstance(fv, torch.Tensor) or fu.shape != fv.shape or fu.ndim != 4:
        raise InputError(
            f"fu and fv must be (B, C, H, W) tensors of one shape, got {getattr(fu, 'shape', fu)} and "
            f"{getattr(fv, 'shape', fv)}"
        )
    diff = (_as_sort_dtype(fu) - _as_sort_dtype(fv)).abs()
    per_image = (diff if p == 1 else diff.pow(p)).flatten(1).mean(1)
    return reduce(per_image, reduction)
