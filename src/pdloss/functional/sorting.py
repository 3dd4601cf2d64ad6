"""How the PDL sorts: ``torch.sort`` or NumPy, chosen per call (the sort is the loss's hot spot).

:func:`sorted_last` is ``torch.sort(x, dim=-1).values`` with the same values and gradient; on CPU
float32/float64 tensors it may sort with NumPy instead, whose vectorised sorts (x86-simd-sort in
NumPy 2) run several times faster than ``torch.sort`` on rows (numbers in docs/benchmarks.md).
The NumPy sort is a registered custom op (``pdloss::numpy_sort``, with a fake implementation and
an autograd formula), so ``torch.compile`` keeps it inside the graph instead of breaking it.

Which sort runs: :func:`sort_backend` (a context manager, this thread) or ``$PDLOSS_SORT``
(``auto`` | ``torch`` | ``numpy``, the process default). ``"auto"``: NumPy for CPU float32/float64
tensors with NumPy 2 or later (when a gradient is needed, only for rows of at most 256 values,
where its argsort is the faster), ``torch.sort`` otherwise. Under ``torch.compile`` the choice is
made when the graph is traced.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np
import torch

from pdloss.errors import InputError

__all__ = ["SORT_BACKENDS", "numpy_applies", "sort_backend", "sorted_last"]

SORT_BACKENDS = ("auto", "torch", "numpy")
_sort_state = threading.local()
_PARALLEL_MIN_ELEMENTS = 1 << 21  # below this, one thread: handing work to a pool costs more than it saves
# With a gradient NumPy must argsort, which beats torch.sort only on rows that fit its sorting networks
# (1.6x at 256 values, relu4_3 of a 128 px crop; 0.8-0.85x from 400 to 16384 values). Values alone
# (np.sort, metric use) win at every length measured (3.5-7x).
NUMPY_ARGSORT_MAX_LENGTH = 256
# Measured with NumPy 2.x (x86-simd-sort); older NumPy sorts without it, so "auto" keeps torch.sort there.
_NUMPY_SORT_IS_FAST = int(np.__version__.split(".")[0]) >= 2
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _default_backend() -> str:
    value = os.environ.get("PDLOSS_SORT", "auto").strip().lower() or "auto"
    if value not in SORT_BACKENDS:
        raise InputError(f"$PDLOSS_SORT must be one of {SORT_BACKENDS}, got {value!r}")
    return value


@contextmanager
def sort_backend(name: str) -> Iterator[None]:
    """Choose how :func:`sorted_last` (hence ``wasserstein_1d``) sorts within a ``with`` block
    (this thread only).

    ``"auto"`` (default): with NumPy 2 or later, NumPy for CPU float32/float64 tensors (when a
    gradient is needed, only for rows of at most 256 values, where its argsort is the faster),
    ``torch.sort`` otherwise;
    ``"torch"``: always ``torch.sort``; ``"numpy"``: NumPy wherever it applies (CPU float32/float64),
    else ``torch.sort``. Values and gradients are the same either way (ties aside: any order of
    equal values gives the same sorted values; the gradient then goes to one of the tied entries).
    A compiled function keeps the choice that was in force when it was traced.
    """
    if name not in SORT_BACKENDS:
        raise InputError(f"sort backend must be one of {SORT_BACKENDS}, got {name!r}")
    previous = getattr(_sort_state, "backend", None)
    _sort_state.backend = name
    try:
        yield
    finally:
        _sort_state.backend = previous


@torch.compiler.assume_constant_result
def _current_backend() -> str:
    # A constant for the compiler: reading thread-local state and the environment cannot be traced.
    return getattr(_sort_state, "backend", None) or _default_backend()


def numpy_applies(x: torch.Tensor) -> bool:
    """Whether :func:`sorted_last` sorts ``x`` with NumPy under the current backend."""
    backend = _current_backend()
    if backend == "torch" or x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64):
        return False
    if backend == "numpy":
        return True
    needs_permutation = x.requires_grad and torch.is_grad_enabled()
    return _NUMPY_SORT_IS_FAST and (not needs_permutation or x.shape[-1] <= NUMPY_ARGSORT_MAX_LENGTH)


def _forget_pool_after_fork() -> None:
    # A forked child (DataLoader workers, multiprocessing "fork", mutmut's runners) inherits the pool
    # object but not its threads: submitting to it would wait forever. The child starts its own.
    global _pool, _pool_lock
    _pool = None
    _pool_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max(1, torch.get_num_threads()), thread_name_prefix="pdloss-sort")
        return _pool


def _numpy_sort_rows(rows: np.ndarray, with_indices: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Sort each row of a C-contiguous ``(R, N)`` array; with the permutation when asked.

    NumPy releases the GIL while sorting, so large inputs are split into row blocks sorted by
    ``torch.get_num_threads()`` threads.
    """
    values = np.empty_like(rows)
    indices = np.empty(rows.shape, dtype=np.int64) if with_indices else None

    def work(lo: int, hi: int) -> None:
        if with_indices:
            order = np.argsort(rows[lo:hi], axis=-1)
            indices[lo:hi] = order
            values[lo:hi] = np.take_along_axis(rows[lo:hi], order, axis=-1)
        else:
            values[lo:hi] = np.sort(rows[lo:hi], axis=-1)

    workers = min(torch.get_num_threads(), rows.shape[0])
    if workers <= 1 or rows.size < _PARALLEL_MIN_ELEMENTS:
        work(0, rows.shape[0])
    else:
        step = -(-rows.shape[0] // workers)
        futures = [_get_pool().submit(work, lo, min(lo + step, rows.shape[0])) for lo in range(0, rows.shape[0], step)]
        for future in futures:
            future.result()
    return values, indices


@torch.library.custom_op("pdloss::numpy_sort", mutates_args=(), device_types="cpu")
def numpy_sort(x: torch.Tensor, with_indices: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Sorted values of ``x`` along the last axis (CPU, float32/float64) and, when
    ``with_indices``, the permutation (int64, same shape; else an empty tensor)."""
    rows = x.contiguous().reshape(-1, x.shape[-1]).numpy()
    values, indices = _numpy_sort_rows(rows, with_indices)
    order = torch.from_numpy(indices).view(x.shape) if indices is not None else x.new_empty(0, dtype=torch.int64)
    return torch.from_numpy(values).view(x.shape), order


@numpy_sort.register_fake
def _(x: torch.Tensor, with_indices: bool) -> tuple[torch.Tensor, torch.Tensor]:
    values = torch.empty_like(x, memory_format=torch.contiguous_format)
    return values, x.new_empty(x.shape if with_indices else (0,), dtype=torch.int64)


def _setup_context(ctx, inputs, output) -> None:
    ctx.save_for_backward(output[1])


def _backward(ctx, grad_values: torch.Tensor, grad_indices: torch.Tensor):
    (indices,) = ctx.saved_tensors
    # The same as torch.sort's backward: each sorted position's gradient goes back to its source.
    # Written with differentiable torch ops, so double backward works too.
    return torch.zeros_like(grad_values).scatter(-1, indices, grad_values), None


numpy_sort.register_autograd(_backward, setup_context=_setup_context)


def sorted_last(x: torch.Tensor) -> torch.Tensor:
    """``torch.sort(x, dim=-1).values``, through NumPy where that is faster (see :func:`sort_backend`)."""
    if x.shape[-1] > 1 and numpy_applies(x):
        return numpy_sort(x, x.requires_grad and torch.is_grad_enabled())[0]
    return torch.sort(x, dim=-1).values
