"""SSIM and MS-SSIM (Wang et al. 2004, 2003) with the reference settings.

Both use an 11x11 Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03 and "valid" filtering
(no padding), which is what scikit-image's ``structural_similarity(gaussian_weights=True,
sigma=1.5, use_sample_covariance=False)`` and Wang's MATLAB ``ssim``/``msssim`` compute.
Colour images are measured per channel and the channel values averaged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pdloss.errors import InputError
from pdloss.metrics.psnr import FullReferenceMetric, prepare_pair
from pdloss.validation import check_reduction, reduce

WINDOW_SIZE = 11
SIGMA = 1.5
K1, K2 = 0.01, 0.03
# Wang, Simoncelli & Bovik (2003), five scales.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def gaussian_window(size: int = WINDOW_SIZE, sigma: float = SIGMA, dtype=torch.float64) -> torch.Tensor:
    """The normalised 1-D Gaussian ``(size,)`` (the 2-D window is its outer product)."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return (g / g.sum()).to(dtype)


def _filter(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Separable valid Gaussian filtering of ``(N, C, H, W)`` per channel."""
    c = x.shape[1]
    k = g.shape[0]
    x = F.conv2d(x, g.view(1, 1, k, 1).expand(c, 1, k, 1), groups=c)
    return F.conv2d(x, g.view(1, 1, 1, k).expand(c, 1, 1, k), groups=c)


def ssim_components(x: torch.Tensor, y: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel means of the SSIM map and of the contrast-structure map, each ``(B, C)``.

    ``x``, ``y`` are ``(B, C, H, W)`` in [0, 1] (so the dynamic range L is 1).
    """
    c1, c2 = K1**2, K2**2
    # One filtering pass over the five stacked moments.
    stacked = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    mu_x, mu_y, exx, eyy, exy = _filter(stacked, g).chunk(5, dim=1)
    sxx = exx - mu_x * mu_x
    syy = eyy - mu_y * mu_y
    sxy = exy - mu_x * mu_y
    cs_map = (2 * sxy + c2) / (sxx + syy + c2)
    luminance = (2 * mu_x * mu_y + c1) / (mu_x * mu_x + mu_y * mu_y + c1)
    return (luminance * cs_map).mean(dim=(-2, -1)), cs_map.mean(dim=(-2, -1))


def ssim(
    pred: torch.Tensor,
    target: torch.Tensor,
    data_range: float = 1.0,
    color: str = "rgb",
    crop_border: int = 0,
    reduction: str = "mean",
) -> torch.Tensor:
    """Mean SSIM per image (higher is better, 1 for identical images).

    Args:
        pred, target: ``(B, C, H, W)`` in [0, data_range], at least 11x11 after cropping.
        data_range: the peak value (1 or 255); SSIM's constants scale with it.
        color: ``"rgb"`` (channels averaged) or ``"y"`` (MATLAB luma).
        crop_border: pixels dropped on each side first.
        reduction: ``"none"`` (B,), ``"mean"`` or ``"sum"``.
    """
    check_reduction(reduction)
    p, t = prepare_pair(pred, target, data_range, color, crop_border, min_size=WINDOW_SIZE)
    full, _ = ssim_components(p, t, gaussian_window(dtype=p.dtype).to(p.device))
    return reduce(full.mean(dim=1), reduction)


def _downsample(x: torch.Tensor) -> torch.Tensor:
    """Wang's ``imfilter(img, ones(2)/4, 'symmetric', 'same')`` then ``img(1:2:end, 1:2:end)``.

    For odd sizes the last row/column is averaged with its mirror (itself), so the output has
    ``ceil(n / 2)`` samples.
    """
    h, w = x.shape[-2:]
    if h % 2 or w % 2:
        x = F.pad(x, (0, w % 2, 0, h % 2), mode="replicate")
    return F.avg_pool2d(x, 2)


def ms_ssim_min_size(scales: int = len(MS_SSIM_WEIGHTS)) -> int:
    """The smallest side for which the coarsest scale still holds an 11x11 window."""
    return (WINDOW_SIZE - 1) * 2 ** (scales - 1) + 1


def ms_ssim(
    pred: torch.Tensor,
    target: torch.Tensor,
    data_range: float = 1.0,
    color: str = "rgb",
    crop_border: int = 0,
    reduction: str = "mean",
    weights: tuple[float, ...] = MS_SSIM_WEIGHTS,
) -> torch.Tensor:
    """Multi-scale SSIM (Wang, Simoncelli & Bovik 2003), higher is better.

    ``prod_{j<M} cs_j^{w_j} * ssim_M^{w_M}`` over M = 5 scales, each scale a 2x2 average and
    decimation of the previous. Images need at least 161 pixels per side (11 at the fifth
    scale). Negative per-scale values (anticorrelated images) are clamped to 0 before the power,
    as pytorch-msssim does, instead of producing NaN. Colour images: per channel, then averaged.
    Arguments as :func:`ssim`.
    """
    check_reduction(reduction)
    if len(weights) < 1:
        raise InputError("ms_ssim needs at least one scale weight")
    need = ms_ssim_min_size(len(weights))
    p, t = prepare_pair(pred, target, data_range, color, crop_border, min_size=need)
    g = gaussian_window(dtype=p.dtype).to(p.device)
    w = torch.tensor(weights, dtype=p.dtype, device=p.device)
    values = []
    for scale in range(len(weights)):
        full, cs = ssim_components(p, t, g)
        values.append(full if scale == len(weights) - 1 else cs)
        if scale < len(weights) - 1:
            p, t = _downsample(p), _downsample(t)
    stacked = torch.stack(values, dim=-1).clamp_min(0)  # (B, C, scales)
    per_channel = stacked.pow(w).prod(dim=-1)
    return reduce(per_channel.mean(dim=1), reduction)


class SSIM(FullReferenceMetric):
    """Module form of :func:`ssim` (higher is better)."""

    function = staticmethod(ssim)


class MSSSIM(FullReferenceMetric):
    """Module form of :func:`ms_ssim` (higher is better)."""

    function = staticmethod(ms_ssim)
