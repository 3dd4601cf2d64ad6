"""The metrics rank degradations of real photos as they should.

For built-in photos: NIQE and FID rise with Gaussian noise (sigma 5, 25, 100 on the 0-255 scale)
and with blur; MS-SSIM falls. FID uses the patch mode (two 96-pixel tiles of two photos per set) to keep
the test short; its values are only compared with each other.
"""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from pdloss.data.builtin import builtin_photos
from pdloss.imageio import read_image
from pdloss.metrics import FID, fid_weights, ms_ssim, niqe
from pdloss.metrics.fid import frechet_distance_low_rank

pytestmark = pytest.mark.usefixtures("one_thread")


PHOTOS = ("astronaut", "chelsea", "coffee")
NOISE = (5, 25, 100)
BLUR = (1.0, 2.0, 4.0)


def _photos(size: int) -> torch.Tensor:
    found = builtin_photos()
    missing = [p for p in PHOTOS if p not in found]
    if missing:
        pytest.skip(f"built-in photos {missing} are not installed (scikit-image)")
    return torch.stack([read_image(found[p])[:, :size, :size] for p in PHOTOS])


def _noisy(x: torch.Tensor, sigma: float) -> torch.Tensor:
    g = torch.Generator().manual_seed(int(sigma))
    return ((x + sigma / 255 * torch.randn(x.shape, generator=g)).clamp(0, 1) * 255).round() / 255


def _blurred(x: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = int(3 * sigma + 0.5)
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = k / k.sum()
    pad = F.pad(x, (radius,) * 4, mode="reflect")
    out = F.conv2d(pad, k.view(1, 1, -1, 1).expand(3, 1, -1, 1), groups=3)
    return F.conv2d(out, k.view(1, 1, 1, -1).expand(3, 1, 1, -1), groups=3)


def _increasing(values):
    return all(a < b for a, b in itertools.pairwise(values))


@pytest.fixture(scope="module")
def crops():
    return _photos(192)


def test_ms_ssim_falls_with_noise_and_blur(crops):
    noise = [ms_ssim(_noisy(crops, s), crops).item() for s in NOISE]
    blur = [ms_ssim(_blurred(crops, s), crops).item() for s in BLUR]
    assert _increasing([-v for v in noise]), noise
    assert _increasing([-v for v in blur]), blur
    assert noise[0] < 1.0 and blur[0] < 1.0


def test_niqe_rises_with_noise_and_blur():
    x = _photos(288)  # 3x3 blocks of 96 per photo
    clean = niqe(x).mean().item()
    noise = [niqe(_noisy(x, s)).mean().item() for s in NOISE]
    blur = [niqe(_blurred(x, s)).mean().item() for s in BLUR]
    assert _increasing([clean, *noise]), (clean, noise)
    assert _increasing([clean, *blur]), (clean, blur)


@pytest.mark.registry
@pytest.mark.skipif(fid_weights.torchscript_path() is None, reason=f"needs {fid_weights.TORCHSCRIPT_PIP}")
def test_fid_zero_symmetric_and_rising(crops):
    fid = FID(patch_size=96, batch_size=6)
    x = crops[:2, :, :96, :]  # 2 photos x 2 tiles: few samples keep the test short; ranks only

    def feats(images):
        return fid.features(images).double().numpy()

    ref = feats(x)
    noisy = [feats(_noisy(x, s)) for s in NOISE]
    blurred = [feats(_blurred(x, s)) for s in BLUR[:2]]
    # Few samples: the exact low-rank formula (checked against the full one in test_metrics_fid).
    assert frechet_distance_low_rank(ref, ref) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance_low_rank(ref, noisy[0]) == pytest.approx(frechet_distance_low_rank(noisy[0], ref), rel=1e-9)
    noise_fid = [frechet_distance_low_rank(ref, f) for f in noisy]
    blur_fid = [frechet_distance_low_rank(ref, f) for f in blurred]
    assert _increasing([0.0, *noise_fid]), noise_fid
    assert _increasing([0.0, *blur_fid]), blur_fid
