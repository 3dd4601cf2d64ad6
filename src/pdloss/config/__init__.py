"""Experiment configuration, below everything that reads it: the config's sections and checks
(:mod:`pdloss.config.schema`) and a sweep's plan of runs (:mod:`pdloss.config.sweep`).

Training, evaluation, run folders and the results export all read a :class:`Config`; keeping it
here (it imports only :mod:`pdloss.errors` at load, and the registries it checks names against
lazily) lets each of them sit above it without importing one another.
"""

from pdloss.config.schema import Config, ConfigError, apply_overrides, config_from_dict, load_config, load_raw
from pdloss.config.sweep import SweepRun, plan_runs, run_config

__all__ = [
    "Config",
    "ConfigError",
    "SweepRun",
    "apply_overrides",
    "config_from_dict",
    "load_config",
    "load_raw",
    "plan_runs",
    "run_config",
]
