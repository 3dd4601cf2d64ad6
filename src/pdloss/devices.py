"""Device names as users type them (``cpu``, ``cuda``, ``cuda:1``, ``mps``), checked once.

Every command that takes ``--device`` (train, sweep, evaluate, restore, bench) reads it through
:func:`resolve_device`, so that a device this machine does not have is one clear
:class:`~pdloss.errors.InputError` before any work, and ``cuda`` without an index becomes
``cuda:N`` (``torch.cuda.set_device`` refuses a device without one).
"""

from __future__ import annotations

import os

import torch

from pdloss.errors import InputError


def resolve_device(device: str | torch.device | None, default_index: int | None = None) -> torch.device:
    """``device`` as a ``torch.device`` that exists here, with an index for CUDA.

    Args:
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``, a ``torch.device``, or None for
            the default: the GPU if there is one (``cuda:default_index``), else the CPU.
        default_index: the CUDA index for ``"cuda"`` without one (torchrun: the local rank);
            None: torch's current CUDA device.

    Raises:
        InputError: an unknown device name, CUDA on a machine without it, an index beyond the
            GPUs there are, or MPS where it is not available.
    """
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise InputError(f"unknown device {device!r}; use cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(
                f"device {str(device)!r} asked for, but this PyTorch sees no CUDA GPU "
                f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'}); use --device cpu"
            )
        count = torch.cuda.device_count()
        index = (
            dev.index
            if dev.index is not None
            else (default_index if default_index is not None else torch.cuda.current_device())
        )
        if not 0 <= index < count:
            raise InputError(
                f"device cuda:{index} asked for, but this machine has {count} CUDA GPU(s): cuda:0-{count - 1}"
            )
        return torch.device("cuda", index)
    if dev.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise InputError(f"device {str(device)!r} asked for, but MPS is not available here; use --device cpu")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise InputError(f"device {str(device)!r} is not supported; use cpu, cuda, cuda:N or mps")
    return dev


def device_argument(text: str | None) -> str | None:
    """A ``--device`` value checked and normalised, None kept as None. ``"cuda"`` is this process's
    GPU: ``cuda:LOCAL_RANK`` under torchrun (each rank its own), else torch's current one."""
    if text is None:
        return None
    local_rank = os.environ.get("LOCAL_RANK")
    return str(resolve_device(text, default_index=int(local_rank) if local_rank else None))
