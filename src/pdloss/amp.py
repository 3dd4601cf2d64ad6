"""Mixed precision that pays: which autocast dtype a device computes natively.

Autocast helps only where the hardware has the narrow arithmetic. On a CPU without native bf16
dot products (AVX2-only, older AVX-512) PyTorch emulates bf16 and a VGG16 forward+backward under
bf16 autocast runs about 21x slower than in float32 (docs/benchmarks.md); on a CPU with
AVX512-BF16 or AMX it runs about 2x faster. Hence:

- :func:`autocast_dtype` ``(device)``: the dtype to pass to ``torch.autocast`` there, or None
  (stay in float32);
- :func:`amp_dtype` ``(mode, device)``: the trainer's ``train.amp`` setting resolved with that rule;
- :func:`warn_if_emulated_bf16`: the losses call it; it warns once per process when they run
  under CPU bf16 autocast on a CPU without native bf16.
"""

from __future__ import annotations

import os
import warnings
from functools import lru_cache
from pathlib import Path

import torch

from pdloss.callsite import user_stacklevel

__all__ = ["EmulatedBF16Warning", "amp_dtype", "autocast_dtype", "cpu_supports_bf16", "warn_if_emulated_bf16"]

_CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


class EmulatedBF16Warning(UserWarning):
    """A loss runs under CPU bf16 autocast on a CPU that emulates bf16 (much slower than float32)."""


@lru_cache(maxsize=1)
def _cpuinfo_flags() -> frozenset[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: no flags known, so no native bf16 is assumed
        return frozenset()
    return frozenset(text.split())


# oneDNN's ISA levels without bf16 dot products. ONEDNN_MAX_CPU_ISA set to one of these makes oneDNN,
# which runs PyTorch's CPU convolutions, emulate bf16 even on a CPU that has it; the higher levels
# (AVX512_CORE_BF16, AMX, AVX10...), ALL, DEFAULT and unknown values leave bf16 native.
_ONEDNN_NO_BF16_ISAS = frozenset(
    {"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE", "AVX512_CORE_VNNI"}
)


def _onednn_isa_allows_bf16() -> bool:
    """False when ONEDNN_MAX_CPU_ISA (or its old name DNNL_MAX_CPU_ISA) caps oneDNN below bf16."""
    value = (os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or "").strip().upper()
    return value not in _ONEDNN_NO_BF16_ISAS


@torch.compiler.assume_constant_result
def cpu_supports_bf16() -> bool:
    """True when this CPU has native bf16 dot products (AVX512-BF16 or AMX, from /proc/cpuinfo),
    where bf16 autocast pays; False elsewhere (including non-Linux systems, where it is unknown,
    and where ``ONEDNN_MAX_CPU_ISA`` caps oneDNN below bf16, e.g. ``AVX2``: it then emulates bf16)."""
    flags = _cpuinfo_flags()
    return any(flag in flags for flag in _CPU_BF16_FLAGS) and _onednn_isa_allows_bf16()


def autocast_dtype(device: torch.device | str) -> torch.dtype | None:
    """The autocast dtype ``device`` computes natively, or None where float32 is the fast choice.

    - CUDA: ``torch.bfloat16`` where the GPU has native bf16 (Ampere and newer), else
      ``torch.float16`` (use a ``torch.amp.GradScaler`` with it);
    - CPU: ``torch.bfloat16`` with AVX512-BF16 or AMX (see :func:`cpu_supports_bf16`), else None;
    - other devices: None.

    Use::

        dtype = pdloss.autocast_dtype(device)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = loss_fn(model(x), y)
    """
    device = torch.device(device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return None
        with torch.cuda.device(device):
            native_bf16 = torch.cuda.is_bf16_supported(including_emulation=False)
        return torch.bfloat16 if native_bf16 else torch.float16
    if device.type == "cpu":
        return torch.bfloat16 if cpu_supports_bf16() else None
    return None


def amp_dtype(mode: str, device: torch.device | str) -> torch.dtype | None:
    """The autocast dtype for the trainer's ``train.amp`` on ``device`` (None: full float32).

    ``"auto"`` is :func:`autocast_dtype`; ``"bf16"`` / ``"fp16"`` force that dtype; ``"none"`` is None.
    """
    if mode == "none":
        return None
    if mode == "fp16":
        return torch.float16
    if mode == "bf16":
        return torch.bfloat16
    return autocast_dtype(device)


_warned_emulated_bf16 = False


def warn_if_emulated_bf16(device_type: str) -> None:
    """Warn (once per process) when CPU bf16 autocast is on and this CPU emulates bf16.

    ``device_type`` is the loss inputs' device type; only ``"cpu"`` can warn. Traceable by
    ``torch.compile`` without a graph break: under compilation the warning is given while the graph
    is traced (once), not by the compiled code.
    """
    if device_type != "cpu" or not torch.is_autocast_enabled("cpu"):
        return
    if torch.get_autocast_dtype("cpu") == torch.bfloat16:
        _warn_emulated_bf16_once()


@torch.compiler.assume_constant_result
def _warn_emulated_bf16_once() -> bool:
    # assume_constant_result: the compiler runs this in plain Python while tracing and keeps its result as a
    # constant, so the warning (which dynamo cannot trace) is given then and never splits the graph.
    global _warned_emulated_bf16
    if _warned_emulated_bf16 or cpu_supports_bf16():
        return False
    _warned_emulated_bf16 = True
    warnings.warn(
        "the loss runs under torch.autocast('cpu', dtype=torch.bfloat16), but this CPU has no native bf16 "
        "(no avx512_bf16/amx_bf16 in /proc/cpuinfo): bf16 is emulated and VGG passes run many times slower "
        "than in float32 (21x measured on an AVX2 CPU). Use dtype=pdloss.autocast_dtype(device), which is None "
        "(no autocast) on such CPUs. This warning is shown once per process.",
        EmulatedBF16Warning,
        stacklevel=user_stacklevel(),
    )
    return True
