"""Loading a trained run: its config, its model with the checkpoint's weights, its folder."""

from __future__ import annotations

from pathlib import Path

import torch

from pdloss.config.schema import Config, config_from_dict
from pdloss.runs.checkpoint import load_checkpoint
from pdloss.runs.model import build_model_from_config


def load_run(
    run_or_checkpoint: str | Path, device: str | torch.device = "cpu"
) -> tuple[Config, torch.nn.Module, Path, dict]:
    """(config, model with the checkpoint's weights, run folder, checkpoint payload)."""
    path = Path(run_or_checkpoint)
    payload = load_checkpoint(path, device)
    run_dir = path if path.is_dir() else path.parent.parent
    config = config_from_dict({k: v for k, v in payload["config"].items()})
    model = build_model_from_config(config)
    model.load_state_dict(payload["model"])
    return config, model.to(device), run_dir, payload
