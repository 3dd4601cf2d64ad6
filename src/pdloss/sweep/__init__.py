"""``pdloss sweep``: the one workflow that spans training, evaluation and the report, so it sits
above all three. The runs of a grid are planned by :mod:`pdloss.config.sweep`; they are trained and
evaluated here (:mod:`.execute`), and their evaluations gathered into one table (:mod:`.gather`)."""

from pdloss.config.sweep import SweepRun, expand_runs, plan_runs, run_name, select_runs, split_values
from pdloss.sweep.execute import FAMILY_STEP_COST, LOSS_FAMILY, _Eta, sweep
from pdloss.sweep.gather import _pass_metrics, gather

__all__ = [
    "FAMILY_STEP_COST",
    "LOSS_FAMILY",
    "SweepRun",
    "_Eta",
    "_pass_metrics",
    "expand_runs",
    "gather",
    "plan_runs",
    "run_name",
    "select_runs",
    "split_values",
    "sweep",
]
