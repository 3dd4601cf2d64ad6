"""The degradations' documented details: exact noise recipes, extras, dtypes, argument checks
(whole messages), boundary sizes, file helpers, and MATLAB's imresize for every mode.

References are written out here: ``images + sigma / 255 * N(0, 1)`` from the generator given,
MATLAB's ``imresize`` ``contributions`` (upscaling, non-antialiased shrinking, per-axis scales),
Boracchi and Foi's clamping of trajectories to the kernel support, Pillow's JPEG round trip.
"""

from __future__ import annotations

import io
import math
import re
import warnings
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import gen
from pdloss.degradations import (
    BayerMosaic,
    CameraShakeBlur,
    blur,
    build_degradation,
    camera_shake_kernels,
    imresize,
    jpeg_compress,
    load_kernel,
    load_kernels,
    mosaic,
    random_trajectories,
    resize_matrix,
    save_kernel,
    save_kernels,
    seeded_generator,
)
from pdloss.degradations.base import Degradation, Degraded, quantize_uint8
from pdloss.degradations.blur import camera_shake_blur, check_kernels, trajectory_kernels
from pdloss.degradations.jpeg import JpegCompression, jpeg_roundtrip_uint8
from pdloss.degradations.mosaic import bayer_masks, check_pattern
from pdloss.degradations.noise import GaussianNoise, add_gaussian_noise
from pdloss.degradations.resize import BicubicDownsample, bicubic_downsample
from pdloss.errors import InputError


def clean_batch(b=2, c=3, h=16, w=20, seed=0, dtype=torch.float32):
    return torch.rand(b, c, h, w, generator=gen(seed), dtype=torch.float64).to(dtype)


# -- the base class -------------------------------------------------------------------------------
def test_quantize_uint8_rounds_half_away_from_zero_after_clipping():
    x = torch.tensor([-0.2, 0.0, 0.49 / 255, 0.5 / 255, 1.5 / 255, 254.5 / 255, 1.0, 1.3], dtype=torch.float64)
    expected = torch.tensor([0, 0, 0, 1, 2, 255, 255, 255], dtype=torch.float64) / 255
    torch.testing.assert_close(quantize_uint8(x), expected, rtol=0, atol=1e-15)


def _mixed_seed(*keys: int) -> int:
    # The documented construction: numpy's SeedSequence mixes the keys into two 64-bit words.
    s0, s1 = (int(v) for v in np.random.SeedSequence(list(keys)).generate_state(2, dtype=np.uint64))
    return ((s0 << 1) ^ s1) & ((1 << 63) - 1)


def test_seeded_generator_is_the_documented_mix_of_its_keys():
    for keys in [(0,), (0, 0), (1, 2, 3), (7, 0, 12), (2**40, 5), *((s, 1, i) for s in range(3) for i in range(6))]:
        expected = torch.rand(4, generator=torch.Generator().manual_seed(_mixed_seed(*keys)))
        assert torch.equal(torch.rand(4, generator=seeded_generator(*keys)), expected), keys
    with pytest.raises(InputError, match=r"^seed keys must be non-negative integers, got \(3, -1\)$"):
        seeded_generator(3, -1)


@dataclass
class _Grey(Degradation):
    """A test degradation on one-channel images, with no task name."""

    out_channels: ClassVar[int] = 1
    gain: float = 2.0

    def _apply(self, clean, generator):
        return Degraded(clean * self.gain, clean, {})


def test_the_base_class_checks_with_the_subclass_attributes():
    grey = _Grey()
    assert torch.equal(grey(torch.ones(1, 1, 3, 3)).degraded, torch.full((1, 1, 3, 3), 2.0))
    assert grey.params() == {"gain": 2.0}
    with pytest.raises(InputError, match=r"^clean image has 3 channels, expected 1 "):
        grey(torch.ones(1, 3, 3, 3))
    sr = build_degradation("sr4x")
    with pytest.raises(InputError, match=r"^clean image is 2x2 pixels, smaller than the minimum 4x4"):
        sr(torch.rand(1, 3, 2, 2))
    message = r"^the sr4x degradation needs image sides divisible by 4, got 32x30; crop the image first$"
    with pytest.raises(InputError, match=message):
        sr(torch.rand(1, 3, 32, 30))
    with pytest.raises(InputError, match=r"^the demosaic degradation needs image sides divisible by 2, got 7x8"):
        build_degradation("demosaic")(torch.rand(1, 3, 7, 8))

    @dataclass
    class _Pairs(_Grey):
        @property
        def crop_multiple(self) -> int:
            return 2

    with pytest.raises(InputError, match=r"^the _Pairs degradation needs image sides divisible by 2, got 3x4"):
        _Pairs()(torch.rand(1, 1, 3, 4))


def test_pair_passes_the_generator_and_params_are_the_fields():
    clean = clean_batch()
    task = build_degradation("denoise", sigma=30)
    degraded, target = task.pair(clean, gen(4))
    assert torch.equal(degraded, task(clean, gen(4)).degraded) and torch.equal(target, clean)
    assert task.params() == {"sigma": 30, "clip": False}
    assert build_degradation("jpeg").params() == {"quality": 20, "subsampling": "4:2:0"}
    assert build_degradation("demosaic").params() == {"pattern": "RGGB", "sigma": 2.0, "clip": False}
    assert build_degradation("sr4x").params() == {"factor": 4, "quantize": True}


def test_registry_messages_list_the_choices():
    known = "denoise, sr4x, deblur, jpeg, demosaic"
    with pytest.raises(InputError, match=rf"^unknown task 'inpaint'; known tasks: {known}$"):
        build_degradation("inpaint")
    message = r"^task 'denoise' has no parameter quality, zoom; its parameters: clip, sigma$"
    with pytest.raises(InputError, match=message):
        build_degradation("denoise", zoom=2, quality=3)
    assert build_degradation("denoise", sigma=None).sigma == 100  # None means "the default"


# -- noise ----------------------------------------------------------------------------------------
def test_noise_is_images_plus_sigma_over_255_times_the_generators_normals():
    clean = clean_batch(dtype=torch.float64)
    noisy = add_gaussian_noise(clean, 25.3, gen(3))
    z = torch.randn(clean.shape, generator=gen(3), dtype=torch.float32).double()
    torch.testing.assert_close(noisy, clean + 25.3 / 255 * z, rtol=0, atol=1e-15)
    out = GaussianNoise(sigma=25.3)(clean, gen(3))
    assert torch.equal(out.degraded, noisy) and torch.equal(out.target, clean)
    torch.testing.assert_close(out.extras["sigma"], torch.full((2,), 25.3))
    assert set(out.extras) == {"sigma"}
    clipped = GaussianNoise(sigma=25.3, clip=True)(clean, gen(3)).degraded
    assert torch.equal(clipped, noisy.clamp(0, 1))


def test_noise_keeps_shape_and_dtype_and_ignores_the_default_dtype():
    clean = clean_batch(b=2, c=3, h=5, w=6)
    per_image = add_gaussian_noise(clean, torch.tensor([10.0, 40.0]), gen(1))
    assert per_image.shape == clean.shape
    z = torch.randn(clean.shape, generator=gen(1))
    torch.testing.assert_close(per_image, clean + torch.tensor([10.0, 40.0]).view(2, 1, 1, 1) / 255 * z)
    half = add_gaussian_noise(clean.bfloat16(), 20.0, gen(1))
    assert half.dtype == torch.bfloat16
    # The draws do not depend on torch's default dtype: a run is the same whatever it is set to.
    previous = torch.get_default_dtype()
    try:
        torch.set_default_dtype(torch.float64)
        again = add_gaussian_noise(clean, torch.tensor([10.0, 40.0]), gen(1))
    finally:
        torch.set_default_dtype(previous)
    assert torch.equal(again, per_image)


def test_noise_arguments():
    clean = clean_batch()
    assert torch.equal(add_gaussian_noise(clean, 0.0, gen(0)), clean)
    assert torch.equal(GaussianNoise(sigma=0)(clean, gen(0)).degraded, clean)
    assert GaussianNoise(sigma=0.5).sigma == 0.5
    with pytest.raises(InputError, match=r"^sigma must be a number or a \(B,\) tensor, got shape \(2, 2\)$"):
        add_gaussian_noise(clean, torch.ones(2, 2))
    with pytest.raises(InputError, match=r"^sigma must be a number or a \(B,\) tensor, got shape \(3,\)$"):
        add_gaussian_noise(clean, torch.ones(3))
    with pytest.raises(InputError, match=r"^sigma must be non-negative, got -1.0$"):
        add_gaussian_noise(clean, -1.0)
    with pytest.raises(InputError, match=r"^sigma must be >= 0 \(0-255 scale\), got -2$"):
        GaussianNoise(sigma=-2)


# -- demosaicing ----------------------------------------------------------------------------------
def test_bayer_masks_dtype_device_and_odd_sizes():
    masks = bayer_masks("gbrg", 3, 5, dtype=torch.float64)
    assert masks.dtype == torch.float64 and masks.shape == (3, 3, 5)
    expected_green = torch.tensor([[1, 0, 1, 0, 1], [0, 1, 0, 1, 0], [1, 0, 1, 0, 1]], dtype=torch.float64)
    assert torch.equal(masks[1], expected_green)
    assert torch.equal(masks.sum(0), torch.ones(3, 5, dtype=torch.float64))
    with pytest.raises(InputError, match=r"^Bayer pattern must be one of RGGB, GRBG, GBRG, BGGR, got 'RGBG'$"):
        check_pattern("RGBG")


def test_mosaic_is_linear_on_any_values_and_keeps_the_dtype():
    x = clean_batch(dtype=torch.float64)
    assert torch.equal(mosaic(x), mosaic(x, "RGGB"))
    assert torch.equal(mosaic(255 * x), 255 * mosaic(x))  # no range check: a model's raw output works too
    assert mosaic(x.bfloat16()).dtype == torch.bfloat16
    with pytest.raises(InputError, match=r"^images has 1 channels, expected 3 "):
        mosaic(x[:, :1])


@pytest.mark.parametrize("pattern", ["RGGB", "BGGR"])
def test_bayer_task_is_mosaic_plus_noise(pattern):
    clean = clean_batch(b=2, c=3, h=6, w=8)
    out = BayerMosaic(pattern=pattern, sigma=7.0)(clean, gen(2))
    m = mosaic(clean, pattern)
    z = torch.randn(m.shape, generator=gen(2))
    torch.testing.assert_close(out.degraded, m + 7.0 / 255 * z, rtol=0, atol=1e-7)
    assert out.extras["pattern"] == pattern
    torch.testing.assert_close(out.extras["sigma"], torch.full((2,), 7.0))
    clipped = BayerMosaic(pattern=pattern, sigma=7.0, clip=True)(clean, gen(2)).degraded
    assert torch.equal(clipped, out.degraded.clamp(0, 1))
    assert torch.equal(BayerMosaic(pattern=pattern, sigma=0)(clean).degraded, m)
    with pytest.raises(InputError, match=r"^sigma must be >= 0 \(0-255 scale\), got -1$"):
        BayerMosaic(sigma=-1)


# -- JPEG -----------------------------------------------------------------------------------------
def _pillow(array: np.ndarray, quality: int, subsampling: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=quality, subsampling=subsampling)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())))


def _textured(c: int = 3, h: int = 24, w: int = 32) -> torch.Tensor:
    g = gen(5)
    base = torch.rand(1, c, h // 4, w // 4, generator=g)
    return torch.nn.functional.interpolate(base, size=(h, w), mode="bilinear", align_corners=False).clamp(0, 1)


def test_jpeg_defaults_subsampling_and_dtype():
    x = _textured()
    array = (x[0] * 255).round().to(torch.uint8).permute(1, 2, 0).numpy().copy()
    default = jpeg_compress(x)
    assert torch.equal(default, jpeg_compress(x, 20, "4:2:0"))
    full = jpeg_compress(x, 20, "4:4:4")
    expected = torch.from_numpy(_pillow(array, 20, 0).transpose(2, 0, 1).copy()).float()[None] / 255
    assert torch.equal(full, expected) and not torch.equal(full, default)
    assert jpeg_compress(x.double()).dtype == torch.float64
    np.testing.assert_array_equal(jpeg_roundtrip_uint8(array, 20), jpeg_roundtrip_uint8(array, 20, "4:2:0"))
    task = JpegCompression(quality=35, subsampling="4:4:4")
    out = task(x)
    assert torch.equal(out.degraded, jpeg_compress(x, 35, "4:4:4")) and out.extras == {"quality": 35}


def test_jpeg_grey_stays_grey_and_no_warning_is_raised():
    grey = _textured(c=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = jpeg_compress(grey, quality=50)
    assert out.shape == grey.shape


@pytest.mark.parametrize("quality", [1, 100])
def test_jpeg_quality_bounds_are_inclusive(quality):
    x = _textured()
    assert jpeg_compress(x, quality).shape == x.shape
    assert JpegCompression(quality=quality).quality == quality


def test_jpeg_argument_messages():
    x = _textured()
    for bad in (0, 101):
        with pytest.raises(InputError, match=rf"^JPEG quality must be in 1\.\.100, got {bad}$"):
            jpeg_compress(x, bad)
        with pytest.raises(InputError, match=rf"^JPEG quality must be an integer in 1\.\.100, got {bad}$"):
            JpegCompression(quality=bad)
    message = r"^subsampling must be one of \['4:2:0', '4:2:2', '4:4:4'\], got '4:1:1'$"
    with pytest.raises(InputError, match=message):
        jpeg_compress(x, 20, "4:1:1")
    with pytest.raises(InputError, match=message):
        JpegCompression(subsampling="4:1:1")
    with pytest.raises(InputError, match=r"^images has 2 channels, expected 1 or 3 "):
        jpeg_compress(torch.rand(1, 2, 8, 8))


# -- blur -----------------------------------------------------------------------------------------
def _kernel(k: int = 5, seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    w = torch.rand(k, k, generator=gen(seed), dtype=torch.float64)
    return (w / w.sum()).to(dtype)


def test_blur_default_padding_and_a_single_kernel_for_the_batch():
    images = clean_batch(b=3, c=2, h=12, w=14, dtype=torch.float64)
    k = _kernel()
    shared = blur(images, k)
    assert torch.equal(shared, blur(images, k, "reflect"))
    torch.testing.assert_close(shared, blur(images, k.expand(3, 5, 5).contiguous(), "reflect"), rtol=0, atol=1e-15)
    assert shared.shape == images.shape


def test_blur_float64_images_with_float32_kernels_are_exact():
    from scipy.signal import convolve2d

    images = clean_batch(b=1, c=1, h=12, w=13, dtype=torch.float64)
    k32 = _kernel(dtype=torch.float32)
    out = blur(images, k32, "valid")
    ref = convolve2d(images[0, 0].numpy(), k32.double().numpy(), mode="valid")
    np.testing.assert_allclose(out[0, 0].numpy(), ref, rtol=0, atol=1e-13)


def test_blur_half_precision_is_computed_in_float32():
    images = clean_batch(b=1, c=3, h=12, w=12)
    k = _kernel(dtype=torch.float32)
    out = blur(images.bfloat16(), k)
    assert out.dtype == torch.bfloat16
    assert torch.equal(out, blur(images.bfloat16().float(), k).bfloat16())


def test_blur_sizes_at_the_limits():
    k = _kernel(5)
    # Reflect padding needs more than 2 pixels for a radius of 2; the other paddings do not.
    assert blur(torch.rand(1, 1, 3, 3), k).shape == (1, 1, 3, 3)
    for padding in ("replicate", "circular"):
        assert blur(torch.rand(1, 1, 2, 2), k, padding).shape == (1, 1, 2, 2)
    with pytest.raises(InputError, match=r"^images of \(2, 9\) px are too small to reflect-pad by 2$"):
        blur(torch.rand(1, 1, 2, 9), k)
    assert blur(torch.rand(1, 1, 5, 7), k, "valid").shape == (1, 1, 1, 3)  # one side exactly the kernel's
    assert blur(torch.rand(1, 1, 7, 5), k, "valid").shape == (1, 1, 3, 1)
    with pytest.raises(InputError, match=r"^images of 4x20 px are smaller than the 5x5 kernel$"):
        blur(torch.rand(1, 1, 4, 20), k, "valid")
    with pytest.raises(InputError, match=r"^images of 20x4 px are smaller than the 5x5 kernel$"):
        blur(torch.rand(1, 1, 20, 4), k, "valid")


def test_blur_argument_messages():
    images = torch.rand(2, 1, 9, 9)
    with pytest.raises(InputError, match=r"^padding must be one of \('reflect', 'replicate', 'circular', 'valid'\), "
                       r"got 'zeros'$"):
        blur(images, _kernel(), "zeros")
    for kernels, shape in ((torch.rand(3, 5, 5), "(3, 5, 5)"), (torch.rand(2, 5, 7), "(2, 5, 7)"),
                           (torch.rand(1, 2, 5, 5), "(1, 2, 5, 5)")):
        message = rf"^kernels must be \(B, k, k\) or \(k, k\) square, got {re.escape(shape)}$"
        with pytest.raises(InputError, match=message):
            blur(images, kernels)
    with pytest.raises(InputError, match=r"^kernel size must be odd, got 4$"):
        blur(images, torch.rand(4, 4))


def test_camera_shake_blur_checks_kernels_and_takes_any_channels():
    images = clean_batch(b=2, c=1, h=10, w=11, dtype=torch.float64)
    k = _kernel()
    torch.testing.assert_close(camera_shake_blur(images, k), blur(images, k))
    bank = torch.stack([_kernel(seed=1), _kernel(seed=2)])
    torch.testing.assert_close(camera_shake_blur(images, bank, "valid"), blur(images, bank, "valid"))
    torch.testing.assert_close(camera_shake_blur(images, bank), blur(images, bank, "reflect"))
    with pytest.raises(InputError, match=r"^kernels must be finite and non-negative$"):
        camera_shake_blur(images, -k)
    with pytest.raises(InputError, match=r"^images must have shape \(B, C, H, W\)"):
        camera_shake_blur(images[0], k)


def test_check_kernels_shapes_values_and_sums():
    delta = torch.zeros(3, 3, dtype=torch.int64)
    delta[1, 1] = 1
    checked = check_kernels(delta)
    assert checked.dtype == torch.float32 and checked.shape == (1, 3, 3) and checked[0, 1, 1] == 1
    for bad in (torch.rand(2, 5, 7), torch.rand(2, 4, 4), torch.rand(5), torch.rand(1, 1, 3, 3)):
        message = rf"^kernels must be odd squares \(N, k, k\), got {re.escape(str(tuple(bad.shape)))}$"
        with pytest.raises(InputError, match=message):
            check_kernels(bad)
    nan = _kernel(3, dtype=torch.float32).clone()
    nan[0, 0] = float("nan")
    with pytest.raises(InputError, match=r"^kernels must be finite and non-negative$"):
        check_kernels(nan)
    nearly = _kernel(3) * (1 + 5e-5)  # float32 round-off of a large kernel's sum is tolerated
    assert check_kernels(nearly).shape == (1, 3, 3)
    with pytest.raises(InputError, match=r"^kernels must sum to 1, got sums between 1\.01 and 1\.01$"):
        check_kernels(_kernel(3) * 1.01)


def test_kernel_files_formats_folders_and_messages(tmp_path):
    k = camera_shake_kernels(2, gen(4), size=7, num_samples=50)
    path = save_kernel(tmp_path / "new" / "nested" / "k.npy", k[0])  # parent folders are created
    torch.testing.assert_close(load_kernel(path), k[0], atol=1e-7, rtol=0)
    assert [p.name for p in save_kernels(tmp_path / "png", k)] == ["kernel_0000.png", "kernel_0001.png"]
    npy = save_kernels(tmp_path / "npy", k, fmt="npy")
    assert [p.name for p in npy] == ["kernel_0000.npy", "kernel_0001.npy"]
    torch.testing.assert_close(load_kernels(tmp_path / "npy"), k, atol=1e-7, rtol=0)
    text_file = tmp_path / "k.txt"
    with pytest.raises(InputError, match=r"^kernel files are \.npy or \.png, got k\.txt$"):
        save_kernel(text_file, k[0])
    text_file.write_text("1")
    with pytest.raises(InputError, match=r"^kernel files are \.npy or \.png, got k\.txt$"):
        load_kernel(text_file)
    with pytest.raises(InputError, match=r"^fmt must be 'png' or 'npy', got 'tif'$"):
        save_kernels(tmp_path / "tif", k, fmt="tif")
    np.save(tmp_path / "cube.npy", np.ones((2, 3, 3)))
    with pytest.raises(InputError, match=r"^kernel file .*cube\.npy must hold a 2-D array with a positive sum, "
                       r"got shape \(2, 3, 3\)$"):
        load_kernel(tmp_path / "cube.npy")
    np.save(tmp_path / "zero.npy", np.zeros((3, 3)))
    with pytest.raises(InputError, match=r"^kernel file .*zero\.npy must hold a 2-D array with a positive sum"):
        load_kernel(tmp_path / "zero.npy")
    mixed = tmp_path / "mixed"
    save_kernel(mixed / "a.npy", k[0])
    save_kernel(mixed / "b.npy", _kernel(3))
    with pytest.raises(InputError, match=r"^kernels in .*mixed have different sizes: \[\(3, 3\), \(7, 7\)\]$"):
        load_kernels(mixed)


def test_trajectory_arguments_and_defaults():
    with pytest.raises(InputError, match=r"^bad trajectory request: n=1, num_samples=10, max_length=0$"):
        random_trajectories(1, gen(0), num_samples=10, max_length=0)
    short = random_trajectories(1, gen(0), size=9, num_samples=20, max_length=0.5)
    np.testing.assert_allclose(np.abs(np.diff(short, axis=1)).sum(), 0.5, rtol=1e-9)
    # No generator: torch's global one is used (the CPU device), for trajectories and banks alike.
    assert random_trajectories(2, None, num_samples=20).shape == (2, 20)
    bank = torch.stack([_kernel(3, seed=s, dtype=torch.float32) for s in range(3)])
    assert CameraShakeBlur(kernels=bank)(clean_batch(b=2, h=8, w=8)).degraded.shape == (2, 3, 8, 8)
    traj = random_trajectories(2, gen(1), size=15, num_samples=40, max_length=14.0)
    assert np.array_equal(trajectory_kernels(traj), trajectory_kernels(traj, 31, 1.0))
    with pytest.raises(InputError, match=r"^exposure fractions must lie in \(0, 1\], got \[1\.5 1\.5\]$"):
        trajectory_kernels(traj, 15, 1.5)
    with pytest.raises(InputError, match=r"^exposure_range must satisfy 0 < low <= high <= 1, got \(0\.5, 1\.5\)$"):
        camera_shake_kernels(1, exposure_range=(0.5, 1.5))


def test_trajectory_and_kernel_defaults_are_the_documented_ones():
    """The defaults written out: Boracchi and Foi's 2000 samples and anxiety 0.1 U, the paper's
    31x31 support, a path of 30 px (the original's 60 px on a 64 px canvas, scaled)."""
    default = random_trajectories(3, gen(2))
    explicit = random_trajectories(3, gen(2), size=31, num_samples=2000, max_length=30.0, anxiety_max=0.1)
    assert default.shape == (3, 2000)
    assert np.array_equal(default, explicit)
    np.testing.assert_allclose(np.abs(np.diff(default, axis=1)).sum(axis=1), 30.0, rtol=1e-9)
    # Centred on the 31 px support as the original: every position inside [1, 31].
    assert default.real.min() >= 1 and default.imag.min() >= 1
    assert default.real.max() <= 31 and default.imag.max() <= 31
    kernels = camera_shake_kernels(2, gen(3))
    written_out = camera_shake_kernels(
        2, gen(3), size=31, exposure_range=(0.1, 1.0), num_samples=2000, max_length=None, anxiety_max=0.1
    )
    assert kernels.shape == (2, 31, 31)
    assert torch.equal(kernels, written_out)
    # max_length=None means size - 1: the same kernels as 30.0 given explicitly.
    assert torch.equal(kernels, camera_shake_kernels(2, gen(3), max_length=30.0))


def _splat_reference(x: np.ndarray, size: int) -> np.ndarray:
    """createPSFs.m's splatting at full exposure, positions clamped as ``min(size-1, max(1, floor))``."""
    psf = np.zeros((size + 1, size + 1))
    for p in x:
        re, im = p.real, p.imag
        m2 = min(size - 1, max(1, math.floor(re)))
        m1 = min(size - 1, max(1, math.floor(im)))
        for r in (m1, m1 + 1):
            for c in (m2, m2 + 1):
                psf[r, c] += max(0.0, 1 - abs(re - c)) * max(0.0, 1 - abs(im - r))
    return psf[1:, 1:] / psf[1:, 1:].sum()


def test_trajectory_points_outside_the_support_are_clamped_like_create_psfs():
    size = 9
    points = np.array([[0.3 + 0.2j, 1.0 + 1.5j, 1.7 + 8.6j, 8.4 + 8.9j, 9.6 + 4.2j, 12.0 + 12.0j, 5.5 + 0.9j]])
    np.testing.assert_allclose(trajectory_kernels(points, size)[0], _splat_reference(points[0], size), atol=1e-12)


def test_camera_shake_blur_passes_its_options_on():
    clean = clean_batch(b=1, h=20, w=20)
    calm = CameraShakeBlur(size=9, num_samples=60, anxiety_max=0.8, noise_sigma_max=0.0)(clean, gen(3))
    expected = camera_shake_kernels(1, gen(3), 9, (0.1, 1.0), 60, anxiety_max=0.8)
    assert torch.equal(calm.extras["kernels"], expected)
    default = camera_shake_kernels(1, gen(3), 9, (0.1, 1.0), 60)
    assert not torch.equal(expected, default)
    assert camera_shake_kernels(1, gen(3), 9, num_samples=60, max_length=4.0).shape == (1, 9, 9)
    assert not torch.equal(camera_shake_kernels(1, gen(3), 9, num_samples=60, max_length=4.0), default)


# -- MATLAB imresize --------------------------------------------------------------------------------
def _cubic(t: float) -> float:
    t = abs(t)
    if t <= 1:
        return 1.5 * t**3 - 2.5 * t**2 + 1
    if t <= 2:
        return -0.5 * t**3 + 2.5 * t**2 - 4 * t + 2
    return 0.0


def matlab_contributions(in_length: int, out_length: int, scale: float, antialias: bool = True) -> np.ndarray:
    """MATLAB imresize's ``contributions`` (bicubic) as a dense (out, in) matrix, written per pixel."""
    if scale < 1 and antialias:
        width = 4 / scale

        def h(t):
            return scale * _cubic(scale * t)
    else:
        width = 4.0
        h = _cubic
    matrix = np.zeros((out_length, in_length))
    aux = list(range(1, in_length + 1)) + list(range(in_length, 0, -1))
    for x in range(1, out_length + 1):
        u = x / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - width / 2)
        taps = [left + p for p in range(math.ceil(width) + 2)]
        w = np.array([h(u - j) for j in taps])
        w /= w.sum()
        for wj, j in zip(w, taps, strict=True):
            matrix[x - 1, aux[(j - 1) % len(aux)] - 1] += wj
    return matrix


@pytest.mark.parametrize(
    "n,out,scale,antialias",
    [(7, 14, 2.0, True), (5, 15, 3.0, True), (6, 9, 1.5, True), (12, 12, 1.0, True), (20, 5, 0.25, False),
     (17, 7, 0.37, True), (17, 7, 0.37, False), (1, 3, 3.0, True), (6, 1, 1 / 6, True)],
)
def test_resize_matrix_matches_matlab_contributions(n, out, scale, antialias):
    ours = resize_matrix(n, out, scale, antialias)
    np.testing.assert_allclose(ours, matlab_contributions(n, out, scale, antialias), rtol=0, atol=1e-14)


def test_resize_matrix_is_read_only_and_checks_its_arguments():
    m = resize_matrix(8, 4, 0.5)
    with pytest.raises(ValueError):
        m[0, 0] = 1.0
    for args in ((0, 3, 1.0), (3, 0, 1.0), (3, 3, 0.0), (3, 3, -1.0)):
        with pytest.raises(InputError, match=rf"^bad resize: {args[0]} -> {args[1]} pixels at scale {args[2]}$"):
            resize_matrix(*args)


def test_imresize_modes_shapes_and_dtypes():
    g = gen(6)
    image = torch.rand(9, 11, generator=g, dtype=torch.float64)  # a 2-D image works: (..., H, W)
    up = imresize(image, scale=2.0)
    assert up.shape == (18, 22)
    ref = matlab_contributions(9, 18, 2.0) @ image.numpy() @ matlab_contributions(11, 22, 2.0).T
    np.testing.assert_allclose(up.numpy(), ref, atol=1e-13)
    sized = imresize(image[None, None], size=(4, 16), antialias=False)[0, 0]
    ref = matlab_contributions(9, 4, 4 / 9, False) @ image.numpy() @ matlab_contributions(11, 16, 16 / 11, False).T
    np.testing.assert_allclose(sized.numpy(), ref, atol=1e-13)
    shrunk = imresize(image, size=(4, 5), antialias=False)  # both axes shrink, without antialiasing
    ref = matlab_contributions(9, 4, 4 / 9, False) @ image.numpy() @ matlab_contributions(11, 5, 5 / 11, False).T
    np.testing.assert_allclose(shrunk.numpy(), ref, atol=1e-13)
    batch = torch.rand(1, 3, 16, 12, generator=g)
    half = imresize(batch.bfloat16(), scale=0.5)
    assert half.dtype == torch.bfloat16
    assert torch.equal(half, imresize(batch.bfloat16().float(), scale=0.5).bfloat16())
    not_float = r"^images must be a float tensor \(\.\.\., H, W\), got "
    with pytest.raises(InputError, match=not_float + r"\(1, 3, 4, 4\) torch\.int64$"):
        imresize(torch.ones(1, 3, 4, 4, dtype=torch.int64), scale=0.5)
    with pytest.raises(InputError, match=not_float + r"\(4,\) torch\.float32$"):
        imresize(torch.ones(4), scale=0.5)
    for kwargs in ({}, {"scale": 0.5, "size": (2, 2)}):
        with pytest.raises(InputError, match=r"^give exactly one of scale and size$"):
            imresize(batch, **kwargs)
    with pytest.raises(InputError, match=r"^scale must be positive, got 0$"):
        imresize(batch, scale=0)


def test_bicubic_downsample_function_and_task():
    images = torch.rand(2, 1, 16, 12, generator=gen(7), dtype=torch.float64)
    low = bicubic_downsample(images)
    assert low.shape == (2, 1, 4, 3)
    torch.testing.assert_close(low, imresize(images, size=(4, 3)), rtol=0, atol=0)
    assert bicubic_downsample(images, 2).shape == (2, 1, 8, 6)
    with pytest.raises(InputError, match=r"^image sides 16x10 must be divisible by the factor 4$"):
        bicubic_downsample(images[..., :10])
    with pytest.raises(InputError, match=r"^images is 3x12 pixels, smaller than the minimum 4x4"):
        bicubic_downsample(images[..., :3, :])
    task = BicubicDownsample(factor=2)
    out = task(images.expand(2, 3, 16, 12).float())
    assert out.degraded.shape == (2, 3, 8, 6) and out.extras == {"factor": 2}
    assert BicubicDownsample(factor=1).scale == 1
    assert torch.equal(BicubicDownsample(factor=1, quantize=False)(images.expand(2, 3, 16, 12)).degraded,
                       images.expand(2, 3, 16, 12))
    for bad in (0, 2.5, -4):
        with pytest.raises(InputError, match=rf"^factor must be a positive integer, got {bad}$"):
            BicubicDownsample(factor=bad)
