"""Published "PDL" ports measured against the paper's PDL: the table of docs/losses.md.

The ports themselves (traiNNer-redux ``pd``, saurabh-kataria's transposed projection, erfect2020's
W2) live in :mod:`pdloss.bench.peers` with the other competitor implementations; this script
measures them on photos.

Usage (the table of docs/losses.md, "Published PDL ports"):
    nice -n 15 .venv/bin/python benchmarks/ports.py [--weights vgg16-hed --layer relu4_3] [--size 256]
"""

from __future__ import annotations

import argparse

import torch

from pdloss.bench.peers import PORTS, kataria_transposed, permute_positions, position_directions


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
