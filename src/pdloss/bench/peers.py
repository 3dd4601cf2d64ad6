"""Peer implementations the benchmarks measure pdloss against, on identical inputs.

They are written the way other code does it, on purpose (they are the competition, not library
code; :mod:`pdloss.functional` and :mod:`pdloss.contextual` are the real implementations):

- :func:`pdl_channel_loop`: the straightforward per-channel loop of the PDL's distribution term
  (one ``torch.sort`` pair per feature channel, Python loop over C).
- :func:`sliced_published`: the sliced-Wasserstein loss as published texture-synthesis code
  writes it (Heitz et al., CVPR 2021, PyTorch version): project with ``einsum('bdn,md->bmn')``,
  ``torch.sort`` every projection along the positions, mean of the squared (``p=2``, as
  published) or absolute (``p=1``) differences of the sorted lists.
- :func:`contextual_reference`: the reference PyTorch formulation of the contextual loss
  (Mechrez et al. 2018): the target mean taken over the whole batch, one batch-wide
  ``(B, N, M)`` similarity matrix built with ``bmm``, ``exp`` normalised by its sum (no softmax),
  ``-log`` of the mean of the column maxima.
- :func:`pot_sliced_per_image`: POT's ``ot.sliced_wasserstein_distance`` called once per image
  with given projections (POT is installed in ``benchmarks/.venv-peers``, see
  ``benchmarks/setup_peers.sh``).

All take features ``(B, C, H, W)`` and return the per-image values ``(B,)``, computed in at least
float32 (float64 inputs stay float64).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pdloss.errors import InputError


def _up(t: torch.Tensor) -> torch.Tensor:
    return t.to(torch.promote_types(t.dtype, torch.float32))


def pdl_channel_loop(fu: torch.Tensor, fv: torch.Tensor) -> torch.Tensor:
    """PDL-Id (p=1, equal sizes) channel by channel: ``mean_c mean_n |sort(fu_c) - sort(fv_c)|``."""
    fu, fv = _up(fu), _up(fv)
    total = fu.new_zeros(fu.shape[0])
    channels = fu.shape[1]
    for c in range(channels):
        su = torch.sort(fu[:, c].reshape(fu.shape[0], -1), dim=-1).values
        sv = torch.sort(fv[:, c].reshape(fv.shape[0], -1), dim=-1).values
        total = total + (su - sv).abs().mean(-1)
    return total / channels


def sliced_published(fu: torch.Tensor, fv: torch.Tensor, directions: torch.Tensor, p: int = 2) -> torch.Tensor:
    """Heitz et al.'s slicing loss on one layer with given unit ``directions`` ``(K, C)``.

    p=2 (published): per image the mean over projections and positions of the squared differences
    of the sorted projections (mean of ``W_2^2`` over projections); p=1: of the absolute ones
    (the PDL with that projection).
    """
    b, c = fu.shape[:2]
    u = _up(fu.reshape(b, c, -1))
    v = _up(fv.reshape(b, c, -1))
    directions = directions.to(u.dtype)
    pu = torch.einsum("bdn,md->bmn", u, directions)
    pv = torch.einsum("bdn,md->bmn", v, directions)
    diff = torch.sort(pu, dim=2)[0] - torch.sort(pv, dim=2)[0]
    return (diff.square() if p == 2 else diff.abs()).flatten(1).mean(1)


def contextual_reference(
    fu: torch.Tensor, fv: torch.Tensor, distance: str = "cosine", bandwidth: float = 0.5
) -> torch.Tensor:
    """The contextual loss in the reference formulation, one batch-wide similarity matrix.

    ``distance="cosine"``: raw distance ``(1 - cos) / 2`` of vectors centred on the target mean
    (over batch and positions) and unit-normalised; ``"l2"``: squared euclidean distance.
    Relative distance ``d / (min_j d + 1e-5)``, ``w = exp((1 - d~) / h)``, ``CX_ij = w / sum_j w``,
    per image ``-log(mean_j max_i CX_ij)``.
    """
    b, c = fu.shape[:2]
    fu, fv = _up(fu), _up(fv)
    mean = fv.mean(dim=(0, 2, 3), keepdim=True)  # batch-wide, as the reference does
    u = (fu - mean).reshape(b, c, -1)
    v = (fv - mean).reshape(b, c, -1)
    if distance == "cosine":
        cos = torch.bmm(F.normalize(u, dim=1).transpose(1, 2), F.normalize(v, dim=1))
        raw = (1 - cos) / 2
    elif distance == "l2":
        uu = u.square().sum(1).unsqueeze(2)
        vv = v.square().sum(1).unsqueeze(1)
        raw = (uu - 2 * torch.bmm(u.transpose(1, 2), v) + vv).clamp(min=0)
    else:
        raise InputError(f"distance must be 'cosine' or 'l2', got {distance!r}")
    relative = raw / (raw.min(dim=2, keepdim=True)[0] + 1e-5)
    w = torch.exp((1 - relative) / bandwidth)
    cx = w / w.sum(dim=2, keepdim=True)
    return -torch.log(cx.max(dim=1)[0].mean(dim=1))


def pot_version() -> str | None:
    """The installed POT's version, or None when POT is not importable."""
    try:
        import ot
    except ImportError:
        return None
    return ot.__version__


def pot_sliced_per_image(fu: torch.Tensor, fv: torch.Tensor, directions: torch.Tensor, p: int = 1) -> torch.Tensor:
    """``ot.sliced_wasserstein_distance`` (torch backend, differentiable) per image, on the positions
    as samples ``(N, C)`` and ``directions`` ``(K, C)`` as its ``projections`` ``(C, K)``.

    POT returns ``(mean_k W_p^p)^(1/p)``: for p=1 the PDL with that projection.
    """
    try:
        import ot
    except ImportError as error:
        raise ImportError(
            "POT is not installed: run `bash benchmarks/setup_peers.sh` and use benchmarks/.venv-peers/bin/python"
        ) from error
    b, c = fu.shape[:2]
    u = _up(fu.reshape(b, c, -1)).transpose(1, 2)
    v = _up(fv.reshape(b, c, -1)).transpose(1, 2)
    projections = directions.t().contiguous().to(u.dtype)
    values = [ot.sliced_wasserstein_distance(u[i], v[i], projections=projections, p=p) for i in range(b)]
    return torch.stack(values)
