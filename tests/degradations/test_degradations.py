"""Tests of the five degradations against independent references."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import gen, gradcheck
from pdloss.degradations import (
    PATTERNS,
    BayerMosaic,
    CameraShakeBlur,
    blur,
    build_degradation,
    camera_shake_kernels,
    imresize,
    jpeg_compress,
    list_tasks,
    load_kernel,
    load_kernels,
    mosaic,
    random_trajectories,
    resize_matrix,
    save_kernel,
    save_kernels,
    seeded_generator,
)
from pdloss.degradations.noise import add_gaussian_noise
from pdloss.errors import InputError

# ---------------------------------------------------------------- registry and interface


def test_registry_tasks_and_model_facing_attributes():
    assert list_tasks() == ["denoise", "sr4x", "deblur", "jpeg", "demosaic"]
    clean = torch.rand(2, 3, 64, 64, generator=gen())
    expected = {  # task -> (in_channels, scale, degraded shape)
        "denoise": (3, 1, (2, 3, 64, 64)),
        "sr4x": (3, 4, (2, 3, 16, 16)),
        "deblur": (3, 1, (2, 3, 64, 64)),
        "jpeg": (3, 1, (2, 3, 64, 64)),
        "demosaic": (1, 1, (2, 1, 64, 64)),
    }
    for name, (channels, scale, shape) in expected.items():
        task = build_degradation(name)
        assert task.task == name
        assert (task.in_channels, task.scale) == (channels, scale)
        degraded, target = task.pair(clean, gen(1))
        assert tuple(degraded.shape) == shape
        assert torch.equal(target, clean)


def test_paper_defaults():
    assert build_degradation("denoise").sigma == 100
    assert build_degradation("sr4x").factor == 4
    deblur = build_degradation("deblur")
    assert (deblur.size, deblur.noise_sigma_min, deblur.noise_sigma_max) == (31, 0, 15)
    assert build_degradation("jpeg").quality == 20
    assert build_degradation("jpeg").subsampling == "4:2:0"
    assert build_degradation("demosaic").pattern == "RGGB"


def test_registry_errors():
    with pytest.raises(InputError, match="unknown task"):
        build_degradation("inpaint")
    with pytest.raises(InputError, match="no parameter quality"):
        build_degradation("denoise", quality=3)
    with pytest.raises(InputError, match="divisible by 4"):
        build_degradation("sr4x")(torch.rand(1, 3, 30, 32))
    with pytest.raises(InputError, match="channels"):
        build_degradation("denoise")(torch.rand(1, 1, 8, 8))
    with pytest.raises(InputError, match="far outside"):
        build_degradation("denoise")(torch.rand(1, 3, 8, 8) * 255)
    with pytest.raises(InputError):
        build_degradation("jpeg", quality=0)
    with pytest.raises(InputError):
        build_degradation("demosaic", pattern="RGBG")


def test_seeded_generator_streams():
    a = torch.rand(4, generator=seeded_generator(1, 2, 3))
    assert torch.equal(a, torch.rand(4, generator=seeded_generator(1, 2, 3)))
    assert not torch.equal(a, torch.rand(4, generator=seeded_generator(1, 2, 4)))
    with pytest.raises(InputError):
        seeded_generator(-1)


# ---------------------------------------------------------------- denoise


def test_noise_statistics_and_reproducibility():
    clean = torch.full((4, 3, 256, 256), 0.5)
    out = build_degradation("denoise")(clean, gen(3))
    residual = (out.degraded - clean) * 255
    n = residual.numel()  # 786432 samples: the standard error of the std is about 0.08%
    assert abs(residual.mean().item()) < 4 * 100 / math.sqrt(n)
    assert residual.std().item() == pytest.approx(100.0, rel=0.005)
    assert out.degraded.min() < 0 and out.degraded.max() > 1  # no clipping by default
    again = build_degradation("denoise")(clean, gen(3))
    assert torch.equal(out.degraded, again.degraded)
    other = build_degradation("denoise")(clean, gen(4))
    assert not torch.equal(out.degraded, other.degraded)
    clipped = build_degradation("denoise", clip=True)(clean, gen(3)).degraded
    assert clipped.min() >= 0 and clipped.max() <= 1


def test_noise_per_image_sigma():
    clean = torch.zeros(2, 3, 128, 128)
    noisy = add_gaussian_noise(clean, torch.tensor([10.0, 50.0]), gen(0))
    stds = (noisy * 255).flatten(1).std(dim=1)
    assert stds[0].item() == pytest.approx(10, rel=0.02)
    assert stds[1].item() == pytest.approx(50, rel=0.02)
    with pytest.raises(InputError):
        add_gaussian_noise(clean, -1.0)


def test_noise_gradcheck():
    x = torch.rand(1, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda t: add_gaussian_noise(t, 20.0, gen(0)), (x,))


# ---------------------------------------------------------------- sr4x: MATLAB imresize


def matlab_imresize_reference(image: np.ndarray, scale: float) -> np.ndarray:
    """Per-pixel numpy transcription of MATLAB's imresize contributions (bicubic, antialiased)."""

    def keys(t: float) -> float:
        t = abs(t)
        if t <= 1:
            return 1.5 * t**3 - 2.5 * t**2 + 1
        if t <= 2:
            return -0.5 * t**3 + 2.5 * t**2 - 4 * t + 2
        return 0.0

    def mirror(index: int, n: int) -> int:  # 1-based symmetric extension
        period = 2 * n
        k = (index - 1) % period
        return k + 1 if k < n else period - k

    def resize_axis(a: np.ndarray, axis: int) -> np.ndarray:
        a = np.moveaxis(a, axis, 0)
        n = a.shape[0]
        out_n = math.ceil(n * scale)
        width = 4 / scale
        out = np.zeros((out_n, *a.shape[1:]))
        for x in range(1, out_n + 1):
            u = x / scale + 0.5 * (1 - 1 / scale)
            left = math.floor(u - width / 2)
            taps = [left + p for p in range(math.ceil(width) + 2)]
            w = np.array([scale * keys(scale * (u - j)) for j in taps])
            w /= w.sum()
            for wj, j in zip(w, taps, strict=True):
                out[x - 1] += wj * a[mirror(j, n) - 1]
        return np.moveaxis(out, 0, axis)

    return resize_axis(resize_axis(image, 0), 1)


@pytest.mark.parametrize(("shape", "factor"), [((23, 37), 4), ((18, 13), 3), ((16, 16), 2)])
def test_imresize_matches_numpy_reference(shape, factor):
    rng = np.random.default_rng(0)
    image = rng.random(shape)
    ours = imresize(torch.from_numpy(image)[None, None], scale=1 / factor)[0, 0].numpy()
    ref = matlab_imresize_reference(image, 1 / factor)
    assert ours.shape == ref.shape == (math.ceil(shape[0] / factor), math.ceil(shape[1] / factor))
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)


def test_imresize_hand_computed_2x_weights():
    # Keys a=-0.5 stretched by 2 at distances 0.5, 1.5, 2.5, 3.5 px, times 1/2:
    # cubic(0.25) = 0.8671875, cubic(0.75) = 0.2265625, cubic(1.25) = -0.0703125, cubic(1.75) = -0.0234375.
    half = np.array([-0.0234375, -0.0703125, 0.2265625, 0.8671875]) / 2
    expected = np.concatenate([half, half[::-1]])
    m = resize_matrix(20, 10, 0.5)
    # Output pixel 5 (1-based) sits at input coordinate 9.5: taps 6..13 (1-based).
    np.testing.assert_allclose(m[4, 5:13], expected, atol=1e-15)
    assert np.count_nonzero(m[4]) == 8
    np.testing.assert_allclose(m.sum(axis=1), 1, atol=1e-14)


def test_imresize_constant_and_ramp():
    constant = torch.full((1, 3, 40, 52), 0.37, dtype=torch.float64)
    np.testing.assert_allclose(imresize(constant, scale=0.25).numpy(), 0.37, atol=1e-14)
    h, w = 64, 80
    i, j = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    ramp = 0.003 * i + 0.002 * j + 0.1
    out = imresize(torch.from_numpy(ramp)[None, None], scale=0.25)[0, 0].numpy()
    # Output pixel x (0-based) samples input coordinate 4 x + 1.5 (0-based); taps reach 9 px away.
    oi, oj = np.meshgrid(4 * np.arange(h // 4) + 1.5, 4 * np.arange(w // 4) + 1.5, indexing="ij")
    expected = 0.003 * oi + 0.002 * oj + 0.1
    np.testing.assert_allclose(out[3:-3, 3:-3], expected[3:-3, 3:-3], atol=1e-13)
    assert np.abs(out[0, 0] - expected[0, 0]) > 1e-4  # the mirrored border is not a ramp


def test_sr4x_quantizes_like_uint8_and_gradcheck():
    clean = torch.rand(1, 3, 32, 32, generator=gen(0))
    low = build_degradation("sr4x")(clean).degraded
    raw = imresize(clean, scale=0.25)
    np.testing.assert_allclose(low.numpy(), np.floor(raw.clamp(0, 1).numpy() * 255 + 0.5) / 255, atol=1e-6)
    exact = build_degradation("sr4x", quantize=False)(clean).degraded
    assert torch.allclose(exact, raw)
    x = torch.rand(1, 2, 12, 8, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda t: imresize(t, scale=0.25), (x,), fast_mode=True)


# ---------------------------------------------------------------- deblur


def test_kernels_properties_and_seed():
    k = camera_shake_kernels(24, gen(5))
    assert k.shape == (24, 31, 31)
    assert (k >= 0).all()
    torch.testing.assert_close(k.sum(dim=(1, 2)), torch.ones(24), atol=1e-5, rtol=0)
    assert torch.equal(k, camera_shake_kernels(24, gen(5)))
    assert not torch.equal(k, camera_shake_kernels(24, gen(6)))
    support = (k > 1e-4).flatten(1).sum(dim=1)
    assert support.max() > 30  # some real blurs, not only deltas
    assert len(set(support.tolist())) > 5  # varying intensity


def test_trajectory_length_and_support():
    x = random_trajectories(8, gen(0), size=31, num_samples=500, max_length=30.0)
    steps = np.abs(np.diff(x, axis=1))
    np.testing.assert_allclose(steps.sum(axis=1), 30.0, rtol=1e-9)  # velocity renormalised each step
    np.testing.assert_allclose(steps, 30.0 / 499, rtol=1e-9)
    assert x.real.min() >= 1 - 1e-9 and x.imag.min() >= 1 - 1e-9
    assert x.real.max() <= 31 + 1e-9 and x.imag.max() <= 31 + 1e-9


def test_scalar_and_vector_walks_agree():
    from pdloss.degradations.blur import _walk_scalar, _walk_vector

    rng = np.random.default_rng(0)
    steps, n = 300, 3
    v = np.exp(1j * rng.random(n)) * 0.05
    jump = np.where(rng.random((steps, n)) < 0.02, 2 * np.exp(1j * (np.pi + rng.random((steps, n)) - 0.5)), 0)
    kick = (rng.standard_normal((steps, n)) + 1j * rng.standard_normal((steps, n))) * 0.004
    pull = rng.random(n) * 0.003
    a, b = _walk_scalar(v, jump, kick, pull, 0.1), _walk_vector(v, jump, kick, pull, 0.1)
    assert a.shape == b.shape == (n, steps + 1)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    # The public function switches path by batch size; both give valid trajectories.
    for count in (2, 9):
        x = random_trajectories(count, gen(count), num_samples=200, max_length=30.0)
        np.testing.assert_allclose(np.abs(np.diff(x, axis=1)).sum(axis=1), 30.0, rtol=1e-9)


def test_straight_trajectory_kernel_is_a_line():
    # anxiety 0: rectilinear motion, a segment of length 30 px at a random angle.
    k = camera_shake_kernels(4, gen(1), anxiety_max=0.0, exposure_range=(1.0, 1.0)).numpy().astype(np.float64)
    rows, cols = np.mgrid[:31, :31]
    for kernel in k:
        coords = np.stack([rows.ravel(), cols.ravel()])
        mean = coords @ kernel.ravel()
        centred = coords - mean[:, None]
        cov = (centred * kernel.ravel()) @ centred.T
        minor, major = np.linalg.eigvalsh(cov)
        # A uniform segment of length L has variance L^2 / 12 along it (75 for L = 30).
        assert major == pytest.approx(30**2 / 12, rel=0.05)
        assert minor < 0.3  # one pixel thick (bilinear splatting)


def test_blur_equals_scipy_convolution():
    from scipy.signal import convolve2d

    rng = np.random.default_rng(1)
    images = rng.random((2, 3, 40, 45))
    kernels = camera_shake_kernels(2, gen(2), size=9).double()
    ours = blur(torch.from_numpy(images), kernels, "reflect").numpy()
    valid = blur(torch.from_numpy(images), kernels, "valid").numpy()
    for b in range(2):
        for c in range(3):
            padded = np.pad(images[b, c], 4, mode="reflect")
            ref = convolve2d(padded, kernels[b].numpy(), mode="valid")
            np.testing.assert_allclose(ours[b, c], ref, atol=1e-12)
            np.testing.assert_allclose(
                valid[b, c], convolve2d(images[b, c], kernels[b].numpy(), mode="valid"), atol=1e-12
            )


def test_blur_gradcheck():
    x = torch.rand(1, 2, 9, 10, dtype=torch.float64, requires_grad=True)
    k = torch.rand(1, 5, 5, dtype=torch.float64)
    k = (k / k.sum()).requires_grad_()
    assert gradcheck(lambda a, b: blur(a, b, "reflect"), (x, k), fast_mode=True)


def test_deblur_task_noise_levels_valid_padding_and_bank():
    clean = torch.rand(6, 3, 48, 48, generator=gen(0))
    out = build_degradation("deblur")(clean, gen(7))
    sigma = out.extras["sigma"]
    assert ((sigma >= 0) & (sigma <= 15)).all() and sigma.std() > 0
    torch.testing.assert_close(out.extras["kernels"].sum(dim=(1, 2)), torch.ones(6), atol=1e-5, rtol=0)
    delta = torch.zeros(1, 31, 31)
    delta[0, 15, 15] = 1
    identity = CameraShakeBlur(kernels=delta, noise_sigma_max=0)(clean, gen(0)).degraded
    torch.testing.assert_close(identity, clean, atol=1e-5, rtol=0)
    valid = CameraShakeBlur(padding="valid")(clean, gen(0))
    assert valid.degraded.shape == valid.target.shape == (6, 3, 18, 18)
    torch.testing.assert_close(valid.target, clean[..., 15:-15, 15:-15])


def test_kernel_files_round_trip(tmp_path):
    k = camera_shake_kernels(3, gen(4))
    save_kernel(tmp_path / "k.npy", k[0])
    torch.testing.assert_close(load_kernel(tmp_path / "k.npy"), k[0], atol=1e-7, rtol=0)
    save_kernel(tmp_path / "k.png", k[0])
    with Image.open(tmp_path / "k.png") as im:
        assert im.mode.startswith("I;16") and im.size == (31, 31)
    assert (load_kernel(tmp_path / "k.png") - k[0]).abs().max() <= k[0].max() / 65535 * 2
    paths = save_kernels(tmp_path / "bank", k, fmt="png")
    assert [p.name for p in paths] == ["kernel_0000.png", "kernel_0001.png", "kernel_0002.png"]
    bank = load_kernels(tmp_path / "bank")
    assert bank.shape == (3, 31, 31)
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    with pytest.raises(OSError, match=r"bad\.npy"):
        load_kernel(tmp_path / "bad.npy")
    with pytest.raises(InputError):
        save_kernel(tmp_path / "neg.npy", -k[0])
    with pytest.raises(InputError, match="no kernel files"):
        load_kernels(tmp_path / "empty")


# ---------------------------------------------------------------- jpeg


def pillow_roundtrip(array: np.ndarray, quality: int, subsampling: str) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="JPEG", quality=quality, subsampling=subsampling)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())))


def test_jpeg_equals_pillow_encode_decode():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (3, 40, 56), dtype=np.uint8)
    smooth = np.cumsum(base.astype(np.float64), axis=2) % 256  # some structure for the codec
    array = smooth.astype(np.uint8).transpose(1, 2, 0).copy()
    clean = torch.from_numpy(array.transpose(2, 0, 1).copy()).float()[None] / 255
    ours = build_degradation("jpeg")(clean).degraded
    ref = pillow_roundtrip(array, 20, "4:2:0")
    assert torch.equal((ours[0] * 255).round().to(torch.uint8), torch.from_numpy(ref.transpose(2, 0, 1).copy()))
    full_chroma = pillow_roundtrip(array, 20, "4:4:4")
    assert not np.array_equal(ref, full_chroma)  # 4:2:0 is really in use
    grey = jpeg_compress(clean[:, :1], quality=50)
    np.testing.assert_array_equal((grey[0, 0] * 255).round().numpy(), pillow_roundtrip(array[..., 0], 50, "4:2:0"))


# ---------------------------------------------------------------- demosaic


@pytest.mark.parametrize("pattern", PATTERNS)
def test_mosaic_places_each_colour(pattern):
    rng = np.random.default_rng(2)
    image = rng.random((3, 6, 8))
    m = mosaic(torch.from_numpy(image)[None], pattern)[0, 0].numpy()
    channel = {"R": 0, "G": 1, "B": 2}
    for i in range(6):
        for j in range(8):
            assert m[i, j] == image[channel[pattern[2 * (i % 2) + (j % 2)]], i, j]
    out = BayerMosaic(pattern=pattern, sigma=0)(torch.from_numpy(image)[None].float())
    assert out.degraded.shape == (1, 1, 6, 8) and out.extras["pattern"] == pattern


def test_mosaic_noise_is_mild_and_seeded():
    clean = torch.full((1, 3, 128, 128), 0.5)
    a = build_degradation("demosaic")(clean, gen(1)).degraded
    assert (a - 0.5).mul(255).std().item() == pytest.approx(2.0, rel=0.05)
    assert torch.equal(a, build_degradation("demosaic")(clean, gen(1)).degraded)
    with pytest.raises(InputError, match="divisible by 2"):
        build_degradation("demosaic")(torch.rand(1, 3, 7, 8))
