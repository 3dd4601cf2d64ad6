"""One writer per run folder: an OS lock that a second process cannot take, and that dies with its holder."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from pdloss.runs.checkpoint import load_checkpoint
from pdloss.runs.lock import LOCK_NAME, RunLockedError, is_locked_here, read_holder, run_lock

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the two-process tests use POSIX signals")

SRC = str(Path(__file__).resolve().parents[2] / "src")

# Takes the lock, forks a child that outlives it (as a DataLoader worker would), prints both pids.
HOLDER = textwrap.dedent("""
    import os, sys, time
    from pdloss.runs.lock import run_lock
    with run_lock(sys.argv[1], "test-holder"):
        child = os.fork()
        if child == 0:
            time.sleep(60)
            os._exit(0)
        print(os.getpid(), child, flush=True)
        time.sleep(60)
""")

# Exit 0 when the lock could be taken, 3 when another process holds it.
TRY = textwrap.dedent("""
    import sys
    from pdloss.runs.lock import RunLockedError, run_lock
    try:
        with run_lock(sys.argv[1]):
            pass
    except RunLockedError as exc:
        print(exc)
        sys.exit(3)
""")


def _env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": SRC + (os.pathsep + path if path else ""), "OMP_NUM_THREADS": "1"}


def _try_elsewhere(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", TRY, str(folder)], capture_output=True, text=True, env=_env(),
                          timeout=60)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_the_lock_file_names_the_holder_and_is_emptied_on_exit(tmp_path):
    folder = tmp_path / "run"  # created by the lock
    with run_lock(folder, "train") as held:
        assert held == folder and is_locked_here(folder)
        record = json.loads((folder / LOCK_NAME).read_text())
        assert record["pid"] == os.getpid() and record["host"] == socket.gethostname()
        assert record["what"] == "train" and record["started"]
        assert read_holder(folder) == record  # from memory: reading the file would drop the lock
    assert not is_locked_here(folder)
    assert (folder / LOCK_NAME).read_text() == "" and read_holder(folder) == {}


def test_a_second_process_fails_at_once_and_a_killed_holder_never_blocks(tmp_path):
    folder = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True,
                              env=_env())
    worker = None
    try:
        pid, worker = map(int, holder.stdout.readline().split())
        assert pid == holder.pid
        started = time.perf_counter()
        with pytest.raises(RunLockedError) as caught:
            with run_lock(folder):
                pass
        assert time.perf_counter() - started < 1.0  # no waiting
        message = str(caught.value)
        assert str(folder) in message and f"pid {holder.pid} on host {socket.gethostname()}" in message
        assert "pdloss test-holder" in message
        assert caught.value.holder["pid"] == holder.pid and caught.value.folder == folder

        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
        # The holder's forked child is still alive and shares its files, yet the lock is free
        # (a record lock belongs to the process, unlike flock); the stale record does not matter.
        os.kill(worker, 0)
        assert read_holder(folder)["pid"] == holder.pid
        started = time.perf_counter()
        with run_lock(folder, "resume"):
            assert read_holder(folder)["what"] == "resume"
        assert time.perf_counter() - started < 1.0
    finally:
        _kill(holder.pid)
        if worker:
            _kill(worker)
        holder.wait(timeout=30)


def test_the_lock_is_reentrant_within_a_process_and_keyed_by_the_real_path(tmp_path):
    folder = tmp_path / "sweep" / "run"
    folder.mkdir(parents=True)
    (tmp_path / "alias").symlink_to(folder)
    with run_lock(folder, "sweep"):
        # A sweep evaluating the run it holds: the same folder again, spelled two other ways.
        with run_lock(tmp_path / "sweep" / ".." / "sweep" / "run", "evaluate"), run_lock(tmp_path / "alias"):
            assert is_locked_here(folder)
        assert is_locked_here(folder)
        other = _try_elsewhere(folder)  # the inner exits left the outer hold in place
        assert other.returncode == 3 and f"pid {os.getpid()}" in other.stdout
    assert not is_locked_here(folder)
    assert _try_elsewhere(folder).returncode == 0


def test_a_failed_block_releases_the_lock(tmp_path):
    with pytest.raises(KeyError):
        with run_lock(tmp_path):
            raise KeyError("boom")
    assert not is_locked_here(tmp_path)
    assert _try_elsewhere(tmp_path).returncode == 0


def test_two_pdloss_train_processes_on_one_folder(tmp_path, capsys):
    """A `pdloss train` subprocess holds the folder; this test process is the second `pdloss train`
    (the same CLI code in another OS process: one torch import less on a busy 2-core machine)."""
    from pdloss.cli import main

    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(photos / f"p{i}.png")
    run = tmp_path / "run"
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({
        "task": "denoise",
        "task_options": {"sigma": 25},
        "output": str(run),
        # One DataLoader worker: a forked child of the trainer, which must not keep the lock alive.
        "data": {"train": str(photos), "crop": 16, "batch": 2, "valid_crop": 16, "workers": 1},
        "model": {"name": "small-unet", "options": {"widths": [4, 4, 4]}},
        "loss": {"name": "l1"},
        "train": {"iterations": 100000, "log_every": 2, "valid_every": 100000, "checkpoint_every": 2,
                  "amp": "none"},
    }))
    command = [sys.executable, "-m", "pdloss", "train", str(config), "--no-progress", "--device", "cpu"]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        deadline = time.monotonic() + 300
        while not (run / "checkpoints" / "last.pt").exists():
            assert first.poll() is None, first.stderr.read()
            assert time.monotonic() < deadline, "the first run wrote no checkpoint in 300 s"
            time.sleep(0.1)
        capsys.readouterr()
        assert main(["train", str(config), "--resume", "--no-progress", "--device", "cpu"]) == 2
        error = capsys.readouterr().err
        assert f"run folder {run} is in use by pid {first.pid} on host {socket.gethostname()}" in error
        assert first.poll() is None  # the first run goes on undisturbed

        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
        step = int(load_checkpoint(run)["step"])
        overrides = [f"train.iterations={step + 2}", "data.workers=0"]
        assert main(["train", str(config), *overrides, "--resume", "--no-progress", "--device", "cpu"]) == 0
    finally:
        _kill(first.pid)
        first.wait(timeout=30)
    assert int(load_checkpoint(run)["step"]) == step + 2 and (run / "DONE").exists()
    rows = (run / "log.csv").read_text().splitlines()
    assert rows[0].startswith("step,") and rows[-1].split(",")[0] == str(step + 2)
    assert all(len(r.split(",")) == len(rows[0].split(",")) for r in rows)
    assert not is_locked_here(run) and _try_elsewhere(run).returncode == 0
