"""Time the metrics on CPU (or --device): per call, for one image pair of a given size.

Usage: python benchmarks/bench_metrics.py [--size 256] [--repeats 3] [--device cpu] [--threads N]
FID and LPIPS are timed only when their weights are installed (LPIPS needs torchvision's VGG16).
"""

from __future__ import annotations

import argparse
import time

import torch


def _time(fn, repeats: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from pdloss.errors import PdlossError
    from pdloss.metrics import FID, LPIPS, ms_ssim, niqe, psnr, ssim

    g = torch.Generator().manual_seed(0)
    ref = torch.rand(1, 3, args.size, args.size, generator=g)
    pred = (ref + 0.05 * torch.randn(ref.shape, generator=g)).clamp(0, 1)
    rows = [
        ("psnr", lambda: psnr(pred, ref)),
        ("ssim", lambda: ssim(pred, ref)),
        ("ms_ssim", lambda: ms_ssim(pred, ref)),
        ("niqe", lambda: niqe(pred)),
    ]
    try:
        fid = FID(device=args.device)
        rows.append(("fid features (1 image)", lambda: fid.features(pred)))
    except PdlossError as exc:
        print(f"fid: skipped ({exc})")
    try:
        lp = LPIPS().to(args.device)
        rows.append(("lpips", lambda: lp(pred.to(args.device), ref.to(args.device))))
    except PdlossError as exc:
        print(f"lpips: skipped ({str(exc)[:120]}...)")
    print(f"| metric | ms per call ({args.size}x{args.size}, {args.device}, {torch.get_num_threads()} threads) |")
    print("|---|---:|")
    for name, fn in rows:
        print(f"| {name} | {1000 * _time(fn, args.repeats):.1f} |")


if __name__ == "__main__":
    main()
