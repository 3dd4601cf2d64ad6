"""FID and KID of resampled sets from row multiplicities, for bootstraps over images.

A bootstrap replicate repeats each feature row ``c_i`` times (``c_i`` = how often its image was
drawn). Recomputing FID or KID on the gathered rows costs a ``(N, D)`` product per replicate; both
are functions of the rows' Gram matrices, so :func:`weighted_set_metric` precomputes those once per
pair of sets and returns ``value(c_pred, c_ref)``, exactly FID / KID of the repeated rows (up to
round-off), in ``O(N^2)`` (KID) or one ``N x N`` SVD (FID) per replicate.

FID (as :func:`pdloss.metrics.fid.frechet_distance_low_rank`): with weights c, m = sum c,
mean mu = X^T c / m, covariance S = A^T C A / (m - 1) for A = X - 1 mu^T, C = diag(c). Then
tr S = (sum c_i |x_i|^2 - m |mu|^2) / (m - 1) and tr (S1 S2)^{1/2} is the nuclear norm of
C1^{1/2} A1 A2^T C2^{1/2} over sqrt((m1 - 1)(m2 - 1)), where A1 A2^T comes from G12 = X1 X2^T.

KID (as :func:`pdloss.metrics.kid.kid_from_features` when both sets have the same number of rows,
m <= its subset size, so that the estimator runs once on the whole sets): the unbiased MMD^2 of the
repeated rows, whose sums over distinct positions are c^T K c - sum c_i K_ii.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pdloss.errors import InputError
from pdloss.metrics.kid import KID_SUBSET_SIZE, polynomial_kernel

WeightedMetric = Callable[[np.ndarray, np.ndarray], float]


def weighted_fid(pred: np.ndarray, ref: np.ndarray) -> WeightedMetric:
    """``value(c_pred, c_ref)``: FID of the rows of ``pred`` and ``ref`` repeated ``c`` times."""
    x1, x2 = np.asarray(pred, np.float64), np.asarray(ref, np.float64)
    g11, g22, g12 = x1 @ x1.T, x2 @ x2.T, x1 @ x2.T
    n11, n22 = np.diag(g11).copy(), np.diag(g22).copy()

    def value(c1: np.ndarray, c2: np.ndarray) -> float:
        c1, c2 = np.asarray(c1, np.float64), np.asarray(c2, np.float64)
        m1, m2 = c1.sum(), c2.sum()
        if m1 < 2 or m2 < 2:
            raise InputError(f"FID needs at least 2 rows per set, got {m1:g} and {m2:g}")
        a1, a2 = c1 / m1, c2 / m2  # mu = X^T a
        mu11, mu22, mu12 = a1 @ g11 @ a1, a2 @ g22 @ a2, a1 @ g12 @ a2
        trace1 = (c1 @ n11 - m1 * mu11) / (m1 - 1)
        trace2 = (c2 @ n22 - m2 * mu22) / (m2 - 1)
        # A1 A2^T = G12 - (X1 mu2) 1^T - 1 (X2 mu1)^T + (mu1 . mu2), on the rows that were drawn.
        k1, k2 = np.flatnonzero(c1), np.flatnonzero(c2)
        cross = g12[np.ix_(k1, k2)] - (g12[k1] @ a2)[:, None] - (a1 @ g12[:, k2])[None, :] + mu12
        cross *= np.sqrt(c1[k1])[:, None] * np.sqrt(c2[k2])[None, :]
        trace_root = np.linalg.svd(cross, compute_uv=False).sum() / np.sqrt((m1 - 1) * (m2 - 1))
        return float(max(mu11 + mu22 - 2 * mu12 + trace1 + trace2 - 2 * trace_root, 0.0))

    return value


def weighted_kid(pred: np.ndarray, ref: np.ndarray, subset_size: int = KID_SUBSET_SIZE) -> WeightedMetric:
    """``value(c_pred, c_ref)``: KID of the repeated rows, where the estimator runs on the whole sets
    (equal row counts no larger than ``subset_size``); an InputError otherwise."""
    x, y = np.asarray(pred, np.float64), np.asarray(ref, np.float64)
    kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    dxx, dyy = np.diag(kxx).copy(), np.diag(kyy).copy()

    def value(cx: np.ndarray, cy: np.ndarray) -> float:
        cx, cy = np.asarray(cx, np.float64), np.asarray(cy, np.float64)
        m, my = cx.sum(), cy.sum()
        if m != my or m > subset_size or m < 2:
            raise InputError(f"weighted KID needs equal row counts in 2..{subset_size}, got {m:g} and {my:g}")
        within = (cx @ kxx @ cx - cx @ dxx + cy @ kyy @ cy - cy @ dyy) / (m * (m - 1))
        return float(within - 2.0 * (cx @ kxy @ cy) / (m * m))

    return value


def weighted_set_metric(name: str, pred: np.ndarray, ref: np.ndarray) -> WeightedMetric | None:
    """The weighted form of ``name`` (``"fid"`` or ``"kid"``) for these two row sets, or None where
    it would not equal the plain metric (KID on sets of unequal or too many rows: random subsets)."""
    if name == "fid":
        return weighted_fid(pred, ref)
    if name == "kid":
        if len(pred) != len(ref) or len(pred) > KID_SUBSET_SIZE:
            return None
        return weighted_kid(pred, ref)
    raise InputError(f"unknown set metric {name!r}; choose fid or kid")
