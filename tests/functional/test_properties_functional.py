"""Properties of the functional core, checked by hypothesis on generated inputs.

``wasserstein_1d`` is a metric on empirical distributions (zero on permutations of one sample,
symmetric, triangle inequality), translation-equivariant and positively homogeneous, equals
scipy's W1 and an independent quantile-grid integral for any pair of sizes, and its gradient
matches finite differences; ``projected_distribution_distance`` ignores where the features sit
(spatial permutations of either map) and equals the mean of per-direction distances.

Example counts are bounded (all of this file runs in a few seconds) and the examples are
derandomised, so a failure reproduces on every run; no example database is written.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.stats import wasserstein_distance

from helpers import gradcheck
from pdloss.functional import projected_distribution_distance, sort_backend, wasserstein_1d

SETTINGS = settings(max_examples=40, deadline=None, database=None, derandomize=True)
FEW = settings(max_examples=15, deadline=None, database=None, derandomize=True)

values = st.floats(-100, 100, allow_nan=False, allow_infinity=False, width=64)
sizes = st.integers(1, 24)
orders = st.sampled_from([1, 2, 1.5, 3])
# Both sort paths (torch.sort, NumPy) must give the same distances and gradients.
backends = st.sampled_from(["torch", "numpy"])


def samples(size=sizes):
    return size.flatmap(lambda n: arrays(np.float64, n, elements=values))


def w(x: np.ndarray, y: np.ndarray, p: float = 1, backend: str = "torch") -> float:
    with sort_backend(backend):
        return wasserstein_1d(torch.from_numpy(x), torch.from_numpy(y), p=p).item()


def quantile_reference(x: np.ndarray, y: np.ndarray, p: float) -> float:
    """``(integral_0^1 |F_x^-1(t) - F_y^-1(t)|^p dt)^(1/p)`` on the grid of n*m equal intervals.

    Every breakpoint i/n and j/m of the two step quantile functions is a multiple of 1/(n*m),
    so on each interval ``[k, k+1) / (n m)`` both are constant: the value at the midpoint is
    exact. Written independently of the library's merged-breakpoint grid.
    """
    n, m = len(x), len(y)
    t = (np.arange(n * m) + 0.5) / (n * m)
    qx = np.sort(x)[np.floor(t * n).astype(int)]
    qy = np.sort(y)[np.floor(t * m).astype(int)]
    return float(np.mean(np.abs(qx - qy) ** p) ** (1 / p))


def _tol(*arrays_: np.ndarray) -> float:
    scale = max(1.0, *(float(np.abs(a).max()) for a in arrays_))
    return 1e-9 * scale


@SETTINGS
@given(x=samples(), seed=st.integers(0, 2**32 - 1), p=orders, backend=backends)
def test_zero_on_permutations_of_the_same_samples(x, seed, p, backend):
    shuffled = np.random.default_rng(seed).permutation(x)
    assert w(x, shuffled, p, backend) == 0.0
    # The same distribution written with every sample twice is the same measure.
    assert w(x, np.repeat(shuffled, 2), p, backend) == pytest.approx(0.0, abs=_tol(x))


@SETTINGS
@given(x=samples(), y=samples(), p=orders, backend=backends)
def test_symmetric_and_positive_when_distributions_differ(x, y, p, backend):
    a, b = w(x, y, p, backend), w(y, x, p, backend)
    assert a == pytest.approx(b, rel=1e-12, abs=_tol(x, y))
    assert a >= 0
    if len(x) == len(y) and not np.array_equal(np.sort(x), np.sort(y)):
        assert a > 0


@SETTINGS
@given(x=samples(), y=samples(), z=samples(), p=orders)
def test_triangle_inequality(x, y, z, p):
    assert w(x, z, p) <= w(x, y, p) + w(y, z, p) + _tol(x, y, z)


@SETTINGS
@given(x=samples(), y=samples(), c=values, p=orders)
def test_translation_equivariant(x, y, c, p):
    assert w(x + c, y + c, p) == pytest.approx(w(x, y, p), abs=_tol(x, y, x + c, y + c))


@SETTINGS
@given(x=samples(), y=samples(), a=st.floats(-10, 10, allow_nan=False).filter(lambda a: abs(a) > 1e-3), p=orders)
def test_scales_with_the_absolute_value_of_the_factor(x, y, a, p):
    assert w(a * x, a * y, p) == pytest.approx(abs(a) * w(x, y, p), rel=1e-10, abs=10 * _tol(x, y))


@SETTINGS
@given(x=samples(), y=samples(), backend=backends)
def test_equals_scipy_on_any_sizes(x, y, backend):
    assert w(x, y, 1, backend) == pytest.approx(wasserstein_distance(x, y), rel=1e-10, abs=_tol(x, y))


@SETTINGS
@given(x=samples(), y=samples(), p=orders)
def test_equals_the_quantile_integral_for_every_order(x, y, p):
    assert w(x, y, p) == pytest.approx(quantile_reference(x, y, p), rel=1e-10, abs=_tol(x, y))


@FEW
@given(
    rows=st.integers(1, 3),
    n=st.integers(1, 12),
    m=st.integers(1, 12),
    seed=st.integers(0, 2**16),
    p=orders,
    backend=backends,
)
def test_batched_rows_and_broadcasting_equal_row_by_row(rows, n, m, seed, p, backend):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, 2, n, generator=g, dtype=torch.float64)
    y = torch.randn(1, 2, m, generator=g, dtype=torch.float64)
    with sort_backend(backend):
        out = wasserstein_1d(x, y, p=p)
    assert out.shape == (rows, 2)
    for i in range(rows):
        for c in range(2):
            assert out[i, c].item() == pytest.approx(quantile_reference(x[i, c].numpy(), y[0, c].numpy(), p), rel=1e-10)


def _tie_free_pair(data, n: int, m: int) -> tuple[torch.Tensor, torch.Tensor]:
    """x (n,) and y (m,) with all n + m values distinct and at least 0.1 apart: |.| and the sort
    are differentiable there, and the finite differences (eps 1e-6) never cross a tie."""
    ints = data.draw(st.lists(st.integers(-500, 500), min_size=n + m, max_size=n + m, unique=True))
    v = torch.tensor(ints, dtype=torch.float64) / 10
    return v[:n].clone().requires_grad_(True), v[n:].clone().requires_grad_(True)


@FEW
@given(data=st.data(), n=st.integers(1, 9), m=st.integers(1, 9), p=st.sampled_from([1, 2, 3]), backend=backends)
def test_gradient_matches_finite_differences(data, n, m, p, backend):
    x, y = _tie_free_pair(data, n, m)
    with sort_backend(backend):
        assert gradcheck(lambda a, b: wasserstein_1d(a, b, p=p), (x, y))


@FEW
@given(
    batch=st.integers(1, 2),
    channels=st.integers(1, 5),
    h=st.integers(1, 5),
    w_=st.integers(1, 5),
    h2=st.integers(1, 5),
    w2=st.integers(1, 5),
    k=st.integers(0, 6),
    seed=st.integers(0, 2**16),
)
def test_pdl_term_ignores_spatial_permutations(batch, channels, h, w_, h2, w2, k, seed):
    g = torch.Generator().manual_seed(seed)
    fu = torch.randn(batch, channels, h, w_, generator=g, dtype=torch.float64)
    fv = torch.randn(batch, channels, h2, w2, generator=g, dtype=torch.float64)
    projection = torch.randn(k, channels, generator=g, dtype=torch.float64) if k else None
    base = projected_distribution_distance(fu, fv, projection, reduction="none")
    # Any rearrangement of the prediction's positions (one per image), and of the target's.
    perm_u = torch.stack([torch.randperm(h * w_, generator=g) for _ in range(batch)])
    moved = torch.take_along_dim(fu.flatten(2), perm_u[:, None, :], dim=2).reshape(fu.shape)
    reshaped = fu.flatten(2).reshape(batch, channels, w_, h)  # another spatial layout of the same positions
    perm_v = torch.randperm(h2 * w2, generator=g)
    moved_v = fv.flatten(2)[..., perm_v].reshape(fv.shape)
    torch.testing.assert_close(projected_distribution_distance(moved, fv, projection, reduction="none"), base)
    torch.testing.assert_close(projected_distribution_distance(reshaped, fv, projection, reduction="none"), base)
    torch.testing.assert_close(projected_distribution_distance(fu, moved_v, projection, reduction="none"), base)
    # And the value itself: per image, the mean over directions of the 1-D distances.
    directions = torch.eye(channels, dtype=torch.float64) if projection is None else projection
    for b in range(batch):
        pu = (directions @ fu[b].flatten(1)).numpy()
        pv = (directions @ fv[b].flatten(1)).numpy()
        ref = np.mean([wasserstein_distance(pu[i], pv[i]) for i in range(directions.shape[0])])
        assert base[b].item() == pytest.approx(ref, rel=1e-9, abs=1e-12)


@FEW
@given(channels=st.integers(1, 4), seed=st.integers(0, 2**16), p=st.sampled_from([1, 2]))
def test_pdl_term_reductions_and_scale(channels, seed, p):
    g = torch.Generator().manual_seed(seed)
    fu = torch.randn(3, channels, 3, 4, generator=g, dtype=torch.float64)
    fv = torch.randn(3, channels, 4, 2, generator=g, dtype=torch.float64)
    per = projected_distribution_distance(fu, fv, p=p, reduction="none")
    assert per.shape == (3,)
    assert projected_distribution_distance(fu, fv, p=p, reduction="mean").item() == pytest.approx(per.mean().item())
    assert projected_distribution_distance(fu, fv, p=p, reduction="sum").item() == pytest.approx(per.sum().item())
    # Scaling both feature maps scales every 1-D distance, hence the term.
    torch.testing.assert_close(projected_distribution_distance(2.5 * fu, 2.5 * fv, p=p, reduction="none"), 2.5 * per)
