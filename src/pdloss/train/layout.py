"""Names inside a run folder and a sweep folder, in one place (no heavy imports: the statistics
and study commands read these folders without loading the trainer).

- ``RUN/eval/`` holds a run's evaluation on its validation set, ``RUN/eval-TAG/`` on another
  source (``TAG`` from :func:`pdloss.evaluation.run.images_tag`);
- ``SWEEP/results.{md,csv,json}`` the sweep's table on the validation set, ``SWEEP/results-TAG.*``
  on another source.
"""

from __future__ import annotations


def eval_folder_name(tag: str | None) -> str:
    """A run's evaluation folder: ``eval`` for its validation set, ``eval-TAG`` for another source."""
    return f"eval-{tag}" if tag else "eval"


def results_name(tag: str | None) -> str:
    """A sweep's table, without extension: ``results`` or ``results-TAG``."""
    return f"results-{tag}" if tag else "results"
