"""The sort inside the PDL: torch.sort against pdloss's NumPy path (``pdloss.functional.sort_backend``).

Measures, interleaved with warm-up and repeats (median ms), ``wasserstein_1d`` on relu4_3-shaped
features ``(B, 512, N)`` for N = positions of a crop (crop / 8 squared):

- metric use (no gradient): sorted values only;
- loss use (forward + backward into the prediction): values and permutation.

Columns: ``sort_backend("torch")``, ``sort_backend("numpy")`` (NumPy wherever it applies) and
``"auto"`` (pdloss's default: NumPy for values alone, and for the permutation on rows of at most
256 values).

Usage: python benchmarks/bench_sort.py [--crops 128,256,512,1024] [--batch 8] [--repeats 7]
Prints a markdown table; docs/benchmarks.md quotes it.
"""

from __future__ import annotations

import argparse

import torch

from pdloss.bench.measure import interleaved, machine_info
from pdloss.functional import sort_backend, wasserstein_1d


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crops", default="128,256,512,1024")
    parser.add_argument("--batch", type=int, default=8, help="images (1 for crops of 1024 and up)")
    parser.add_argument("--channels", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=1)
    args = parser.parse_args()
    info = machine_info("cpu")
    print(f"# {info['device_name']}, torch {info['torch']}, numpy {info['numpy']}, load {info['load_average']}")
    print("| crop | features (B, C, N) | use | torch.sort (ms) | NumPy path (ms) | NumPy / torch speed-up | "
          "auto, pdloss's default (ms) |")
    print("|---|---|---|---|---|---|---|")
    generator = torch.Generator().manual_seed(0)
    for crop in (int(c) for c in args.crops.split(",")):
        batch = args.batch if crop < 1024 else 1
        n = (crop // 8) ** 2
        # Rectified Gaussian: about half the entries are exact zeros (ties), as in ReLU features.
        x = torch.randn(batch, args.channels, n, generator=generator).relu()
        y = torch.randn(batch, args.channels, n, generator=generator).relu()

        def metric(backend, x=x, y=y):
            def run():
                with sort_backend(backend), torch.no_grad():
                    wasserstein_1d(x, y)

            return run

        def loss(backend, x=x, y=y):
            def run():
                u = x.clone().requires_grad_(True)
                with sort_backend(backend):
                    wasserstein_1d(u, y).sum().backward()

            return run

        for use, make in (("metric (no grad)", metric), ("loss (fwd+bwd)", loss)):
            results = interleaved({b: make(b) for b in ("torch", "numpy", "auto")}, args.repeats, args.warmup,
                                  "cpu", memory=False)
            t, q, a = (results[b].median for b in ("torch", "numpy", "auto"))
            print(f"| {crop} | ({batch}, {args.channels}, {n}) | {use} | {t * 1e3:.1f} | {q * 1e3:.1f} | "
                  f"{t / q:.2f}x | {a * 1e3:.1f} |", flush=True)


if __name__ == "__main__":
    main()
