"""Every option of the FDL maths (pdloss.functional.frequency) changes the value it should, checked
against values written out here: the DFT normalisation scales the amplitude term only, the phase
threshold is relative to each map's own largest coefficient (per image and channel, not per batch
or tensor), phase_eps moves that threshold, and the reduction is over the batch."""

from __future__ import annotations

import math

import pytest
import torch

from helpers import assert_close
from pdloss.functional.frequency import (
    amplitude_phase,
    frequency_distribution_distance,
    frequency_distribution_terms,
    make_patch_projections,
)


def maps(seed=0, shape=(2, 3, 9, 7)):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g, dtype=torch.float64) + 0.1


def kernels(channels=3, patch=3, num=4, seed=1):
    return make_patch_projections(num, channels, patch, torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("norm, scale", [("backward", 1.0), ("ortho", 1 / math.sqrt(9 * 7)), ("forward", 1 / (9 * 7))])
def test_fft_norm_scales_the_amplitude_term_only(norm, scale, device):
    fu, fv, k = maps(0).to(device), maps(1).to(device), kernels().to(device)
    amp_ref, phase_ref = frequency_distribution_terms(fu, fv, k, fft_norm="backward")
    amplitude, phase = frequency_distribution_terms(fu, fv, k, fft_norm=norm)
    # torch.fft's norms divide the spectrum by 1, sqrt(H*W) or H*W; the patch sliced W1 is
    # positively homogeneous, and the phase (like its threshold, relative to the map's max) is unchanged.
    assert_close(amplitude, amp_ref * scale, rtol=1e-10, atol=0)
    assert_close(phase, phase_ref, rtol=1e-10, atol=1e-12)
    total = frequency_distribution_distance(fu, fv, k, fft_norm=norm, phase_weight=0.5, reduction="none")
    assert_close(total, amp_ref * scale + 0.5 * phase_ref, rtol=1e-10, atol=1e-12)


def test_the_phase_threshold_is_per_map():
    # One row of 4 values: a unit impulse at column 1 has F[k] = exp(-2 pi i k / 4) = 1, -i, -1, i
    # (amplitude 1, phases 0, -pi/2, pi, pi/2); a constant c has F = (4c, 0, 0, 0).
    impulse = torch.tensor([0.0, 1.0, 0.0, 0.0], dtype=torch.float64)
    constant = torch.full((4,), 1e6, dtype=torch.float64)
    x = torch.stack([
        torch.stack([constant, impulse]),        # image 0: a huge map beside a unit one
        torch.stack([impulse * 1e-3, constant]),  # image 1: a small impulse first
    ])[:, :, None, :]  # (2, 2, 1, 4)
    amplitude, phase = amplitude_phase(x, phase_eps=1e-3)
    impulse_phases = torch.tensor([0.0, -math.pi / 2, math.pi, math.pi / 2], dtype=torch.float64)
    # Per map, the threshold is 1e-3 times that map's largest |F| (1 or 1e-3 for the impulses): every
    # impulse coefficient is above it. A threshold over the image or the batch (1e-3 * 4e6 = 4000)
    # would zero all of them.
    assert_close(phase[0, 1, 0], impulse_phases, rtol=0, atol=1e-12)
    assert_close(phase[1, 0, 0], impulse_phases, rtol=0, atol=1e-12)
    assert_close(amplitude[1, 0, 0], torch.full((4,), 1e-3, dtype=torch.float64), rtol=1e-12, atol=0)
    # The constants: DC positive (phase 0), the rest zero coefficients (phase 0 by definition).
    assert torch.equal(phase[0, 0, 0], torch.zeros(4, dtype=torch.float64))
    assert torch.equal(phase[1, 1, 0], torch.zeros(4, dtype=torch.float64))


def test_phase_eps_moves_the_threshold_on_both_sides():
    # Row (1, 2, 0, 0): F = (3, 1 - 2i, -1, 1 + 2i), max |F| = 3. The threshold t = phase_eps * 3:
    # just below |F[2]| = 1 the negative real coefficient keeps its phase pi, just above it is 0.
    x = torch.tensor([1.0, 2.0, 0.0, 0.0], dtype=torch.float64)[None, None, None]
    angle = math.atan2(2.0, 1.0)
    _, below = amplitude_phase(x, phase_eps=0.333)  # t = 0.999
    _, above = amplitude_phase(x, phase_eps=0.334)  # t = 1.002
    assert_close(below[0, 0, 0], torch.tensor([0.0, -angle, math.pi, angle], dtype=torch.float64), rtol=0, atol=1e-12)
    assert_close(above[0, 0, 0], torch.tensor([0.0, -angle, 0.0, angle], dtype=torch.float64), rtol=0, atol=1e-12)
    # Row (3, 1, 0, 0): F = (4, 3 - i, 2, 3 + i), max 4. |Im F| = 1 against t = phase_eps * 4: just
    # below, 3 -+ i keep their phases -+atan(1/3); just above, they count as real (phase 0).
    x = torch.tensor([3.0, 1.0, 0.0, 0.0], dtype=torch.float64)[None, None, None]
    angle = math.atan2(1.0, 3.0)
    _, below = amplitude_phase(x, phase_eps=0.2499)  # t = 0.9996
    _, above = amplitude_phase(x, phase_eps=0.2501)  # t = 1.0004
    assert_close(below[0, 0, 0], torch.tensor([0.0, -angle, 0.0, angle], dtype=torch.float64), rtol=0, atol=1e-12)
    assert torch.equal(above[0, 0, 0], torch.zeros(4, dtype=torch.float64))


def test_reduction_is_over_the_batch(device):
    fu, fv, k = maps(2).to(device), maps(3).to(device), kernels().to(device)
    per_image = frequency_distribution_distance(fu, fv, k, reduction="none")
    assert per_image.shape == (2,)
    assert_close(frequency_distribution_distance(fu, fv, k, reduction="mean"), per_image.mean())
    assert_close(frequency_distribution_distance(fu, fv, k, reduction="sum"), per_image.sum())
    # And each image's value is its own: the first image alone gives the first value.
    assert_close(frequency_distribution_distance(fu[:1], fv[:1], k, reduction="none"), per_image[:1])
