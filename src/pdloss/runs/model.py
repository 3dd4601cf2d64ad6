"""A run's model: built from its config, or started from another run's weights (``model.init``)."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from pdloss.config.schema import Config, config_from_dict
from pdloss.degradations import build_degradation
from pdloss.errors import PdlossError
from pdloss.models import build_model
from pdloss.runs.checkpoint import load_checkpoint


def build_model_from_config(config: Config) -> torch.nn.Module:
    """The run's model; for demosaicing it expects the Bayer pattern the degradation makes."""
    options = dict(config.model.options)
    if config.task == "demosaic":
        options.setdefault("pattern", str(build_degradation("demosaic", **config.task_options).pattern).lower())
    return build_model(config.model.name, task=config.task, **options)


def model_signature(config: Config) -> dict:
    """What must agree for one run's weights to start another: network, options, task, pattern."""
    pattern = None
    if config.task == "demosaic":
        default = str(build_degradation("demosaic", **config.task_options).pattern).lower()
        pattern = str(config.model.options.get("pattern", default)).lower()
    return {
        "model": config.model.name,
        "options": {k: v for k, v in config.model.options.items() if k != "pattern"},
        "task": config.task,
        "pattern": pattern,
    }


def init_model_from(model: torch.nn.Module, config: Config, source: str | os.PathLike) -> dict:
    """Load the model weights of a run folder or checkpoint into ``model`` (``model.init``).

    Only the network's weights are taken: the optimiser, schedule, step and RNG start fresh.
    An architecture, task or Bayer-pattern mismatch is refused naming both sides.

    Returns:
        The source checkpoint's payload (its ``step`` and ``config``).
    """
    path = Path(source)
    if str(source).startswith("@"):
        raise PdlossError(
            f"model.init={source} names a run of a sweep; it is resolved by `pdloss sweep`, not by `pdloss train`"
        )
    payload = load_checkpoint(path)
    try:
        source_config = config_from_dict(payload["config"])
    except PdlossError as exc:
        raise PdlossError(f"model.init={source}: its config is not readable ({exc})") from None
    mine, theirs = model_signature(config), model_signature(source_config)
    for key in ("model", "options", "task", "pattern"):
        if mine[key] != theirs[key]:
            raise PdlossError(
                f"model.init={source} does not fit this run: its {key} is {theirs[key]!r}, this run's is {mine[key]!r}"
            )
    try:
        model.load_state_dict(payload["model"])
    except RuntimeError as exc:
        raise PdlossError(f"model.init={source}: the weights do not fit this model ({exc})") from None
    return payload
