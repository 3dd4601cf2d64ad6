"""The trainer's resume code, piece by piece: what a checkpoint holds (every key, written out),
what ``load_state`` puts back (each part checked against the saved value, old checkpoints
without the optional parts included), the run folder's preparation, and the batches a resumed
run starts from. Small runs (a 3-level U-Net on 16-pixel crops): a few seconds in all."""

from __future__ import annotations

import random

import pytest
import torch
import yaml

from helpers import tiny_config, write_photos
from pdloss.config.schema import config_from_dict
from pdloss.errors import PdlossError
from pdloss.train.distributed import DistInfo
from pdloss.train.trainer import Trainer, _IndexBatches


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return write_photos(tmp_path_factory.mktemp("photos"), 4, 20, seed=2, base=None)


def _config(photos, output, **changes):
    raw = tiny_config(photos, output, {
        "name": "resume",
        "data": {"crop": 16, "batch": 2, "valid_crop": 16, "cache": True},
        "model": {"name": "small-unet", "options": {"widths": [4, 8, 8]}},
        "train": {"iterations": 4, "log_every": 100, "valid_every": 100, "checkpoint_every": 100, "amp": "none"},
    }, **changes)
    return config_from_dict(raw)


def _step(trainer: Trainer, count: int = 1) -> None:
    keys = iter(_IndexBatches(trainer.sampler, trainer.step))
    for _ in range(count):
        batch = torch.utils.data.default_collate([trainer.train_set[k] for k in next(keys)])
        trainer.train_step(*batch)
        trainer.step += 1


_BASE_KEYS = {"step", "config", "model", "optimizer", "scheduler", "scaler", "loss", "rng", "weights"}


def test_state_holds_every_part_of_the_run(photos, tmp_path):
    trainer = Trainer(_config(photos, tmp_path / "run"), progress=False)
    _step(trainer, 2)
    payload = trainer.state()
    assert set(payload) == _BASE_KEYS  # no loss generator, no discriminator for a plain L1 run
    assert payload["step"] == 2
    assert payload["config"] == trainer.config.to_dict()
    assert payload["weights"] is None  # an L1 loss has no feature weights
    for key, value in trainer.model.state_dict().items():
        assert torch.equal(payload["model"][key], value)
    assert payload["optimizer"]["state"] and payload["optimizer"] == trainer.optimizer.state_dict()
    assert payload["scheduler"]["last_epoch"] == trainer.scheduler.last_epoch == 2
    assert payload["scaler"] == trainer.scaler.state_dict()
    torch.testing.assert_close(payload["rng"]["torch"], torch.get_rng_state(), rtol=0, atol=0)
    assert payload["rng"]["python"] == random.getstate()


def test_state_and_load_state_of_a_loss_with_its_own_generator(photos, tmp_path):
    loss = {"name": "pdl", "weight": 0.1, "weights": "random", "layers": ["relu1_2"], "projection": "rsp",
            "resample": True}  # fmt: skip
    config = _config(photos, tmp_path / "run", loss=loss)
    trainer = Trainer(config, progress=False)
    _step(trainer)
    payload = trainer.state()
    assert set(payload) == _BASE_KEYS | {"loss_generator"}
    assert payload["weights"] == trainer.loss.weights_label and "random" in payload["weights"]
    assert torch.equal(payload["loss_generator"], trainer.loss._generator.get_state())
    expected = torch.rand(3, generator=trainer.loss._generator)
    other = Trainer(config, progress=False)
    other.load_state(payload)
    assert torch.equal(torch.rand(3, generator=other.loss._generator), expected)
    # A checkpoint written before the generator was saved still loads.
    older = {k: v for k, v in payload.items() if k != "loss_generator"}
    Trainer(config, progress=False).load_state(older)


def test_state_and_load_state_of_an_adversarial_run(photos, tmp_path):
    config = _config(photos, tmp_path / "run", loss={"name": "adversarial", "weight": 0.01, "base_channels": 4,
                                                     "hidden": 8})  # fmt: skip
    trainer = Trainer(config, progress=False)
    _step(trainer, 2)
    payload = trainer.state()
    assert "d_optimizer" in payload and payload["d_optimizer"] == trainer.d_optimizer.state_dict()
    assert payload["d_optimizer"]["state"]  # the discriminator has taken steps
    other = Trainer(config, progress=False)
    other.load_state(payload)
    assert other.d_optimizer.state_dict() == payload["d_optimizer"]
    older = {k: v for k, v in payload.items() if k != "d_optimizer"}
    fresh = Trainer(config, progress=False)
    fresh.load_state(older)  # an older checkpoint without it: the discriminator's optimizer starts anew
    assert not fresh.d_optimizer.state_dict()["state"]


def test_load_state_puts_back_each_part(photos, tmp_path):
    config = _config(photos, tmp_path / "run")
    trainer = Trainer(config, progress=False)
    _step(trainer, 3)
    payload = trainer.state()
    payload["step"] = torch.tensor(3)  # read as an int whatever it was saved as
    other = Trainer(config, progress=False)
    other.load_state(payload)
    assert other.step == 3 and type(other.step) is int
    for key, value in trainer.model.state_dict().items():
        assert torch.equal(other.model.state_dict()[key], value), key
    assert other.optimizer.state_dict() == trainer.optimizer.state_dict()
    assert other.scheduler.last_epoch == 3
    assert other.scheduler.get_last_lr() == trainer.scheduler.get_last_lr()
    assert other.scaler.state_dict() == trainer.scaler.state_dict()


def test_prepare_run_dir_writes_the_config_and_refuses_a_used_folder(photos, tmp_path):
    output = tmp_path / "a" / "b" / "run"
    trainer = Trainer(_config(photos, output), progress=False)
    trainer._prepare_run_dir(resume=False)
    written = (output / "config.yaml").read_text()
    assert written == yaml.safe_dump(trainer.config.to_dict(), sort_keys=False)
    assert written.startswith("task: denoise\n")  # the config's own order, not sorted keys
    (output / "checkpoints").mkdir()
    (output / "checkpoints" / "last.pt").write_bytes(b"")
    message = f"^{output} already holds a run; use --resume to continue it or another output$"
    with pytest.raises(PdlossError, match=message):
        trainer._prepare_run_dir(resume=False)
    (output / "config.yaml").unlink()
    trainer._prepare_run_dir(resume=True)
    assert (output / "config.yaml").read_text() == written
    # Other ranks of a distributed run leave the folder to rank 0.
    elsewhere = Trainer(_config(photos, tmp_path / "other"), progress=False)
    elsewhere.dist = DistInfo(rank=1, world=2)
    elsewhere._prepare_run_dir(resume=False)
    assert not (tmp_path / "other").exists()


def test_index_batches_start_at_the_step_with_epoch_keys(photos, tmp_path):
    trainer = Trainer(_config(photos, tmp_path / "run"), progress=False)
    sampler = trainer.sampler
    batches = iter(_IndexBatches(sampler, 3))
    expected = sampler.iter_from(3)
    for _ in range(5):  # across an epoch boundary (4 images, batches of 2)
        epoch, indices = next(expected)
        assert next(batches) == [(epoch, i) for i in indices]
    first = next(iter(_IndexBatches(sampler, 0)))
    assert [e for e, _ in first] == [0, 0] and len({i for _, i in first}) == 2


def _used_folder(photos, output) -> None:
    """A run folder as a 4-step run leaves it: its config and a last checkpoint."""
    Trainer(_config(photos, output), progress=False)._prepare_run_dir(resume=False)
    (output / "checkpoints").mkdir()
    (output / "checkpoints" / "last.pt").write_bytes(b"")


def test_resume_refuses_other_training_settings(photos, tmp_path):
    output = tmp_path / "run"
    _used_folder(photos, output)
    changed = Trainer(_config(photos, output, **{"optim.lr": 1e-3}), progress=False)
    message = r"was trained with other settings than this config \(optim\.lr: 0\.01 -> 0\.001\)"
    with pytest.raises(PdlossError, match=message):
        changed._prepare_run_dir(resume=True)
    assert "lr: 0.01\n" in (output / "config.yaml").read_text()  # the saved config is left as it was


def test_resume_without_a_checkpoint_starts_afresh_with_any_settings(photos, tmp_path):
    # A folder whose run never reached a checkpoint holds nothing to mix with: it is overwritten.
    output = tmp_path / "run"
    _used_folder(photos, output)
    (output / "checkpoints" / "last.pt").unlink()
    changed = Trainer(_config(photos, output, **{"optim.lr": 1e-3}), progress=False)
    changed._prepare_run_dir(resume=True)
    assert "lr: 0.001\n" in (output / "config.yaml").read_text()


def test_resume_with_more_iterations_says_so_and_records_them(photos, tmp_path, capsys):
    output = tmp_path / "run"
    _used_folder(photos, output)
    capsys.readouterr()
    longer = Trainer(_config(photos, output, **{"train.iterations": 8}), progress=False)
    longer._prepare_run_dir(resume=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"resuming {output} with train.iterations: 4 -> 8 (the schedule follows the new length)\n"
    assert yaml.safe_load((output / "config.yaml").read_text())["train"]["iterations"] == 8


def test_load_state_restores_a_float16_gradient_scaler(photos, tmp_path):
    # fp16 autocast (forced with train.amp: fp16) is the one mode with an enabled GradScaler; its
    # scale and growth tracker must come back, or a resumed run restarts the scale search.
    config = _config(photos, tmp_path / "run", **{"train.amp": "fp16"})
    trainer = Trainer(config, progress=False)
    assert trainer.scaler.is_enabled()
    _step(trainer, 2)
    payload = trainer.state()
    payload["scaler"]["scale"] = 1024.0
    payload["scaler"]["_growth_tracker"] = 7
    other = Trainer(config, progress=False)
    other.load_state(payload)
    assert other.scaler.get_scale() == 1024.0
    assert other.scaler.state_dict()["_growth_tracker"] == 7
