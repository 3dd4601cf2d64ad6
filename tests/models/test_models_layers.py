"""Building blocks of the restoration networks: TF-style padding, pad/crop, Bayer demosaicing,
the ConvLSTM cell. References: numpy/scipy and hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage
import torch

from helpers import gradcheck
from pdloss.degradations.mosaic import PATTERNS as UPPER_PATTERNS
from pdloss.degradations.mosaic import bayer_masks, bilinear_demosaic, mosaic
from pdloss.errors import InputError
from pdloss.models.layers import Conv2dSame, crop_to, pad_to_multiple
from pdloss.models.srn import ConvLSTMCell

PATTERNS = tuple(p.lower() for p in UPPER_PATTERNS)  # the reference below reads lower-case letters

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("k", [3, 5])
def test_conv_same_stride2_samples_odd_positions_like_tensorflow(k):
    # TF 'SAME' on an even size pads (k-2)//2 before: a centred delta kernel returns x[1::2, 1::2].
    conv = Conv2dSame(1, 1, k, stride=2)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, k // 2, k // 2] = 1.0
        conv.bias.zero_()
    x = torch.randn(2, 1, 8, 12)
    torch.testing.assert_close(conv(x), x[..., 1::2, 1::2])


@pytest.mark.parametrize(("n", "k", "s"), [(7, 5, 2), (8, 3, 2), (9, 5, 1), (6, 4, 2)])
def test_conv_same_output_size_is_ceil(n, k, s):
    conv = Conv2dSame(2, 3, k, stride=s)
    assert conv(torch.randn(1, 2, n, n + 1)).shape[-2:] == (-(-n // s), -(-(n + 1) // s))


def test_conv_same_gradcheck():
    conv = Conv2dSame(2, 2, 3, stride=2).double()
    x = torch.randn(1, 2, 5, 6, dtype=torch.float64, requires_grad=True)
    assert gradcheck(conv, (x,))


def test_pad_to_multiple_reflects_like_numpy_and_crops_back():
    x = torch.randn(2, 3, 13, 10)
    xp, size = pad_to_multiple(x, 8)
    assert xp.shape[-2:] == (16, 16) and size == (13, 10)
    ref = np.pad(x.numpy(), ((0, 0), (0, 0), (0, 3), (0, 6)), mode="reflect")
    np.testing.assert_array_equal(xp.numpy(), ref)
    torch.testing.assert_close(crop_to(xp, size), x)


def test_pad_to_multiple_replicates_when_too_small_to_reflect():
    x = torch.randn(1, 1, 3, 16)
    xp, _ = pad_to_multiple(x, 16)  # 13 rows of padding > 3 rows: reflection impossible
    ref = np.pad(x.numpy(), ((0, 0), (0, 0), (0, 13), (0, 0)), mode="edge")
    np.testing.assert_array_equal(xp.numpy(), ref)
    same, _ = pad_to_multiple(torch.randn(1, 1, 16, 32), 16)
    assert same.shape == (1, 1, 16, 32)


def test_pad_to_multiple_gradcheck():
    x = torch.randn(1, 1, 5, 3, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda t: pad_to_multiple(t, 4)[0], (x,))


@pytest.mark.parametrize("pattern", PATTERNS)
def test_bayer_masks_place_colours(pattern):
    m = bayer_masks(pattern, 5, 7)
    torch.testing.assert_close(m.sum(0), torch.ones(5, 7))
    for idx, letter in enumerate(pattern):
        dy, dx = divmod(idx, 2)
        assert m["rgb".index(letter), dy, dx] == 1.0
        assert m["rgb".index(letter), dy + 2, dx + 4] == 1.0
    assert m[1].sum() == pytest.approx(0.5 * 35, abs=1)  # half the sites are green


def _numpy_bilinear(raw: np.ndarray, pattern: str) -> np.ndarray:
    # Independent reference: scipy's 'mirror' mode is reflection without the edge repeated.
    h, w = raw.shape
    kg = np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]]) / 4.0
    krb = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 4.0
    out = np.zeros((3, h, w))
    for c, letter in enumerate("rgb"):
        mask = np.zeros((h, w))
        for idx, l2 in enumerate(pattern):
            if l2 == letter:
                mask[idx // 2 :: 2, idx % 2 :: 2] = 1
        out[c] = scipy.ndimage.convolve(raw * mask, kg if letter == "g" else krb, mode="mirror")
    return out


@pytest.mark.parametrize("pattern", PATTERNS)
def test_bilinear_demosaic_matches_scipy_reference(pattern):
    rgb = torch.rand(2, 3, 7, 10, dtype=torch.float64)
    raw = mosaic(rgb, pattern)
    out = bilinear_demosaic(raw, pattern)
    for b in range(2):
        np.testing.assert_allclose(out[b].numpy(), _numpy_bilinear(raw[b, 0].numpy(), pattern), atol=1e-12)
    # Known samples are kept exactly.
    m = bayer_masks(pattern, 7, 10, dtype=torch.float64)
    torch.testing.assert_close(out * m, rgb * m)


def test_bilinear_demosaic_reproduces_constant_and_linear_ramps():
    const = torch.tensor([0.2, 0.5, 0.9]).view(1, 3, 1, 1).expand(1, 3, 6, 9)
    torch.testing.assert_close(bilinear_demosaic(mosaic(const, "grbg"), "grbg"), const)
    # A ramp along x is reproduced exactly away from the left/right borders.
    ramp = torch.arange(9.0).view(1, 1, 1, 9).expand(1, 3, 6, 9) / 8
    out = bilinear_demosaic(mosaic(ramp, "rggb"), "rggb")
    torch.testing.assert_close(out[..., 1:-1], ramp[..., 1:-1])


def test_bilinear_demosaic_gradcheck_and_errors():
    raw = torch.rand(1, 1, 4, 5, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda t: bilinear_demosaic(t, "bggr"), (raw,))
    with pytest.raises(InputError, match="Bayer pattern"):
        bilinear_demosaic(raw, "rgbg")
    with pytest.raises(InputError, match=r"\(B, 1, H, W\)"):
        bilinear_demosaic(torch.rand(1, 3, 4, 4), "rggb")
    with pytest.raises(InputError, match="2x2"):
        bilinear_demosaic(torch.rand(1, 1, 1, 4), "rggb")


def test_convlstm_cell_matches_hand_computed_gates():
    cell = ConvLSTMCell(channels=2, features=3)
    bi, bj, bf, bo = 0.3, -0.7, 0.2, 1.1
    with torch.no_grad():
        cell.conv.weight.zero_()
        cell.conv.bias.copy_(torch.tensor([bi] * 3 + [bj] * 3 + [bf] * 3 + [bo] * 3))
    c0 = torch.randn(2, 3, 4, 5)
    h0 = torch.randn(2, 3, 4, 5)
    h, state = cell(torch.randn(2, 2, 4, 5), torch.cat([c0, h0], 1))
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    c_ref = c0 * sig(bf + 1.0) + sig(bi) * np.tanh(bj)
    torch.testing.assert_close(state[:, :3], c_ref)
    torch.testing.assert_close(h, torch.tanh(c_ref) * sig(bo))
    torch.testing.assert_close(state[:, 3:], h)


def test_convlstm_cell_gradcheck():
    cell = ConvLSTMCell(channels=1, features=2).double()
    x = torch.randn(1, 1, 3, 3, dtype=torch.float64, requires_grad=True)
    s = torch.randn(1, 4, 3, 3, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda a, b: cell(a, b)[1], (x, s))


@pytest.mark.parametrize("pattern", PATTERNS)
def test_pattern_convention_matches_the_demosaic_degradation(pattern):
    # The models' demosaic input must read the degradation's mosaic with the same phase.
    degradations = pytest.importorskip("pdloss.degradations.mosaic")
    rgb = torch.rand(1, 3, 6, 7)
    torch.testing.assert_close(mosaic(rgb, pattern), degradations.mosaic(rgb, pattern.upper()))
    torch.testing.assert_close(bilinear_demosaic(degradations.mosaic(rgb, pattern.upper()), pattern.upper()),
                               bilinear_demosaic(mosaic(rgb, pattern), pattern))
