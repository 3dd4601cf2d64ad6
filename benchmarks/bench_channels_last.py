"""A whole float32 training step in NCHW against channels_last: is ``train.channels_last`` worth it?

The trainer keeps the model and its batches in channels_last only when it autocasts
(``train.channels_last: null``), so every float32 run (``amp: auto`` on CPUs without AVX-512
BF16) trains in NCHW. VGG16 alone is 7-16% faster in channels_last on such a CPU (issue 14,
``benchmarks/bench_cpu_isa.py``); this measures what that is worth for the step the study runs:
the trainer's own ``train_step`` (model forward, the loss with its VGG pass, backward, Adam,
scheduler), built by :class:`pdloss.train.trainer.Trainer` from a preset with only
``train.amp=none`` and ``train.channels_last`` changed, on fixed random batches of the preset's
size. The two layouts are timed in the same process, interleaved round by round (order
alternated), and printed as medians with the ratio. It also prints how far the two layouts'
losses drift apart after the timed steps (float32 sums in another order: the same run gives
other digits, so switching the default would change every committed table).

Usage: python benchmarks/bench_channels_last.py [--rounds 5] [--steps 5] [--threads 2]
       [--presets configs/laptop-denoise.yaml,configs/laptop-sr4x.yaml] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

LOSSES = ("l1", "perceptual-l1", "pdl")


def build_trainer(preset: str, loss: str, channels_last: bool, output: str):
    from pdloss.config.schema import load_config
    from pdloss.train.trainer import Trainer

    overrides = [
        f"loss={loss}", "loss.weight=0.02", "train.amp=none", f"train.channels_last={str(channels_last).lower()}",
        f"output={output}", "model.init=null",
    ]
    return Trainer(load_config(preset, overrides), device="cpu", progress=False)


def batch_for(trainer, seed: int):
    import torch

    degraded, target = trainer.train_set[0]  # shapes of one (input, target) pair of this task
    g = torch.Generator().manual_seed(seed)
    n = trainer.config.data.batch
    return torch.rand(n, *degraded.shape, generator=g), torch.rand(n, *target.shape, generator=g)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per layout and round")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--presets", default="configs/laptop-denoise.yaml,configs/laptop-sr4x.yaml")
    parser.add_argument("--losses", default=",".join(LOSSES))
    parser.add_argument("--json", help="also write the raw per-step times here")
    args = parser.parse_args()

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
    import torch

    from pdloss.bench.measure import cpu_flags, machine_info

    torch.set_num_threads(args.threads)
    info = machine_info("cpu")
    flags = cpu_flags()
    rows, raw = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for preset in args.presets.split(","):
            for loss in args.losses.split(","):
                trainers = {
                    layout: build_trainer(preset, loss, layout == "channels_last", os.path.join(tmp, layout))
                    for layout in ("NCHW", "channels_last")
                }
                model_name = trainers["NCHW"].config.model.name
                degraded, target = batch_for(trainers["NCHW"], 0)
                for trainer in trainers.values():  # warm-up: oneDNN picks its kernels on the first calls
                    trainer.train_step(degraded, target)
                times: dict[str, list[float]] = {layout: [] for layout in trainers}
                last: dict[str, float] = {}
                for r in range(args.rounds):
                    order = list(trainers) if r % 2 == 0 else list(reversed(trainers))
                    for layout in order:
                        for _ in range(args.steps):
                            t0 = time.perf_counter()
                            last[layout] = trainers[layout].train_step(degraded, target)["loss"]
                            times[layout].append((time.perf_counter() - t0) * 1e3)
                nchw, cl = statistics.median(times["NCHW"]), statistics.median(times["channels_last"])
                drift = abs(last["NCHW"] - last["channels_last"]) / max(abs(last["NCHW"]), 1e-12)
                key = f"{model_name} {tuple(degraded.shape)} {loss}"
                rows.append((key, nchw, cl, drift))
                raw[key] = times
                print(f"{key}: NCHW {nchw:.0f} ms, channels_last {cl:.0f} ms", file=sys.stderr)

    print(f"CPU: {info['cpu']}, {info['cpu_count']} cores, avx2: {'avx2' in flags}, avx512f: {'avx512f' in flags}, "
          f"avx512_bf16: {'avx512_bf16' in flags}; torch {info['torch']}, {args.threads} threads, float32; "
          f"{args.rounds} rounds x {args.steps} steps per layout, medians; load average at the end "
          f"{[round(v, 2) for v in os.getloadavg()]}")
    print()
    print("| model, batch (input shape), loss (feature losses at λ 0.02) | NCHW ms/step | channels_last ms/step "
          "| channels_last / NCHW | relative loss drift after the timed steps |")
    print("|---|---|---|---|---|")
    for key, nchw, cl, drift in rows:
        print(f"| {key} | {nchw:.0f} | {cl:.0f} | {cl / nchw:.2f}x | {drift:.1e} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "threads": args.threads, "ms_per_step": raw}, f, indent=1)


if __name__ == "__main__":
    main()
