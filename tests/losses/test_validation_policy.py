"""The losses' validation policy: a healthy run never stops on its prediction's values.

Every loss of the registry: shapes, dtypes, channels and NaN/Inf are errors; a target far outside
the declared range is an error; a prediction there is a warning, once per loss instance
(``validate="strict"`` makes it an error, ``validate=False`` checks no values); at most one
read-back of values to the host per call; and a one-time warning under CPU bf16 autocast on a CPU
that emulates bf16.
"""

from __future__ import annotations

import warnings

import pytest
import torch

import pdloss.amp as amp
from helpers import small_loss
from pdloss import ProjectedDistributionLoss
from pdloss.errors import InputError
from pdloss.losses import CombinedLoss, PerceptualLoss
from pdloss.losses.registry import build_loss, list_losses
from pdloss.models import build_model
from pdloss.validation import PredictionRangeWarning, validation_mode

FEATURE_OPTIONS = {"weights": "random", "layers": "relu1_2"}
SMALL_DISCRIMINATOR = {"base_channels": 2, "hidden": 4, "pool_size": 1}


def build(name: str, **kwargs):
    return small_loss(name, FEATURE_OPTIONS["layers"], SMALL_DISCRIMINATOR, **kwargs)


def images(batch: int = 2, size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.rand(batch, 3, size, size, generator=g), torch.rand(batch, 3, size, size, generator=g)


def range_warnings(record: list[warnings.WarningMessage]) -> list[warnings.WarningMessage]:
    return [w for w in record if issubclass(w.category, PredictionRangeWarning)]


@pytest.mark.parametrize("name", list_losses())
def test_prediction_outside_the_range_warns_once_per_instance(name):
    u, v = images()
    u[0, 0, 0, :2] = torch.tensor([0.0, 1.0])  # exact extremes: the message quotes [-0.2, 2.3]
    loss = build(name)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        for scale in (2.5, 3.0):  # [0, 2.5] and [0, 3]: far beyond [0, 1] (more than half its width)
            value = loss(u * scale - 0.2, v)
            assert torch.isfinite(value)
        assert len(range_warnings(record)) == 1
        text = str(range_warnings(record)[0].message)
        assert "prediction has values in [-0.2, 2.3], far outside the declared range [0, 1]" in text
        assert "PredictionRangeWarning" in text and "validate='strict'" in text  # how to silence or tighten
        build(name)(u * 3, v)  # a new instance warns again
        assert len(range_warnings(record)) == 2


@pytest.mark.parametrize("name", list_losses())
def test_value_errors_of_the_policy(name):
    u, v = images()
    loss = build(name)
    nan = u.clone()
    nan[0, 1, 2, 3] = float("nan")
    inf = u.clone()
    inf[1, 0, 0, 0] = -float("inf")
    with pytest.raises(InputError, match="prediction contains NaN or Inf"):
        loss(nan, v)
    with pytest.raises(InputError, match="prediction contains NaN or Inf"):
        loss(inf, v)
    with pytest.raises(InputError, match="target contains NaN or Inf"):
        loss(u, nan)
    eight_bit = (v * 255).round()
    eight_bit[0, 0, 0, :2] = torch.tensor([0.0, 255.0])
    with pytest.raises(InputError, match=r"target has values in \[0, 255\], far outside the declared range \[0, 1\]"):
        loss(u, eight_bit)
    with pytest.raises(InputError, match=r"prediction has values in .* far outside .*validate='strict'"):
        build(name, validate="strict")(u * 255, v)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning either
        assert torch.isfinite(build(name, validate=False)(u * 255, v * 255))
        assert torch.isfinite(build(name, validate="off")(u * 255, v * 255))
        assert torch.isfinite(loss(u * 1.3 - 0.3, v))  # within half the width beyond the range: silent


@pytest.mark.parametrize("name", list_losses())
def test_structural_errors_are_raised_even_without_value_checks(name):
    u, v = images()
    loss = build(name, validate=False)
    for prediction, target, match in (
        (u[:, :1], v[:, :1], "channels"),
        (u[0], v[0], "unsqueeze"),
        ((u * 255).to(torch.uint8), v, "dtype"),
        (u[:0], v[:0], "empty batch"),
        (u, torch.rand(2, 3, 16, 20), "same shape"),
    ):
        with pytest.raises(InputError, match=match):
            loss(prediction, target)


def test_warning_can_be_silenced_with_a_filter():
    u, v = images()
    loss = build("pdl")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=PredictionRangeWarning)
        assert torch.isfinite(loss(u * 4, v))


def test_bad_validate_option():
    modes = [validation_mode(v) for v in (True, False, "warn", "strict", "off")]
    assert modes == ["warn", "off", "warn", "strict", "off"]
    for name in ("l1", "pdl", "adversarial"):
        with pytest.raises(InputError, match="validate must be"):
            build(name, validate="yes")


_SYNCING = ("item", "tolist", "__bool__", "__float__", "__int__")


@pytest.mark.parametrize("name", list_losses())
def test_at_most_one_read_back_per_call(name, monkeypatch):
    # On CPU a device sync cannot be observed, but every sync goes through one of these methods.
    u, v = images()
    loss = build(name)
    loss(u, v)  # lazy set-up out of the way
    calls: list[str] = []
    for method in _SYNCING:
        original = getattr(torch.Tensor, method)

        def counting(self, *args, _original=original, _method=method, **kwargs):
            calls.append(_method)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, method, counting)
    loss(u.requires_grad_(True), v)
    monkeypatch.undo()
    assert len(calls) <= 1, calls
    calls.clear()


def test_combined_loss_checks_values_once_for_all_its_losses(monkeypatch):
    u, v = images()
    combined = CombinedLoss({"pdl": ProjectedDistributionLoss(**FEATURE_OPTIONS),
                             "l1": PerceptualLoss(**FEATURE_OPTIONS, validate="strict")})
    assert combined.validate == "strict"  # the strictest of its losses
    with pytest.raises(InputError, match="validate='strict'"):
        combined(u * 4, v)
    lenient = CombinedLoss({"a": ProjectedDistributionLoss(**FEATURE_OPTIONS), "b": PerceptualLoss(**FEATURE_OPTIONS)})
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        lenient(u * 4, v)
        lenient(u * 4, v)
    assert len(range_warnings(record)) == 1
    with pytest.raises(InputError, match="target has values"):
        lenient(u, v * 255)


def test_adversarial_terms_follow_the_policy():
    u, v = images()
    adv = build("adversarial")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        assert torch.isfinite(adv.generator_loss(u * 4))
        assert torch.isfinite(adv.discriminator_loss(v, u * 4))
    assert len(range_warnings(record)) == 1 and "fake has values" in str(range_warnings(record)[0].message)
    with pytest.raises(InputError, match="real has values"):
        adv.discriminator_loss(v * 255, u)
    with pytest.raises(InputError, match="fake contains NaN"):
        adv.generator_loss(torch.full_like(u, float("nan")))
    with pytest.raises(InputError, match="batch sizes differ"):
        adv.discriminator_loss(v[:1], u)


@pytest.mark.parametrize("make_loss", [lambda: build_loss("l1"), lambda: ProjectedDistributionLoss(weights="random")],
                         ids=["l1", "pdl"])
def test_fine_tuning_loop_with_unclamped_outputs_runs_to_the_end(make_loss):
    # The loop: small-unet, default loss options, a few steps on heavily noisy inputs. The
    # network's global residual passes the noise through, so its outputs start far outside [0, 1].
    g = torch.Generator().manual_seed(0)
    clean = torch.rand(2, 3, 32, 32, generator=g)
    noisy = clean + 0.4 * torch.randn(clean.shape, generator=g)
    model = build_model("small-unet", task="denoise")
    loss_fn = make_loss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        for _ in range(3):
            prediction = model(noisy)
            loss = loss_fn(prediction, clean)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            assert torch.isfinite(loss)
    assert prediction.min() < -0.5 and prediction.max() > 1.5  # far outside: the old policy raised here
    assert len(range_warnings(record)) == 1
    with pytest.raises(InputError, match="prediction contains NaN or Inf"):
        loss_fn(torch.full_like(prediction, float("nan")), clean)


@pytest.fixture
def emulated_bf16(monkeypatch):
    monkeypatch.setattr(amp, "_warned_emulated_bf16", False)
    monkeypatch.setattr(amp, "cpu_supports_bf16", lambda: False)


def test_one_time_warning_for_cpu_bf16_autocast_without_native_bf16(emulated_bf16, monkeypatch):
    u, v = images()
    losses = [build("pdl"), build("l1")]
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        for loss in losses:
            loss(u, v)  # float32: silent
        with torch.autocast("cpu", dtype=torch.bfloat16):
            for loss in losses:
                loss(u, v)
                loss(u, v)
    emulated = [w for w in record if issubclass(w.category, amp.EmulatedBF16Warning)]
    assert len(emulated) == 1  # once per process, whichever loss runs first
    assert "pdloss.autocast_dtype" in str(emulated[0].message)
    monkeypatch.setattr(amp, "_warned_emulated_bf16", False)
    monkeypatch.setattr(amp, "cpu_supports_bf16", lambda: True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with torch.autocast("cpu", dtype=torch.bfloat16):
            build("l1")(u, v)  # native bf16: no warning


def test_no_bf16_warning_for_other_autocast_dtypes(emulated_bf16):
    u, v = images()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with torch.autocast("cpu", dtype=torch.float16):
            build("l1")(u, v)
