"""Camera-shake kernels against Boracchi and Foi's MATLAB code, transcribed line by line.

``createTrajectory.m`` and ``createPSFs.m`` (Boracchi & Foi, "Modeling the performance of image
restoration from motion blur", IEEE TIP 2012) are written out below as plain per-step loops on
Python complex numbers, then fed with the random numbers pdloss draws, in the layout its
documentation gives: per trajectory five uniforms (anxiety, centripetal, gaussian term,
frequency of big shakes, initial angle), then per step two uniforms (shake or not, shake
angle) and two normals (real and imaginary kick), then one exposure uniform per kernel. The
layout is part of the contract: a seed names a kernel bank.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pdloss.degradations import CameraShakeBlur, blur, camera_shake_kernels, random_trajectories
from pdloss.degradations.blur import trajectory_kernels
from pdloss.errors import InputError


def _draws(n: int, steps: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    params = torch.rand((n, 5), generator=g, dtype=torch.float64).numpy()
    uniforms = torch.rand((2, steps, n), generator=g, dtype=torch.float64).numpy()
    normals = torch.randn((2, steps, n), generator=g, dtype=torch.float64).numpy()
    exposure = torch.rand((n,), generator=g, dtype=torch.float64).numpy()
    return params, uniforms, normals, exposure


def create_trajectory(size, anxiety_max, num_t, max_length, params, uniforms, normals):
    """createTrajectory.m, one trajectory; ``anxiety = anxiety_max * U`` as pdloss documents."""
    anxiety = anxiety_max * params[0]
    centripetal = 0.7 * params[1]
    gaussian_term = 10 * params[2]
    freq_big_shakes = 0.2 * params[3]
    init_angle = 360 * params[4]
    v0 = complex(math.cos(math.radians(init_angle)), math.sin(math.radians(init_angle)))
    v = v0 * max_length / (num_t - 1)
    if anxiety > 0:
        v = v0 * anxiety
    x = [0j] * num_t
    for t in range(num_t - 1):
        if uniforms[0][t] < freq_big_shakes * anxiety:
            angle = math.pi + (uniforms[1][t] - 0.5)
            next_direction = 2 * v * complex(math.cos(angle), math.sin(angle))
        else:
            next_direction = 0
        kick = complex(normals[0][t], normals[1][t])
        dv = next_direction + anxiety * (gaussian_term * kick - centripetal * x[t]) * (max_length / (num_t - 1))
        v = v + dv
        v = (v / abs(v)) * max_length / (num_t - 1)
        x[t + 1] = x[t] + v
    x = np.array(x)
    # centring the motion
    x = x - 1j * x.imag.min() - x.real.min()
    x = x - 1j * math.fmod(x[0].imag, 1) - math.fmod(x[0].real, 1) + 1 + 1j
    x = x + 1j * math.ceil((size - x.imag.max()) / 2) + math.ceil((size - x.real.max()) / 2)
    return x


def create_psf(x, size, exposure):
    """createPSFs.m for one exposure T (prevT = 0), without re-centring."""
    numt = len(x)
    psf = np.zeros((size + 1, size + 1))  # 1-based

    def tri(d):
        return max(0.0, 1 - abs(d))

    prev = 0.0
    for t in range(1, numt + 1):
        if exposure * numt >= t and prev * numt < t - 1:
            proportion = 1.0
        elif exposure * numt >= t - 1 and prev * numt < t - 1:
            proportion = exposure * numt - (t - 1)
        elif exposure * numt >= t and prev * numt < t:
            proportion = t - prev * numt
        elif exposure * numt >= t - 1 and prev * numt < t:
            proportion = (exposure - prev) * numt
        else:
            proportion = 0.0
        re, im = x[t - 1].real, x[t - 1].imag
        m2 = min(size - 1, max(1, math.floor(re)))
        m1 = min(size - 1, max(1, math.floor(im)))
        big2, big1 = m2 + 1, m1 + 1
        psf[m1, m2] += proportion * tri(re - m2) * tri(im - m1)
        psf[m1, big2] += proportion * tri(re - big2) * tri(im - m1)
        psf[big1, m2] += proportion * tri(re - m2) * tri(im - big1)
        psf[big1, big2] += proportion * tri(re - big2) * tri(im - big1)
    psf = psf[1:, 1:]
    return psf / psf.sum()


@pytest.mark.parametrize("n", [2, 9])  # both walks: Python scalars below 8 trajectories, numpy above
@pytest.mark.parametrize("anxiety_max", [0.1, 0.9])
def test_trajectories_match_create_trajectory(n, anxiety_max):
    size, num_t, length, seed = 31, 120, 30.0, n
    ours = random_trajectories(n, torch.Generator().manual_seed(seed), size, num_t, length, anxiety_max)
    params, uniforms, normals, _ = _draws(n, num_t - 1, seed)
    for k in range(n):
        ref = create_trajectory(size, anxiety_max, num_t, length, params[k], uniforms[:, :, k], normals[:, :, k])
        np.testing.assert_allclose(ours[k], ref, rtol=0, atol=1e-9)


def test_big_shakes_happen_and_are_reproduced():
    # With anxiety_max = 5 shakes are frequent (probability 0.2 U anxiety per step): the test
    # above would not notice a wrong shake formula if no shake ever occurred.
    n, num_t = 3, 200
    params, uniforms, _, _ = _draws(n, num_t - 1, 4)
    shakes = (uniforms[0] < 0.2 * params[:, 3] * 5 * params[:, 0]).sum()
    assert shakes > 10
    ours = random_trajectories(n, torch.Generator().manual_seed(4), 31, num_t, 30.0, 5.0)
    params, uniforms, normals, _ = _draws(n, num_t - 1, 4)
    for k in range(n):
        ref = create_trajectory(31, 5.0, num_t, 30.0, params[k], uniforms[:, :, k], normals[:, :, k])
        np.testing.assert_allclose(ours[k], ref, rtol=0, atol=1e-9)


@pytest.mark.parametrize("exposure", [1.0, 0.37, 0.004])
def test_kernels_match_create_psfs(exposure):
    x = random_trajectories(2, torch.Generator().manual_seed(3), 15, 90, 14.0, 0.1)
    ours = trajectory_kernels(x, 15, exposure)
    for k in range(2):
        np.testing.assert_allclose(ours[k], create_psf(x[k], 15, exposure), rtol=0, atol=1e-12)


def test_camera_shake_kernels_are_the_documented_draws():
    n, size, num_t, seed = 3, 15, 80, 8
    ours = camera_shake_kernels(n, torch.Generator().manual_seed(seed), size, (0.2, 0.6), num_t, anxiety_max=0.1)
    params, uniforms, normals, exposure = _draws(n, num_t - 1, seed)
    for k in range(n):
        traj = create_trajectory(size, 0.1, num_t, size - 1, params[k], uniforms[:, :, k], normals[:, :, k])
        ref = create_psf(traj, size, 0.2 + 0.4 * exposure[k])
        np.testing.assert_allclose(ours[k].numpy(), ref, rtol=0, atol=1e-6)
    assert ours.dtype == torch.float32


def test_the_defaults_are_the_documented_ones():
    # 31x31 support, 2000 samples, path length 30 (size - 1 for the kernels), anxiety 0.1 U,
    # exposure 0.1 + 0.9 U: the full-size walk, transcribed, once.
    params, uniforms, normals, exposure = _draws(1, 1999, 11)
    ref = create_trajectory(31, 0.1, 2000, 30.0, params[0], uniforms[:, :, 0], normals[:, :, 0])
    np.testing.assert_allclose(random_trajectories(1, torch.Generator().manual_seed(11))[0], ref, rtol=0, atol=1e-9)
    kernel = camera_shake_kernels(1, torch.Generator().manual_seed(11))[0].numpy()
    np.testing.assert_allclose(kernel, create_psf(ref, 31, 0.1 + 0.9 * exposure[0]), rtol=0, atol=1e-6)


def test_camera_shake_blur_task_is_kernel_then_sigma_then_noise():
    clean = torch.rand(2, 3, 24, 24, generator=torch.Generator().manual_seed(0))
    task = CameraShakeBlur(size=9, num_samples=50, noise_sigma_min=3.0, noise_sigma_max=11.0)
    out = task(clean, torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)
    kernels = camera_shake_kernels(2, g, 9, (0.1, 1.0), 50)
    sigma = 3.0 + 8.0 * torch.rand(2, generator=g, dtype=torch.float64)
    noise = torch.randn(2, 3, 24, 24, generator=g)
    expected = blur(clean, kernels, "reflect") + (sigma.float() / 255).view(-1, 1, 1, 1) * noise
    torch.testing.assert_close(out.degraded, expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(out.extras["sigma"], sigma.float())
    assert torch.equal(out.extras["kernels"], kernels) and torch.equal(out.target, clean)


def test_camera_shake_blur_bank_draws_uniform_indices():
    bank = torch.zeros(4, 3, 3)
    bank[torch.arange(4), torch.tensor([0, 0, 2, 2]), torch.tensor([0, 2, 0, 2])] = 1
    task = CameraShakeBlur(kernels=bank, noise_sigma_max=0.0)
    assert task.size == 3
    out = task(torch.rand(64, 3, 8, 8), torch.Generator().manual_seed(1))
    index = torch.randint(4, (64,), generator=torch.Generator().manual_seed(1))
    assert torch.equal(out.extras["kernels"], bank[index])
    assert set(index.tolist()) == {0, 1, 2, 3}


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (
            {"noise_sigma_min": 5.0, "noise_sigma_max": 1.0},
            "need 0 <= noise_sigma_min <= noise_sigma_max, got 5.0, 1.0$",
        ),
        ({"noise_sigma_min": -1.0}, "need 0 <= noise_sigma_min"),
        ({"padding": "zeros"}, "padding must be one of"),
    ],
)
def test_camera_shake_blur_parameters_are_checked(kwargs, match):
    with pytest.raises(InputError, match=match):
        CameraShakeBlur(**kwargs)


def test_kernel_and_trajectory_arguments_are_checked():
    with pytest.raises(InputError, match="kernel size must be odd and >= 3, got 4"):
        camera_shake_kernels(1, size=4)
    with pytest.raises(InputError, match="kernel size must be odd and >= 3, got 1"):
        camera_shake_kernels(1, size=1)
    with pytest.raises(InputError, match="exposure_range must satisfy"):
        camera_shake_kernels(1, exposure_range=(0.0, 1.0))
    with pytest.raises(InputError, match="exposure_range must satisfy"):
        camera_shake_kernels(1, exposure_range=(0.5, 0.4))
    with pytest.raises(InputError, match="bad trajectory request"):
        random_trajectories(0)
    with pytest.raises(InputError, match="bad trajectory request"):
        random_trajectories(1, num_samples=1)
    with pytest.raises(InputError, match="exposure fractions must lie in"):
        trajectory_kernels(np.ones((1, 5), dtype=complex), 5, 0.0)
    # The smallest valid requests work.
    assert camera_shake_kernels(1, torch.Generator().manual_seed(0), size=3, num_samples=2).shape == (1, 3, 3)
    assert camera_shake_kernels(1, torch.Generator().manual_seed(0), exposure_range=(1.0, 1.0), num_samples=20).shape
