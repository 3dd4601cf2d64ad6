"""What the global RNG states in a checkpoint are for, and that resuming restores them.

Nothing that pdloss ships draws from the global RNGs during a training step: crops,
augmentations and degradations come from generators seeded per item, the sampler from one
seeded per epoch, random projections and position sampling from the losses' own generators
(checkpointed separately). ``test_shipped_configurations_never_draw_from_the_global_rngs``
checks that, for the configurations with randomness in their steps.

The states matter for code that does draw from them: a user's model with dropout, a custom
loss that adds noise. For such a run, a step after ``load_state`` must see the global streams
exactly where the interrupted run left them; ``test_load_state_continues_the_global_streams``
resumes a model with dropout and fails when the restore is left out.
"""

from __future__ import annotations

import io
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import default_collate

import pdloss.train.trainer as trainer_module
from helpers import tiny_config, write_photos
from pdloss.config.schema import config_from_dict
from pdloss.train.trainer import Trainer, _IndexBatches


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return write_photos(tmp_path_factory.mktemp("photos"), 4, 40, seed=1)


def _config(photos, tmp_path, **changes):
    raw = tiny_config(photos, tmp_path / "run", {
        "name": "rng",
        "seed": 11,
        "data": {"crop": 16, "batch": 2, "valid_crop": 16, "cache": True},
        "model": {"name": "small-unet", "options": {"widths": [4, 8, 8]}},
        "train": {"iterations": 6, "log_every": 100, "valid_every": 100, "checkpoint_every": 100, "amp": "none"},
    }, **changes)
    return config_from_dict(raw)


class _Dropout(nn.Module):
    """A model whose every forward draws from the global torch RNG (dropout on its input)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(F.dropout(x, 0.5, training=self.training))


def _batches(trainer: Trainer, start: int, count: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    keys = iter(_IndexBatches(trainer.sampler, start))
    return [default_collate([trainer.train_set[k] for k in next(keys)]) for _ in range(count)]


def _train(trainer: Trainer, batches) -> None:
    for degraded, target in batches:
        trainer.train_step(degraded, target)
        trainer.step += 1


def _checkpoint(trainer: Trainer) -> dict:
    """The trainer's state as a checkpoint file holds it (a copy, not live references)."""
    buffer = io.BytesIO()
    torch.save(trainer.state(), buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=False)


def _global_draws() -> tuple:
    return torch.rand(2).tolist(), np.random.random(2).tolist(), random.random()  # noqa: NPY002


def test_load_state_continues_the_global_streams(photos, tmp_path, monkeypatch):
    build = trainer_module.build_model_from_config
    monkeypatch.setattr(trainer_module, "build_model_from_config", lambda config: _Dropout(build(config)))
    config = _config(photos, tmp_path)

    straight = Trainer(config, progress=False)
    batches = _batches(straight, 0, 6)
    _train(straight, batches[:3])
    payload = _checkpoint(straight)
    _train(straight, batches[3:])
    after_straight = _global_draws()

    # A new process would start from the config's seed: so does a new Trainer here.
    resumed = Trainer(config, progress=False)
    resumed.load_state(payload)
    assert resumed.step == 3
    _train(resumed, batches[3:])
    assert _global_draws() == after_straight
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_load_state_restores_the_saved_states_themselves(photos, tmp_path):
    trainer = Trainer(_config(photos, tmp_path), progress=False)
    torch.manual_seed(123)
    np.random.seed(456)  # noqa: NPY002
    random.seed(789)
    payload = _checkpoint(trainer)
    expected = _global_draws()
    torch.manual_seed(0)
    np.random.seed(0)  # noqa: NPY002
    random.seed(0)
    trainer.load_state(payload)
    assert _global_draws() == expected


@pytest.mark.parametrize(
    "changes",
    [
        {"loss": {"name": "pdl", "weight": 0.1, "weights": "random", "layers": ["relu1_2"], "projection": "rsp",
                  "resample": True}},
        {"loss": {"name": "ctx-dp", "weight": 0.1, "weights": "random", "layers": ["relu1_2"], "max_positions": 9}},
        {"loss": {"name": "adversarial", "weight": 0.01, "base_channels": 4, "hidden": 8}},
        {"task": "deblur", "task_options": {}},
        {"task": "jpeg", "task_options": {}},
    ],
    ids=["pdl-rsp-resample", "ctx-sampled-positions", "adversarial", "deblur", "jpeg"],
)
def test_shipped_configurations_never_draw_from_the_global_rngs(photos, tmp_path, changes):
    trainer = Trainer(_config(photos, tmp_path, **changes), progress=False)
    batches = _batches(trainer, 0, 2)
    before = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())  # noqa: NPY002
    _train(trainer, batches)
    assert torch.equal(torch.get_rng_state(), before[0])
    assert np.array_equal(np.random.get_state()[1], before[1])  # noqa: NPY002
    assert random.getstate() == before[2]


def test_resume_through_run_is_bit_identical_for_a_model_with_dropout(photos, tmp_path, monkeypatch):
    build = trainer_module.build_model_from_config
    monkeypatch.setattr(trainer_module, "build_model_from_config", lambda config: _Dropout(build(config)))
    changes = {"train": {"iterations": 4, "log_every": 100, "valid_every": 100, "checkpoint_every": 2, "amp": "none"}}
    straight = trainer_module.train(_config(photos, tmp_path / "a", **changes), progress=False)
    original = Trainer.train_step
    calls = {"n": 0}

    def interrupted(self, degraded, target):
        calls["n"] += 1
        if calls["n"] == 3:  # Ctrl-C during step 3: steps 1-2 are done and saved
            raise KeyboardInterrupt
        return original(self, degraded, target)

    monkeypatch.setattr(Trainer, "train_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        trainer_module.train(_config(photos, tmp_path / "b", **changes), progress=False)
    monkeypatch.setattr(Trainer, "train_step", original)
    resumed = trainer_module.train(_config(photos, tmp_path / "b", **changes), resume=True, progress=False)
    from pdloss.runs.checkpoint import load_checkpoint

    a, b = load_checkpoint(straight)["model"], load_checkpoint(resumed)["model"]
    for key in a:
        assert torch.equal(a[key], b[key]), key
