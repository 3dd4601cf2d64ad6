"""Checkpoints written atomically, with everything an exact resume needs.

A checkpoint holds the step, the model, optimiser, scheduler (and discriminator) states, the
loss's buffers and generator state, the RNG states, and the config. It is written to a temporary
file in the same folder, flushed and fsynced, then renamed over ``last.pt``: a run killed while
writing leaves the previous checkpoint intact.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pdloss.errors import PdlossError
from pdloss.runs.layout import LAST_CHECKPOINT, STEP_CHECKPOINT, last_checkpoint


def rng_state() -> dict[str, Any]:
    # The legacy global numpy state is saved on purpose: user code and libraries draw from it.
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}  # noqa: NPY002
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])  # noqa: NPY002
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(payload: dict[str, Any], folder: Path, keep: int = 2) -> Path:
    """Write ``payload`` as ``folder/step-XXXXXXX.pt`` and ``folder/last.pt`` atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    step = int(payload["step"])
    fd, tmp = tempfile.mkstemp(prefix=".ckpt-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        numbered = folder / STEP_CHECKPOINT.format(step)
        os.replace(tmp, numbered)
        # last.pt is a second name of the same bytes, swapped in atomically.
        link_tmp = folder / ".last.pt.tmp"
        if link_tmp.exists():
            link_tmp.unlink()
        os.link(numbered, link_tmp)
        os.replace(link_tmp, folder / LAST_CHECKPOINT)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    numbered_files = sorted(folder.glob("step-*.pt"))
    for old in numbered_files[: max(0, len(numbered_files) - keep)]:
        old.unlink()
    return folder / LAST_CHECKPOINT


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint (a run folder means its ``checkpoints/last.pt``)."""
    path = Path(path)
    if path.is_dir():
        path = last_checkpoint(path)
    if not path.is_file():
        raise PdlossError(f"no checkpoint at {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:  # a truncated or foreign file
        raise PdlossError(f"checkpoint {path} is unreadable ({exc}); use an earlier step-*.pt beside it") from exc
    if not isinstance(payload, dict) or "step" not in payload or "model" not in payload:
        raise PdlossError(f"{path} is not a pdloss checkpoint")
    return payload
