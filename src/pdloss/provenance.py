"""What a number was measured with: the machine, its vector instructions, versions and commit.

Results files carry these facts (``provenance.json``) so that a reader can tell which CPU kind,
precision and code produced them: CPUs with AVX512-BF16 train in bf16 under ``train.amp: auto``
and AVX2-only ones in float32, which gives other digits.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

from pdloss.amp import _cpuinfo_flags

#: The /proc/cpuinfo flags that change speed or numerics of the CPU kernels.
VECTOR_FLAGS = ("avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16")


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what :mod:`platform` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def vector_flags() -> list[str]:
    """The :data:`VECTOR_FLAGS` this CPU has."""
    flags = _cpuinfo_flags()
    return [f for f in VECTOR_FLAGS if f in flags]


def cpu_kind() -> str:
    """``"avx512_bf16"`` (bf16 is native: ``amp: auto`` trains in bf16) or ``"avx2"`` / ``"other"``."""
    flags = _cpuinfo_flags()
    if "avx512_bf16" in flags or "amx_bf16" in flags:
        return "avx512_bf16"
    return "avx2" if "avx2" in flags else "other"


def versions() -> dict[str, str | None]:
    """Versions of Python and of the packages that change numbers."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in ("pdloss", "torch", "numpy", "scipy", "pillow"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit(folder: str | os.PathLike = ".") -> str | None:
    """The checked-out commit of the repository holding ``folder`` (``+dirty`` when tracked files
    differ from it), or None outside a git checkout."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def machine_facts(folder: str | os.PathLike = ".") -> dict[str, Any]:
    """CPU model, kind and vector flags, core count, versions, commit and the time, for a results file."""
    return {
        "cpu": cpu_model(),
        "cpu_kind": cpu_kind(),
        "cpu_flags": vector_flags(),
        "cpu_count": os.cpu_count(),
        # Caps on the instruction sets PyTorch and oneDNN use: with them an AVX512-BF16 CPU computes
        # what an AVX2-only one does (float32 under train.amp: auto, the same digits).
        "isa_caps": {k: os.environ[k] for k in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA") if k in os.environ},
        "versions": versions(),
        "commit": git_commit(Path(folder)),
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
