"""PSNR, SSIM and MS-SSIM against hand-computed values, scikit-image and Wang's MS-SSIM in numpy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.signal import correlate2d

from helpers import gradcheck
from pdloss.errors import InputError
from pdloss.metrics import MSSSIM, PSNR, SSIM, ms_ssim, psnr, rgb_to_y, ssim
from pdloss.metrics.ssim import _downsample, ssim_components

skimage_metrics = pytest.importorskip("skimage.metrics")

pytestmark = pytest.mark.usefixtures("one_thread")


def _pair(shape=(2, 3, 48, 40), seed=0, noise=0.1):
    g = torch.Generator().manual_seed(seed)
    # Smooth-ish content plus noise, so SSIM values are far from 0 and 1.
    base = torch.rand(shape, generator=g, dtype=torch.float64)
    base = torch.nn.functional.avg_pool2d(base, 5, stride=1, padding=2, count_include_pad=False)
    other = (base + noise * torch.randn(shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    return other, base


def test_psnr_hand_computed(device):
    target = torch.zeros(1, 1, 2, 2, device=device)
    pred = torch.tensor([[[[0.5, 0.0], [0.0, 0.0]]]], device=device)
    # MSE = 0.25 / 4 = 1/16, PSNR = 10 log10(16).
    assert psnr(pred, target).item() == pytest.approx(10 * math.log10(16), abs=1e-5)
    assert psnr(pred * 255, target * 255, data_range=255).item() == pytest.approx(10 * math.log10(16), abs=1e-4)
    assert psnr(target, target).item() == math.inf


def test_psnr_batch_reduction_and_crop():
    pred, target = _pair()
    per = psnr(pred, target, reduction="none")
    assert per.shape == (2,)
    mse0 = ((pred[0] - target[0]) ** 2).mean().item()
    assert per[0].item() == pytest.approx(-10 * math.log10(mse0), rel=1e-12)
    cropped = psnr(pred, target, crop_border=4, reduction="none")
    mse_c = ((pred[0, :, 4:-4, 4:-4] - target[0, :, 4:-4, 4:-4]) ** 2).mean().item()
    assert cropped[0].item() == pytest.approx(-10 * math.log10(mse_c), rel=1e-12)
    assert PSNR(reduction="sum")(pred, target).item() == pytest.approx(per.sum().item())


def test_y_channel_matches_matlab_formula():
    x = torch.tensor([1.0, 0.5, 0.0]).view(1, 3, 1, 1)
    expected = (16 + 65.481 * 1.0 + 128.553 * 0.5) / 255
    assert rgb_to_y(x).item() == pytest.approx(expected, abs=1e-7)
    pred, target = _pair()
    yp, yt = rgb_to_y(pred), rgb_to_y(target)
    assert psnr(pred, target, color="y").item() == pytest.approx(psnr(yp, yt).item(), rel=1e-12)


@pytest.mark.parametrize("channels", [1, 3])
def test_ssim_matches_skimage(channels):
    pred, target = _pair((2, channels, 40, 52), seed=channels)
    ours = ssim(pred, target, reduction="none")
    for i in range(2):
        a, b = pred[i].numpy(), target[i].numpy()
        kwargs = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0)
        if channels == 3:
            ref = skimage_metrics.structural_similarity(a, b, channel_axis=0, **kwargs)
        else:
            ref = skimage_metrics.structural_similarity(a[0], b[0], **kwargs)
        assert ours[i].item() == pytest.approx(ref, abs=1e-10)


def test_ssim_data_range_255_and_identity():
    pred, target = _pair()
    assert ssim(pred * 255, target * 255, data_range=255).item() == pytest.approx(ssim(pred, target).item())
    assert ssim(target, target).item() == pytest.approx(1.0, abs=1e-12)
    assert SSIM()(pred, target).item() == pytest.approx(ssim(pred, target).item())


def _wang_downsample(x: np.ndarray) -> np.ndarray:
    # imfilter(x, ones(2)/4, 'symmetric', 'same'); x(1:2:end, 1:2:end)
    xp = np.pad(x, ((0, 1), (0, 1)), mode="symmetric")
    f = (xp[:-1, :-1] + xp[1:, :-1] + xp[:-1, 1:] + xp[1:, 1:]) / 4
    return f[::2, ::2]


def _wang_ssim(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    # Wang's ssim_index.m with K = [0.01 0.03], L = 1, fspecial('gaussian', 11, 1.5), 'valid'.
    ax = np.arange(-5, 6)
    g = np.exp(-(ax[:, None] ** 2 + ax[None, :] ** 2) / (2 * 1.5**2))
    w = g / g.sum()
    c1, c2 = 0.01**2, 0.03**2
    mu1, mu2 = correlate2d(a, w, "valid"), correlate2d(b, w, "valid")
    s11 = correlate2d(a * a, w, "valid") - mu1**2
    s22 = correlate2d(b * b, w, "valid") - mu2**2
    s12 = correlate2d(a * b, w, "valid") - mu1 * mu2
    cs = (2 * s12 + c2) / (s11 + s22 + c2)
    full = (2 * mu1 * mu2 + c1) / (mu1**2 + mu2**2 + c1) * cs
    return float(full.mean()), float(cs.mean())


# Wang, Simoncelli & Bovik (2003), Table 1 / msssim.m: the five scale exponents, written out
# here (not imported from the module under test, so a change there cannot go unseen).
WANG_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _wang_msssim(a: np.ndarray, b: np.ndarray) -> float:
    w = np.array(WANG_WEIGHTS)
    mssim, mcs = [], []
    for _ in range(5):
        s, c = _wang_ssim(a, b)
        mssim.append(s)
        mcs.append(c)
        a, b = _wang_downsample(a), _wang_downsample(b)
    return float(np.prod(np.array(mcs[:4]) ** w[:4]) * mssim[4] ** w[4])


def test_ms_ssim_matches_wang_reference_in_numpy():
    # Odd sizes exercise the symmetric padding of the downsampling.
    pred, target = _pair((2, 1, 181, 167), seed=3, noise=0.05)
    ours = ms_ssim(pred, target, reduction="none")
    for i in range(2):
        ref = _wang_msssim(pred[i, 0].numpy(), target[i, 0].numpy())
        assert ours[i].item() == pytest.approx(ref, abs=1e-10)
    assert 0.3 < ours.min().item() < 0.999


def test_ms_ssim_default_weights_are_wangs():
    # The default exponents against explicit ones: the same number; other exponents, another one.
    pred, target = _pair((1, 1, 161, 170), seed=7, noise=0.08)
    default = ms_ssim(pred, target).item()
    assert default == pytest.approx(ms_ssim(pred, target, weights=WANG_WEIGHTS).item(), rel=1e-14)
    assert default != pytest.approx(ms_ssim(pred, target, weights=(0.2,) * 5).item(), rel=1e-6)
    # Spot value of the reference on this pair: the product of cs_1..4 and ssim_5 to Wang's powers.
    assert default == pytest.approx(_wang_msssim(pred[0, 0].numpy(), target[0, 0].numpy()), abs=1e-10)


def test_ms_ssim_scales_match_skimage_per_scale():
    pred, target = _pair((1, 3, 170, 163), seed=4, noise=0.05)
    p, t = pred, target
    from pdloss.metrics.ssim import gaussian_window

    g = gaussian_window()
    for _ in range(5):
        full, _cs = ssim_components(p, t, g)
        ref = skimage_metrics.structural_similarity(
            p[0].numpy(),
            t[0].numpy(),
            channel_axis=0,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=1.0,
        )
        assert full.mean().item() == pytest.approx(ref, abs=1e-10)
        p, t = _downsample(p), _downsample(t)


def test_ms_ssim_rgb_is_channel_mean_and_identity():
    pred, target = _pair((1, 3, 161, 161), seed=5, noise=0.05)
    per_channel = [ms_ssim(pred[:, c : c + 1], target[:, c : c + 1]).item() for c in range(3)]
    assert ms_ssim(pred, target).item() == pytest.approx(sum(per_channel) / 3, rel=1e-12)
    assert ms_ssim(target, target).item() == pytest.approx(1.0, abs=1e-12)
    assert MSSSIM()(pred, target).item() == pytest.approx(ms_ssim(pred, target).item())


def test_gradcheck_psnr_ssim_ms_ssim(device):
    pred, target = (t.to(device) for t in _pair((1, 2, 23, 22), seed=6))
    pred = pred.clone().requires_grad_(True)
    small = pred[:, :1, :12, :11].detach().clone().requires_grad_(True)
    assert gradcheck(lambda p: psnr(p, target[:, :1, :12, :11]), (small,))
    assert gradcheck(lambda p: ssim(p, target[:, :1, :12, :11]), (small,))
    # Two scales keep the input small enough for a Jacobian check (min side 21); fast mode
    # checks random projections of the Jacobian (odd width: the padded downsampling path).
    assert gradcheck(lambda p: ms_ssim(p, target, weights=(0.5, 0.5)), (pred,), fast_mode=True)
    y = pred.new_tensor(np.random.default_rng(0).random((1, 3, 11, 12))).requires_grad_(True)
    assert gradcheck(lambda p: ssim(p, torch.full_like(p, 0.5), color="y"), (y,), fast_mode=True)


def test_bad_inputs_raise_clear_errors():
    pred, target = _pair((1, 3, 40, 40))
    with pytest.raises(InputError, match="same shape"):
        ssim(pred, target[..., :39])
    with pytest.raises(InputError, match="161"):
        ms_ssim(pred, target)
    with pytest.raises(InputError, match="range"):
        psnr(pred * 255, target * 255)
    with pytest.raises(InputError, match="crop_border"):
        psnr(pred, target, crop_border=20)
    with pytest.raises(InputError, match="color"):
        ssim(pred, target, color="lab")
    with pytest.raises(InputError, match="reduction"):
        psnr(pred, target, reduction="max")
