"""Timing and peak-memory measurement shared by the benchmark suites.

Candidates are measured interleaved (every candidate once per round, rounds repeated, the order
rotated from round to round) so that a change in machine load hits every candidate alike;
results are medians with the interquartile range. Peak memory of one call:

- CUDA: growth of ``torch.cuda.max_memory_allocated`` over the call;
- CPU (Linux, glibc): growth of the resident set's high-water mark (``VmHWM``, reset before the
  call through ``/proc/self/clear_refs``), after ``malloc_trim(0)`` has handed the free heap pages
  back to the system, so that every page the call touches counts once, whether glibc serves it
  from a fresh mapping or from a freed heap chunk.

Peak memory is measured in one separate, untimed call per candidate after the timed rounds, so the
trimming (which makes the next allocations fault their pages in again) never slows a timed call.
"""

from __future__ import annotations

import ctypes
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch

from pdloss import amp  # through the module: tests replace amp._cpuinfo_flags
from pdloss.provenance import cpu_model

_CLEAR_REFS = "/proc/self/clear_refs"


def _malloc_trim() -> bool:
    try:
        ctypes.CDLL(None).malloc_trim(0)
        return True
    except (OSError, AttributeError):
        return False


def track_cpu_memory() -> bool:
    """Whether per-call CPU peak memory can be measured here (Linux with glibc)."""
    if not sys.platform.startswith("linux") or not os.access(_CLEAR_REFS, os.W_OK):
        return False
    return _malloc_trim()


def _status_mib(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


class PeakMemory:
    """``with PeakMemory(device) as peak: ...`` then ``peak.mib``: memory growth (MiB) over the block,
    or NaN where it cannot be measured."""

    def __init__(self, device: torch.device | str, cpu_tracking: bool = True) -> None:
        self.device = torch.device(device)
        self.cpu_tracking = cpu_tracking and self.device.type == "cpu" and os.access(_CLEAR_REFS, os.W_OK)
        self.mib = float("nan")

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._start = torch.cuda.memory_allocated(self.device) / 2**20
        elif self.cpu_tracking:
            _malloc_trim()
            with open(_CLEAR_REFS, "w") as f:
                f.write("5")  # resets VmHWM to the current resident set size
            self._start = _status_mib("VmRSS")
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.mib = torch.cuda.max_memory_allocated(self.device) / 2**20 - self._start
        elif self.cpu_tracking:
            self.mib = _status_mib("VmHWM") - self._start


def synchronize(device: torch.device | str) -> None:
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class Samples:
    """Seconds and peak MiB of the timed calls of one candidate."""

    seconds: list[float] = field(default_factory=list)
    peak_mib: list[float] = field(default_factory=list)
    error: str | None = None  # why the candidate was not measured (e.g. over the memory cap)

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else float("nan")

    @property
    def quartiles(self) -> tuple[float, float]:
        if len(self.seconds) < 2:
            return (self.median, self.median)
        q = statistics.quantiles(self.seconds, n=4, method="inclusive")
        return q[0], q[2]

    @property
    def peak(self) -> float:
        finite = [m for m in self.peak_mib if m == m]
        return max(finite) if finite else float("nan")

    def to_dict(self) -> dict:
        q1, q3 = self.quartiles
        return {
            "median_s": self.median if self.ok else None,
            "q1_s": q1 if self.ok else None,
            "q3_s": q3 if self.ok else None,
            "peak_mib": self.peak if self.ok and self.peak == self.peak else None,
            "samples_s": list(self.seconds),
            "error": self.error,
        }


def interleaved(
    candidates: Mapping[str, Callable[[], object]],
    repeats: int,
    warmup: int,
    device: torch.device | str,
    memory: bool = True,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Samples]:
    """Time each candidate ``repeats`` times, interleaved, after ``warmup`` untimed rounds.

    A candidate raising an exception (out of memory, a missing optional package) is recorded
    with its error and dropped from later rounds; the others go on. With ``memory``, each
    candidate is then called once more, untimed, to measure its peak memory.
    """
    device = torch.device(device)
    results = {name: Samples() for name in candidates}

    def call(name: str, fn: Callable[[], object]) -> float | None:
        try:
            synchronize(device)
            start = time.perf_counter()
            fn()
            synchronize(device)
            return time.perf_counter() - start
        except (RuntimeError, MemoryError, ImportError) as error:
            results[name].error = f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
            return None

    names = list(candidates)
    for round_index in range(warmup + repeats):
        timed = round_index >= warmup
        # Rotate the order every round: no candidate always runs first (cold caches) or right after
        # the same neighbour.
        shift = round_index % len(names) if names else 0
        for name in names[shift:] + names[:shift]:
            if results[name].error is None and (elapsed := call(name, candidates[name])) is not None and timed:
                results[name].seconds.append(elapsed)
        if progress is not None:
            progress(f"round {round_index + 1}/{warmup + repeats}" + ("" if timed else " (warm-up)"))
    if memory:
        for name, fn in candidates.items():
            if results[name].error is None:
                with PeakMemory(device) as peak:
                    call(name, fn)
                results[name].peak_mib.append(peak.mib)
    return results


def cpu_flags() -> frozenset[str]:
    """This CPU's /proc/cpuinfo flags (``avx2``, ``avx512_bf16``...); empty where unknown (not Linux)."""
    return amp._cpuinfo_flags()


def machine_info(device: torch.device | str) -> dict:
    """What the numbers were measured on."""
    import numpy

    device = torch.device(device)
    info = {
        "device": str(device),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
        "load_average": [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "time_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    if device.type == "cuda":
        info["device_name"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    else:
        info["device_name"] = f"CPU: {info['cpu']} ({info['torch_threads']} threads)"
    return info
