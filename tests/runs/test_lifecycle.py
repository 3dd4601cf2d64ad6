"""The run lifecycle's guarantees: SIGTERM loses nothing, the lock comes before any building, and
the training loader's own seeded generator leaves runs without global-RNG draws as they were."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
import yaml

import pdloss.train.trainer as trainer_module
from helpers import tiny_config, write_photos
from pdloss.cli import main
from pdloss.config.schema import config_from_dict
from pdloss.runs.checkpoint import load_checkpoint
from pdloss.runs.lock import LOCK_NAME, RunLockedError
from pdloss.train.stop import StopOnSigterm, Terminated

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and locks")

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": SRC + (os.pathsep + path if path else ""), "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return write_photos(tmp_path_factory.mktemp("photos"), 4, 40, seed=2)


@pytest.fixture
def one_thread():
    """One intra-op thread, as the subprocesses have (OMP_NUM_THREADS=1): bit-identical comparisons
    between processes must not depend on how a convolution's sums are split between threads."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _logged_steps(run: Path) -> list[int]:
    log = run / "log.csv"
    if not log.exists():
        return []
    with log.open() as f:
        return [int(row["step"]) for row in csv.DictReader(f) if row.get("step")]


def test_sigterm_saves_the_last_step_and_the_resumed_run_matches_an_uninterrupted_one(photos, tmp_path, one_thread):
    # No periodic checkpoint before step 100000: whatever is on disk after the kill, SIGTERM wrote.
    raw = tiny_config(photos, tmp_path / "killed", **{
        "train.iterations": 100000, "train.log_every": 1, "train.valid_every": 100000,
        "train.checkpoint_every": 100000, "data.workers": 0,
    })
    config_path = tmp_path / "run.yaml"
    config_path.write_text(yaml.safe_dump(raw))
    command = [sys.executable, "-m", "pdloss", "train", str(config_path), "--no-progress", "--device", "cpu"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        deadline = time.monotonic() + 300
        while len(_logged_steps(tmp_path / "killed")) < 3:
            assert process.poll() is None, process.stderr.read()
            assert time.monotonic() < deadline, "the run logged no 3 steps in 300 s"
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    assert process.returncode == 128 + signal.SIGTERM, stderr
    step = int(load_checkpoint(tmp_path / "killed")["step"])
    assert step >= 3
    assert f"stopped by SIGTERM at step {step}; resume with --resume" in stderr
    assert _logged_steps(tmp_path / "killed")[-1] == step  # every logged step is in the checkpoint
    assert not (tmp_path / "killed" / "DONE").exists()
    assert (tmp_path / "killed" / LOCK_NAME).read_text() == ""  # a clean exit empties the holder record

    # The schedule is constant, so a run of step + 2 iterations is the uninterrupted twin.
    length = f"train.iterations={step + 2}"
    assert main(["train", str(config_path), length, "--resume", "--no-progress", "--device", "cpu"]) == 0
    twin = {**raw, "output": str(tmp_path / "straight"), "train": {**raw["train"], "iterations": step + 2}}
    straight = trainer_module.train(config_from_dict(twin), progress=False)
    a, b = load_checkpoint(straight)["model"], load_checkpoint(tmp_path / "killed")["model"]
    assert int(load_checkpoint(tmp_path / "killed")["step"]) == step + 2
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_stop_on_sigterm_defers_the_signal_and_restores_the_handler():
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated) as stopped, StopOnSigterm() as stop:
        assert not stop.requested()
        os.kill(os.getpid(), signal.SIGTERM)  # would end the test process under the default handler
        assert stop.requested()
        stop.check()
    assert stopped.value.signum == signal.SIGTERM and isinstance(stopped.value, KeyboardInterrupt)
    assert signal.getsignal(signal.SIGTERM) is previous


def test_a_sigterm_during_the_last_step_still_ends_the_process():
    """The loop ends without asking once more: leaving the block raises instead, after the run is done."""
    with pytest.raises(Terminated), StopOnSigterm():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.01)  # Python runs the handler between bytecodes of the main thread
    with StopOnSigterm():  # no signal: leaves quietly
        pass


HOLDER = textwrap.dedent("""
    import os, sys, time
    from pdloss.runs.lock import run_lock
    with run_lock(sys.argv[1], "test-holder"):
        print(os.getpid(), flush=True)
        time.sleep(120)
""")


def test_a_second_trainer_fails_on_the_lock_before_building_data(tmp_path):
    run = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(run)], stdout=subprocess.PIPE, text=True,
                              env=_env())
    try:
        pid = int(holder.stdout.readline())
        # Its images do not exist: building the data first would fail with another error.
        raw = tiny_config(tmp_path / "no-such-folder", run)
        with pytest.raises(RunLockedError, match=f"in use by pid {pid}"):
            trainer_module.train(config_from_dict(raw), progress=False)
        assert not (run / "config.yaml").exists()
    finally:
        holder.kill()
        holder.wait(timeout=30)
    with pytest.raises(Exception) as error:  # the lock is free now: the missing images are the error
        trainer_module.train(config_from_dict(raw), progress=False)
    assert not isinstance(error.value, RunLockedError)
    assert "no-such-folder" in str(error.value)


@pytest.mark.parametrize("workers", [0, 1])
def test_the_loaders_own_generator_leaves_runs_without_global_draws_unchanged(photos, tmp_path, monkeypatch, workers):
    """The trainer gives its DataLoader a seeded generator (so that a resumed run's global stream,
    dropout's, matches an uninterrupted run's). A run whose steps draw nothing from the global RNG,
    as every shipped configuration, trains to the same bits with the loader drawing its base seed
    from the global RNG instead, as it did before: existing runs' digits are unchanged."""
    raw = tiny_config(photos, tmp_path / "own", **{"train.iterations": 4, "data.workers": workers})
    own = trainer_module.train(config_from_dict(raw), progress=False)

    loader = trainer_module.DataLoader
    monkeypatch.setattr(trainer_module, "DataLoader",
                        lambda *args, generator=None, **kwargs: loader(*args, **kwargs))
    drawn = []
    original_random = torch.Tensor.random_

    def spy(tensor, *args, **kwargs):
        drawn.append(kwargs.get("generator"))
        return original_random(tensor, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "random_", spy)
    shared = trainer_module.train(config_from_dict({**raw, "output": str(tmp_path / "shared")}), progress=False)
    assert None in drawn  # the patched loader did draw its base seed from the global RNG
    a, b = load_checkpoint(own)["model"], load_checkpoint(shared)["model"]
    for key in a:
        assert torch.equal(a[key], b[key]), key
