"""NIQE, the Natural Image Quality Evaluator (Mittal et al. 2013), as the MATLAB release.

Lower is better. Follows basicsr's port of the MATLAB code (which reproduces MATLAB to 1e-4):
MATLAB luma on the 0-255 scale, rounded; crop to a multiple of 96; at two scales (the second a
MATLAB bicubic half-size resize) normalise by a 7x7 Gaussian local mean and deviation
(``(I - mu) / (sigma + 1)``, borders replicated); per 96x96 block (48x48 at the second scale)
fit an AGGD to the coefficients and to their products with 4 neighbours (18 features per scale);
fit a Gaussian to the blocks and return its Mahalanobis-like distance to the pristine model.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from pdloss.degradations.resize import imresize
from pdloss.errors import InputError
from pdloss.metrics.color import crop_border as _crop
from pdloss.metrics.color import rgb_to_y
from pdloss.metrics.niqe_params import load_niqe_params
from pdloss.validation import check_image_batch

BLOCK = 96
# Vectorised math.gamma: keeps NIQE free of scipy (NaN in, NaN out).
gamma = np.vectorize(math.gamma, otypes=[np.float64])
_GAM = np.arange(0.2, 10.001, 0.001)
_R_GAM = gamma(2 / _GAM) ** 2 / (gamma(1 / _GAM) * gamma(3 / _GAM))
_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))


def _aggd(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AGGD (alpha, beta_left, beta_right) of each block ``(N, h, w)``, by the MATLAB grid search."""
    flat = blocks.reshape(blocks.shape[0], -1)
    sq = flat**2
    neg, pos = flat < 0, flat > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        left = np.sqrt((sq * neg).sum(1) / neg.sum(1))
        right = np.sqrt((sq * pos).sum(1) / pos.sum(1))
        ghat = left / right
        rhat = np.abs(flat).mean(1) ** 2 / sq.mean(1)
        rnorm = rhat * (ghat**3 + 1) * (ghat + 1) / (ghat**2 + 1) ** 2
        # NaN rows pick index 0, as np.argmin does in the reference.
        alpha = _GAM[np.argmin((_R_GAM[None, :] - rnorm[:, None]) ** 2, axis=1)]
        factor = np.sqrt(gamma(1 / alpha) / gamma(3 / alpha))
    return alpha, left * factor, right * factor


def _block_features(blocks: np.ndarray) -> np.ndarray:
    """The 18 NIQE features of each block ``(N, h, w)`` -> ``(N, 18)``."""
    alpha, bl, br = _aggd(blocks)
    feats = [alpha, (bl + br) / 2]
    for shift in _SHIFTS:
        products = blocks * np.roll(blocks, shift, axis=(1, 2))
        a, l, r = _aggd(products)
        feats += [a, (r - l) * gamma(2 / a) / gamma(1 / a), l, r]
    return np.stack(feats, axis=1)


def _normalise(img: torch.Tensor, window: torch.Tensor) -> np.ndarray:
    """``(I - mu) / (sigma + 1)`` of a 2-D float64 image with replicated borders."""
    k = window.shape[-1]
    padded = F.pad(img[None, None], (k // 2,) * 4, mode="replicate")
    both = torch.cat([padded, padded**2], dim=0)
    moments = F.conv2d(both, window.flip(-1, -2)[None, None])
    mu, e2 = moments[0, 0], moments[1, 0]
    sigma = (e2 - mu**2).abs().sqrt()
    return ((img - mu) / (sigma + 1)).numpy()


def _blocks(img: np.ndarray, nh: int, nw: int, size: int) -> np.ndarray:
    return img[: nh * size, : nw * size].reshape(nh, size, nw, size).transpose(0, 2, 1, 3).reshape(-1, size, size)


def niqe_gray(img: np.ndarray | torch.Tensor, params: dict[str, np.ndarray]) -> float:
    """NIQE of a 2-D luma image on the 0-255 scale (already rounded, as the reference does)."""
    img = torch.as_tensor(np.asarray(img), dtype=torch.float64)
    h, w = img.shape
    nh, nw = h // BLOCK, w // BLOCK
    if nh == 0 or nw == 0:
        raise InputError(f"NIQE needs at least {BLOCK}x{BLOCK} pixels, got {h}x{w}")
    img = img[: nh * BLOCK, : nw * BLOCK]
    window = torch.as_tensor(params["gaussian_window"], dtype=torch.float64)
    feats = []
    for scale in (1, 2):
        normalised = _normalise(img, window)
        feats.append(_block_features(_blocks(normalised, nh, nw, BLOCK // scale)))
        if scale == 1:
            img = imresize(img / 255.0, scale=0.5) * 255.0
    dist = np.concatenate(feats, axis=1)
    mu = np.nanmean(dist, axis=0)
    clean = dist[~np.isnan(dist).any(axis=1)]
    if clean.shape[0] < 2:
        raise InputError(
            f"NIQE could not fit its model: only {clean.shape[0]} valid 96x96 blocks (flat image or too small)"
        )
    cov = np.cov(clean, rowvar=False)
    diff = params["mu_pris_param"] - mu
    inv = np.linalg.pinv((params["cov_pris_param"] + cov) / 2)
    return float(np.sqrt(diff @ inv @ diff))


def niqe(images: torch.Tensor, crop_border: int = 0, params: dict[str, np.ndarray] | None = None) -> torch.Tensor:
    """NIQE per image of ``(B, 3 or 1, H, W)`` in [0, 1] -> ``(B,)`` float64 (lower is better).

    Colour images use MATLAB luma (``rgb2ycbcr``), grey ones their values; values are taken on
    the 0-255 scale and rounded. Images need at least 96x96 pixels after ``crop_border``. Not
    differentiable (a grid search inside).
    """
    check_image_batch(images, "NIQE input", value_range=(0.0, 1.0), channels=(1, 3))
    params = params or load_niqe_params()
    # float32 like the reference, so that the rounding below sees the same values.
    x = images.detach().cpu().float()
    y = (rgb_to_y(x) if x.shape[1] == 3 else x) * 255.0
    y = _crop(y, crop_border).round().double()
    return torch.tensor([niqe_gray(y[i, 0], params) for i in range(y.shape[0])], dtype=torch.float64)


class NIQE(torch.nn.Module):
    """Module form of :func:`niqe` (no-reference; lower is better)."""

    higher_is_better = False

    def __init__(self, crop_border: int = 0) -> None:
        super().__init__()

        self.crop_border = crop_border
        self.params = load_niqe_params()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return niqe(images, self.crop_border, self.params)
