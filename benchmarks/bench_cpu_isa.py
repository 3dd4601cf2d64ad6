"""The same CPU with its AVX-512 kernels and capped to AVX2: how much slower pdloss's hot paths get.

Many users' CPUs (and some of this project's machines) have AVX2 only. This benchmark measures,
on a CPU that has AVX-512 (with or without BF16), what those paths cost when PyTorch is limited to
AVX2: ATen's kernels through ``ATEN_CPU_CAPABILITY=avx2`` and oneDNN's convolutions through
``ONEDNN_MAX_CPU_ISA=AVX2``. Both are read when a process starts, so every measurement runs in a
fresh worker process; the driver interleaves the two settings round by round (order rotated) and
prints medians and the ratio capped / native. It is an emulation: the real AVX2 machine's clock,
caches and memory differ; compare its VGG row with the issue's figures measured on one (printed
beside them) before trusting the rest.

Cases (batch 8, ``--threads`` intra-op threads):

- ``vgg``: VGG16 to relu4_3 (random weights, frozen), forward + backward to the input, the
  feature losses' cost, at 64 and 128 px; float32 NCHW, float32 channels_last, bf16 autocast
  (capped bf16 is emulated and about 20x slower: at 64 px only, fewer repeats);
- ``step``: one training step of ``small-unet`` on 64 px denoising crops (forward, loss, backward,
  Adam) with pixel L1, with the L1-perceptual loss and with the PDL (relu4_3), in float32.

Usage: python benchmarks/bench_cpu_isa.py [--rounds 3] [--repeats 5] [--threads 2] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SETTINGS = {
    "native": {},
    "avx2-capped": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
}
# Measured on a 2-core AVX2-only CPU (issue 14): VGG16 to relu4_3, fwd+bwd, batch 8, ms.
AVX2_MACHINE_MS = {
    "vgg 64px fp32 NCHW": 384,
    "vgg 128px fp32 NCHW": 1565,
    "vgg 64px fp32 channels_last": 358,
    "vgg 128px fp32 channels_last": 1316,
    "vgg 64px bf16 autocast": 8156,
    "vgg 128px bf16 autocast": 32169,
}


def _time(fn, repeats: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def worker(repeats: int, threads: int, slow_repeats: int) -> dict:
    """Runs in a fresh process under one setting; returns median ms per case."""
    import torch

    from pdloss.features.vgg import build_features, layer_index
    from pdloss.losses import PerceptualLoss, ProjectedDistributionLoss
    from pdloss.losses.pixel import PixelLoss
    from pdloss.models import build_model

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    capped = os.environ.get("ONEDNN_MAX_CPU_ISA") == "AVX2"
    vgg = build_features("vgg16", layer_index("vgg16", "relu4_3") + 1).eval().requires_grad_(False)
    results = {"capability": torch.backends.cpu.get_cpu_capability()}

    for size in (64, 128):
        x = torch.rand(8, 3, size, size)
        for mode in ("fp32 NCHW", "fp32 channels_last", "bf16 autocast"):
            if mode == "bf16 autocast" and capped and size > 64:
                continue  # emulated bf16: about 30 s per pass at 128 px
            net = vgg.to(memory_format=torch.channels_last) if mode == "fp32 channels_last" else vgg
            inp = x.to(memory_format=torch.channels_last) if mode == "fp32 channels_last" else x

            def step(net=net, inp=inp, mode=mode):
                leaf = inp.clone().requires_grad_(True)
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode == "bf16 autocast"):
                    out = net(leaf)
                out.float().square().mean().backward()

            slow = mode == "bf16 autocast" and capped
            results[f"vgg {size}px {mode}"] = _time(step, slow_repeats if slow else repeats, 1)

    model = build_model("small-unet")
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)
    target = torch.rand(8, 3, 64, 64)
    degraded = (target + 0.4 * torch.randn_like(target)).clamp(0, 1)
    # Pixel L1 plus 0.02 x the feature term, as the study's fine-tuning runs.
    options = {"weight": 0.02, "weights": "random", "layers": ["relu4_3"], "validate": False}
    losses = {
        "pixel L1": PixelLoss(q=1, validate=False),
        "L1-perceptual": PerceptualLoss(p=1, **options),
        "PDL": ProjectedDistributionLoss(**options),
    }
    for name, loss in losses.items():

        def train_step(loss=loss):
            optimiser.zero_grad(set_to_none=True)
            loss(model(degraded), target).backward()
            optimiser.step()

        results[f"step small-unet 64px fp32 {name}"] = _time(train_step, repeats, 2)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--slow-repeats", type=int, default=1, help="repeats of capped bf16 (emulated, ~8 s each)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", help="also write the raw medians here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.repeats, args.threads, args.slow_repeats)))
        return

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
    from pdloss.bench.measure import cpu_flags, machine_info

    info = machine_info("cpu")
    flags = cpu_flags()
    runs: dict[str, list[dict]] = {name: [] for name in SETTINGS}
    for round_index in range(args.rounds):
        order = list(SETTINGS) if round_index % 2 == 0 else list(reversed(SETTINGS))
        for name in order:
            env = {**os.environ, **SETTINGS[name]}
            command = [sys.executable, __file__, "--worker", "--repeats", str(args.repeats),
                       "--threads", str(args.threads), "--slow-repeats", str(args.slow_repeats)]
            out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
            runs[name].append(json.loads(out.strip().splitlines()[-1]))
            print(f"round {round_index + 1}/{args.rounds}: {name} done", file=sys.stderr)

    cases = [k for k in runs["native"][0] if k != "capability"]
    median = {
        name: {c: statistics.median(r[c] for r in rs if c in r) for c in cases if any(c in r for r in rs)}
        for name, rs in runs.items()
    }
    print(f"CPU: {info['cpu']}, {info['cpu_count']} cores, avx512f: {'avx512f' in flags}, "
          f"avx512_bf16: {'avx512_bf16' in flags}; torch {info['torch']}, {args.threads} threads; "
          f"ATen capability native {runs['native'][0]['capability']}, capped "
          f"{runs['avx2-capped'][0]['capability']}; {args.rounds} rounds x {args.repeats} repeats, "
          f"medians; load average at the end {[round(v, 2) for v in os.getloadavg()]}")
    print()
    print("| case (batch 8) | native ms | AVX2-capped ms | capped / native | measured on an AVX2 machine (issue 14) |")
    print("|---|---|---|---|---|")
    for case in cases:
        native = median["native"].get(case)
        capped = median["avx2-capped"].get(case)
        ratio = f"{capped / native:.2f}x" if native and capped else "-"
        fmt = lambda v: f"{v:.0f}" if v is not None else "not run"  # noqa: E731
        print(f"| {case} | {fmt(native)} | {fmt(capped)} | {ratio} | {AVX2_MACHINE_MS.get(case, '-')} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "settings": SETTINGS, "median_ms": median, "rounds": runs}, f, indent=1)


if __name__ == "__main__":
    main()
