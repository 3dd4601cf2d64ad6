"""Forward+backward time and peak memory of each loss, side by side in one process.

    .venv/bin/python benchmarks/bench_losses.py                 # vgg16-hed, relu4_3, CPU
    .venv/bin/python benchmarks/bench_losses.py --repeats 5 --weights random --device cuda

Cases: batch 8 of 128 x 128 and batch 1 of 512 x 512. Losses: pixel L1, perceptual L1 and L2,
CTXDP, CTXL2 (default 65 x 65 position sampling) and PDL, all on one shared extractor. The
prediction is a leaf tensor requiring grad (standing in for a model output); the timed step is
``loss(prediction, target).backward()``. Rounds are interleaved (every loss once per round) so
that a change in machine load hits every loss alike; the table gives the median over rounds.

Memory on the CPU is the growth of the resident set during the step (Linux VmHWM, reset before
each step through /proc/self/clear_refs), with glibc's mmap threshold pinned at 64 KiB (the
script re-executes itself with ``MALLOC_MMAP_THRESHOLD_``) so that freed tensors go back to the
system and each step's peak is its own. On CUDA it is ``torch.cuda.max_memory_allocated`` growth.
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import statistics
import sys
import time

MMAP_ENV = "MALLOC_MMAP_THRESHOLD_"


def _status_mib(key: str) -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":")) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="vgg16-hed")
    parser.add_argument("--layer", default="relu4_3")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds per case (after one warm-up)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cases", default="8x128,1x512", help="comma-separated BATCHxSIZE")
    args = parser.parse_args()

    if args.device == "cpu" and sys.platform.startswith("linux") and os.environ.get(MMAP_ENV) is None:
        os.environ[MMAP_ENV] = "65536"
        os.execv(sys.executable, [sys.executable, *sys.argv])

    import torch

    from pdloss.losses.registry import build_loss

    device = torch.device(args.device)
    options = {"weights": args.weights, "layers": args.layer}
    losses = {
        "pixel L1": build_loss("l1"),
        "perceptual L1": build_loss("perceptual-l1", **options),
        "perceptual L2": build_loss("perceptual-l2", **options),
        "CTXDP": build_loss("ctx-dp", **options),
        "CTXL2": build_loss("ctx-l2", **options),
        "PDL": build_loss("pdl", **options),
    }
    for loss in losses.values():
        loss.to(device)
    weights_label = losses["PDL"].weights_label
    cpu_peak = device.type == "cpu" and os.path.exists("/proc/self/clear_refs")

    def measure(fn) -> tuple[float, float]:
        """Seconds and peak memory growth (MiB) of ``fn()``."""
        if device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            start_mem = torch.cuda.memory_allocated() / 2**20
        elif cpu_peak:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            start_mem = _status_mib("VmRSS")
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
        if device.type == "cuda":
            peak = torch.cuda.max_memory_allocated() / 2**20 - start_mem
        elif cpu_peak:
            peak = _status_mib("VmHWM") - start_mem
        else:
            peak = float("nan")
        return elapsed, peak

    def full_step(loss, prediction, target):
        loss(prediction, target).backward()
        prediction.grad = None

    def head_step(loss, fu, fv):
        # The loss's own maths on fixed features: forward and backward without the VGG.
        loss.feature_distance(fu, fv, args.layer).sum().backward()
        fu.grad = None

    cpu = platform.processor() or platform.machine()
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, {cpu}, "
          f"device {device}, weights {weights_label}, layer {args.layer}, load average {os.getloadavg()}")
    rows = []
    for case in args.cases.split(","):
        batch, size = (int(v) for v in case.lower().split("x"))
        generator = torch.Generator().manual_seed(0)
        target = torch.rand(batch, 3, size, size, generator=generator).to(device)
        prediction = (target + 0.1 * torch.randn(target.shape, generator=generator).to(device)).clamp(0, 1)
        prediction.requires_grad_(True)
        with torch.no_grad():
            fu = losses["PDL"].extractor(prediction, [args.layer])[args.layer].detach().requires_grad_(True)
            fv = losses["PDL"].extractor(target, [args.layer])[args.layer]
        results: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for round_index in range(args.repeats + 1):
            for name, loss in losses.items():
                runs = {"full": functools.partial(full_step, loss, prediction, target)}
                if name != "pixel L1":
                    runs["head"] = functools.partial(head_step, loss, fu, fv)
                for kind, fn in runs.items():
                    outcome = measure(fn)
                    if round_index > 0:  # round 0 warms up allocators and kernels
                        results.setdefault((name, kind), []).append(outcome)
        for name in losses:
            full = results[(name, "full")]
            head = results.get((name, "head"), [(float("nan"), float("nan"))])
            rows.append((
                f"{batch} x {size}x{size}", name,
                statistics.median(t for t, _ in full), max(p for _, p in full),
                statistics.median(t for t, _ in head), max(p for _, p in head),
            ))
        print(f"# done {case}, load average {os.getloadavg()}", file=sys.stderr)

    print(f"| case | loss | forward+backward (s) | peak memory growth (MiB) | loss maths only at {args.layer} (s) "
          "| loss maths only (MiB) |")
    print("|---|---|---|---|---|---|")
    for case, name, seconds, peak, head_seconds, head_peak in rows:
        head = "- | -" if head_seconds != head_seconds else f"{head_seconds:.3f} | {head_peak:.0f}"  # NaN: no head
        print(f"| {case} | {name} | {seconds:.3f} | {peak:.0f} | {head} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
