"""One run's lifecycle on disk: its folder layout, config snapshot, checkpoints, lock, and loading it.

- :mod:`~pdloss.runs.layout`: the names inside a run folder and a sweep folder;
- :mod:`~pdloss.runs.snapshot`: ``RUN/config.yaml`` written when training starts, and the check
  that a resumed or reused run was trained with the same settings;
- :mod:`~pdloss.runs.checkpoint`: atomic checkpoints with everything an exact resume needs;
- :mod:`~pdloss.runs.lock`: one writer per run folder (an OS lock that dies with its process);
- :mod:`~pdloss.runs.model`: the run's model built from its config, or started from another run;
- :mod:`~pdloss.runs.load`: a trained run's config, model with its weights, folder and checkpoint.

The trainer, the sweep, evaluation and restoration go through these modules for every file of a run.
"""

from __future__ import annotations

import importlib
from typing import Any

# Served lazily: the layout's names are read by commands (statistics, study) that must not pay
# for importing torch, which the checkpoint and model modules need.
_EXPORTS = {
    "eval_folder_name": "layout",
    "results_name": "layout",
    "config_file": "layout",
    "checkpoint_dir": "layout",
    "last_checkpoint": "layout",
    "done_file": "layout",
    "write_snapshot": "snapshot",
    "read_snapshot": "snapshot",
    "check_same_training": "snapshot",
    "training_changes": "snapshot",
    "save_checkpoint": "checkpoint",
    "load_checkpoint": "checkpoint",
    "rng_state": "checkpoint",
    "set_rng_state": "checkpoint",
    "run_lock": "lock",
    "RunLockedError": "lock",
    "read_holder": "lock",
    "build_model_from_config": "model",
    "init_model_from": "model",
    "load_run": "load",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'pdloss.runs' has no attribute {name!r}")
    return getattr(importlib.import_module(f"pdloss.runs.{_EXPORTS[name]}"), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
