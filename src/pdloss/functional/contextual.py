"""The contextual loss (CX, Mechrez et al., ECCV 2018) and its bilateral variant (CoBi, Zhang et al.,
CVPR 2019) on feature maps: pure tensor maths, no networks.

One module of the :mod:`pdloss.functional` package, which re-exports :func:`contextual_loss` and
:func:`contextual_bilateral_loss`: ``from pdloss.functional import contextual_loss``.

For one image with prediction features ``u_i`` (i over the N prediction positions) and target
features ``v_j`` (j over the M target positions), both ``C``-vectors:

1. centre both on the target's spatial mean: ``u_i - mean_j v_j``, ``v_j - mean_j v_j``;
2. raw distances ``d_ij``: ``"cosine"`` (CTXDP) unit-normalises the vectors and takes
   ``(1 - cos_ij) / 2`` (clamped at 0: rounding can make ``1 - cos`` slightly negative);
   ``"l2"`` (CTXL2) the squared euclidean distance of the centred, unnormalised vectors (as the
   reference's ``create_using_L2``; centring does not change L2 distances, it only reduces
   cancellation in ``|u|^2 - 2 u.v + |v|^2``);
3. relative distances ``d~_ij = d_ij / (min_k d_ik + 1e-5)``;
4. similarities ``CX_ij = softmax_j((1 - d~_ij) / h)``, i.e. ``exp((1 - d~_ij) / h)`` normalised
   over the target positions (computed as a softmax: no overflow, bandwidth ``h``);
5. CoBi only: ``CX_ij <- (1 - w_s) CX_ij + w_s CXsp_ij`` where ``CXsp`` is the same construction
   on the squared distance between the positions' normalised coordinates ``(row / H, col / W)``;
6. ``CX = mean_j max_i CX_ij`` and the loss ``-log(CX)``.

Since each row of ``CX_ij`` sums to 1, ``CX >= 1 / M``: the loss lies in ``[0, log M]``, 0 when every
target feature has its own exact match in the prediction.

Everything runs in float32 (float64 for float64 inputs) with autocast disabled, so bf16/fp16
features from an autocast region give finite values. Memory: per image one ``N x M`` matrix
(several during the computation); images are processed in chunks of the batch so that a chunk
holds at most ``2**25`` matrix elements, and when gradients are needed each chunk is
checkpointed (recomputed in the backward pass), so the peak memory does not grow with the batch.
``max_positions`` bounds ``N`` and ``M`` themselves.

Deviations from the reference code (roimehrez/contextualLoss), both deliberate:
the target mean is taken per image (the reference averages over the batch too, which makes one
image's loss depend on the others in its batch), and ``CX`` is clamped at the smallest normal
float before the log (the reference has no guard; mathematically ``CX >= 1 / M`` anyway).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from pdloss.errors import InputError
from pdloss.validation import check_reduction, reduce

__all__ = [
    "CONTEXTUAL_DISTANCES",
    "contextual_bilateral_loss",
    "contextual_loss",
    "contextual_similarity",
    "position_coordinates",
    "sample_positions",
]

CONTEXTUAL_DISTANCES = ("cosine", "l2")
EPSILON = 1e-5  # of the relative distance, as in the paper and the reference
_CHUNK_ELEMENTS = 2**25  # N*M elements per chunk of images (128 MiB per float32 matrix)


def _check_features(fu: object, fv: object) -> None:
    for name, t in (("fu", fu), ("fv", fv)):
        if not isinstance(t, torch.Tensor) or t.ndim != 4 or not t.is_floating_point():
            raise InputError(
                f"{name} must be a floating-point tensor (B, C, H, W), got "
                f"{getattr(t, 'dtype', type(t).__name__)} {tuple(getattr(t, 'shape', ()))}"
            )
        if t.shape[2] * t.shape[3] == 0 or t.shape[0] == 0 or t.shape[1] == 0:
            raise InputError(f"{name} is empty: shape {tuple(t.shape)}")
    if fu.shape[:2] != fv.shape[:2]:
        raise InputError(f"fu and fv must share batch and channels, got {tuple(fu.shape)} and {tuple(fv.shape)}")


def _check_options(distance: str, bandwidth: float, max_positions: int | None, spatial_weight: float) -> None:
    if distance not in CONTEXTUAL_DISTANCES:
        raise InputError(f"distance must be one of {CONTEXTUAL_DISTANCES} (CTXDP, CTXL2), got {distance!r}")
    if isinstance(bandwidth, bool) or not isinstance(bandwidth, (int, float)) or not bandwidth > 0:
        raise InputError(f"bandwidth must be a positive number (paper: 0.5), got {bandwidth!r}")
    if max_positions is not None and (
        isinstance(max_positions, bool) or not isinstance(max_positions, int) or max_positions < 1
    ):
        raise InputError(f"max_positions must be None (exact) or a positive integer, got {max_positions!r}")
    if isinstance(spatial_weight, bool) or not isinstance(spatial_weight, (int, float)) or not 0 <= spatial_weight <= 1:
        raise InputError(f"spatial_weight must be a number in [0, 1] (CoBi: 0.1), got {spatial_weight!r}")


def sample_positions(n: int, max_positions: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``max_positions`` distinct indices out of ``range(n)`` (uniform, without replacement), on the
    generator's device: ``torch.randperm(n, generator=generator)[:max_positions]``.

    Under ``torch.compile`` the draw comes from torch's global generator instead (seeded by
    ``torch.manual_seed``): the compiler cannot trace a ``torch.Generator`` object, and using one would
    split the graph. Compiled and eager calls then sample different positions.
    """
    if generator is not None and torch.compiler.is_compiling():
        generator = None
    device = generator.device if generator is not None else torch.device("cpu")
    return torch.randperm(n, generator=generator, device=device)[:max_positions]


def position_coordinates(
    height: int, width: int, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """``(height * width, 2)`` normalised coordinates ``(row / height, col / width)`` of the positions
    in row-major order (the order of ``features.flatten(2)``), as in CoBi's reference code."""
    rows = torch.arange(height, device=device, dtype=dtype) / height
    cols = torch.arange(width, device=device, dtype=dtype) / width
    grid = torch.stack(torch.meshgrid(rows, cols, indexing="ij"), dim=-1)
    return grid.reshape(height * width, 2)


def _raw_distances(u: torch.Tensor, v: torch.Tensor, distance: str) -> torch.Tensor:
    """``(b, C, N)``, ``(b, C, M)`` centred vectors -> ``(b, N, M)`` raw distances, >= 0."""
    if distance == "cosine":
        # F.normalize maps a zero vector (a position equal to the target mean) to 0, so cos = 0.
        un = F.normalize(u, dim=1)
        vn = F.normalize(v, dim=1)
        cos = torch.bmm(un.transpose(1, 2), vn)
        return cos.mul(-0.5).add_(0.5).clamp(min=0.0)
    uu = u.square().sum(1).unsqueeze(2)  # (b, N, 1)
    vv = v.square().sum(1).unsqueeze(1)  # (b, 1, M)
    return torch.baddbmm(uu + vv, u.transpose(1, 2), v, alpha=-2.0).clamp(min=0.0)


def _similarity_from_distances(d: torch.Tensor, bandwidth: float) -> torch.Tensor:
    """Raw distances ``(..., N, M)`` -> ``CX_ij``, normalised over the last (target) axis."""
    # min with indices rather than amin: its backward is a scatter, not a full-size mask.
    scale = (d.min(dim=-1, keepdim=True).values + EPSILON).reciprocal() / bandwidth
    # (1 - d / (min + eps)) / h as one fused pass over the N x M matrix: 1/h - d * scale.
    logits = torch.addcmul(d.new_tensor(1.0 / bandwidth), d, scale, value=-1.0)
    return torch.softmax(logits, dim=-1)


def contextual_similarity(
    u: torch.Tensor, v: torch.Tensor, distance: str = "cosine", bandwidth: float = 0.5
) -> torch.Tensor:
    """The matrix ``CX_ij`` (steps 1-4 of the module docstring) for vectors ``u`` ``(b, C, N)``
    (prediction) and ``v`` ``(b, C, M)`` (target): ``(b, N, M)``, each row summing to 1."""
    mean = v.mean(dim=2, keepdim=True)
    return _similarity_from_distances(_raw_distances(u - mean, v - mean, distance), bandwidth)


def _chunk_loss(
    u: torch.Tensor,
    v: torch.Tensor,
    distance: str,
    bandwidth: float,
    spatial_weight: float,
    spatial: torch.Tensor | None,
) -> torch.Tensor:
    cx = contextual_similarity(u, v, distance, bandwidth)
    if spatial is not None:
        cx = torch.lerp(cx, spatial.to(cx.dtype).expand_as(cx), spatial_weight)
    score = cx.max(dim=1).values.mean(dim=1)  # max over prediction positions, mean over target positions
    return -torch.log(score.clamp_min(torch.finfo(score.dtype).tiny))


def contextual_loss(
    fu: torch.Tensor,
    fv: torch.Tensor,
    distance: str = "cosine",
    bandwidth: float = 0.5,
    max_positions: int | None = None,
    reduction: str = "mean",
    generator: torch.Generator | None = None,
    spatial_weight: float = 0.0,
) -> torch.Tensor:
    """The contextual loss ``-log CX`` between feature maps (see the module docstring).

    Args:
        fu: ``(B, C, H, W)`` features of the prediction (any float dtype).
        fv: ``(B, C, H', W')`` features of the target; H'*W' may differ from H*W (the loss does not
            need aligned data).
        distance: ``"cosine"`` (CTXDP) or ``"l2"`` (CTXL2, squared euclidean distance).
        bandwidth: h (paper and reference: 0.5).
        max_positions: None computes the exact loss over all positions. An integer ``n``: a map
            with more than ``n`` positions is reduced to ``n`` positions drawn uniformly without
            replacement by :func:`sample_positions` with ``generator``; when both maps have the
            same number of positions the same indices are used in both maps (and for every image
            of the batch), as in the reference (``max_sampling_1d_size = 65``, i.e. 4225).
        reduction: ``"none"`` -> ``(B,)``, ``"mean"`` or ``"sum"`` over the batch.
        generator: the random generator of the sampling (None: torch's global one).
        spatial_weight: 0 is the contextual loss; in (0, 1] the contextual bilateral loss (CoBi,
            reference weight 0.1) mixing in the similarity of the positions' coordinates.

    Returns:
        The loss per image (>= 0, at most log of the number of target positions), reduced over the
        batch, in float32 (float64 for float64 inputs). Differentiable in ``fu`` and ``fv``.
    """
    check_reduction(reduction)
    _check_features(fu, fv)
    _check_options(distance, bandwidth, max_positions, spatial_weight)
    dtype = torch.float64 if torch.float64 in (fu.dtype, fv.dtype) else torch.float32
    with torch.autocast(device_type=fu.device.type, enabled=False):
        u = fu.flatten(2).to(dtype)
        v = fv.flatten(2).to(dtype)
        n, m = u.shape[2], v.shape[2]
        index_u = index_v = None
        if max_positions is not None and max(n, m) > max_positions:
            if n == m:
                index_u = index_v = sample_positions(n, max_positions, generator).to(u.device)
            else:
                if n > max_positions:
                    index_u = sample_positions(n, max_positions, generator).to(u.device)
                if m > max_positions:
                    index_v = sample_positions(m, max_positions, generator).to(u.device)
        if index_u is not None:
            u = u.index_select(2, index_u)
        if index_v is not None:
            v = v.index_select(2, index_v)
        spatial = None
        if spatial_weight > 0:
            coords_u = position_coordinates(fu.shape[2], fu.shape[3], u.device, dtype)
            coords_v = position_coordinates(fv.shape[2], fv.shape[3], u.device, dtype)
            if index_u is not None:
                coords_u = coords_u.index_select(0, index_u)
            if index_v is not None:
                coords_v = coords_v.index_select(0, index_v)
            with torch.no_grad():  # coordinates are constants: no graph, no gradient
                squared = (coords_u.unsqueeze(1) - coords_v.unsqueeze(0)).square().sum(-1)
                spatial = _similarity_from_distances(squared, bandwidth).unsqueeze(0)
        per_image = _batched(u, v, distance, float(bandwidth), float(spatial_weight), spatial)
    return reduce(per_image, reduction)


def _batched(u, v, distance, bandwidth, spatial_weight, spatial) -> torch.Tensor:
    """Per image losses ``(B,)``, in chunks of images bounded to ``_CHUNK_ELEMENTS`` matrix elements.

    A chunked loop is the memory bound: a single batched ``bmm`` would hold ``B`` matrices of
    ``N x M`` at once (and autograd would keep them all until backward). With gradients, each
    chunk is checkpointed so that only its inputs stay alive until the backward pass.
    """
    batch, per_image = u.shape[0], u.shape[2] * v.shape[2]
    chunk = max(1, _CHUNK_ELEMENTS // per_image)
    if batch <= chunk:
        return _chunk_loss(u, v, distance, bandwidth, spatial_weight, spatial)
    needs_graph = torch.is_grad_enabled() and (u.requires_grad or v.requires_grad)
    parts = []
    for start in range(0, batch, chunk):
        args = (u[start : start + chunk], v[start : start + chunk], distance, bandwidth, spatial_weight, spatial)
        if needs_graph:
            parts.append(checkpoint(_chunk_loss, *args, use_reentrant=False))
        else:
            parts.append(_chunk_loss(*args))
    return torch.cat(parts)


def contextual_bilateral_loss(
    fu: torch.Tensor,
    fv: torch.Tensor,
    spatial_weight: float = 0.1,
    distance: str = "cosine",
    bandwidth: float = 0.5,
    max_positions: int | None = None,
    reduction: str = "mean",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The contextual bilateral loss (CoBi, Zhang et al. 2019): :func:`contextual_loss` with a
    spatial weight (default 0.1, the reference's ``w_spatial``)."""
    if spatial_weight == 0:
        raise InputError("spatial_weight must be > 0 for CoBi; use contextual_loss for the plain loss")
    return contextual_loss(fu, fv, distance, bandwidth, max_positions, reduction, generator, spatial_weight)
