"""Projection matrices for the Projected Distribution Loss (paper §4 and §5.8, Table 8).

``build_projection(kind, channels, factor)`` (also ``make_projection``, the name the design's public
API contract gives it) returns a ``(factor * channels, channels)`` matrix
whose rows are the directions the features are projected on before the 1-D distances:

- ``"id"``: the identity; each channel's marginal distribution (the paper's choice).
- ``"r2p"``: each row combines two distinct, randomly picked channels with random weights (unit norm).
- ``"rpp"``: identity rows plus a small random perturbation, renormalised (close to ``"id"``).
- ``"rsp"``: rows uniform on the unit sphere (sliced Wasserstein).
"""

from __future__ import annotations

import torch

from pdloss.errors import InputError

__all__ = ["PROJECTION_KINDS", "build_projection", "make_projection"]

PROJECTION_KINDS = ("id", "r2p", "rpp", "rsp")


def build_projection(
    kind: str,
    channels: int,
    factor: int = 1,
    generator: torch.Generator | None = None,
    *,
    perturbation: float = 0.01,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """A ``(factor * channels, channels)`` projection matrix of the given kind.

    Args:
        kind: ``"id"``, ``"r2p"``, ``"rpp"`` or ``"rsp"``.
        channels: feature channels C (512 for VGG16 conv4).
        factor: number of projections as a multiple of C (paper: 1, 2, 4, 8). ``"id"`` takes 1.
        generator: a CPU ``torch.Generator`` for reproducible draws.
        perturbation: standard deviation of the ``"rpp"`` perturbation.
        dtype: floating dtype of the result (on the CPU; move it where it is used).
    """
    if kind not in PROJECTION_KINDS:
        raise InputError(f"projection kind must be one of {PROJECTION_KINDS}, got {kind!r}")
    if not isinstance(channels, int) or channels < 1:
        raise InputError(f"channels must be a positive integer, got {channels!r}")
    if not isinstance(factor, int) or factor < 1:
        raise InputError(f"factor must be a positive integer, got {factor!r}")
    if kind == "id":
        if factor != 1:
            raise InputError("the identity projection has exactly one row per channel: use factor=1")
        return torch.eye(channels, dtype=dtype)
    rows = factor * channels
    if kind == "rsp":
        directions = torch.randn(rows, channels, generator=generator, dtype=torch.float64)
    elif kind == "rpp":
        directions = torch.eye(channels, dtype=torch.float64).repeat(factor, 1)
        directions += perturbation * torch.randn(rows, channels, generator=generator, dtype=torch.float64)
    else:  # r2p
        if channels < 2:
            raise InputError("r2p needs at least two channels")
        first = torch.randint(channels, (rows,), generator=generator)
        # An offset in [1, C-1] makes the second channel always differ from the first.
        second = (first + torch.randint(1, channels, (rows,), generator=generator)) % channels
        coefficients = torch.randn(rows, 2, generator=generator, dtype=torch.float64)
        directions = torch.zeros(rows, channels, dtype=torch.float64)
        directions.scatter_(1, torch.stack([first, second], 1), coefficients)
    return (directions / directions.norm(dim=1, keepdim=True)).to(dtype)


# The documented public name (``from pdloss.projections import make_projection``): a stable alias of
# build_projection, not deprecated, since user code and the design's API contract use it.
make_projection = build_projection
