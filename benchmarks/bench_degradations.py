"""Time per 256x256 crop of each task's degradation, against a VGG16 (relu4_3) forward pass.

Usage: python benchmarks/bench_degradations.py [--size 256] [--batch 8] [--repeats 5]

Each degradation runs on a batch of crops (as a batched training step would) and on one crop
(as a DataLoader worker does per item); times are medians over the repeats, divided by the batch.
The VGG16 reference is the forward pass of one crop up to relu4_3 with random weights (the
weights do not change the time), without gradients.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from pdloss.degradations import build_degradation, list_tasks


def vgg16_relu4_3() -> tuple[str, Callable[[torch.Tensor], object]]:
    """VGG16 up to relu4_3 in torchvision's layer layout, random weights: (description, forward)."""
    try:  # the project's extractor, when it provides this name
        from pdloss.features import VGGFeatures  # type: ignore[attr-defined]

        net = VGGFeatures("vgg16", layers=["relu4_3"], weights=None)
        return "pdloss.features.VGGFeatures", net
    except (ImportError, TypeError, AttributeError):
        pass
    try:
        from pdloss.features import VGG

        trunk = VGG("vgg16", "relu4_3")
        return "pdloss.features.VGG", lambda x: trunk(x, ["relu4_3"])
    except (ImportError, TypeError, AttributeError):
        pass
    layers: list[nn.Module] = []
    channels = 3
    for item in [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512]:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(channels, int(item), 3, padding=1), nn.ReLU(inplace=True)]
            channels = int(item)
    return "plain torch.nn layers", nn.Sequential(*layers).eval()


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up (caches, allocator, lazy imports)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    batch = torch.rand(args.batch, 3, args.size, args.size)
    one = batch[:1].clone()
    generator = torch.Generator().manual_seed(0)

    vgg_name, vgg = vgg16_relu4_3()
    with torch.no_grad():
        vgg_ms = median_time(lambda: vgg(one), args.repeats) * 1e3

    cpu = platform.processor() or platform.machine()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {cpu}")
    print(f"crop {args.size}x{args.size}; VGG16 forward to relu4_3 ({vgg_name}), one crop: {vgg_ms:.1f} ms")
    header = f"| task | ms/crop (batch {args.batch}) | ms/crop (batch 1) | fraction of VGG16 forward |"
    print(header)
    print("|---|---:|---:|---:|")
    for name in list_tasks():
        task = build_degradation(name)
        batched = median_time(lambda t=task: t(batch, generator), args.repeats) * 1e3 / args.batch
        single = median_time(lambda t=task: t(one, generator), args.repeats) * 1e3
        print(f"| {name} | {batched:.2f} | {single:.2f} | {max(batched, single) / vgg_ms:.2f} |")


if __name__ == "__main__":
    main()
