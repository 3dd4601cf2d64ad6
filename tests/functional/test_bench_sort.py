"""The NumPy sort path of wasserstein_1d (pdloss.sorting): same values and gradients as torch.sort."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest
import torch

import pdloss.functional.sorting as sorting
from helpers import gradcheck, gradgradcheck
from pdloss.errors import InputError
from pdloss.functional import projected_distribution_distance, sort_backend, wasserstein_1d

NUMPY_SORT = "numpy_sort"  # in the name of the custom op's backward node


def _value_and_grad(backend: str, x: torch.Tensor, y: torch.Tensor, p: float = 1):
    x = x.detach().clone().requires_grad_(True)
    with sort_backend(backend):
        value = wasserstein_1d(x, y, p)
    value.sum().backward()
    return value.detach(), x.grad


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("m", [50, 37])
def test_numpy_and_torch_sort_agree(dtype, m):
    x = torch.randn(3, 4, 50, dtype=dtype)
    y = torch.randn(3, 4, m, dtype=dtype)
    v_np, g_np = _value_and_grad("numpy", x, y)
    v_t, g_t = _value_and_grad("torch", x, y)
    torch.testing.assert_close(v_np, v_t, rtol=0, atol=0)
    torch.testing.assert_close(g_np, g_t, rtol=0, atol=0)


def test_numpy_sort_with_ties_gives_the_sorted_values_and_a_valid_gradient():
    # ReLU features are full of exact zeros: any order of tied values gives the same sorted list,
    # and the gradient (sign(sorted x - sorted y) / N scattered back) sums to the same total.
    x = torch.tensor([[0.0, 0.0, 2.0, 0.0, 1.0, 0.0]])
    y = torch.tensor([[3.0, 0.5, 0.0, 0.0, 0.0, 0.0]])
    v_np, g_np = _value_and_grad("numpy", x, y)
    # sorted x (0,0,0,0,1,2) vs sorted y (0,0,0,0,0.5,3): |0.5| + |1| = 1.5, mean 0.25
    assert v_np.item() == pytest.approx(0.25)
    assert g_np[0, 4].item() == pytest.approx(1 / 6)  # 1 > 0.5
    assert g_np[0, 2].item() == pytest.approx(-1 / 6)  # 2 < 3
    assert g_np[0, [0, 1, 3, 5]].abs().sum().item() == 0  # tied zeros against tied zeros


def test_numpy_sort_large_input_uses_the_thread_pool_and_matches(monkeypatch):
    monkeypatch.setattr(sorting, "_PARALLEL_MIN_ELEMENTS", 1)
    x = torch.randn(7, 300)
    y = torch.randn(7, 300)
    v_np, g_np = _value_and_grad("numpy", x, y)
    v_t, g_t = _value_and_grad("torch", x, y)
    torch.testing.assert_close(v_np, v_t, rtol=0, atol=0)
    torch.testing.assert_close(g_np, g_t, rtol=0, atol=0)


def test_numpy_sort_gradcheck_and_double_backward():
    x = torch.randn(2, 3, 9, dtype=torch.float64, requires_grad=True)
    y = torch.randn(2, 3, 9, dtype=torch.float64, requires_grad=True)
    with sort_backend("numpy"):
        assert gradcheck(lambda a, b: wasserstein_1d(a, b, p=2), (x, y))
        assert gradgradcheck(lambda a, b: wasserstein_1d(a, b, p=2), (x, y))
        sorted_x = sorting.sorted_last(x)
    assert sorted_x.grad_fn is not None and NUMPY_SORT in type(sorted_x.grad_fn).__name__


def test_auto_backend_uses_numpy_on_cpu_and_torch_for_half_or_unsupported():
    x = torch.randn(4, 8, requires_grad=True)
    with sort_backend("auto"):
        assert NUMPY_SORT in type(sorting.sorted_last(x).grad_fn).__name__
    with sort_backend("torch"):
        assert "Sort" in type(sorting.sorted_last(x).grad_fn).__name__
        assert NUMPY_SORT not in type(sorting.sorted_last(x).grad_fn).__name__
    with sort_backend("numpy"):  # an integer-free but unsupported dtype falls back to torch.sort
        half = torch.randn(4, 8, dtype=torch.bfloat16, requires_grad=True)
        assert NUMPY_SORT not in type(sorting.sorted_last(half).grad_fn).__name__


def test_projected_distance_same_under_both_backends_for_channels_last_bf16():
    fu = torch.randn(2, 5, 6, 7).relu().to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
    fv = torch.randn(2, 5, 6, 7).relu().to(torch.bfloat16)
    with sort_backend("numpy"):
        a = projected_distribution_distance(fu, fv, reduction="none")
    with sort_backend("torch"):
        b = projected_distribution_distance(fu, fv, reduction="none")
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_bad_backend_names(monkeypatch):
    with pytest.raises(InputError, match="sort backend"), sort_backend("quick"):
        pass
    monkeypatch.setenv("PDLOSS_SORT", "fastest")
    with pytest.raises(InputError, match="PDLOSS_SORT"):
        wasserstein_1d(torch.randn(5), torch.randn(5))
    monkeypatch.setenv("PDLOSS_SORT", "torch")
    x = torch.randn(5, requires_grad=True)
    assert NUMPY_SORT not in type(sorting.sorted_last(x).grad_fn).__name__


def test_single_sample_and_empty_batch():
    assert wasserstein_1d(torch.tensor([2.0]), torch.tensor([5.0])).item() == 3.0
    out = wasserstein_1d(torch.empty(0, 4), torch.empty(0, 4))
    assert out.shape == (0,)


def test_auto_backend_keeps_torch_sort_for_long_rows_with_gradient():
    long_rows = torch.randn(2, sorting.NUMPY_ARGSORT_MAX_LENGTH + 1)
    with sort_backend("auto"):
        with_grad = sorting.sorted_last(long_rows.clone().requires_grad_(True))
        assert NUMPY_SORT not in type(with_grad.grad_fn).__name__
        assert sorting.numpy_applies(long_rows)  # values only: NumPy at any length
    with sort_backend("numpy"):
        assert NUMPY_SORT in type(sorting.sorted_last(long_rows.clone().requires_grad_(True)).grad_fn).__name__


def test_numpy_sort_custom_op_passes_the_operator_checks():
    # Fake (meta) implementation, autograd registration and schema, as torch.compile relies on them.
    for requires_grad in (False, True):
        x = torch.randn(3, 7, requires_grad=requires_grad)
        # The compile-time check (aot dispatch) is slow; tests/test_compile.py compiles the op instead.
        torch.library.opcheck(
            torch.ops.pdloss.numpy_sort.default,
            (x, requires_grad),
            test_utils=("test_schema", "test_autograd_registration", "test_faketensor"),
        )


def test_public_sort_names_stay_importable_from_functional():
    from pdloss.functional import sort_backend as from_functional

    assert from_functional is sort_backend is sorting.sort_backend


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")
def test_numpy_sort_pool_works_in_a_forked_child(monkeypatch):
    # A forked child (a DataLoader worker) inherits the parent's pool object but not its threads;
    # without the at-fork reset its first large sort waits forever.
    monkeypatch.setattr(sorting, "_PARALLEL_MIN_ELEMENTS", 1)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        rows = np.random.default_rng(0).standard_normal((4, 64))
        for _ in range(5):  # the parent's pool now exists, with idle threads the child will not have
            values, _ = sorting._numpy_sort_rows(rows, with_indices=False)
        assert sorting._pool is not None
        time.sleep(0.2)  # let the pool's threads go idle (each idle thread is a permit not to start one)
        pid = os.fork()
        if pid == 0:  # child: only NumPy and the pool, then leave without running pytest's teardown
            ok = False
            try:
                child_values, child_indices = sorting._numpy_sort_rows(rows, with_indices=True)
                ok = np.array_equal(child_values, values) and np.array_equal(
                    np.take_along_axis(rows, child_indices, axis=-1), values
                )
            finally:
                os._exit(0 if ok else 1)
        deadline = time.monotonic() + 30
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                pytest.fail("the forked child's sort did not finish in 30 s (the inherited pool has no threads)")
            time.sleep(0.05)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        torch.set_num_threads(threads)
