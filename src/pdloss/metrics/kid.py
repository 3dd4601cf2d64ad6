"""Kernel Inception Distance (Binkowski et al. 2018, "Demystifying MMD GANs").

KID is the squared maximum mean discrepancy between two sets of the FID Inception's 2048-d pool3
features (the same network, preprocessing and patch tiling as :mod:`pdloss.metrics.fid`) with
the cubic polynomial kernel ``k(x, y) = (x . y / d + 1)^3``, d = 2048. Its estimator is unbiased:
for m rows x_i of one set and m rows y_j of the other,

    MMD^2 = sum_{i != j} k(x_i, x_j) / (m (m - 1)) + sum_{i != j} k(y_i, y_j) / (m (m - 1))
            - 2 sum_{i, j} k(x_i, y_j) / m^2

(the cross term keeps i == j, as the reference implementations do). As in torch-fidelity
(``kid_subset_size=1000, kid_subsets=100``), clean-fid and the authors' code, the reported value
is the mean over ``subsets`` random subsets of m = min(subset_size, N_x, N_y) rows drawn without
replacement from each set, with the standard deviation (``ddof=0``) of those subset values.
Unlike FID, the mean of this estimator does not depend on the sample count, so small sets are
not biased upwards; it can be slightly negative when the two distributions are equal.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from pdloss.errors import InputError
from pdloss.metrics.fid import InceptionFeatures, fid_from_features

KID_SUBSET_SIZE = 1000
KID_SUBSETS = 100
# Kernel entries of the whole pooled set are precomputed (then indexed per subset) when they fit
# in this many float64 values (256 MB) and cost fewer flops than the subsets' own kernels.
_GRAM_LIMIT = 2**25


def polynomial_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(Na, D)``, ``(Nb, D)`` -> ``(Na, Nb)`` of ``(a_i . b_j / D + 1)^3`` in float64."""
    return (np.asarray(a, np.float64) @ np.asarray(b, np.float64).T / a.shape[1] + 1.0) ** 3


def mmd2_unbiased(k_xx: np.ndarray, k_yy: np.ndarray, k_xy: np.ndarray) -> float:
    """The unbiased MMD^2 from the ``(m, m)`` kernel blocks (diagonals of k_xx, k_yy left out)."""
    m = k_xx.shape[0]
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2.0 * k_xy.sum() / (m * m))


def _as_rows(f: np.ndarray | torch.Tensor, name: str) -> np.ndarray:
    f = f.detach().cpu().numpy() if isinstance(f, torch.Tensor) else np.asarray(f)
    if f.ndim != 2:
        raise InputError(f"KID {name} features must be (N, D), got shape {f.shape}")
    f = f.astype(np.float64)
    if not np.isfinite(f).all():
        raise InputError(f"KID {name} features contain NaN or inf")
    return f


def kid_from_features(
    fx: np.ndarray | torch.Tensor,
    fy: np.ndarray | torch.Tensor,
    subset_size: int = KID_SUBSET_SIZE,
    subsets: int = KID_SUBSETS,
    seed: int = 0,
) -> tuple[float, float]:
    """KID ``(mean, std)`` over ``subsets`` random subsets of two feature sets ``(Nx, D)``, ``(Ny, D)``.

    Subset s draws m = min(subset_size, Nx, Ny) rows of x, then m rows of y, without replacement,
    from one ``numpy.random.default_rng(seed)``: the same seed gives the same value. When m equals
    both Nx and Ny every subset is the whole of both sets, so the value is the estimator on the
    full sets (computed once) and the std is 0: it then says nothing about sampling uncertainty
    (use a bootstrap over images for that).
    """
    x, y = _as_rows(fx, "first"), _as_rows(fy, "second")
    if x.shape[1] != y.shape[1]:
        raise InputError(f"KID needs features of one width, got {x.shape[1]} and {y.shape[1]}")
    if subsets < 1 or subset_size < 2:
        raise InputError(f"KID needs subsets >= 1 and subset_size >= 2, got {subsets} and {subset_size}")
    nx, ny = len(x), len(y)
    m = min(subset_size, nx, ny)
    if m < 2:
        raise InputError(f"KID needs at least 2 samples per set, got {nx} and {ny}")
    if m == nx == ny:
        value = mmd2_unbiased(polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y))
        return value, 0.0
    rng = np.random.default_rng(seed)
    draws = [(rng.choice(nx, m, replace=False), rng.choice(ny, m, replace=False)) for _ in range(subsets)]
    n = nx + ny
    values = np.empty(subsets)
    if n * n <= min(_GRAM_LIMIT, 3 * subsets * m * m):
        pooled = np.concatenate([x, y])
        gram = polynomial_kernel(pooled, pooled)
        for s, (ix, iy) in enumerate(draws):
            iy = iy + nx
            values[s] = mmd2_unbiased(gram[np.ix_(ix, ix)], gram[np.ix_(iy, iy)], gram[np.ix_(ix, iy)])
    else:
        for s, (ix, iy) in enumerate(draws):
            xs, ys = x[ix], y[iy]
            values[s] = mmd2_unbiased(polynomial_kernel(xs, xs), polynomial_kernel(ys, ys), polynomial_kernel(xs, ys))
    return float(values.mean()), float(values.std())


def set_metric_from_features(
    name: str, pred_features: np.ndarray | torch.Tensor, ref_features: np.ndarray | torch.Tensor, **kw: int
) -> float:
    """FID or KID (its mean) of two feature sets, as :func:`pdloss.metrics.evaluate` computes them.

    For bootstraps over images: resample rows of the ``.npz`` that ``evaluate(features_out=...)``
    writes (grouped by ``pred_image`` / ``ref_image``) and call this on the resampled rows.

    Args:
        name: ``"fid"`` or ``"kid"``.
        pred_features: ``(N, 2048)`` rows.
        ref_features: ``(N, 2048)`` rows.
        kw: for ``"kid"`` only: ``subset_size``, ``subsets``, ``seed`` of :func:`kid_from_features`.
    """
    if name == "fid":
        if kw:
            raise InputError(f"FID takes no options, got {sorted(kw)}")
        return fid_from_features(pred_features, ref_features)
    if name == "kid":
        unknown = set(kw) - {"subset_size", "subsets", "seed"}
        if unknown:
            raise InputError(f"unknown KID option(s) {sorted(unknown)}; use subset_size, subsets, seed")
        return kid_from_features(pred_features, ref_features, **kw)[0]
    raise InputError(f"unknown set metric {name!r}; choose fid or kid")


class KID(InceptionFeatures):
    """KID calculator holding the FID Inception (network arguments: see :class:`InceptionFeatures`).

    Args:
        subset_size: see :func:`kid_from_features`.
        subsets: see :func:`kid_from_features`.
        seed: see :func:`kid_from_features`.
    """

    higher_is_better = False

    def __init__(
        self,
        weights: str | os.PathLike | None = None,
        device: str | torch.device = "cpu",
        batch_size: int = 16,
        patch_size: int | None = None,
        subset_size: int = KID_SUBSET_SIZE,
        subsets: int = KID_SUBSETS,
        seed: int = 0,
    ) -> None:
        super().__init__(weights=weights, device=device, batch_size=batch_size, patch_size=patch_size)
        self.options = {"subset_size": subset_size, "subsets": subsets, "seed": seed}

    def __call__(self, set1: torch.Tensor, set2: torch.Tensor) -> tuple[float, float]:
        """KID ``(mean, std)`` between two batches ``(N, 3, H, W)`` in [0, 1] (sizes may differ)."""
        return kid_from_features(self.features(set1), self.features(set2), **self.options)

    def between_folders(
        self, folder1: str | os.PathLike, folder2: str | os.PathLike, progress: bool = False
    ) -> tuple[float, float]:
        """KID ``(mean, std)`` between every image (or patch) of two folders (any sizes, unpaired)."""
        f1 = self.folder_features(folder1, progress=progress)[0]
        f2 = self.folder_features(folder2, progress=progress)[0]
        return kid_from_features(f1, f2, **self.options)
