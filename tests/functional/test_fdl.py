"""The Frequency Distribution Loss (FDL, Ni et al. 2024): values against a loop written here,
gradients, the amplitude's shift invariance, finite phase gradients, options, errors, training."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from helpers import gradcheck
from pdloss.errors import InputError
from pdloss.functional.frequency import (
    amplitude_phase,
    frequency_distribution_distance,
    frequency_distribution_terms,
    make_patch_projections,
    patch_sliced_wasserstein,
)
from pdloss.losses import FrequencyDistributionLoss, ProjectedDistributionLoss
from pdloss.losses.fdl import FDL_LAYERS_VGG19
from pdloss.losses.registry import build_loss

SMALL = dict(weights="random", layers=("relu2_2",), num_proj=8)
# Many tiny tensor ops: a second thread mostly waits on this shared machine.
pytestmark = pytest.mark.usefixtures("one_thread")


def features(batch=2, channels=3, height=9, width=7, seed=0, dtype=torch.float64):
    """Positive maps (like relu features; a positive DC coefficient) of odd sides (no Nyquist frequency)."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, channels, height, width, generator=g, dtype=dtype) + 0.1


def kernels(num, channels, patch, seed=1, dtype=torch.float64):
    return make_patch_projections(num, channels, patch, torch.Generator().manual_seed(seed), dtype=dtype)


def loop_swd(x, y, kernels, stride):
    """The patch sliced W1 by explicit loops over images and projections, the convolution as an
    explicit product with the unfolded patches."""
    per_image = []
    for b in range(x.shape[0]):
        patches_x = F.unfold(x[b : b + 1], tuple(kernels.shape[-2:]), stride=stride)[0]  # (C*p*p, N)
        patches_y = F.unfold(y[b : b + 1], tuple(kernels.shape[-2:]), stride=stride)[0]
        values = []
        for k in range(kernels.shape[0]):
            w = kernels[k].reshape(-1)
            px = torch.sort(w @ patches_x).values
            py = torch.sort(w @ patches_y).values
            values.append((px - py).abs().mean())
        per_image.append(torch.stack(values).mean())
    return torch.stack(per_image)


def loop_fdl(fu, fv, k_amp, k_phase, stride, phase_weight):
    spec_u, spec_v = torch.fft.fft2(fu), torch.fft.fft2(fv)
    amplitude = loop_swd(spec_u.abs(), spec_v.abs(), k_amp, stride)
    phase = loop_swd(torch.angle(spec_u), torch.angle(spec_v), k_phase, stride)
    return amplitude + phase_weight * phase


@pytest.mark.parametrize(
    "stride,chunk_size,separate", [(1, "auto", False), (1, 1, True), (2, 3, False), (1, None, True)]
)
def test_equals_the_loop_implementation_value_and_gradient(stride, chunk_size, separate):
    fu, fv = features(seed=0).requires_grad_(), features(seed=1).requires_grad_()
    k_amp = kernels(5, 3, 3, seed=2)
    k_phase = kernels(5, 3, 3, seed=3) if separate else None
    value = frequency_distribution_distance(
        fu, fv, k_amp, k_phase, stride=stride, phase_weight=0.7, reduction="none", chunk_size=chunk_size
    )
    expected = loop_fdl(fu, fv, k_amp, k_amp if k_phase is None else k_phase, stride, 0.7)
    torch.testing.assert_close(value, expected, rtol=1e-10, atol=1e-12)
    weights = torch.tensor([0.3, 1.9], dtype=torch.float64)  # a weighted sum: per-image gradients stay apart
    grad = torch.autograd.grad((value * weights).sum(), (fu, fv))
    grad_expected = torch.autograd.grad((expected * weights).sum(), (fu, fv))
    for a, b in zip(grad, grad_expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_float32_chunks_agree_with_one_chunk():
    fu, fv = features(1, 4, 15, 13, 0, torch.float32), features(1, 4, 15, 13, 1, torch.float32)
    k = kernels(16, 4, 5, dtype=torch.float32)
    whole = patch_sliced_wasserstein(fu, fv, k, chunk_size=None)
    for chunk in (1, 5, "auto"):
        torch.testing.assert_close(patch_sliced_wasserstein(fu, fv, k, chunk_size=chunk), whole, rtol=1e-6, atol=0)


def test_gradcheck_float64_functional():
    fu, fv = features(1, 2, 5, 7, seed=4).requires_grad_(), features(1, 2, 5, 7, seed=5).requires_grad_()
    k_amp, k_phase = kernels(3, 2, 3, seed=6), kernels(3, 2, 3, seed=7)

    def fn(a, b):
        return frequency_distribution_distance(a, b, k_amp, k_phase, phase_weight=0.5, reduction="none")

    assert gradcheck(fn, (fu, fv))


def test_amplitude_term_is_invariant_to_a_circular_shift_and_the_phase_term_is_not():
    fu, fv = features(1, 3, 11, 9, seed=8), features(1, 3, 11, 9, seed=9)
    k = kernels(6, 3, 3)
    rolled = torch.roll(fu, shifts=(3, -2), dims=(-2, -1))
    amp, phase = frequency_distribution_terms(fu, fv, k)
    amp_rolled, phase_rolled = frequency_distribution_terms(rolled, fv, k)
    torch.testing.assert_close(amp_rolled, amp, rtol=1e-12, atol=1e-12)
    self_amp, self_phase = frequency_distribution_terms(rolled, fu, k)
    assert self_amp.item() < 1e-10 * amp.item()  # a circular shift changes no amplitude
    assert self_phase.item() > 0.1 and not torch.allclose(phase_rolled, phase)  # but every phase


def test_phase_is_zero_with_zero_gradient_where_the_coefficient_vanishes():
    x = torch.full((1, 1, 8, 8), 2.0, dtype=torch.float64, requires_grad=True)
    amplitude, phase = amplitude_phase(x)
    assert amplitude[0, 0, 0, 0].item() == pytest.approx(128.0) and torch.all(phase == 0)
    # Maps at the 1e-20 scale: |F|^2 underflows in float32, where torch.angle's gradient is NaN.
    tiny = (1e-20 + 1e-26 * torch.randn(1, 1, 8, 8)).requires_grad_()
    torch.angle(torch.fft.fft2(tiny)).square().sum().backward()
    assert not torch.isfinite(tiny.grad).all()  # the failure mode this guards against
    tiny.grad = None
    amplitude, phase = amplitude_phase(tiny)
    (amplitude.sum() + phase.square().sum()).backward()
    assert torch.isfinite(tiny.grad).all()


def test_phase_matches_torch_angle_in_general_position_and_pins_real_coefficients():
    x = features(2, 3, 8, 6, seed=10)  # even sides: the Nyquist row and column are real
    _, phase = amplitude_phase(x)
    spectrum = torch.fft.fft2(x)
    torch.testing.assert_close(phase[..., 1:4, 1:3], torch.angle(spectrum)[..., 1:4, 1:3], rtol=0, atol=1e-12)
    for i in (0, 4):
        for j in (0, 3):
            real = spectrum[..., i, j].real
            expected = torch.where(real < 0, torch.full_like(real, math.pi), torch.zeros_like(real))
            torch.testing.assert_close(phase[..., i, j], expected, rtol=0, atol=0)
    # A sparse relu map (one nonzero value at (1, 1) of 10 x 10): F(k) = c exp(-2 pi i (k1 + k2) / 10)
    # is real and negative wherever k1 + k2 = 5 mod 10, by structure, not only at the self-conjugate
    # frequencies. torch.angle gives pi or -pi there by the sign of rounding noise; the phase here is pi.
    sparse = torch.zeros(1, 1, 10, 10, dtype=torch.float64)
    sparse[0, 0, 1, 1] = 0.1243
    k1, k2 = torch.meshgrid(torch.arange(10), torch.arange(10), indexing="ij")
    negative_real = (k1 + k2) % 10 == 5
    naive = torch.angle(torch.fft.fft2(sparse))[0, 0][negative_real]
    assert (naive > 0).any() and (naive < 0).any()  # the flip this guards against
    _, phase = amplitude_phase(sparse)
    assert torch.equal(phase[0, 0][negative_real], torch.full((10,), math.pi, dtype=torch.float64))


def test_finite_gradients_on_constant_images():
    # Constant feature maps: every DFT coefficient but the DC one is 0 (up to rounding).
    for side in (8, 9):
        fu = torch.full((1, 3, side, side), 0.7, requires_grad=True)
        fv = torch.full((1, 3, side, side), 0.2, requires_grad=True)
        spectrum = torch.fft.fft2(fu.detach())
        assert (spectrum.abs() <= 1e-6 * spectrum.abs().amax()).float().mean() > 0.95
        value = frequency_distribution_distance(fu, fv, kernels(4, 3, 3, dtype=torch.float32))
        value.backward()
        assert torch.isfinite(value) and torch.isfinite(fu.grad).all() and torch.isfinite(fv.grad).all()
    # Constant images through the loss (VGG maps constant away from the zero-padded borders).
    loss_fn = FrequencyDistributionLoss(weights="random", layers=("relu1_2", "relu2_2"), num_proj=8)
    for level in (0.0, 0.5):
        u = torch.full((1, 3, 20, 20), level, requires_grad=True)
        loss = loss_fn(u, torch.full((1, 3, 20, 20), 0.3))
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(u.grad).all()


def test_loss_is_the_sum_of_the_weighted_layer_distances():
    loss_fn = FrequencyDistributionLoss(
        weight=0.4, pixel_weight=0.2, weights="random", layers=("relu1_2", "relu2_2"), layer_weights=(1.0, 3.0),
        num_proj=6, phase_weight=0.5, reduction="none",
    )
    g = torch.Generator().manual_seed(0)
    u, v = torch.rand(2, 3, 16, 16, generator=g), torch.rand(2, 3, 16, 16, generator=g)
    fu, fv = loss_fn.extractor(u, loss_fn.layers), loss_fn.extractor(v, loss_fn.layers)
    expected = 0.2 * (u - v).abs().mean((1, 2, 3))
    for layer, w in (("relu1_2", 1.0), ("relu2_2", 3.0)):
        amp, _ = loss_fn.projections(layer)
        d = frequency_distribution_distance(fu[layer], fv[layer], amp, phase_weight=0.5, reduction="none")
        expected = expected + 0.4 * w * d
    torch.testing.assert_close(loss_fn(u, v), expected)
    mean, terms = FrequencyDistributionLoss(weight=0.4, **{**SMALL, "num_proj": 4})(u, v, return_terms=True)
    assert set(terms) == {"pixel", "feature"} and terms["pixel"] == 0  # no pixel term by default
    torch.testing.assert_close(mean, 0.4 * terms["feature"])


def test_projections_are_seeded_buffers_kept_out_of_the_state_dict():
    a, b = FrequencyDistributionLoss(**SMALL, seed=3), FrequencyDistributionLoss(**SMALL, seed=3)
    amp, phase = a.projections("relu2_2")
    assert amp.shape == (8, 128, 5, 5) and phase is None
    torch.testing.assert_close(amp.flatten(1).norm(dim=1), torch.ones(8))
    assert torch.equal(amp, b.projections("relu2_2")[0])
    assert not torch.equal(amp, FrequencyDistributionLoss(**SMALL, seed=4).projections("relu2_2")[0])
    # Out of the state dict: only the generator's state (the next draws) is in it.
    assert "projection_relu2_2" in dict(a.named_buffers()) and list(a.state_dict()) == ["_extra_state"]
    separate = FrequencyDistributionLoss(**SMALL, separate_phase_projections=True)
    amp_s, phase_s = separate.projections("relu2_2")
    assert phase_s.shape == amp_s.shape and not torch.equal(amp_s, phase_s)


def test_resampled_projections_change_each_call_and_follow_the_generator():
    u, v = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    loss_fn = FrequencyDistributionLoss(**SMALL, resample=True, seed=5)
    state = loss_fn._generator.get_state()
    first, second = loss_fn(u, v), loss_fn(u, v)
    assert first != second
    loss_fn._generator.set_state(state)  # what resuming a checkpoint does
    assert loss_fn(u, v) == first
    fixed = FrequencyDistributionLoss(**SMALL, seed=5)
    assert fixed(u, v) == fixed(u, v)


def test_bf16_autocast_computes_the_frequency_terms_in_float32():
    loss_fn = FrequencyDistributionLoss(**SMALL)
    g = torch.Generator().manual_seed(1)
    u, v = torch.rand(2, 3, 24, 24, generator=g), torch.rand(2, 3, 24, 24, generator=g)
    reference = loss_fn(u, v)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = loss_fn(u, v)
    assert value.dtype == torch.float32
    torch.testing.assert_close(value, reference, rtol=0.05, atol=0)  # bf16 features, float32 FDL


def test_small_maps_error_or_shrink():
    u, v = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)  # relu2_2: 4x4 maps, smaller than 5x5 patches
    with pytest.raises(InputError, match="smaller than the 5x5 patch; use images of at least 10 px"):
        FrequencyDistributionLoss(**SMALL)(u, v)
    shrunk = FrequencyDistributionLoss(**SMALL, small_maps="shrink")
    assert torch.isfinite(shrunk(u, v))
    fu, fv = features(1, 2, 4, 3, seed=0), features(1, 2, 4, 3, seed=1)
    k = kernels(4, 2, 5)
    with pytest.raises(InputError, match="smaller than the 5x5 patch"):
        patch_sliced_wasserstein(fu, fv, k)
    cut = k[..., :4, :3] / k[..., :4, :3].flatten(1).norm(dim=1).view(-1, 1, 1, 1)
    torch.testing.assert_close(patch_sliced_wasserstein(fu, fv, k, small_maps="shrink"), loop_swd(fu, fv, cut, 1))


@pytest.mark.parametrize(
    "make_inputs,match",
    [
        (lambda: (torch.rand(2, 1, 16, 16), torch.rand(2, 1, 16, 16)), "channels"),
        (lambda: (torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 12)), "same shape"),
        (lambda: (torch.full((2, 3, 16, 16), float("nan")), torch.rand(2, 3, 16, 16)), "NaN"),
        (lambda: (torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16) * 255), "far outside"),
        (lambda: (torch.randint(0, 255, (2, 3, 16, 16)), torch.rand(2, 3, 16, 16)), "dtype"),
        (lambda: (torch.rand(2, 3, 1, 1), torch.rand(2, 3, 1, 1)), "smaller than the minimum"),
        (lambda: (torch.rand(3, 16, 16), torch.rand(3, 16, 16)), "unsqueeze"),
    ],
)
def test_bad_inputs_raise_the_same_errors_as_the_pdl(make_inputs, match):
    u, v = make_inputs()
    with pytest.raises(InputError, match=match) as fdl_error:
        FrequencyDistributionLoss(**SMALL)(u, v)
    with pytest.raises(InputError) as pdl_error:
        ProjectedDistributionLoss(weights="random", layers=("relu2_2",))(u, v)
    assert str(fdl_error.value) == str(pdl_error.value)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(num_proj=0), dict(patch_size=2.5), dict(stride=0), dict(phase_weight=-1), dict(chunk_size=0),
        dict(small_maps="pad"), dict(fft_norm="none"), dict(phase_eps=1.5), dict(layers=("relu9_9",)),
        dict(reduction="avg"), dict(weight=-1.0),
    ],
)
def test_bad_options_raise_value_errors(kwargs):
    with pytest.raises(ValueError):
        FrequencyDistributionLoss(**{**SMALL, **kwargs})


def test_functional_rejects_bad_features():
    fu, k = features(1, 3, 9, 7), kernels(4, 3, 3)
    with pytest.raises(InputError, match="same shape"):
        frequency_distribution_distance(fu, features(1, 3, 9, 8), k)
    with pytest.raises(InputError, match="projections must have shape"):
        frequency_distribution_distance(fu, fu, kernels(4, 2, 3))
    with pytest.raises(InputError, match="floating-point"):
        frequency_distribution_distance(fu.long(), fu, k)
    with pytest.raises(InputError, match="reduction"):
        frequency_distribution_distance(fu, fu, k, reduction="avg")


def test_build_loss_fdl_defaults_are_the_published_configuration():
    loss_fn = build_loss("fdl", weights="random", num_proj=4)
    assert isinstance(loss_fn, FrequencyDistributionLoss)
    assert loss_fn.backbone == "vgg19" and loss_fn.layers == FDL_LAYERS_VGG19
    assert (loss_fn.patch_size, loss_fn.stride, loss_fn.phase_weight, loss_fn.pixel_weight) == (5, 1, 1.0, 0.0)
    assert build_loss("fdl", weights="random", layers="relu1_2").num_proj == 256
    u = torch.rand(1, 3, 80, 80)  # the smallest input whose relu5_4 map holds a 5x5 patch
    with torch.no_grad():
        assert torch.isfinite(loss_fn(u, u.flip(-1)))
        assert loss_fn(u, u).item() == 0


def test_three_training_steps_with_fdl(tmp_path):
    import numpy as np
    from PIL import Image

    from pdloss.train.trainer import train

    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).resize((40, 40)).save(folder / f"{i}.png")
    raw = {
        "task": "denoise",
        "task_options": {"sigma": 25},
        "name": "fdl",
        "seed": 1,
        "output": str(tmp_path / "run"),
        "data": {"train": str(folder), "crop": 16, "batch": 2, "valid_crop": 32, "cache": True},
        "model": {"name": "small-unet"},
        "loss": {"name": "fdl", "weight": 0.01, "pixel_weight": 1.0, "weights": "random", "layers": ["relu1_2"],
                 "num_proj": 8, "phase_weight": 0.5, "resample": True},
        "optim": {"lr": 1e-3},
        "train": {"iterations": 3, "log_every": 1, "valid_every": 3, "checkpoint_every": 3, "amp": "none"},
        "evaluate": {"metrics": ["psnr"]},
    }
    run_dir = train(raw, progress=False)
    assert (run_dir / "DONE").exists()
    log = (run_dir / "log.csv").read_text().splitlines()
    assert len(log) == 4 and all(math.isfinite(float(line.split(",")[1])) for line in log[1:])
