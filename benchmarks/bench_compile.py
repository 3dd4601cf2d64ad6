"""torch.compile against eager: the PDL term and whole training steps, side by side in one process.

Measured interleaved (every candidate once per round, order rotated; median ms after warm-up rounds
that include the compilation):

1. the PDL term on relu4_3-shaped features ``(B, 512, 16, 16)`` (``projected_distribution_distance``,
   forward + backward), eager and compiled, with each sort: ``torch.sort`` and pdloss's NumPy sort
   (the ``pdloss::numpy_sort`` custom op; CPU only). This is the measurement behind the choice of
   the NumPy sort as a custom op that stays inside compiled graphs (docs/losses.md);
2. a training step of ``small-unet`` (denoising) with the PDL and with the L1-perceptual loss
   (model forward, loss, backward, Adam step), eager and with ``torch.compile`` on the model and
   the loss, in float32 and under bf16 autocast (``--precision``); plus the PDL step compiled with
   ``torch.sort`` in place of the NumPy sort (CPU).

Usage: python benchmarks/bench_compile.py [--device cpu] [--precision fp32,bf16] [--batch 8]
       [--size 64] [--weights vgg16-hed] [--repeats 7] [--warmup 2] [--threads N]
Prints markdown tables; docs/benchmarks.md quotes them.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import os
import time
import types
from collections.abc import Callable

import torch

from pdloss.bench.measure import interleaved, machine_info
from pdloss.functional import projected_distribution_distance
from pdloss.functional.sorting import sort_backend
from pdloss.losses import PerceptualLoss, ProjectedDistributionLoss
from pdloss.models import build_model


def fresh(fn: Callable, tag: str) -> Callable:
    """A copy of ``fn`` with its own code object. Compiled code is cached per code object, so two
    candidates that differ only in a setting read at trace time (the sort) need separate copies."""
    code = fn.__code__.replace(co_name=f"{fn.__code__.co_name}_{tag}")
    return types.FunctionType(code, fn.__globals__, code.co_name, fn.__defaults__, fn.__closure__)


def autocast(device: torch.device, precision: str):
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def term_candidates(device: torch.device, batch: int) -> dict[str, Callable[[], object]]:
    g = torch.Generator().manual_seed(0)
    fu0 = torch.randn(batch, 512, 16, 16, generator=g).relu().to(device)
    fv = torch.randn(batch, 512, 16, 16, generator=g).relu().to(device)

    def term(fu, fv):
        return projected_distribution_distance(fu, fv)

    sorts = ("torch", "numpy") if device.type == "cpu" else ("torch",)
    candidates = {}
    for sort in sorts:
        label = "torch.sort" if sort == "torch" else "NumPy sort"
        for compiled in (False, True):
            fn = torch.compile(fresh(term, sort)) if compiled else term

            def run(fn=fn, sort=sort):
                fu = fu0.clone().requires_grad_(True)
                with sort_backend(sort):
                    fn(fu, fv).backward()

            candidates[f"{label}, {'compiled' if compiled else 'eager'}"] = run
    return candidates


def step_candidates(args, device: torch.device, precision: str) -> dict[str, Callable[[], object]]:
    g = torch.Generator().manual_seed(0)
    clean = torch.rand(args.batch, 3, args.size, args.size, generator=g)
    noisy = (clean + 0.2 * torch.randn(clean.shape, generator=g)).to(device)
    clean = clean.to(device)
    base_model = build_model("small-unet", task="denoise").to(device)
    # validate=False: the trainer's setting (it checks the loss value itself), no sync per step.
    losses = {
        "PDL": ProjectedDistributionLoss(weight=0.02, weights=args.weights, validate=False).to(device),
        "L1-perceptual": PerceptualLoss(weight=0.02, p=1, weights=args.weights, validate=False).to(device),
    }
    variants = [("PDL", "eager", "auto"), ("PDL", "compiled", "auto"), ("L1-perceptual", "eager", "auto"),
                ("L1-perceptual", "compiled", "auto")]
    if device.type == "cpu":
        variants.append(("PDL", "compiled", "torch"))
    candidates = {}
    for loss_name, mode, sort in variants:
        model = copy.deepcopy(base_model)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
        loss_fn = losses[loss_name]

        def loss_call(prediction, target, loss_fn=loss_fn):
            return loss_fn(prediction, target)

        if mode == "compiled":
            forward = torch.compile(model)
            loss_call = torch.compile(fresh(loss_call, f"{loss_name.replace('-', '_')}_{sort}"))
        else:
            forward = model

        def step(forward=forward, loss_call=loss_call, optimizer=optimizer, sort=sort):
            with sort_backend(sort), autocast(device, precision):
                prediction = forward(noisy)
                loss = loss_call(prediction.float(), clean)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        suffix = ", torch.sort" if sort == "torch" else ""
        candidates[f"small-unet + {loss_name}, {mode}{suffix}"] = step
    return candidates


def print_table(title: str, results, pairs: list[tuple[str, str]]) -> None:
    print(f"\n{title}\n")
    print("| candidate | median ms | IQR ms |")
    print("|---|---|---|")
    for name, samples in results.items():
        if not samples.ok:
            print(f"| {name} | {samples.error} | |")
            continue
        q1, q3 = samples.quartiles
        print(f"| {name} | {samples.median * 1e3:.1f} | {q1 * 1e3:.1f}-{q3 * 1e3:.1f} |")
    print()
    for eager, compiled in pairs:
        if eager in results and compiled in results and results[eager].ok and results[compiled].ok:
            print(f"- {compiled} / {eager}: {results[compiled].median / results[eager].median:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32", help="comma-separated: fp32, bf16")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=64, help="crop side of the training steps")
    parser.add_argument("--weights", default="vgg16-hed")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2, help="untimed rounds (the first one compiles)")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--skip-term", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    info = machine_info(device)
    flags = ""
    if device.type == "cpu":
        flags = " (avx512_bf16)" if _cpu_has("avx512_bf16") else " (no avx512_bf16: bf16 is emulated)"
    print(f"# {info['device_name']}{flags}, torch {info['torch']}, numpy {info['numpy']}, "
          f"load {info['load_average']}, {info['time_utc']}")
    if not args.skip_term:
        results = interleaved(term_candidates(device, args.batch), args.repeats, args.warmup, device, memory=False)
        pairs = [("torch.sort, eager", "torch.sort, compiled"), ("NumPy sort, eager", "NumPy sort, compiled"),
                 ("torch.sort, eager", "NumPy sort, compiled")]
        print_table(f"PDL term, features ({args.batch}, 512, 16, 16), forward + backward", results, pairs)
    for precision in args.precision.split(","):
        results = interleaved(step_candidates(args, device, precision), args.repeats, args.warmup, device,
                              memory=False)
        pairs = [(f"small-unet + {n}, eager", f"small-unet + {n}, compiled") for n in ("PDL", "L1-perceptual")]
        pairs.append(("small-unet + PDL, eager", "small-unet + PDL, compiled, torch.sort"))
        print_table(f"Training step ({precision}), batch {args.batch}, {args.size}x{args.size}, "
                    f"VGG16 relu4_3 ({args.weights})", results, pairs)
    load = [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None
    print(f"\n# load at the end {load}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")


def _cpu_has(flag: str) -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            return flag in f.read().split()
    except OSError:
        return False


if __name__ == "__main__":
    main()
