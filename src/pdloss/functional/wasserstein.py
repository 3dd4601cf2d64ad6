"""The p-Wasserstein distance between 1-D empirical distributions, through their quantile functions.

Conventions: empirical distributions carry uniform weights; distances are returned as ``W_p`` (not
``W_p^p``). The sort behind it (torch.sort or NumPy) is :mod:`pdloss.functional.sorting`.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from pdloss.errors import InputError
from pdloss.functional.sorting import sorted_last

__all__ = ["wasserstein_1d"]


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
