"""Scoring trained runs: restore a run's images, measure them, and compare runs image by image.

- :mod:`pdloss.evaluation.run`: ``evaluate_run(RUN)`` restores and measures one run, writing its
  ``eval*/metrics.json`` (per-image values) and ``inception.npz`` (the set metrics' features).
- :mod:`pdloss.evaluation.compare`: paired comparisons of evaluation folders (``pdloss compare-runs``).
"""
