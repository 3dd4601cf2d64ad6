"""Checks of tensor arguments that turn silent wrong numbers into clear errors.

Every public metric and degradation calls :func:`check_image_batch` on its inputs; every loss
applies :class:`LossInputChecks`, the losses' policy (the prediction may stray outside the range,
with a warning; everything else is an error).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import torch

from pdloss.amp import warn_if_emulated_bf16
from pdloss.callsite import user_stacklevel
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

    Used by metrics, degradations and models; the losses apply :class:`LossInputChecks` instead
    (which lets a prediction stray outside the range with a warning).

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
    check_image_structure(x, name, channels, min_size)
    if check_values:
        _check_values(x, name, value_range)
    return x


def check_image_structure(
    x: object, name: str, channels: int | Sequence[int] | None = 3, min_size: int | tuple[int, int] = 1
) -> torch.Tensor:
    """The checks of :func:`check_image_batch` that need no values (no device sync): a float tensor
    ``(B, C, H, W)``, ``B >= 1``, the channel count(s), at least ``min_size`` pixels high and wide."""
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
    return x


def _check_values(x: torch.Tensor, name: str, value_range: tuple[float, float] | None) -> None:
    with torch.no_grad():
        lo_v, hi_v = _stack_extremes([x]).tolist()  # one device sync
    _raise_unless_finite(lo_v, hi_v, name)
    if value_range is not None and _far_outside(lo_v, hi_v, value_range):
        raise InputError(f"{name} has values in {_range_text(lo_v, hi_v, value_range)}")


def _stack_extremes(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """``(min, max)`` of every tensor, flattened into one tensor: reading it back is one sync.
    float64 (where the device has it) so that large float64 values do not overflow to Inf."""
    extremes = [v for t in tensors for v in torch.aminmax(t.detach())]
    dtype = torch.float32 if extremes[0].device.type == "mps" else torch.float64
    return torch.stack([v.to(dtype) for v in extremes])


def _raise_unless_finite(lo: float, hi: float, name: str) -> None:
    # min and max propagate NaN, and any Inf shows in one of them.
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise InputError(f"{name} contains NaN or Inf values; check the model output and data pipeline")


def _far_outside(lo: float, hi: float, value_range: tuple[float, float]) -> bool:
    low, high = value_range
    slack = RANGE_SLACK * (high - low)
    return lo < low - slack or hi > high + slack


def _range_text(lo: float, hi: float, value_range: tuple[float, float]) -> str:
    low, high = value_range
    return (
        f"[{lo:.4g}, {hi:.4g}], far outside the declared range [{low:g}, {high:g}]; "
        "rescale the input or pass the matching input_range"
    )


# -- the losses' policy ---------------------------------------------------------------------------

VALIDATE_MODES = ("warn", "strict", "off")


class PredictionRangeWarning(UserWarning):
    """A loss's prediction lies far outside the declared input range (shown once per loss instance)."""


def validation_mode(validate: bool | str) -> str:
    """A loss's ``validate`` option as one of :data:`VALIDATE_MODES` (True is ``"warn"``, False ``"off"``)."""
    if validate is True:
        return "warn"
    if validate is False:
        return "off"
    if isinstance(validate, str) and validate in VALIDATE_MODES:
        return validate
    raise InputError(f"validate must be True, False or one of {VALIDATE_MODES}, got {validate!r}")


class LossInputChecks:
    """The input checks of one loss instance (the validation policy of every loss, docs/losses.md).

    Always, without touching values (no device sync): both inputs are float tensors
    ``(B, C, H, W)`` with the right channels and at least ``min_size`` pixels, paired as asked.

    Values, unless ``validate`` is False / ``"off"`` (one device sync per call for both inputs):

    - the target must be finite and within the declared range (up to half its width beyond it):
      otherwise InputError, since a wrong target silently trains towards the wrong images;
    - the prediction must be finite (InputError); values far outside the range (same margin) are
      normal for an unclamped network early in training: a :class:`PredictionRangeWarning`, once
      per instance (``validate="strict"``: an InputError, as for the target).

    Under ``torch.compile`` no value is read back to the host (that would break the graph):
    finiteness and the target's range are asserted inside the graph with ``torch._assert_async``
    (a RuntimeError with the same message; on CUDA a device-side assert), the prediction's range
    is not looked at (``"strict"``: asserted too).

    Each call also warns once per process when it runs under CPU bf16 autocast on a CPU that
    emulates bf16 (:func:`pdloss.amp.warn_if_emulated_bf16`).
    """

    def __init__(self, owner: str) -> None:
        self.owner = owner  # the loss's class name, for messages
        self.warned = False

    def __call__(
        self,
        prediction: torch.Tensor,
        target: torch.Tensor | None,
        *,
        value_range: tuple[float, float] | None,
        validate: bool | str = True,
        channels: int | Sequence[int] | None = 3,
        min_size: int | tuple[int, int] = 1,
        pairing: str | None = "shape",
        names: tuple[str, str] = ("prediction", "target"),
        check_values: bool = True,
    ) -> None:
        """Check ``prediction`` and ``target`` (None: a prediction alone, e.g. a GAN generator term).

        ``pairing``: ``"shape"`` (same shape), ``"batch"`` (same batch size) or None.
        ``check_values=False`` checks the structure only (a caller that checks values once for
        several losses, as CombinedLoss does).
        """
        check_image_structure(prediction, names[0], channels, min_size)
        if target is not None:
            check_image_structure(target, names[1], channels, min_size)
            if pairing == "shape":
                check_same_shape(prediction, target, names)
            elif pairing == "batch" and prediction.shape[0] != target.shape[0]:
                raise InputError(
                    f"{names[0]} and {names[1]} batch sizes differ: {prediction.shape[0]} and {target.shape[0]}"
                )
        warn_if_emulated_bf16(prediction.device.type)
        if check_values:
            self.check_values(prediction, target, value_range=value_range, validate=validate, names=names)

    def check_values(
        self,
        prediction: torch.Tensor,
        target: torch.Tensor | None,
        *,
        value_range: tuple[float, float] | None,
        validate: bool | str = True,
        names: tuple[str, str] = ("prediction", "target"),
    ) -> None:
        """The value part of the policy (see the class docstring); one device sync at most."""
        mode = validation_mode(validate)
        if mode == "off":
            return
        if torch.compiler.is_compiling():
            self._assert_in_graph(prediction, target, value_range, mode, names)
            return
        with torch.no_grad():
            extremes = _stack_extremes([prediction] if target is None else [prediction, target]).tolist()  # one sync
        lo_p, hi_p = extremes[:2]
        _raise_unless_finite(lo_p, hi_p, names[0])
        if target is not None:
            lo_t, hi_t = extremes[2:]
            _raise_unless_finite(lo_t, hi_t, names[1])
            if value_range is not None and _far_outside(lo_t, hi_t, value_range):
                raise InputError(f"{names[1]} has values in {_range_text(lo_t, hi_t, value_range)}")
        if value_range is None or not _far_outside(lo_p, hi_p, value_range):
            return
        if mode == "strict":
            raise InputError(f"{names[0]} has values in {_range_text(lo_p, hi_p, value_range)} (validate='strict')")
        if not self.warned:
            self.warned = True
            low, high = value_range
            warnings.warn(
                f"{self.owner}: {names[0]} has values in [{lo_p:.4g}, {hi_p:.4g}], far outside the declared range "
                f"[{low:g}, {high:g}]. Not an error: an unclamped network output often overshoots early in "
                "training, and the loss is computed as given. If your images use another range, pass "
                "input_range=(low, high) or rescale them (8-bit data: x / 255). Shown once per loss instance; "
                "silence it with warnings.filterwarnings('ignore', category=pdloss.validation.PredictionRangeWarning), "
                "or make it an error with validate='strict'.",
                PredictionRangeWarning,
                stacklevel=user_stacklevel(),
            )

    @staticmethod
    def _assert_in_graph(
        prediction: torch.Tensor,
        target: torch.Tensor | None,
        value_range: tuple[float, float] | None,
        mode: str,
        names: tuple[str, str],
    ) -> None:
        suffix = " (checked inside the compiled graph; validate=False removes the check)"
        checks = [(prediction, names[0], mode == "strict")]
        if target is not None:
            checks.append((target, names[1], True))
        for x, name, check_range in checks:
            x = x.detach()
            torch._assert_async(
                torch.isfinite(x).all(), f"{name} contains NaN or Inf values; check the model output{suffix}"
            )
            if check_range and value_range is not None:
                low, high = value_range
                slack = RANGE_SLACK * (high - low)
                inside = ((x >= low - slack) & (x <= high + slack)).all()
                torch._assert_async(
                    inside,
                    f"{name} has values far outside the declared range [{low:g}, {high:g}]; rescale the input or "
                    f"pass the matching input_range{suffix}",
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
