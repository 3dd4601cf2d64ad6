"""Forward+backward time of the PDL against the L1-perceptual loss on the same features.

Measures, interleaved in one process with warm-up and repeats (median and interquartile range):

1. the distribution term alone on given relu4_3 features (projected_distribution_distance)
   against the L1 feature term (perceptual_distance), forward + backward;
2. the whole loss (VGG pass of prediction and target + term + pixel L1) for PDL and
   L1-perceptual, forward + backward through the VGG to the prediction.

Usage: python benchmarks/bench_loss_overhead.py [--batch 8] [--size 128] [--weights vgg16-hed]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from pdloss import ProjectedDistributionLoss
from pdloss.functional import perceptual_distance, projected_distribution_distance
from pdloss.losses import PerceptualLoss


def measure(fns: dict, repeats: int, warmup: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    for _ in range(repeats):
        for name, fn in fns.items():  # interleaved: drifts in machine load hit every candidate alike
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def summary(samples: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(samples, n=4)
    return statistics.median(samples), q[0], q[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--weights", default="vgg16-hed")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    u = torch.rand(args.batch, 3, args.size, args.size)
    v = torch.rand(args.batch, 3, args.size, args.size)
    pdl = ProjectedDistributionLoss(weight=0.01, weights=args.weights)
    l1p = PerceptualLoss(weight=0.01, p=1, weights=args.weights)
    with torch.no_grad():
        fu0 = pdl.extractor(u, ["relu4_3"])["relu4_3"]
        fv = pdl.extractor(v, ["relu4_3"])["relu4_3"]

    def term(fn):
        def run():
            fu = fu0.clone().requires_grad_(True)
            fn(fu, fv).backward()

        return run

    def full(loss_fn):
        def run():
            x = u.clone().requires_grad_(True)
            loss_fn(x, v).backward()

        return run

    candidates = {
        "PDL term (sort, W1)": term(projected_distribution_distance),
        "L1 feature term": term(perceptual_distance),
        "PDL loss (VGG + term)": full(pdl),
        "L1-perceptual loss (VGG + term)": full(l1p),
    }
    times = measure(candidates, args.repeats, args.warmup)
    print(f"# batch {args.batch}, {args.size}x{args.size}, VGG16 relu4_3 ({pdl.weights_label}), "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    print("| measurement (forward + backward) | median ms | IQR ms |")
    print("|---|---|---|")
    for name, samples in times.items():
        median, q1, q3 = summary(samples)
        print(f"| {name} | {median * 1e3:.1f} | {q1 * 1e3:.1f}-{q3 * 1e3:.1f} |")
    pdl_full = statistics.median(times["PDL loss (VGG + term)"])
    l1_full = statistics.median(times["L1-perceptual loss (VGG + term)"])
    pdl_term = statistics.median(times["PDL term (sort, W1)"])
    l1_term = statistics.median(times["L1 feature term"])
    print(f"\nPDL loss / L1-perceptual loss time: {pdl_full / l1_full:.3f}")
    print(f"PDL term / L1 term time: {pdl_term / l1_term:.2f}")
    print(f"PDL term as a share of the PDL loss: {100 * pdl_term / pdl_full:.1f}%")


if __name__ == "__main__":
    main()
