"""Shared testing tools, in the spirit of kornia's ``BaseTester``.

- :func:`assert_close`: ``torch.testing.assert_close`` with tolerances chosen by the dtype of the
  tensors compared (bf16 and fp16 loose, float32 tight, float64 tighter), so a test states the
  dtype it runs in and not a pair of numbers.
- :func:`gradcheck` / :func:`gradgradcheck`: every differentiable op's gradient is checked in
  float64 through these wrappers; they refuse inputs of another dtype (a float32 gradcheck passes
  or fails by rounding, not by the maths).
- Factories: :func:`gen` (a seeded CPU ``torch.Generator``), :func:`rand_image` (a batch of images
  in [0, 1]), :func:`write_photos` (PNG photos in a folder), :func:`small_loss` (a registered loss
  on small random networks) and :func:`tiny_config` (the raw dict of a training run small enough to
  train in a second).

The ``device`` fixture lives in ``tests/conftest.py``: ``pytest --device cuda`` (or
``PDLOSS_TEST_DEVICE=cuda``) runs every test that takes it on that device.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

# (rtol, atol) per dtype; the bf16/fp16 ones are about one unit in the last place of the format.
TOLERANCES: dict[torch.dtype, tuple[float, float]] = {
    torch.bfloat16: (1.6e-2, 1e-2),
    torch.float16: (2e-3, 1e-3),
    torch.float32: (1e-5, 1e-6),
    torch.float64: (1e-10, 1e-12),
}


def tolerances(*values: Any) -> tuple[float, float]:
    """The loosest (rtol, atol) over the dtypes of ``values`` (tensors, arrays or numbers)."""
    pairs = [TOLERANCES.get(torch.as_tensor(v).dtype, (0.0, 0.0)) for v in values]
    return max(p[0] for p in pairs), max(p[1] for p in pairs)


def assert_close(
    actual: Any,
    expected: Any,
    *,
    rtol: float | None = None,
    atol: float | None = None,
    low_tolerance: bool = False,
    msg: str | None = None,
) -> None:
    """``torch.testing.assert_close`` with tolerances taken from the dtypes of both sides.

    Numbers, NumPy arrays and tensors on any device are accepted; ``expected`` is moved to the
    device and dtype of ``actual`` when ``actual`` is a tensor. ``low_tolerance`` multiplies the
    default tolerances by 10 (for results that sum many rounding errors, e.g. over a whole image).
    Explicit ``rtol``/``atol`` win over the defaults.
    """
    if isinstance(actual, torch.Tensor):
        expected = torch.as_tensor(expected).to(device=actual.device, dtype=actual.dtype)
    else:
        actual, expected = torch.as_tensor(actual), torch.as_tensor(expected)
        if actual.dtype != expected.dtype and actual.is_floating_point():
            expected = expected.to(actual.dtype)
    default_rtol, default_atol = tolerances(actual, expected)
    if low_tolerance:
        default_rtol, default_atol = 10 * default_rtol, 10 * default_atol
    torch.testing.assert_close(
        actual,
        expected,
        rtol=default_rtol if rtol is None else rtol,
        atol=default_atol if atol is None else atol,
        check_dtype=False,
        msg=msg,
    )


def _float64_inputs(inputs: Sequence[Any]) -> tuple[Any, ...]:
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    for i, value in enumerate(inputs):
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            assert value.dtype == torch.float64, f"gradcheck input {i} is {value.dtype}, not float64"
            if not value.requires_grad:
                raise AssertionError(f"gradcheck input {i} does not require grad")
    return inputs


def gradcheck(func: Callable[..., Any], inputs: Any, **kwargs: Any) -> bool:
    """``torch.autograd.gradcheck`` on float64 inputs that require grad; raises on a mismatch.

    ``kwargs`` go to torch (``fast_mode``, ``atol``, ``nondet_tol`` ...). Returns True so a test
    can write ``assert gradcheck(...)``.
    """
    return torch.autograd.gradcheck(func, _float64_inputs(inputs), raise_exception=True, **kwargs)


def gradgradcheck(func: Callable[..., Any], inputs: Any, **kwargs: Any) -> bool:
    """``torch.autograd.gradgradcheck`` (second derivatives) under the same float64 rule."""
    return torch.autograd.gradgradcheck(func, _float64_inputs(inputs), raise_exception=True, **kwargs)


# ------------------------------------------------------------------------------------ factories


def gen(seed: int = 0) -> torch.Generator:
    """A CPU generator seeded with ``seed`` (the degradations draw on CPU generators)."""
    return torch.Generator().manual_seed(seed)


def rand_image(
    *shape: int,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    requires_grad: bool = False,
) -> torch.Tensor:
    """Uniform values in [0, 1] of ``shape`` (default (1, 3, 16, 16)), drawn on CPU from ``seed``
    so the values do not depend on the device, then moved to ``device``."""
    shape = shape or (1, 3, 16, 16)
    x = torch.rand(*shape, generator=gen(seed), dtype=torch.float64).to(device=device, dtype=dtype)
    return x.requires_grad_(requires_grad)


def write_photos(folder: Path, count: int = 4, size: int = 48, *, seed: int = 0, base: int | None = 12,
                 prefix: str = "p") -> Path:
    """``count`` RGB PNG photos of ``size`` x ``size`` px in ``folder``: random ``base`` x ``base``
    px colours enlarged bicubically (smooth, photo-like texture), or plain uniform noise when
    ``base`` is None. Same ``seed``, same files."""
    folder.mkdir(parents=True, exist_ok=True)
    from PIL import Image  # Pillow is a test-time dependency only of the tests that write photos

    rng = np.random.default_rng(seed)
    for i in range(count):
        if base is None:
            image = Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
        else:
            image = Image.fromarray(rng.integers(0, 256, (base, base, 3), dtype=np.uint8))
            image = image.resize((size, size), Image.BICUBIC)
        image.save(folder / f"{prefix}{i}.png")
    return folder


def small_loss(name: str, layers: str, discriminator: dict[str, int], **kwargs: Any) -> torch.nn.Module:
    """A registered loss made small for tests: random VGG weights up to ``layers`` for the feature
    losses, a discriminator of ``discriminator``'s sizes for the GAN term, l1 as it is."""
    from pdloss.losses.registry import build_loss  # the tests of torch-free modules need not load the losses

    if name == "adversarial":
        return build_loss(name, **discriminator, **kwargs)
    if name == "l1":
        return build_loss(name, **kwargs)
    return build_loss(name, weights="random", layers=layers, **kwargs)


TINY_RUN: dict[str, Any] = {
    "task": "denoise",
    "task_options": {"sigma": 25},
    "name": "tiny",
    "seed": 3,
    "data": {"crop": 16, "batch": 2, "valid_crop": 32},
    "model": {"name": "small-unet", "options": {"widths": [8, 8, 8]}},
    "loss": {"name": "l1"},
    "optim": {"lr": 1e-2},
    "train": {"iterations": 2, "log_every": 1, "valid_every": 2, "checkpoint_every": 2, "amp": "none"},
}


def tiny_config(photos: Path, output: Path, base: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    """The raw config dict of a tiny denoising run on ``photos`` writing to ``output``.

    ``base`` replaces whole sections of :data:`TINY_RUN` (a file's own defaults); ``changes`` are
    dotted overrides applied as ``pdloss train --set key=value`` would (``**{"train.iterations": 4}``).
    """
    from pdloss.config.schema import apply_overrides

    raw = json.loads(json.dumps(TINY_RUN))
    raw.update(json.loads(json.dumps(base or {})))
    raw["output"] = str(output)
    raw["data"]["train"] = str(photos)
    for key, value in changes.items():
        raw = apply_overrides(raw, [f"{key}={json.dumps(value)}"])
    return raw
