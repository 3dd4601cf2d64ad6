"""The functional core on hand-computed cases, with every error's whole message, and the NumPy
sort's choice and threads written out (the distances themselves are checked against scipy and an
independent quantile integral in ``tests/test_functional.py`` and the property tests)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pdloss.errors import InputError
from pdloss.functional import perceptual_distance, projected_distribution_distance, sorting, wasserstein_1d
from pdloss.functional.sorting import SORT_BACKENDS, numpy_applies, sort_backend, sorted_last


def _t(*values, dtype=torch.float64):
    return torch.tensor(values, dtype=dtype)


# -- wasserstein_1d, by hand ------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["torch", "numpy"])
def test_equal_sizes_by_hand(backend):
    with sort_backend(backend):
        # sorted (0, 1) against (1, 3): gaps 1 and 2.
        assert wasserstein_1d(_t(1, 0), _t(3, 1)).item() == pytest.approx(1.5, rel=1e-15)
        assert wasserstein_1d(_t(1, 0), _t(3, 1), p=2).item() == pytest.approx(math.sqrt(2.5), rel=1e-15)
        assert wasserstein_1d(_t(1, 0), _t(3, 1), p=3).item() == pytest.approx(4.5 ** (1 / 3), rel=1e-15)
        assert wasserstein_1d(_t(1, 0), _t(3, 1), p=1.5).item() == pytest.approx(
            ((1 + 2**1.5) / 2) ** (2 / 3), rel=1e-14
        )


@pytest.mark.parametrize("backend", ["torch", "numpy"])
def test_unequal_sizes_by_hand(backend):
    with sort_backend(backend):
        # (0) against (0, 2): half the mass moves 0, half moves 2.
        assert wasserstein_1d(_t(0), _t(2, 0)).item() == pytest.approx(1.0, rel=1e-15)
        assert wasserstein_1d(_t(0), _t(2, 0), p=2).item() == pytest.approx(math.sqrt(2.0), rel=1e-15)
        # (0, 3) against (0, 1, 2): quantile steps at 1/3, 1/2, 2/3 -> |0-0| 1/3, |0-1| 1/6, |3-1| 1/6, |3-2| 1/3.
        expected = 0 / 3 + 1 / 6 + 2 / 6 + 1 / 3
        assert wasserstein_1d(_t(3, 0), _t(1, 2, 0)).item() == pytest.approx(expected, rel=1e-15)
        assert wasserstein_1d(_t(1, 2, 0), _t(3, 0)).item() == pytest.approx(expected, rel=1e-15)
        expected2 = math.sqrt(1 / 6 + 4 / 6 + 1 / 3)
        assert wasserstein_1d(_t(3, 0), _t(1, 2, 0), p=2).item() == pytest.approx(expected2, rel=1e-15)


def test_batches_broadcast_and_keep_their_shape():
    x = torch.tensor([[[0.0, 1.0]], [[2.0, 2.0]]], dtype=torch.float64)  # (2, 1, 2)
    y = torch.tensor([[1.0, 3.0], [0.0, 0.0]], dtype=torch.float64)  # (2, 2) -> broadcast to (2, 2, 2)
    out = wasserstein_1d(x, y)
    assert out.shape == (2, 2)
    torch.testing.assert_close(out, torch.tensor([[1.5, 0.5], [1.0, 2.0]], dtype=torch.float64), rtol=0, atol=1e-15)
    unequal = wasserstein_1d(x, torch.tensor([[0.0, 2.0, 4.0]], dtype=torch.float64))
    assert unequal.shape == (2, 1)


def test_every_order_gives_one_distance_per_row():
    # Equal sizes, p = 2, by hand: row 0 moves every value by 1 (W2 = 1), row 1 moves one of three by 3
    # (W2 = sqrt(9 / 3)). Averaging over the whole batch instead of each row would give one number.
    x = torch.tensor([[0.0, 1.0, 2.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    y = torch.tensor([[1.0, 2.0, 3.0], [0.0, 3.0, 0.0]], dtype=torch.float64)
    out = wasserstein_1d(x, y, p=2)
    assert out.shape == (2,)
    torch.testing.assert_close(out, torch.tensor([1.0, math.sqrt(3.0)], dtype=torch.float64), rtol=1e-15, atol=0)


@pytest.mark.parametrize("p", [1, 2])
def test_unequal_sizes_keep_the_input_dtype(p):
    # The quantile grid's weights are float64; a float32 distance must stay float32 (not be promoted).
    x = torch.tensor([[0.0, 3.0]])
    y = torch.tensor([[0.0, 1.0, 2.0]])
    out = wasserstein_1d(x, y, p=p)
    assert out.dtype == torch.float32
    expected = (0 / 3 + 1 / 6 + 2 / 6 + 1 / 3) if p == 1 else math.sqrt(1 / 6 + 4 / 6 + 1 / 3)
    assert out.item() == pytest.approx(expected, rel=1e-6)


def test_zero_distance_has_a_zero_gradient_for_every_order():
    for p in (1, 2, 3):
        x = _t(0.5, -1.0).requires_grad_(True)
        y = _t(-1.0, 0.5)
        value = wasserstein_1d(x, y, p=p)
        assert value.item() == 0.0
        (grad,) = torch.autograd.grad(value, x)
        assert torch.isfinite(grad).all(), p
        if p > 1:
            assert torch.equal(grad, torch.zeros(2, dtype=torch.float64)), p


def test_gradient_by_hand():
    # W1 of (x0, x1) against (0, 0): mean(|x|) -> d/dx = sign(x) / 2, in sorted positions.
    x = _t(2.0, -1.0).requires_grad_(True)
    (grad,) = torch.autograd.grad(wasserstein_1d(x, _t(0.0, 0.0)), x)
    torch.testing.assert_close(grad, _t(0.5, -0.5), rtol=0, atol=1e-15)
    # W2 = sqrt(mean(x^2)) -> x / (2 W2) ... with W2 = sqrt(2.5): (2, -1) / (2 sqrt(2.5)).
    x = _t(2.0, -1.0).requires_grad_(True)
    (grad,) = torch.autograd.grad(wasserstein_1d(x, _t(0.0, 0.0), p=2), x)
    torch.testing.assert_close(grad, _t(2.0, -1.0) / (2 * math.sqrt(2.5)), rtol=1e-14, atol=0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_is_sorted_and_differenced_in_float32(dtype):
    # 1 + 2^-9 and 1 are one float16 step apart (the gap the loss measures); in bfloat16 too
    # for 1 + 2^-7. The result is float32 and exact.
    step = 2**-9 if dtype == torch.float16 else 2**-7
    x = torch.tensor([1 + step, 3.0], dtype=dtype)
    y = torch.tensor([1.0, 3.0], dtype=dtype)
    out = wasserstein_1d(x, y)
    assert out.dtype == torch.float32
    assert out.item() == step / 2
    assert wasserstein_1d(x, torch.tensor([1.0], dtype=dtype)).item() == pytest.approx((step + 2) / 2, rel=1e-7)
    fu = torch.tensor([1 + step, 3.0], dtype=dtype).view(1, 1, 1, 2)
    fv = torch.tensor([1.0, 3.0], dtype=dtype).view(1, 1, 2, 1)
    pdd = projected_distribution_distance(fu, fv)
    assert pdd.dtype == torch.float32 and pdd.item() == step / 2
    perceptual = perceptual_distance(fu, fu.transpose(-1, -2).reshape(1, 1, 1, 2).flip(-1))
    assert perceptual.dtype == torch.float32


@pytest.mark.parametrize(
    "p,message",
    [
        (0.5, "p must be a number >= 1 (1 or 2 in the paper), got 0.5"),
        (True, "p must be a number >= 1 (1 or 2 in the paper), got True"),
        ("2", "p must be a number >= 1 (1 or 2 in the paper), got '2'"),
        (float("nan"), "p must be a number >= 1 (1 or 2 in the paper), got nan"),
    ],
)
def test_bad_orders_whole_message(p, message):
    with pytest.raises(InputError) as info:
        wasserstein_1d(_t(0, 1), _t(0, 1), p=p)
    assert str(info.value) == message
    with pytest.raises(InputError) as info:
        perceptual_distance(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2), p=p)
    assert str(info.value) == message


def test_order_one_is_accepted_exactly():
    assert wasserstein_1d(_t(0, 1), _t(1, 2), p=1).item() == 1.0
    assert wasserstein_1d(_t(0, 1), _t(1, 2), p=1.0).item() == 1.0


@pytest.mark.parametrize(
    "x,y,message",
    [
        (torch.tensor([1, 2]), _t(1, 2), "x must be a floating-point tensor, got torch.int64"),
        (_t(1, 2), [1.0, 2.0], "y must be a floating-point tensor, got <class 'list'>"),
        (torch.tensor(1.0), _t(1, 2), "x needs at least one sample along its last axis, got shape ()"),
        (_t(1, 2), torch.zeros(3, 0), "y needs at least one sample along its last axis, got shape (3, 0)"),
        (torch.zeros(2, 3), torch.zeros(3, 3), "leading shapes of x (2, 3) and y (3, 3) do not broadcast"),
    ],
)
def test_bad_samples_whole_message(x, y, message):
    with pytest.raises(InputError) as info:
        wasserstein_1d(x, y)
    assert str(info.value) == message


# -- the PDL term and the perceptual term -----------------------------------------------------
def test_pdd_by_hand_with_and_without_a_projection():
    # One image, two channels, two positions; target with three positions.
    fu = torch.tensor([[[[0.0, 1.0]], [[2.0, 2.0]]]], dtype=torch.float64)  # (1, 2, 1, 2)
    fv = torch.tensor([[[[1.0, 3.0, 1.0]], [[2.0, 2.0, 2.0]]]], dtype=torch.float64)  # (1, 2, 1, 3)
    w_c0 = wasserstein_1d(_t(0, 1), _t(1, 3, 1)).item()  # by the 1-D function, checked above
    assert projected_distribution_distance(fu, fv).item() == pytest.approx((w_c0 + 0.0) / 2, rel=1e-15)
    # Projection on the channel sum: (2, 3) against (3, 5, 3).
    direction = torch.tensor([[1.0, 1.0]], dtype=torch.float64)
    expected = wasserstein_1d(_t(2, 3), _t(3, 5, 3)).item()
    assert projected_distribution_distance(fu, fv, direction).item() == pytest.approx(expected, rel=1e-15)
    # The order reaches the 1-D distances: p = 2 by hand, channel 1 contributing 0.
    w2_c0 = wasserstein_1d(_t(0, 1), _t(1, 3, 1), p=2).item()
    assert projected_distribution_distance(fu, fv, p=2).item() == pytest.approx(w2_c0 / 2, rel=1e-15)
    assert projected_distribution_distance(fu, fv, direction, p=2).item() == pytest.approx(
        wasserstein_1d(_t(2, 3), _t(3, 5, 3), p=2).item(), rel=1e-15
    )
    # A float32 projection applied to float64 features runs in float64.
    assert projected_distribution_distance(fu, fv, direction.float()).dtype == torch.float64
    two = torch.cat([fu, 2 * fu])
    per = projected_distribution_distance(two, torch.cat([fv, fv]), reduction="none")
    assert per.shape == (2,)
    assert projected_distribution_distance(two, torch.cat([fv, fv]), reduction="sum").item() == pytest.approx(
        per.sum().item(), rel=1e-15
    )
    assert projected_distribution_distance(two, torch.cat([fv, fv])).item() == pytest.approx(per.mean().item())


def test_pdd_whole_messages():
    good = torch.zeros(1, 2, 2, 2)
    cases = [
        ((torch.zeros(2, 2, 2), good), "fu must be a float tensor (B, C, H, W), got torch.Size([2, 2, 2])"),
        (
            (good, torch.zeros(1, 2, 2, 2, dtype=torch.int64)),
            "fv must be a float tensor (B, C, H, W), got torch.Size([1, 2, 2, 2])",
        ),
        ((good, "x"), "fv must be a float tensor (B, C, H, W), got <class 'str'>"),
        ((good, torch.zeros(1, 3, 2, 2)), "fu and fv must share batch and channels, got (1, 2, 2, 2) and (1, 3, 2, 2)"),
        ((good, torch.zeros(2, 2, 2, 2)), "fu and fv must share batch and channels, got (1, 2, 2, 2) and (2, 2, 2, 2)"),
    ]
    for args, message in cases:
        with pytest.raises(InputError) as info:
            projected_distribution_distance(*args)
        assert str(info.value) == message
    tall = torch.zeros(1, 2, 3, 4)  # channels, height and width all differ: the message names the channels
    for projection in (torch.zeros(3, 3), torch.zeros(2)):
        with pytest.raises(InputError) as info:
            projected_distribution_distance(tall, tall, projection)
        assert str(info.value) == f"projection must be (K, 2), got {tuple(projection.shape)}"
    with pytest.raises(InputError) as info:
        projected_distribution_distance(good, good, reduction="avg")
    assert str(info.value) == "reduction must be 'none', 'mean' or 'sum', got 'avg'"


def test_perceptual_by_hand_and_whole_messages():
    fu = torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]]], dtype=torch.float64)
    fv = torch.tensor([[[[1.0, 1.0], [0.0, 3.0]]]], dtype=torch.float64)
    assert perceptual_distance(fu, fv).item() == pytest.approx((1 + 0 + 2 + 0) / 4, rel=1e-15)
    assert perceptual_distance(fu, fv, p=2).item() == pytest.approx((1 + 0 + 4 + 0) / 4, rel=1e-15)
    assert perceptual_distance(fu, fv, p=3).item() == pytest.approx((1 + 8) / 4, rel=1e-15)
    batch = perceptual_distance(torch.cat([fu, fv]), torch.cat([fv, fv]), reduction="none")
    torch.testing.assert_close(batch, _t(0.75, 0.0), rtol=0, atol=1e-15)
    assert perceptual_distance(torch.cat([fu, fv]), torch.cat([fv, fv]), reduction="sum").item() == 0.75
    for a, b in ((fu, fv[0]), (fu[0], fv[0]), (fu, fv.repeat(1, 1, 1, 2)), ("a", fv), (fu, None), (fu, [1.0])):
        with pytest.raises(InputError) as info:
            perceptual_distance(a, b)
        shown_a, shown_b = getattr(a, "shape", a), getattr(b, "shape", b)
        assert str(info.value) == f"fu and fv must be (B, C, H, W) tensors of one shape, got {shown_a} and {shown_b}"


# -- the sort -------------------------------------------------------------------------------------
def test_sort_backends_and_their_messages(monkeypatch):
    assert SORT_BACKENDS == ("auto", "torch", "numpy")
    with pytest.raises(InputError) as info, sort_backend("quick"):
        pass
    assert str(info.value) == "sort backend must be one of ('auto', 'torch', 'numpy'), got 'quick'"
    monkeypatch.setenv("PDLOSS_SORT", " Fast ")
    with pytest.raises(InputError) as info:
        numpy_applies(torch.zeros(3))
    assert str(info.value) == "$PDLOSS_SORT must be one of ('auto', 'torch', 'numpy'), got 'fast'"
    x = torch.zeros(4, 3)
    auto = numpy_applies.__module__ == "pdloss.functional.sorting"
    for value, expected in ((" NumPy ", True), ("torch", False), ("", auto)):
        monkeypatch.setenv("PDLOSS_SORT", value)
        assert numpy_applies(x) is expected, value
    monkeypatch.delenv("PDLOSS_SORT")
    with sort_backend("torch"):
        assert numpy_applies(x) is False
        with sort_backend("numpy"):
            assert numpy_applies(x) is True
        assert numpy_applies(x) is False  # the outer choice is back
    assert numpy_applies(x) is sorting._NUMPY_SORT_IS_FAST


def test_auto_choice_rules(monkeypatch):
    monkeypatch.setattr(sorting, "_NUMPY_SORT_IS_FAST", True)
    with sort_backend("auto"):
        assert numpy_applies(torch.zeros(2, 300))  # values only: any length
        assert numpy_applies(torch.zeros(2, 256, requires_grad=True))
        assert not numpy_applies(torch.zeros(2, 257, requires_grad=True))
        with torch.no_grad():
            assert numpy_applies(torch.zeros(2, 257, requires_grad=True))
        assert not numpy_applies(torch.zeros(2, 3, dtype=torch.float16))
        assert not numpy_applies(torch.zeros(2, 3, dtype=torch.bfloat16))
        assert numpy_applies(torch.zeros(2, 3, dtype=torch.float64))
        assert not numpy_applies(torch.zeros(2, 3, device="meta"))
    with sort_backend("numpy"):
        assert numpy_applies(torch.zeros(2, 1000, requires_grad=True))
        assert not numpy_applies(torch.zeros(2, 3, dtype=torch.float16))
    monkeypatch.setattr(sorting, "_NUMPY_SORT_IS_FAST", False)
    with sort_backend("auto"):
        assert not numpy_applies(torch.zeros(2, 3))
    assert sorting.NUMPY_ARGSORT_MAX_LENGTH == 256


def test_sorted_last_uses_numpy_exactly_when_it_applies(monkeypatch):
    calls = []
    original = sorting.numpy_sort

    def spy(x, with_indices):
        calls.append((tuple(x.shape), with_indices))
        return original(x, with_indices)

    monkeypatch.setattr(sorting, "numpy_sort", spy)
    x = torch.tensor([[3.0, 1.0, 2.0]])
    with sort_backend("numpy"):
        assert sorted_last(x).tolist() == [[1.0, 2.0, 3.0]]
        assert sorted_last(torch.tensor([[5.0]])).tolist() == [[5.0]]  # one value: nothing to sort
        g = x.clone().requires_grad_(True)
        out = sorted_last(g)
        (grad,) = torch.autograd.grad((out * torch.tensor([[1.0, 10.0, 100.0]])).sum(), g)
        assert grad.tolist() == [[100.0, 1.0, 10.0]]  # each sorted position's gradient back to its source
        with torch.no_grad():
            sorted_last(g)
        assert sorted_last(torch.tensor([[2.0, 1.0]])).tolist() == [[1.0, 2.0]]  # two values already sort
    assert calls == [((1, 3), False), ((1, 3), True), ((1, 3), False), ((1, 2), False)]
    with sort_backend("torch"):
        assert sorted_last(x).tolist() == [[1.0, 2.0, 3.0]]
    assert len(calls) == 4


def test_numpy_sort_in_threads_equals_one_sort(monkeypatch):
    rows = np.random.default_rng(0).normal(size=(7, 50))
    one_values, one_indices = sorting._numpy_sort_rows(rows, True)
    np.testing.assert_array_equal(one_values, np.sort(rows, axis=-1))
    np.testing.assert_array_equal(one_indices, np.argsort(rows, axis=-1))
    assert sorting._numpy_sort_rows(rows, False)[1] is None
    monkeypatch.setattr(sorting, "_PARALLEL_MIN_ELEMENTS", 1)
    threads = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        used = []
        real = sorting._get_pool

        def pool():
            used.append(True)
            return real()

        monkeypatch.setattr(sorting, "_get_pool", pool)
        values, indices = sorting._numpy_sort_rows(rows, True)
        np.testing.assert_array_equal(values, one_values)
        np.testing.assert_array_equal(indices, one_indices)
        np.testing.assert_array_equal(sorting._numpy_sort_rows(rows, False)[0], one_values)
        assert len(used) == 6  # 7 rows over 3 threads: blocks of 3, 3, 1, twice
        np.testing.assert_array_equal(sorting._numpy_sort_rows(rows[:1], False)[0], one_values[:1])
        assert len(used) == 6  # one row: no pool
        # More rows than values per row: the blocks are counted in rows, not in values.
        tall = np.random.default_rng(1).normal(size=(7, 2))
        np.testing.assert_array_equal(sorting._numpy_sort_rows(tall, False)[0], np.sort(tall, axis=-1))
        np.testing.assert_array_equal(sorting._numpy_sort_rows(tall, True)[1], np.argsort(tall, axis=-1))
        # Two threads (a 2-core machine) already split the work.
        torch.set_num_threads(2)
        used.clear()
        np.testing.assert_array_equal(sorting._numpy_sort_rows(rows, False)[0], one_values)
        assert len(used) == 2  # blocks of 4 and 3 rows
        # The size threshold is inclusive: an input of exactly that many values is split.
        monkeypatch.setattr(sorting, "_PARALLEL_MIN_ELEMENTS", rows.size)
        used.clear()
        sorting._numpy_sort_rows(rows, False)
        assert len(used) == 2
        monkeypatch.setattr(sorting, "_PARALLEL_MIN_ELEMENTS", rows.size + 1)
        used.clear()
        np.testing.assert_array_equal(sorting._numpy_sort_rows(rows, False)[0], one_values)
        assert used == []
    finally:
        torch.set_num_threads(threads)


def test_a_forked_child_forgets_the_parents_pool(monkeypatch):
    # What os.register_at_fork runs in a child, called here in this process (a forked child's calls
    # are invisible to coverage): the pool and its lock are dropped, and the next sort makes a new pool.
    monkeypatch.setattr(sorting, "_pool", None)
    monkeypatch.setattr(sorting, "_pool_lock", sorting._pool_lock)
    parent = sorting._get_pool()
    sorting._forget_pool_after_fork()
    assert sorting._pool is None
    assert sorting._pool_lock.acquire(blocking=False)  # a fresh, unlocked lock
    sorting._pool_lock.release()
    child = sorting._get_pool()
    assert child is not parent and child.submit(sum, [1, 2]).result() == 3
    parent.shutdown(wait=False)
    child.shutdown(wait=False)


def test_numpy_sort_op_shapes_and_fake():
    x = torch.tensor([[[2.0, 1.0]], [[0.0, -1.0]]])
    values, order = sorting.numpy_sort(x, True)
    assert values.tolist() == [[[1.0, 2.0]], [[-1.0, 0.0]]] and order.tolist() == [[[1, 0]], [[1, 0]]]
    values, order = sorting.numpy_sort(x, False)
    assert order.shape == (0,) and order.dtype == torch.int64
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        fake = torch.empty(2, 3, 4)
        v, o = sorting.numpy_sort(fake, True)
        assert v.shape == (2, 3, 4) and o.shape == (2, 3, 4) and o.dtype == torch.int64
        v, o = sorting.numpy_sort(fake, False)
        assert o.shape == (0,) and o.dtype == torch.int64


def test_projection_is_applied_in_full_precision_even_under_autocast():
    # The projection's matmul runs with autocast disabled: float32 features stay float32 (CPU
    # autocast would run the matmul in bfloat16, about 3 significant digits), inside an autocast
    # region too.
    g = torch.Generator().manual_seed(3)
    fu, fv = torch.randn(1, 8, 4, 4, generator=g), torch.randn(1, 8, 4, 4, generator=g)
    projection = torch.randn(16, 8, generator=g)
    exact = projected_distribution_distance(fu.double(), fv.double(), projection.double()).item()
    assert projected_distribution_distance(fu, fv, projection).item() == pytest.approx(exact, rel=1e-5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert projected_distribution_distance(fu, fv, projection).item() == pytest.approx(exact, rel=1e-5)


def test_the_sort_pool_is_made_once(monkeypatch):
    monkeypatch.setattr(sorting, "_pool", None)
    pool = sorting._get_pool()
    assert pool is not None and sorting._get_pool() is pool
    assert pool._max_workers == max(1, torch.get_num_threads())
    assert pool._thread_name_prefix == "pdloss-sort"
    pool.shutdown(wait=False)
