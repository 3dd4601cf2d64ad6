"""Names inside a run folder and a sweep folder, in one place (no heavy imports: the statistics
and study commands read these folders without loading the trainer).

- ``RUN/config.yaml`` the config as run (:mod:`pdloss.runs.snapshot`);
- ``RUN/checkpoints/last.pt`` the latest checkpoint, ``step-*.pt`` the previous ones
  (:mod:`pdloss.runs.checkpoint`);
- ``RUN/DONE`` written when the last step is reached; ``RUN/.lock`` the one writer's lock
  (:mod:`pdloss.runs.lock`); ``RUN/log.csv`` and ``RUN/valid.csv`` the training curves;
- ``RUN/eval/`` holds a run's evaluation on its validation set, ``RUN/eval-TAG/`` on another
  source (``TAG`` from :func:`pdloss.evaluation.run.images_tag`); ``RUN/eval[-TAG]-stepN/`` that of
  an earlier checkpoint (``checkpoints/step-N.pt``, the points of a training-length curve);
- ``SWEEP/results.{md,csv,json}`` the sweep's table on the validation set, ``SWEEP/results-TAG.*``
  on another source.
"""

from __future__ import annotations

from pathlib import Path

CONFIG_FILE = "config.yaml"
CHECKPOINTS = "checkpoints"
LAST_CHECKPOINT = "last.pt"
DONE_FILE = "DONE"
STEP_CHECKPOINT = "step-{:07d}.pt"  # zero-padded: the names sort by step


def config_file(run_dir: str | Path) -> Path:
    """``RUN/config.yaml``: the config the run was trained with."""
    return Path(run_dir) / CONFIG_FILE


def checkpoint_dir(run_dir: str | Path) -> Path:
    """``RUN/checkpoints``."""
    return Path(run_dir) / CHECKPOINTS


def last_checkpoint(run_dir: str | Path) -> Path:
    """``RUN/checkpoints/last.pt``: the latest checkpoint (it may not exist yet)."""
    return checkpoint_dir(run_dir) / LAST_CHECKPOINT


def done_file(run_dir: str | Path) -> Path:
    """``RUN/DONE``: present once the run reached its last step."""
    return Path(run_dir) / DONE_FILE


def step_checkpoint(run_dir: str | Path, step: int) -> Path:
    """``RUN/checkpoints/step-NNNNNNN.pt``: the checkpoint written at ``step`` (if it was kept)."""
    return checkpoint_dir(run_dir) / STEP_CHECKPOINT.format(int(step))


def _tagged(base: str, tag: str | None, step: int | None) -> str:
    """``base``, ``base-TAG`` for another source, ``...-stepN`` for an earlier checkpoint."""
    name = f"{base}-{tag}" if tag else base
    return f"{name}-step{int(step)}" if step is not None else name


def eval_folder_name(tag: str | None, step: int | None = None) -> str:
    """A run's evaluation folder: ``eval`` for its validation set, ``eval-TAG`` for another source;
    ``...-stepN`` for the checkpoint of an earlier ``step`` than the last."""
    return _tagged("eval", tag, step)


def results_name(tag: str | None, step: int | None = None) -> str:
    """A table, without extension: ``results`` or ``results-TAG``; ``...-stepN`` for an earlier checkpoint."""
    return _tagged("results", tag, step)
