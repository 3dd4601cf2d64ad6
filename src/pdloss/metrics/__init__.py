"""Image quality metrics of the paper: PSNR, SSIM, MS-SSIM, LPIPS, NIQE, FID, and KID.

Each matches its reference implementation (see docs/metrics.md for how each was checked).
Heavy parts (networks, parameter files) load on first use; nothing downloads unless asked.
"""

from __future__ import annotations

from pdloss._deprecation import module_getattr
from pdloss.degradations.resize import imresize
from pdloss.metrics.color import rgb_to_y
from pdloss.metrics.evaluate import EvaluationResult, evaluate
from pdloss.metrics.fid import (
    FID,
    FeatureStatistics,
    InceptionFeatures,
    fid_from_features,
    frechet_distance,
    load_statistics,
    save_statistics,
)
from pdloss.metrics.fid_weights import install_fid_weights, load_fid_weights
from pdloss.metrics.kid import KID, kid_from_features, set_metric_from_features
from pdloss.metrics.lpips import LPIPS, lpips_status
from pdloss.metrics.niqe import NIQE, niqe
from pdloss.metrics.niqe_params import install_niqe_params, niqe_params_path
from pdloss.metrics.psnr import PSNR, psnr
from pdloss.metrics.registry import list_metrics
from pdloss.metrics.ssim import MSSSIM, SSIM, ms_ssim, ssim

__all__ = [
    "FID",
    "KID",
    "LPIPS",
    "MSSSIM",
    "NIQE",
    "PSNR",
    "SSIM",
    "EvaluationResult",
    "FeatureStatistics",
    "InceptionFeatures",
    "evaluate",
    "fid_from_features",
    "frechet_distance",
    "imresize",
    "install_fid_weights",
    "install_niqe_params",
    "kid_from_features",
    "list_metrics",
    "load_fid_weights",
    "load_statistics",
    "lpips_status",
    "ms_ssim",
    "niqe",
    "niqe_params_path",
    "psnr",
    "rgb_to_y",
    "save_statistics",
    "set_metric_from_features",
    "ssim",
]

# Old name, for one release: warns once (list_metrics() is the listing).
__getattr__ = module_getattr(__name__, {"METRICS": ("pdloss.metrics.list_metrics()", lambda: tuple(list_metrics()))})
