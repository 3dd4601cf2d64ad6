"""Forward+backward time per 256x256 crop of each restoration network on this machine's CPU.

A "crop" is a 256x256 target: same-size tasks take a 256x256 input, sr4x a 64x64 one. The
backward pass is that of an L1 loss over every scale the model outputs (SRN and PSS-NSC train
with a multi-scale loss). Prints a markdown table (and JSON with --json).

    .venv/bin/python benchmarks/bench_models.py [--models srn edsr ...] [--batch 1] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time

import torch

from pdloss.models import MODEL_SPECS, build_model, count_parameters


def forward_macs(model: torch.nn.Module, x: torch.Tensor) -> int:
    """Multiply-accumulates of the (transposed) convolutions in one forward pass of ``x``."""
    total = 0

    def hook(module, inputs, output) -> None:
        nonlocal total
        k = module.kernel_size[0] * module.kernel_size[1]
        if isinstance(module, torch.nn.ConvTranspose2d):  # every input pixel meets every tap
            total += inputs[0].numel() * module.out_channels * k // module.groups
        else:
            total += output.numel() * module.in_channels * k // module.groups

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    with torch.no_grad():
        model(x, return_all_scales=True)
    for h in handles:
        h.remove()
    return total


def bench(name: str, batch: int, repeats: int, crop: int = 256) -> dict:
    spec = MODEL_SPECS[name]
    model = build_model(name)
    scale = 4 if spec.task == "sr4x" else 1
    x = torch.rand(batch, 3, crop // scale, crop // scale)
    y = torch.rand(batch, 3, crop, crop)

    def step() -> None:
        model.zero_grad(set_to_none=True)
        outs = model(x, return_all_scales=True)
        loss = sum(
            (o - torch.nn.functional.interpolate(y, size=o.shape[-2:], mode="area")).abs().mean() for o in outs
        )
        loss.backward()

    macs = forward_macs(model, x) // batch
    if repeats == 0:
        return {"model": name, "task": spec.task, "parameters": count_parameters(model),
                "input": list(x.shape), "gmac_forward_per_crop": macs / 1e9,
                "seconds_per_crop": float("nan"), "median_seconds_per_crop": float("nan")}
    step()  # warm-up: allocation and kernel selection
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    best = min(times)
    return {
        "model": name,
        "task": spec.task,
        "parameters": count_parameters(model),
        "input": list(x.shape),
        "gmac_forward_per_crop": macs / 1e9,
        "seconds_per_crop": best / batch,
        "median_seconds_per_crop": sorted(times)[len(times) // 2] / batch,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODEL_SPECS), choices=list(MODEL_SPECS))
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3, help="timed steps (0: count MACs only)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or 'cpu'}, "
          f"batch {args.batch}, best of {args.repeats}", file=sys.stderr)
    rows = []
    print("| model | task | parameters | input | conv GMAC fwd / crop | fwd+bwd s / crop (best) | median |")
    print("|---|---|---:|---|---:|---:|---:|")
    for name in args.models:
        r = bench(name, args.batch, args.repeats)
        rows.append(r)
        print(f"| {name} | {r['task']} | {r['parameters']:,} | {'x'.join(map(str, r['input']))} "
              f"| {r['gmac_forward_per_crop']:.1f} | {r['seconds_per_crop']:.3f} "
              f"| {r['median_seconds_per_crop']:.3f} |", flush=True)
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
