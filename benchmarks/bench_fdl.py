"""Peak memory and time of the FDL term (pdloss.frequency) against the published layout, per crop.

The FDL's memory hog is the projection convolution: 256 kernels of ``C x 5 x 5`` over every
position of five VGG19 maps, whose outputs (and sort indices) plain autograd keeps for the
backward pass. Measured here, on the five-stage VGG19 features (relu1_2 ... relu5_4) of one
image (the VGG pass itself is not counted), forward + backward into the prediction's features:

- ``published layout``: plain autograd, all K projections at once, torch.abs/torch.angle,
  conv2d, sort, mean absolute difference (the eezkni/FDL computation, rewritten here);
- ``pdloss, chunk_size=None``: pdloss's fused node (gradient computed in the forward pass), all K
  projections at once;
- ``pdloss, chunk_size="auto"``: the default, chunks of about 2^22 projected values.

Peak memory: growth of the process's resident-set high-water mark over the call (Linux
``VmHWM``, reset through ``/proc/self/clear_refs`` after ``malloc_trim``: pdloss.bench.measure's
PeakMemory), so every page the call touches counts once. Times: wall and process CPU seconds
(the machine is shared; CPU seconds are less sensitive to other jobs).

Usage: nice -n 15 .venv/bin/python benchmarks/bench_fdl.py [--sizes 256,512] [--weights vgg19-imagenet]
       nice -n 15 .venv/bin/python benchmarks/bench_fdl.py --terms   (the terms alone at relu4_3, 8 x 128 px)
       nice -n 15 .venv/bin/python benchmarks/bench_fdl.py --scale   (FDL and PDL values: the lambda scale)
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from pdloss.bench.measure import PeakMemory, machine_info, track_cpu_memory
from pdloss.functional.frequency import frequency_distribution_distance, make_patch_projections
from pdloss.losses.fdl import FDL_LAYERS_VGG19


def published_layout(fu: torch.Tensor, fv: torch.Tensor, kernels: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """The published computation under plain autograd (for the memory comparison only)."""

    def swd(x, y):
        px = F.conv2d(x, kernels, stride=stride).flatten(2)
        py = F.conv2d(y, kernels, stride=stride).flatten(2)
        return (torch.sort(px, dim=-1).values - torch.sort(py, dim=-1).values).abs().mean((1, 2))

    su, sv = torch.fft.fft2(fu), torch.fft.fft2(fv)
    return swd(su.abs(), sv.abs()) + swd(torch.angle(su), torch.angle(sv))


def features(size: int, weights: str) -> tuple[dict, dict]:
    from pdloss.features import build_extractor

    extractor = build_extractor("vgg19", weights, FDL_LAYERS_VGG19)
    g = torch.Generator().manual_seed(0)
    clean = torch.nn.functional.avg_pool2d(torch.rand(1, 3, size, size, generator=g), 3, stride=1, padding=1)
    noisy = (clean + 0.1 * torch.randn(clean.shape, generator=g)).clamp(0, 1)
    with torch.no_grad():
        return extractor(noisy, FDL_LAYERS_VGG19), extractor(clean, FDL_LAYERS_VGG19)


def run(variant: str, fu: dict, fv: dict, kernels: dict) -> tuple[float, float, float, float]:
    leaves = {layer: f.clone().requires_grad_(True) for layer, f in fu.items()}
    with PeakMemory("cpu") as peak:
        wall, cpu = time.perf_counter(), time.process_time()
        total = 0
        for layer, f in leaves.items():
            if variant == "published layout":
                total = total + published_layout(f, fv[layer], kernels[layer]).sum()
            else:
                chunk = None if variant.endswith("None") else "auto"
                total = total + frequency_distribution_distance(f, fv[layer], kernels[layer], chunk_size=chunk)
        total.backward()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return peak.mib, wall, cpu, float(total.detach())


def terms_at_one_layer(batch: int, size: int, weights: str, repeats: int = 3) -> None:
    """The feature terms alone on VGG16 relu4_3 features (the bench's Table 1 layer): FDL's, the
    PDL's and the L1-perceptual's, forward + backward, median process CPU seconds and peak MiB."""
    from pdloss.features import build_extractor
    from pdloss.functional import perceptual_distance, projected_distribution_distance

    extractor = build_extractor("vgg16", weights, ("relu4_3",))
    g = torch.Generator().manual_seed(0)
    clean = torch.rand(batch, 3, size, size, generator=g)
    noisy = (clean + 0.1 * torch.randn(clean.shape, generator=g)).clamp(0, 1)
    with torch.no_grad():
        fu, fv = extractor(noisy, ("relu4_3",))["relu4_3"], extractor(clean, ("relu4_3",))["relu4_3"]
    kernels = make_patch_projections(256, fu.shape[1], 5, g)
    terms = {
        "FDL (256 x 5x5 projections, amplitude + phase)": lambda a: frequency_distribution_distance(a, fv, kernels),
        "PDL-Id": lambda a: projected_distribution_distance(a, fv),
        "L1-perceptual": lambda a: perceptual_distance(a, fv),
    }
    print(f"\nFeature terms alone on `relu4_3` features {tuple(fu.shape)} ({weights}), forward + backward:\n")
    print("| term | CPU (s), median | wall (s), median | peak memory (MiB) |")
    print("|---|---|---|---|")
    for name, fn in terms.items():
        cpu, wall = [], []
        for _ in range(repeats + 1):
            leaf = fu.clone().requires_grad_(True)
            with PeakMemory("cpu") as peak:
                w, c = time.perf_counter(), time.process_time()
                fn(leaf).backward()
                wall.append(time.perf_counter() - w)
                cpu.append(time.process_time() - c)
        cpu, wall = sorted(cpu[1:]), sorted(wall[1:])
        print(f"| {name} | {cpu[len(cpu) // 2]:.3f} | {wall[len(wall) // 2]:.3f} | {peak.mib:.0f} |", flush=True)


def scale(photos: tuple[str, ...] = ("astronaut", "chelsea"), crop: int = 64) -> None:
    """FDL (vgg19-imagenet, five stages) against the PDL distance (vgg16-hed relu4_3) on 64 px crops
    of built-in photos against three degraded copies: what sets the FDL's lambda."""
    from pdloss.data.builtin import builtin_photos
    from pdloss.imageio import read_image
    from pdloss.losses import FrequencyDistributionLoss, ProjectedDistributionLoss

    found = builtin_photos()
    clean = torch.stack([read_image(found[n])[:, 100 : 100 + crop, 100 : 100 + crop] for n in photos])
    g = torch.Generator().manual_seed(0)
    degraded = {
        "noise sigma 100/255": (clean + 100 / 255 * torch.randn(clean.shape, generator=g)).clamp(0, 1),
        "noise sigma 10/255": (clean + 10 / 255 * torch.randn(clean.shape, generator=g)).clamp(0, 1),
        "3x3 box blur": F.avg_pool2d(clean, 3, 1, 1),
    }
    losses = {
        "FDL": FrequencyDistributionLoss(weights="vgg19-imagenet", reduction="none", small_maps="shrink"),
        "FDL, fft_norm=ortho": FrequencyDistributionLoss(
            weights="vgg19-imagenet", reduction="none", small_maps="shrink", fft_norm="ortho"
        ),
        "FDL without relu5_4": FrequencyDistributionLoss(
            weights="vgg19-imagenet", reduction="none", layers=FDL_LAYERS_VGG19[:4]
        ),
        "PDL distance (vgg16-hed relu4_3)": ProjectedDistributionLoss(
            weight=1.0, pixel_weight=0.0, weights="vgg16-hed", reduction="none"
        ),
    }
    print(f"\nValues per photo ({', '.join(photos)}; {crop} px crops at (100, 100)):\n")
    print("| loss | " + " | ".join(degraded) + " |")
    print("|---|" + "---|" * len(degraded))
    with torch.no_grad():
        for name, loss_fn in losses.items():
            cells = [" / ".join(f"{v:.4g}" for v in loss_fn(d, clean).tolist()) for d in degraded.values()]
            print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
        cells = [" / ".join(f"{v:.4g}" for v in (d - clean).abs().mean((1, 2, 3)).tolist()) for d in degraded.values()]
        print("| pixel L1 | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256,512")
    parser.add_argument("--weights", default="vgg19-imagenet")
    parser.add_argument("--variants", default="pdloss, chunk_size=\"auto\";pdloss, chunk_size=None;published layout")
    parser.add_argument("--scale", action="store_true", help="instead: FDL and PDL values of degraded 64 px crops")
    parser.add_argument("--terms", action="store_true",
                        help="instead: FDL, PDL and L1 feature terms alone on vgg16-hed relu4_3 of 8 x 128 px")
    args = parser.parse_args()
    if not track_cpu_memory():
        raise SystemExit("peak memory needs Linux /proc/self/clear_refs and glibc malloc_trim")
    info = machine_info("cpu")
    print(f"# {info['device_name']}, torch {info['torch']}, {info['torch_threads']} threads, "
          f"load {info['load_average']}, {info['time_utc']}")
    if args.scale:
        scale()
        return
    if args.terms:
        terms_at_one_layer(8, 128, "vgg16-hed")
        return
    print("| crop | implementation | peak memory (MiB) | wall (s) | CPU (s) | value |")
    print("|---|---|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        fu, fv = features(size, args.weights)
        g = torch.Generator().manual_seed(0)
        kernels = {layer: make_patch_projections(256, f.shape[1], 5, g) for layer, f in fu.items()}
        for variant in args.variants.split(";"):
            mib, wall, cpu, value = run(variant, fu, fv, kernels)
            print(f"| {size} | {variant} | {mib:.0f} | {wall:.1f} | {cpu:.1f} | {value:.6g} |", flush=True)


if __name__ == "__main__":
    main()
