"""Checks of tensor arguments that turn silent wrong numbers into clear errors.

Every public loss, metric and degradation calls :func:`check_image_batch` on its inputs.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from pdloss.errors import InputError

# A value this far outside the declared range (as a fraction of the range's width) is taken as
# a wrong convention (0-255 data fed as [0, 1], say) rather than a network's small overshoot.
RANGE_SLACK = 0.5


def check_image_batch(
    x: object,
    name: str,
    value_range: tuple[float, float] | None = (0.0, 1.0),
    channels: int | Sequence[int] | None = 3,
    min_size: int | tuple[int, int] = 1,
    check_values: bool = True,
) -> torch.Tensor:
    """Validate an image batch ``(B, C, H, W)`` and return it unchanged.

    Args:
        x: the tensor to check.
        name: how error messages call it (``"prediction"``, ``"target"``...).
        value_range: the declared (low, high); values beyond it by more than half its width
            raise. None skips the range check.
        channels: required channel count(s), or None for any.
        min_size: smallest allowed height and width.
        check_values: False skips the NaN/Inf and range checks (they synchronise with the device).

    Raises:
        InputError (a ValueError) saying what is wrong and what to do.
    """
    if not isinstance(x, torch.Tensor):
        raise InputError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 4:
        hint = " (add a batch axis with x.unsqueeze(0))" if x.ndim == 3 else ""
        raise InputError(f"{name} must have shape (B, C, H, W), got {tuple(x.shape)}{hint}")
    if not x.is_floating_point():
        raise InputError(
            f"{name} has dtype {x.dtype}; convert to float first "
            "(for 8-bit images: x.float() / 255 gives the [0, 1] range)"
        )
    if channels is not None:
        allowed = (channels,) if isinstance(channels, int) else tuple(channels)
        if x.shape[1] not in allowed:
            raise InputError(
                f"{name} has {x.shape[1]} channels, expected {' or '.join(map(str, allowed))} "
                f"(shape {tuple(x.shape)}; images are (B, C, H, W), channels first)"
            )
    min_h, min_w = (min_size, min_size) if isinstance(min_size, int) else min_size
    if x.shape[2] < min_h or x.shape[3] < min_w:
        raise InputError(
            f"{name} is {x.shape[2]}x{x.shape[3]} pixels, smaller than the minimum {min_h}x{min_w}; "
            "use larger crops or a shallower layer"
        )
    if x.shape[0] == 0:
        raise InputError(f"{name} is an empty batch")
    if check_values:
        _check_values(x, name, value_range)
    return x


def _check_values(x: torch.Tensor, name: str, value_range: tuple[float, float] | None) -> None:
    with torch.no_grad():
        detached = x.detach()
        lo, hi = torch.aminmax(detached.float())
        finite = torch.isfinite(lo) & torch.isfinite(hi)
        lo_v, hi_v, finite_v = (t.item() for t in (lo, hi, finite))  # one round of syncs
    if not finite_v:
        raise InputError(f"{name} contains NaN or Inf values; check the model output and data pipeline")
    if value_range is not None:
        low, high = value_range
        slack = RANGE_SLACK * (high - low)
        if lo_v < low - slack or hi_v > high + slack:
            raise InputError(
                f"{name} has values in [{lo_v:.4g}, {hi_v:.4g}], far outside the declared range "
                f"[{low:g}, {high:g}]; rescale the input or pass the matching input_range"
            )


def check_same_shape(a: torch.Tensor, b: torch.Tensor, names: tuple[str, str] = ("prediction", "target")) -> None:
    if a.shape != b.shape:
        raise InputError(
            f"{names[0]} and {names[1]} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )


def check_loss_weights(**weights: object) -> dict[str, float]:
    """``weight=..., pixel_weight=...`` as floats; InputError unless each is a non-negative number."""
    for name, value in weights.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise InputError(f"{name} must be a non-negative number, got {value!r}")
    return {name: float(value) for name, value in weights.items()}


def check_reduction(reduction: str) -> str:
    if reduction not in ("none", "mean", "sum"):
        raise InputError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    return reduction


def reduce(values: torch.Tensor, reduction: str) -> torch.Tensor:
    """Apply a batch reduction to per-image values ``(B,)``."""
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    return values
