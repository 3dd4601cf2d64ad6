"""Peer implementations the benchmarks measure pdloss against, on identical inputs.

They are written the way other code does it, on purpose (they are the competition, not library
code; :mod:`pdloss.functional` is the real implementation):

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

Published "PDL" ports (the table of docs/losses.md, ``benchmarks/ports.py``): three public
implementations that carry the PDL's name, rewritten from their description (the published code
was read, not run or copied), to show with numbers how they differ from the paper's definition
(:func:`paper_pdl`: per channel, the 1-D W1 between the distributions of that channel's values
over positions, averaged over channels). Not losses of pdloss.

- :func:`traiNNer_pd` (traiNNer-redux ``pd``): each channel map divided by its sum (+1e-14),
  flattened in raster order, cumulative sums, the sum over positions of their absolute
  difference, averaged over channels. No sorting: the cumulative sum runs over *positions*.
- :func:`kataria_transposed` (saurabh-kataria/projected-distribution-loss): ``(B, C, N)`` features
  times ``N x K`` random unit columns (projections across *positions*), each projection's C
  values sorted over *channels*, mean absolute difference over channels, summed over the K.
- :func:`erfect_w2` (erfect2020/TransformerPerceptualLoss): per channel, the sorted values over
  positions compared by the root of the mean squared difference, summed over channels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pdloss.errors import InputError
from pdloss.functional import projected_distribution_distance


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


# -- published PDL ports ---------------------------------------------------------------------------


def paper_pdl(fu: torch.Tensor, fv: torch.Tensor) -> torch.Tensor:
    """The paper's PDL term (identity projections, p=1), through pdloss: ``(B,)``."""
    return projected_distribution_distance(fu, fv, None, 1, reduction="none")


def traiNNer_pd(fu: torch.Tensor, fv: torch.Tensor) -> torch.Tensor:
    """traiNNer-redux ``pd``: L1 distance of raster-order cumulative sums of sum-normalised channel maps."""
    u = fu / (fu.sum(dim=(2, 3), keepdim=True) + 1e-14)
    v = fv / (fv.sum(dim=(2, 3), keepdim=True) + 1e-14)
    cdf_u, cdf_v = u.flatten(2).cumsum(-1), v.flatten(2).cumsum(-1)
    return (cdf_u - cdf_v).abs().sum(-1).mean(-1)


def position_directions(positions: int, count: int = 1000, seed: int = 0) -> torch.Tensor:
    """``(N, K)`` unit columns in position space, as the transposed port draws (here seeded)."""
    w = torch.randn(positions, count, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return (w / w.norm(dim=0, keepdim=True)).float()


def kataria_transposed(fu: torch.Tensor, fv: torch.Tensor, directions: torch.Tensor | None = None) -> torch.Tensor:
    """saurabh-kataria: project across positions, sort over channels; mean over C, sum over K."""
    u, v = fu.flatten(2), fv.flatten(2)  # (B, C, N)
    if directions is None:
        directions = position_directions(u.shape[-1])
    directions = directions.to(device=u.device, dtype=u.dtype)
    pu = torch.sort(u @ directions, dim=1).values  # (B, C, K), sorted over channels
    pv = torch.sort(v @ directions, dim=1).values
    return (pu - pv).abs().mean(1).sum(-1)


def erfect_w2(fu: torch.Tensor, fv: torch.Tensor) -> torch.Tensor:
    """erfect2020: per channel sort over positions, root of the mean squared difference; sum over C."""
    su = torch.sort(fu.flatten(2), dim=-1).values
    sv = torch.sort(fv.flatten(2), dim=-1).values
    return (su - sv).square().mean(-1).sqrt().sum(-1)


PORTS = {
    "paper PDL (pdloss)": paper_pdl,
    "traiNNer-redux pd (cumsum)": traiNNer_pd,
    "saurabh-kataria (transposed)": kataria_transposed,
    "erfect2020 (W2, sum over C)": erfect_w2,
}


def permute_positions(f: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """The same random permutation of the H*W positions applied to every channel: ``f``'s shape."""
    b, c, h, w = f.shape
    order = torch.randperm(h * w, generator=torch.Generator().manual_seed(seed)).to(f.device)
    return f.flatten(2)[:, :, order].reshape(b, c, h, w)
