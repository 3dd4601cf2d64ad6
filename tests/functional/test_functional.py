"""wasserstein_1d, projected_distribution_distance and perceptual_distance against references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import linprog
from scipy.stats import wasserstein_distance

from helpers import gradcheck
from pdloss.functional import perceptual_distance, projected_distribution_distance, wasserstein_1d


def lp_wasserstein(a: np.ndarray, b: np.ndarray, p: float) -> float:
    """W_p by solving the optimal transport linear programme (uniform weights): independent of
    sorting and quantile functions."""
    n, m = len(a), len(b)
    cost = np.abs(a[:, None] - b[None, :]) ** p
    rows = np.zeros((n, n * m))
    cols = np.zeros((m, n * m))
    for i in range(n):
        rows[i, i * m : (i + 1) * m] = 1
    for j in range(m):
        cols[j, j::m] = 1
    res = linprog(
        cost.ravel(),
        A_eq=np.vstack([rows, cols]),
        b_eq=np.concatenate([np.full(n, 1 / n), np.full(m, 1 / m)]),
        bounds=(0, None),
        method="highs",
    )
    assert res.success
    return res.fun ** (1 / p)


def test_hand_computed_equal_sizes(device):
    x = torch.tensor([3.0, 1.0, 2.0], device=device)
    y = torch.tensor([0.0, 5.0, 1.0], device=device)
    # sorted: (1, 2, 3) vs (0, 1, 5): |1| + |1| + |2| = 4, mean 4/3
    assert wasserstein_1d(x, y).item() == pytest.approx(4 / 3)
    # p=2: sqrt((1 + 1 + 4) / 3) = sqrt(2)
    assert wasserstein_1d(x, y, p=2).item() == pytest.approx(2**0.5)


def test_hand_computed_unequal_sizes(device):
    # x uniform on {0, 1}; y a point mass at 0.5 (two samples vs one): every unit of mass moves 0.5.
    x, y = torch.tensor([0.0, 1.0], device=device), torch.tensor([0.5], device=device)
    assert wasserstein_1d(x, y).item() == pytest.approx(0.5)
    # x = {0, 3}, y = {0, 1, 2}: quantiles on [0,1/3): 0|0, [1/3,1/2): 0|1, [1/2,2/3): 3|1, [2/3,1]: 3|2
    # W1 = 1/6 * 1 + 1/6 * 2 + 1/3 * 1 = 5/6
    x, y = torch.tensor([3.0, 0.0], device=device), torch.tensor([2.0, 0.0, 1.0], device=device)
    assert wasserstein_1d(x, y).item() == pytest.approx(5 / 6)


@pytest.mark.parametrize("n,m", [(50, 50), (37, 50), (64, 9), (1, 7)])
def test_matches_scipy_p1(n, m, device):
    rng = np.random.default_rng(n * 100 + m)
    a, b = rng.normal(size=n), rng.gamma(2.0, size=m)
    ours = wasserstein_1d(torch.from_numpy(a).to(device), torch.from_numpy(b).to(device)).item()
    assert ours == pytest.approx(wasserstein_distance(a, b), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("n,m,p", [(6, 6, 2), (5, 7, 2), (4, 9, 1), (8, 3, 3)])
def test_matches_linear_programme(n, m, p, device):
    rng = np.random.default_rng(7 + n + m)
    a, b = rng.normal(size=n), rng.normal(1.0, 2.0, size=m)
    ours = wasserstein_1d(torch.from_numpy(a).to(device), torch.from_numpy(b).to(device), p=p).item()
    assert ours == pytest.approx(lp_wasserstein(a, b, p), rel=1e-6)


def test_batched_and_broadcast(device):
    x = torch.randn(4, 3, 20, dtype=torch.float64)
    y = torch.randn(1, 3, 11, dtype=torch.float64)
    out = wasserstein_1d(x.to(device), y.to(device)).cpu()
    assert out.shape == (4, 3)
    for i in range(4):
        for c in range(3):
            ref = wasserstein_distance(x[i, c].numpy(), y[0, c].numpy())
            assert out[i, c].item() == pytest.approx(ref, rel=1e-10)


def test_half_precision_inputs_are_sorted_in_float32(device):
    x, y = torch.randn(2, 100, device=device), torch.randn(2, 100, device=device)
    out = wasserstein_1d(x.bfloat16(), y.bfloat16())
    assert out.dtype == torch.float32
    ref = wasserstein_1d(x.bfloat16().float(), y.bfloat16().float())
    torch.testing.assert_close(out, ref)


def test_identical_is_zero_with_finite_gradient_for_p2(device):
    x = torch.randn(3, 10, dtype=torch.float64, device=device, requires_grad=True)
    out = wasserstein_1d(x, x.detach().flip(-1), p=2).sum()
    out.backward()
    assert out.item() == 0.0
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("m", [12, 7])
def test_gradcheck_wasserstein(p, m, device):
    x = torch.randn(2, 12, dtype=torch.float64, device=device, requires_grad=True)
    y = torch.randn(2, m, dtype=torch.float64, device=device, requires_grad=True)
    assert gradcheck(lambda a, b: wasserstein_1d(a, b, p=p), (x, y))


@pytest.mark.parametrize(
    "bad",
    [
        lambda: wasserstein_1d(torch.zeros(3), torch.zeros(3), p=0.5),
        lambda: wasserstein_1d(torch.zeros(3, dtype=torch.int64), torch.zeros(3)),
        lambda: wasserstein_1d(torch.zeros(2, 0), torch.zeros(2, 3)),
        lambda: wasserstein_1d(torch.zeros(2, 3), torch.zeros(3, 3)),
    ],
)
def test_bad_arguments(bad):
    with pytest.raises(ValueError):
        bad()


def test_projected_distance_identity_is_mean_of_channel_distances(device):
    fu = torch.randn(2, 4, 5, 6, dtype=torch.float64)
    fv = torch.randn(2, 4, 3, 7, dtype=torch.float64)  # another spatial size
    out = projected_distribution_distance(fu.to(device), fv.to(device), reduction="none").cpu()
    for b in range(2):
        ref = np.mean([wasserstein_distance(fu[b, c].ravel().numpy(), fv[b, c].ravel().numpy()) for c in range(4)])
        assert out[b].item() == pytest.approx(ref, rel=1e-10)
    assert projected_distribution_distance(fu, fv, reduction="mean").item() == pytest.approx(out.mean().item())
    assert projected_distribution_distance(fu, fv, reduction="sum").item() == pytest.approx(out.sum().item())


def test_projected_distance_with_projection_matches_explicit_projection(device):
    fu = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    fv = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    w = torch.randn(5, 3, dtype=torch.float64)
    out = projected_distribution_distance(fu.to(device), fv.to(device), w.to(device), reduction="none").cpu()
    for b in range(2):
        pu = w.numpy() @ fu[b].reshape(3, -1).numpy()
        pv = w.numpy() @ fv[b].reshape(3, -1).numpy()
        ref = np.mean([wasserstein_distance(pu[k], pv[k]) for k in range(5)])
        assert out[b].item() == pytest.approx(ref, rel=1e-10)


def test_spatial_shuffle_has_zero_distribution_distance_but_nonzero_l1(device):
    # The property the paper is about: same feature distribution, different positions.
    fv = torch.randn(2, 8, 6, 6, device=device)
    perm = torch.randperm(36).to(device)
    fu = fv.flatten(2)[..., perm].reshape(fv.shape)
    assert projected_distribution_distance(fu, fv).item() == pytest.approx(0.0, abs=1e-7)
    assert perceptual_distance(fu, fv).item() > 0.5


def test_channels_last_features_give_the_same_value(device):
    fu, fv = torch.randn(2, 16, 8, 8, device=device), torch.randn(2, 16, 8, 8, device=device)
    ref = projected_distribution_distance(fu, fv)
    out = projected_distribution_distance(
        fu.to(memory_format=torch.channels_last), fv.to(memory_format=torch.channels_last)
    )
    torch.testing.assert_close(out, ref)


def test_gradcheck_projected_distance(device):
    fu = torch.randn(2, 3, 3, 4, dtype=torch.float64, device=device, requires_grad=True)
    fv = torch.randn(2, 3, 2, 5, dtype=torch.float64, device=device, requires_grad=True)
    w = torch.randn(4, 3, dtype=torch.float64, device=device, requires_grad=True)
    assert gradcheck(lambda a, b, c: projected_distribution_distance(a, b, c), (fu, fv, w))
    assert gradcheck(lambda a, b: projected_distribution_distance(a, b, None, p=2), (fu, fv))


def test_perceptual_distance_values_and_gradcheck(device):
    fu = torch.randn(2, 3, 4, 4, dtype=torch.float64, device=device, requires_grad=True)
    fv = torch.randn(2, 3, 4, 4, dtype=torch.float64, device=device)
    out = perceptual_distance(fu, fv, p=2, reduction="none")
    torch.testing.assert_close(out, ((fu - fv) ** 2).mean((1, 2, 3)))
    assert gradcheck(lambda a: perceptual_distance(a, fv, p=1), (fu,))
    with pytest.raises(ValueError):
        perceptual_distance(fu, fv[:, :, :2])


def test_projected_distance_errors():
    with pytest.raises(ValueError, match="batch and channels"):
        projected_distribution_distance(torch.randn(2, 3, 4, 4), torch.randn(2, 4, 4, 4))
    with pytest.raises(ValueError, match="projection"):
        projected_distribution_distance(torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4), torch.randn(5, 4))
    with pytest.raises(ValueError, match="reduction"):
        projected_distribution_distance(torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4), reduction="avg")


def test_contextual_loss_is_part_of_the_functional_api():
    from pdloss.functional import contextual_loss

    f = torch.rand(2, 8, 4, 4)
    assert contextual_loss(f, f).abs().max() < 1e-3
    assert contextual_loss(torch.rand(2, 8, 4, 4), f) > contextual_loss(f, f)
