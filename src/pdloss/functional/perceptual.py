"""Point-wise distances: the perceptual loss's feature term (paper eq. 6) and the pixel fidelity term."""

from __future__ import annotations

import torch

from pdloss.errors import InputError
from pdloss.functional.wasserstein import _as_sort_dtype, _check_p
from pdloss.validation import check_reduction, reduce

__all__ = ["perceptual_distance", "pixel_distance"]


def perceptual_distance(fu: torch.Tensor, fv: torch.Tensor, p: float = 1, reduction: str = "mean") -> torch.Tensor:
    """The feature term of the perceptual loss (paper eq. 6, Johnson et al.).

    Args:
        fu: ``(B, C, H, W)`` features of the prediction.
        fv: ``(B, C, H, W)`` features of the target, same shape as ``fu``.
        p: 1 (L1) or 2 (L2): per image the mean of ``|fu - fv|^p`` over C*H*W.
        reduction: ``"none"`` -> ``(B,)``, ``"mean"`` or ``"sum"``.
    """
    check_reduction(reduction)
    p = _check_p(p)
    if not isinstance(fu, torch.Tensor) or not isinstance(fv, torch.Tensor) or fu.shape != fv.shape or fu.ndim != 4:
        raise InputError(
            f"fu and fv must be (B, C, H, W) tensors of one shape, got {getattr(fu, 'shape', fu)} and "
            f"{getattr(fv, 'shape', fv)}"
        )
    diff = (_as_sort_dtype(fu) - _as_sort_dtype(fv)).abs()
    per_image = (diff if p == 1 else diff.pow(p)).flatten(1).mean(1)
    return reduce(per_image, reduction)


def pixel_distance(u: torch.Tensor, v: torch.Tensor, q: float = 1) -> torch.Tensor:
    """Per image mean of ``|u - v|^q`` over C*H*W, in at least float32: ``(B,)``. q=1 is L1, q=2 is MSE."""
    dtype = torch.promote_types(torch.promote_types(u.dtype, v.dtype), torch.float32)
    diff = (u.to(dtype) - v.to(dtype)).abs()
    return (diff if q == 1 else diff.pow(q)).flatten(1).mean(1)
