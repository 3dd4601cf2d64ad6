"""PSNR, SSIM, MS-SSIM, the MATLAB luma and NIQE: the cases the reference tests leave open.

Precision (float32 inputs work, float64 stays exact), argument checks with their whole
messages, boundary sizes, every channel count, the module forms; and NIQE's block statistics
against basicsr 1.4.2's ``estimate_aggd_param`` / ``compute_feature`` transcribed below with
scipy's gamma (basicsr reproduces the MATLAB release).
"""

from __future__ import annotations

import math
import pickle
import warnings

import numpy as np
import pytest
import torch
from scipy.special import gamma as scipy_gamma

from pdloss.errors import InputError
from pdloss.metrics import NIQE, ms_ssim, niqe, psnr, rgb_to_y, ssim
from pdloss.metrics.color import crop_border
from pdloss.metrics.niqe import _block_features, _blocks, _normalise, niqe_gray
from pdloss.metrics.niqe_params import load_niqe_params
from pdloss.metrics.ssim import gaussian_window, ssim_components

pytestmark = pytest.mark.usefixtures("one_thread")

# MATLAB rgb2ycbcr's luma row (ITU-R BT.601 studio swing), on the 0-255 scale for RGB in [0, 1].
BT601 = (65.481, 128.553, 24.966)
WANG_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _pair(shape, seed=0, noise=0.1, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    base = torch.nn.functional.avg_pool2d(torch.rand(shape, generator=g, dtype=torch.float64), 5, 1, 2)
    other = (base + noise * torch.randn(shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    return other.to(dtype), base.to(dtype)


# -- PSNR and the shared pair preparation -----------------------------------------------------------
def test_psnr_of_one_pixel_images():
    # The smallest image is one pixel: MSE = 0.25^2, PSNR = 20 log10(4).
    assert psnr(torch.full((1, 1, 1, 1), 0.25), torch.zeros(1, 1, 1, 1)).item() == pytest.approx(20 * math.log10(4))


def test_data_range_must_be_positive():
    x = torch.zeros(1, 3, 4, 4)
    for bad in (0, -1.0):
        with pytest.raises(InputError, match=rf"^data_range must be positive, got {bad}$"):
            psnr(x, x, data_range=bad)


def test_range_errors_name_the_image_at_fault():
    good = torch.rand(1, 3, 11, 11)
    bad = good * 255
    with pytest.raises(InputError, match=r"^prediction has values in \["):
        psnr(bad, good)
    with pytest.raises(InputError, match=r"^target has values in \["):
        ssim(good, bad)


def test_luma_needs_one_or_three_channels_and_passes_grey_through():
    two = torch.rand(1, 2, 12, 12)
    with pytest.raises(InputError, match=r"^prediction has 2 channels, expected 1 or 3 \("):
        psnr(two, two, color="y")
    grey_a, grey_b = _pair((2, 1, 12, 12), seed=1)
    # Grey images are their own luma: "y" measures the values themselves.
    assert psnr(grey_a, grey_b, color="y", reduction="none").tolist() == psnr(grey_a, grey_b, reduction="none").tolist()
    assert ssim(grey_a, grey_b, color="y").item() == ssim(grey_a, grey_b).item()
    # Any channel count is fine for "rgb" (channels are averaged).
    six_a, six_b = _pair((1, 6, 12, 12), seed=2)
    assert psnr(six_a, six_b).item() == pytest.approx(-10 * math.log10(((six_a - six_b) ** 2).mean().item()))


def test_crop_border_boundaries_and_message():
    x = torch.rand(1, 3, 8, 10)
    with pytest.raises(InputError, match=r"^crop_border=4 leaves nothing of a 8x10 image$"):
        crop_border(x, 4)  # height == 2 * border: nothing left
    with pytest.raises(InputError, match=r"^crop_border=4 leaves nothing of a 10x8 image$"):
        crop_border(x.transpose(-1, -2), 4)  # width == 2 * border, height larger
    assert crop_border(torch.rand(1, 3, 10, 10), 4).shape == (1, 3, 2, 2)  # 2 * border < side <= 3 * border
    assert crop_border(torch.rand(1, 3, 9, 12), 4).shape == (1, 3, 1, 4)
    with pytest.raises(InputError, match=r"^crop_border must be >= 0, got -1$"):
        crop_border(x, -1)


def test_too_small_after_cropping_message():
    x = torch.rand(1, 3, 14, 20)
    with pytest.raises(InputError, match=r"^images of 10x16 pixels \(after cropping\) are smaller than the 11 pixels"):
        ssim(x, x, crop_border=2)
    with pytest.raises(InputError, match=r"^images of 10x10 pixels \(after cropping\) are smaller than the 11 pixels"):
        ssim(x[..., :10, :10], x[..., :10, :10])
    assert ssim(x[..., :11, :11], x[..., :11, :11]).item() == pytest.approx(1.0)


# -- MATLAB luma ------------------------------------------------------------------------------------
def test_luma_is_exact_in_float64():
    x = torch.rand(2, 3, 5, 7, dtype=torch.float64)
    expected = (16 + BT601[0] * x[:, 0] + BT601[1] * x[:, 1] + BT601[2] * x[:, 2]) / 255
    y = rgb_to_y(x)
    assert y.dtype == torch.float64 and y.shape == (2, 1, 5, 7)
    torch.testing.assert_close(y[:, 0], expected, rtol=1e-15, atol=0)


def test_luma_rejects_other_shapes():
    with pytest.raises(InputError, match=r"^rgb_to_y needs \(B, 3, H, W\), got \(1, 1, 4, 4\)$"):
        rgb_to_y(torch.rand(1, 1, 4, 4))
    with pytest.raises(InputError, match=r"^rgb_to_y needs \(B, 3, H, W\), got \(3, 4, 4\)$"):
        rgb_to_y(torch.rand(3, 4, 4))


# -- SSIM / MS-SSIM ---------------------------------------------------------------------------------
def test_gaussian_window_dtype():
    for dtype in (torch.float32, torch.float64):
        g = gaussian_window(dtype=dtype)
        assert g.dtype == dtype and g.shape == (11,)
        assert g.double().sum().item() == pytest.approx(1.0, abs=1e-7)


def test_float32_images_give_the_float64_values():
    p, t = _pair((2, 3, 170, 165), seed=3, noise=0.05)
    for metric in (psnr, ssim, ms_ssim):
        single = metric(p.float(), t.float(), reduction="none")
        assert single.dtype == torch.float32
        torch.testing.assert_close(single.double(), metric(p, t, reduction="none"), rtol=1e-4, atol=1e-5)


def test_ssim_of_six_channels_is_the_channel_mean():
    p, t = _pair((2, 6, 16, 18), seed=4)
    full, cs = ssim_components(p, t, gaussian_window())
    assert full.shape == cs.shape == (2, 6)
    per_channel = torch.stack([ssim(p[:, c : c + 1], t[:, c : c + 1], reduction="none") for c in range(6)], 1)
    torch.testing.assert_close(ssim(p, t, reduction="none"), per_channel.mean(1), rtol=1e-14, atol=0)


def test_ms_ssim_exponents_are_used_at_full_precision():
    # Low-similarity images (cs values far from 1) make x^w sensitive to w: exponents rounded to
    # float32 would move the value by about 1e-9.
    p, t = _pair((1, 1, 161, 161), seed=5, noise=0.4)
    value = ms_ssim(p, t).item()
    tweaked = ms_ssim(p, t, weights=tuple(w + 1e-8 for w in WANG_WEIGHTS)).item()
    assert abs(tweaked - value) > 1e-10  # the test can see a 1e-8 change of the exponents
    w32 = tuple(float(torch.tensor(w, dtype=torch.float32)) for w in WANG_WEIGHTS)
    assert ms_ssim(p, t, weights=w32).item() != pytest.approx(value, rel=1e-11, abs=0)
    assert 0 < value < 1


def test_ms_ssim_with_one_weight_is_ssim_and_reduces_over_the_batch():
    p, t = _pair((2, 3, 16, 17), seed=6)
    torch.testing.assert_close(ms_ssim(p, t, weights=(1.0,), reduction="none"), ssim(p, t, reduction="none"))
    big_p, big_t = _pair((2, 1, 161, 163), seed=7, noise=0.05)
    per = ms_ssim(big_p, big_t, reduction="none")
    assert per.shape == (2,) and per[0] != per[1]
    assert ms_ssim(big_p, big_t).shape == ()
    assert ms_ssim(big_p, big_t).item() == pytest.approx(per.mean().item(), rel=1e-14)
    assert ms_ssim(big_p, big_t, reduction="sum").item() == pytest.approx(per.sum().item(), rel=1e-14)


def test_ms_ssim_needs_a_weight():
    x = torch.rand(1, 1, 161, 161)
    with pytest.raises(InputError, match=r"^ms_ssim needs at least one scale weight$"):
        ms_ssim(x, x, weights=())


# -- NIQE -------------------------------------------------------------------------------------------
def _estimate_aggd_param(block: np.ndarray) -> tuple[float, float, float]:
    """basicsr 1.4.2 ``estimate_aggd_param`` (the MATLAB release's ``estimateaggdparam``)."""
    block = block.flatten()
    gam = np.arange(0.2, 10.001, 0.001)
    r_gam = np.square(scipy_gamma(2 / gam)) / (scipy_gamma(1 / gam) * scipy_gamma(3 / gam))
    left_std = np.sqrt(np.mean(block[block < 0] ** 2))
    right_std = np.sqrt(np.mean(block[block > 0] ** 2))
    gammahat = left_std / right_std
    rhat = (np.mean(np.abs(block))) ** 2 / np.mean(block**2)
    rhatnorm = (rhat * (gammahat**3 + 1) * (gammahat + 1)) / ((gammahat**2 + 1) ** 2)
    alpha = gam[np.argmin((r_gam - rhatnorm) ** 2)]
    beta_l = left_std * np.sqrt(scipy_gamma(1 / alpha) / scipy_gamma(3 / alpha))
    beta_r = right_std * np.sqrt(scipy_gamma(1 / alpha) / scipy_gamma(3 / alpha))
    return alpha, beta_l, beta_r


def _compute_feature(block: np.ndarray) -> list[float]:
    """basicsr 1.4.2 ``compute_feature``: 2 + 4 x 4 features of one block."""
    alpha, beta_l, beta_r = _estimate_aggd_param(block)
    feat = [alpha, (beta_l + beta_r) / 2]
    for shift in ([0, 1], [1, 0], [1, 1], [1, -1]):
        shifted = np.roll(block, shift, axis=(0, 1))
        alpha, beta_l, beta_r = _estimate_aggd_param(block * shifted)
        mean = (beta_r - beta_l) * (scipy_gamma(2 / alpha) / scipy_gamma(1 / alpha))
        feat.extend([alpha, mean, beta_l, beta_r])
    return feat


def test_block_features_match_basicsr_with_exact_zeros():
    rng = np.random.default_rng(0)
    # Coefficients with exact zeros (flat patches): neither side of the AGGD counts them.
    blocks = np.where(rng.random((3, 12, 12)) < 0.3, 0.0, rng.standard_t(4, (3, 12, 12)) * 0.4 + 0.05)
    ours = _block_features(blocks)
    assert ours.shape == (3, 18)
    for i in range(3):
        np.testing.assert_allclose(ours[i], _compute_feature(blocks[i]), rtol=1e-10, atol=1e-12)


@pytest.fixture(scope="module")
def params():
    return load_niqe_params()


def _texture(h: int, w: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.avg_pool2d(torch.rand(1, 1, h, w, generator=g), 3, 1, 1)


def test_niqe_block_counts_at_the_boundaries(params):
    two_blocks = (_texture(96, 192, 1)[0, 0] * 255).round().double()
    assert math.isfinite(niqe_gray(two_blocks, params))  # one block row, two blocks
    assert math.isfinite(niqe_gray(two_blocks.T, params))  # one block column
    with pytest.raises(InputError, match=r"^NIQE needs at least 96x96 pixels, got 200x50$"):
        niqe_gray(torch.zeros(200, 50, dtype=torch.float64), params)
    with pytest.raises(InputError, match=r"^NIQE needs at least 96x96 pixels, got 50x200$"):
        niqe_gray(torch.zeros(50, 200, dtype=torch.float64), params)
    # Texture inside the first block only, the second one flat: its AGGD fit is undefined and
    # dropped, and a single valid block cannot give a covariance.
    half_flat = torch.full((96, 192), 128.0, dtype=torch.float64)
    half_flat[10:80, 10:80] = two_blocks[10:80, 10:80]
    with pytest.raises(InputError, match=r"^NIQE could not fit its model: only 1 valid 96x96 blocks"):
        niqe_gray(half_flat, params)


def test_niqe_flat_blocks_are_dropped_silently(params):
    texture = (_texture(192, 192, 2)[0, 0] * 255).round().double()
    image = torch.full((192, 192), 100.0, dtype=torch.float64)
    for r, c in ((0, 1), (1, 0), (1, 1)):  # texture inside three blocks; the top-left one stays flat
        rows, cols = slice(r * 96 + 10, r * 96 + 86), slice(c * 96 + 10, c * 96 + 86)
        image[rows, cols] = texture[rows, cols]
    window = torch.as_tensor(params["gaussian_window"])
    features = _block_features(_blocks(_normalise(image, window), 2, 2, 96))
    assert np.isnan(features[0]).any() and not np.isnan(features[1:]).any()  # the flat block's fit is 0/0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = niqe_gray(image, params)
    assert math.isfinite(value)


def test_niqe_gray_takes_rounded_integer_images(params):
    image = (_texture(96, 192, 3)[0, 0] * 255).round()
    as_uint8 = image.to(torch.uint8).numpy()
    assert niqe_gray(as_uint8, params) == pytest.approx(niqe_gray(image.double(), params), rel=1e-12)


def test_niqe_params_may_be_float32(params):
    image = (_texture(96, 192, 4)[0, 0] * 255).round().double()
    single = {**params, "gaussian_window": params["gaussian_window"].astype(np.float32)}
    assert niqe_gray(image, single) == pytest.approx(niqe_gray(image, params), rel=1e-5)


def test_niqe_batch_dtype_default_border_and_module(params):
    images = _texture(100, 196, 5).expand(2, 3, 100, 196).contiguous()
    values = niqe(images, params=params)
    assert values.dtype == torch.float64 and values.shape == (2,)
    assert values[0].item() == niqe(images, crop_border=0, params=params)[0].item()
    assert values[0].item() != niqe(images, crop_border=2, params=params)[0].item()
    module = NIQE(crop_border=2)
    assert module.higher_is_better is False
    torch.testing.assert_close(module(images), niqe(images, crop_border=2, params=params))
    torch.testing.assert_close(NIQE()(images), values)


def test_niqe_input_checks_name_the_input(params):
    with pytest.raises(InputError, match=r"^NIQE input has 2 channels, expected 1 or 3 \("):
        niqe(torch.rand(1, 2, 96, 96), params=params)
    with pytest.raises(InputError, match=r"^NIQE input has values in \["):
        niqe(torch.full((1, 1, 96, 96), 1.8), params=params)


# -- LPIPS ------------------------------------------------------------------------------------------
_VGG16_CONVS = [(0, 3, 64), (2, 64, 64), (5, 64, 128), (7, 128, 128), (10, 128, 256), (12, 256, 256),
                (14, 256, 256), (17, 256, 512), (19, 512, 512), (21, 512, 512), (24, 512, 512), (26, 512, 512),
                (28, 512, 512)]
_LPIPS_CHANNELS = (64, 128, 256, 512, 512)


@pytest.fixture(scope="module")
def lpips_files(tmp_path_factory):
    """A torchvision-layout VGG16 file and LPIPS heads, random, written here."""
    g = torch.Generator().manual_seed(7)
    folder = tmp_path_factory.mktemp("lpips_ref")
    state = {}
    for index, cin, cout in _VGG16_CONVS:
        state[f"features.{index}.weight"] = torch.randn(cout, cin, 3, 3, generator=g) * (2 / (9 * cin)) ** 0.5
        state[f"features.{index}.bias"] = torch.zeros(cout)
    torch.save(state, folder / "vgg16-ref.pth")
    heads = {f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1, generator=g) for i, c in enumerate(_LPIPS_CHANNELS)}
    torch.save(heads, folder / "heads.pth")
    return folder / "vgg16-ref.pth", folder / "heads.pth", heads


class _NotAWeight:
    """Any pickled object: a heads file must hold tensors only."""


def test_lpips_heads_labels_and_file_errors(lpips_files, tmp_path, monkeypatch):
    import hashlib

    from pdloss.errors import WeightsError
    from pdloss.metrics import lpips as lp

    _, heads_path, heads = lpips_files
    loaded, label = lp.load_heads(heads_path)
    assert label == f"heads.pth ({hashlib.sha256(heads_path.read_bytes()).hexdigest()[:12]})"
    assert [h.shape for h in loaded] == [(c,) for c in _LPIPS_CHANNELS]
    torch.testing.assert_close(loaded[2], heads["lin2.model.1.weight"].flatten())
    if lp.cache.locate_package_file("lpips", "weights/v0.1/vgg.pth") is not None:
        assert lp.load_heads()[1] == "lpips v0.1 vgg heads (a78928a0af1e)"
    # Wrong sizes, unreadable files and pickled objects are refused, naming the file.
    wrong = tmp_path / "wrong.pth"
    torch.save({**heads, "lin0.model.1.weight": torch.rand(1, 3, 1, 1)}, wrong)
    with pytest.raises(WeightsError, match=r"^LPIPS heads .*wrong\.pth: expected 64 weights, got 3$"):
        lp.load_heads(wrong)
    incomplete = tmp_path / "incomplete.pth"
    torch.save({"lin0.model.1.weight": heads["lin0.model.1.weight"]}, incomplete)
    message = r"^cannot read LPIPS heads from .*incomplete\.pth: 'lin1\.model\.1\.weight'$"
    with pytest.raises(WeightsError, match=message):
        lp.load_heads(incomplete)
    # A file holding other pickled objects is never unpickled (weights_only loading).
    pickled = tmp_path / "pickled.pth"
    torch.save({**heads, "extra": _NotAWeight()}, pickled)
    with pytest.raises((WeightsError, pickle.UnpicklingError)):
        lp.load_heads(pickled)
    # The package's file: missing, or not the published one.
    monkeypatch.setattr(lp.cache, "locate_package_file", lambda package, relative: None)
    with pytest.raises(WeightsError, match=r"^LPIPS needs the v0\.1 linear heads of lpips==0\.1\.4: "
                       r"pip install --no-deps lpips==0\.1\.4$"):
        lp.load_heads()
    assert lp.lpips_status() == (False, "the LPIPS heads are missing: pip install --no-deps lpips==0.1.4")
    monkeypatch.setattr(lp.cache, "locate_package_file", lambda package, relative: heads_path)
    with pytest.raises(WeightsError, match=r"^file of package lpips==0\.1\.4 .*heads\.pth is corrupt"):
        lp.load_heads()


def test_lpips_unreadable_heads_file_is_a_clear_error(tmp_path):
    from pdloss.errors import WeightsError
    from pdloss.metrics import lpips as lp

    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match=r"^cannot read LPIPS heads from .*broken\.pth: "):
        lp.load_heads(broken)


def test_lpips_status_reports_the_backbone(lpips_files, tmp_path, monkeypatch):
    import pdloss.weights.resolver as resolver
    from pdloss.metrics import lpips as lp

    backbone, heads_path, _ = lpips_files
    monkeypatch.setattr(lp.cache, "locate_package_file", lambda package, relative: heads_path)
    assert lp.lpips_status(backbone) == (True, f"backbone file {backbone} does not exist")
    assert lp.lpips_status(tmp_path / "none.pth")[0] is False
    monkeypatch.setattr(resolver, "status", lambda name: {"state": "present"})
    assert lp.lpips_status() == (True, "")
    monkeypatch.setattr(resolver, "status", lambda name: {"state": "missing", "url": "https://example/vgg16.pth"})
    ok, reason = lp.lpips_status()
    assert not ok and "https://example/vgg16.pth" in reason


def test_lpips_module_checks_reduces_and_stays_in_eval(lpips_files, monkeypatch):
    from pdloss.errors import WeightsError
    from pdloss.metrics import LPIPS

    backbone, heads_path, _ = lpips_files
    metric = LPIPS(backbone=backbone, heads=heads_path, reduction="none")
    g = torch.Generator().manual_seed(8)
    x0 = torch.rand(3, 3, 16, 16, generator=g)
    x1 = (x0 + 0.2 * torch.randn(3, 3, 16, 16, generator=g)).clamp(0, 1)
    per = metric(x0, x1)  # 16 px is the smallest size (relu5_3 is 1/16 of it)
    assert per.shape == (3,) and (per > 0).all()
    mean = LPIPS(backbone=backbone, heads=heads_path)(x0, x1)
    assert mean.shape == () and mean.item() == pytest.approx(per.mean().item(), rel=1e-6)
    assert LPIPS(backbone=backbone, heads=heads_path, reduction="sum")(x0, x1).item() == pytest.approx(
        per.sum().item(), rel=1e-6
    )
    with pytest.raises(InputError, match=r"^reduction must be"):
        LPIPS(backbone=backbone, heads=heads_path, reduction="max")
    metric.train()
    assert not metric.training and not any(m.training for m in metric.modules())
    assert metric.train(True) is metric and not metric.training
    with pytest.raises(InputError, match=r"^prediction is 15x15 pixels, smaller than the minimum 16x16"):
        metric(x0[..., :15, :15], x1)
    with pytest.raises(InputError, match=r"^target is 15x15 pixels, smaller than the minimum 16x16"):
        metric(x0, x1[..., :15, :15])
    with pytest.raises(InputError, match=r"^prediction has 1 channels, expected 3 "):
        metric(x0[:, :1], x1)
    with pytest.raises(InputError, match=r"^target has 1 channels, expected 3 "):
        metric(x0, x1[:, :1])
    with pytest.raises(InputError, match=r"^prediction has values in \["):
        metric(x0 * 255, x1)
    with pytest.raises(InputError, match=r"^target has values in \["):
        metric(x0, x1 * 255)
    # The backbone must be a torchvision-layout VGG16; its label names the file.
    import pdloss.weights.resolver as resolver

    real = resolver.resolve_weights
    caffe = real(backbone, "vgg16", preprocessing="torchvision")  # a bare test file says nothing itself
    caffe = type(caffe)(caffe.name, caffe.arch, "caffe", caffe.state_dict, caffe.path, caffe.sha256,
                        caffe.description, caffe.max_layer)
    monkeypatch.setattr(resolver, "resolve_weights", lambda spec, arch, **kwargs: caffe)
    with pytest.raises(WeightsError, match=rf"^LPIPS needs a torchvision-layout VGG16, got caffe weights {backbone}$"):
        LPIPS(backbone=backbone, heads=heads_path)
    monkeypatch.undo()
    partial = backbone.with_name("vgg16-partial.pth")
    state = torch.load(backbone, weights_only=True)
    del state["features.28.weight"]
    torch.save(state, partial)
    with pytest.raises(WeightsError, match=r"^weights vgg16-partial\.pth \([0-9a-f]{12}\) lack features\.28\.weight"):
        LPIPS(backbone=partial, heads=heads_path)


def test_lpips_normalisation_epsilon_and_head_count():
    from pdloss.metrics.lpips import lpips_from_features

    # lpips.normalize_tensor: x / (sqrt(sum_c x^2) + 1e-10). A feature vector of norm 1e-10
    # becomes half a unit vector; against a zero one the head-weighted squared difference is 1/4.
    names = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")
    f0 = {n: torch.zeros(1, c, 2, 2, dtype=torch.float64) for n, c in zip(names, _LPIPS_CHANNELS, strict=True)}
    f1 = {n: torch.zeros(1, c, 2, 2, dtype=torch.float64) for n, c in zip(names, _LPIPS_CHANNELS, strict=True)}
    f0["relu3_3"][0, 5] = 1e-10
    heads = [torch.full((c,), 2.0) for c in _LPIPS_CHANNELS]
    torch.testing.assert_close(lpips_from_features(f0, f1, heads), torch.tensor([0.5], dtype=torch.float64))
    f1["relu4_3"][0, 7, 1, 1] = 1e-10  # the same on the second image's side, at one of four positions
    torch.testing.assert_close(lpips_from_features(f0, f1, heads), torch.tensor([0.625], dtype=torch.float64))
    with pytest.raises(ValueError):
        lpips_from_features(f0, f1, heads[:4])
