"""Published "PDL" ports, rewritten here from their description, measured against the paper's PDL.

NOT LOSSES OF PDLOSS: these functions exist to show, with numbers, how three public
implementations that carry the PDL's name differ from the paper's definition (paper eq. 3-5,
:func:`pdloss.functional.projected_distribution_distance`: per channel, the 1-D W1 between the
distributions of that channel's values over positions, i.e. the mean absolute difference of the
sorted values, averaged over channels). They are written from the descriptions in issue 16 (the
published code was read, not run or copied) and are never exported by the package.

- :func:`traiNNer_pd` (traiNNer-redux ``pd`` criterion, VGG19 up to relu4_2, ImageNet mean/std):
  each channel map divided by its sum (+1e-14), flattened in raster order, cumulative sums, the
  sum over positions of their absolute difference, averaged over batch and channels (then times
  ``w_lambda`` 0.01, left out here). No sorting: the cumulative sum runs over *positions*.
- :func:`kataria_transposed` (saurabh-kataria/projected-distribution-loss): features reshaped to
  ``(B, C, N)``, multiplied by ``N x K`` random unit columns (projections across *positions*,
  K=1000 drawn unseeded at every call), then each projection's C values sorted over *channels* and
  compared by a mean absolute difference (over batch and channels), summed over the K projections.
- :func:`erfect_w2` (erfect2020/TransformerPerceptualLoss): per channel, the sorted values over
  positions compared by the root of the mean squared difference (a W2 whose mean runs over batch
  and positions inside the root), summed over channels.

Per-image values here (the batch means inside the ports are taken per image: the table uses one
image per call, where they coincide).

Usage (the table of docs/losses.md, "Published PDL ports"):
    nice -n 15 .venv/bin/python benchmarks/ports.py [--weights vgg16-hed --layer relu4_3] [--size 256]
"""

from __future__ import annotations

import argparse

import torch


def paper_pdl(fu: torch.Tensor, fv: torch.Tensor) -> torch.Tensor:
    """The paper's PDL term (identity projections, p=1), through pdloss: ``(B,)``."""
    from pdloss.functional import projected_distribution_distance

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


def _degrade(image: torch.Tensor, seed: int) -> torch.Tensor:
    """Gaussian noise of sigma 0.1 (on [0, 1]), clamped: the 'prediction' of the table."""
    g = torch.Generator().manual_seed(seed)
    return (image + 0.1 * torch.randn(image.shape, generator=g)).clamp(0, 1)


def measure(weights: str, backbone: str, layer: str, size: int, photos: list[str]) -> list[dict]:
    from pdloss.data.builtin import builtin_photos
    from pdloss.features import build_extractor
    from pdloss.imageio import read_image

    available = builtin_photos()
    extractor = build_extractor(backbone, weights, (layer,))
    rows = []
    for index, name in enumerate(photos):
        if name not in available:
            continue
        image = read_image(available[name])
        top, left = (image.shape[-2] - size) // 2, (image.shape[-1] - size) // 2
        clean = image[:, top : top + size, left : left + size].unsqueeze(0)
        noisy = _degrade(clean, index)
        with torch.no_grad():
            fu = extractor(noisy, (layer,))[layer]
            fv = extractor(clean, (layer,))[layer]
            permuted = permute_positions(fu, seed=index)
            directions = position_directions(fu.shape[-2] * fu.shape[-1], seed=index)
            for port, fn in PORTS.items():
                extra = (directions,) if fn is kataria_transposed else ()
                value = fn(fu, fv, *extra).item()
                after = fn(permuted, fv, *extra).item()
                rows.append({"photo": name, "port": port, "value": value, "permuted": after,
                             "exact": value == after, "change": abs(after - value) / max(abs(value), 1e-30)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="vgg16-hed")
    parser.add_argument("--backbone", default="vgg16")
    parser.add_argument("--layer", default="relu4_3")
    parser.add_argument("--size", type=int, default=256, help="centre crop side (px)")
    parser.add_argument("--photos", default="astronaut,chelsea,coffee,china,flower")
    args = parser.parse_args()
    rows = measure(args.weights, args.backbone, args.layer, args.size, args.photos.split(","))
    print(f"Features: {args.backbone} `{args.layer}` ({args.weights}) of {args.size} px centre crops; prediction = "
          "the crop + Gaussian noise sigma 0.1; permuted = one random permutation of the prediction's feature "
          "positions (all channels alike).\n")
    photos = list(dict.fromkeys(r["photo"] for r in rows))
    print("| port | " + " | ".join(photos) + " | permuted: value unchanged? | largest relative change |")
    print("|---|" + "---|" * len(photos) + "---|---|")
    for port in PORTS:
        mine = [r for r in rows if r["port"] == port]
        cells = " | ".join(f"{r['value']:.4g} -> {r['permuted']:.4g}" for r in mine)
        exact = "exactly, all photos" if all(r["exact"] for r in mine) else (
            "to float rounding" if max(r["change"] for r in mine) < 1e-5 else "no")
        print(f"| {port} | {cells} | {exact} | {max(r['change'] for r in mine):.2e} |")


if __name__ == "__main__":
    main()
