"""``pdloss sweep``: plan the runs of a grid (:mod:`.plan`), train and evaluate them
(:mod:`.execute`), and gather their evaluations into one table (:mod:`.gather`)."""

from pdloss.train.sweep.execute import FAMILY_STEP_COST, LOSS_FAMILY, _Eta, sweep
from pdloss.train.sweep.gather import _pass_metrics, gather
from pdloss.train.sweep.plan import SweepRun, expand_runs, plan_runs, run_name, select_runs, split_values

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
