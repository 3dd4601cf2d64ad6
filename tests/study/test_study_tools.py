"""The tools of a loss comparison: the fixed photo split, fine-tuning from another run's weights
(``model.init``, also between the runs of a sweep), and scoring a run on any folder of images."""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from helpers import tiny_config, write_photos
from pdloss.config.schema import ConfigError, config_from_dict, load_raw
from pdloss.data.builtin import BUILTIN_PHOTOS
from pdloss.data.debian import load_manifest
from pdloss.data.split import SUBSETS, load_split, parse_subsets, split_counts, split_names
from pdloss.errors import InputError, PdlossError
from pdloss.runs.checkpoint import load_checkpoint
from pdloss.sweep import plan_runs
from pdloss.train.trainer import Trainer, train

# -- the split ------------------------------------------------------------------------------


def test_split_is_disjoint_and_covers_every_offline_photo():
    sets = load_split()["sets"]
    assert set(sets["builtin"]) == set(BUILTIN_PHOTOS)
    assert set(sets["debian-photos"]) == set(load_manifest()["files"])
    for split_set in ("builtin", "debian-photos", "offline"):
        parts = [set(split_names(split_set, (s,))) for s in SUBSETS]
        assert all(parts), f"{split_set}: an empty subset"
        assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    every = set(sets["builtin"]) | set(sets["debian-photos"])
    assert set().union(*(split_names("offline", (s,)) for s in SUBSETS)) == every
    assert sum(split_counts()["offline"].values()) == len(every) == 46


def test_split_keeps_scene_pairs_together_and_follows_its_rule():
    """A scene photographed twice never has one view in training and the other in test, and the
    manifest is what its stated rule gives (the hash order of groups), not a hand-picked list."""
    for entries in load_split()["sets"].values():
        by_group: dict[str, set[str]] = {}
        for entry in entries.values():
            by_group.setdefault(entry["group"], set()).add(entry["subset"])
        assert all(len(subsets) == 1 for subsets in by_group.values())
        groups = sorted(by_group, key=lambda g: hashlib.sha256(g.encode()).hexdigest())
        n = len(groups)
        test, valid = round(0.26 * n), round(0.22 * n)
        expected = ["test"] * test + ["valid"] * valid + ["train"] * (n - test - valid)
        assert [next(iter(by_group[g])) for g in groups] == expected
    pairs = {("motorcycle_left", "motorcycle_right"), ("opencv-aloeL.jpg", "opencv-aloeR.jpg")}
    sets = load_split()["sets"]
    for a, b in pairs:
        entries = sets["builtin"] if a in sets["builtin"] else sets["debian-photos"]
        assert entries[a]["subset"] == entries[b]["subset"]


def test_split_sources_resolve_and_refuse_unknown_subsets(monkeypatch, tmp_path):
    from pdloss.data.sources import resolve_images

    train_files = resolve_images("builtin:train")
    assert [p.stem for p in train_files] == [Path(n).stem for n in split_names("builtin", ("train",))]
    both = resolve_images("builtin:train+valid")
    assert len(both) == len(train_files) + len(split_names("builtin", ("valid",)))
    with pytest.raises(InputError, match="unknown split subset"):
        parse_subsets("tset")
    monkeypatch.setenv("PDLOSS_HOME", str(tmp_path))  # no debian-photos here
    with pytest.raises(InputError, match="pdloss data fetch debian-photos"):
        resolve_images("offline:test")


def test_div2k_split(monkeypatch, tmp_path):
    from pdloss.data.sources import resolve_images

    for folder, numbers in (("DIV2K_train_HR", range(1, 801)), ("DIV2K_valid_HR", range(801, 804))):
        (tmp_path / folder).mkdir()
        for n in numbers:
            (tmp_path / folder / f"{n:04d}.png").write_bytes(b"")
    monkeypatch.setenv("PDLOSS_DIV2K", str(tmp_path))
    train_files, valid, test = (resolve_images(f"div2k:{s}") for s in SUBSETS)
    assert (len(train_files), len(valid), len(test)) == (700, 100, 3)
    assert train_files[-1].stem == "0700" and valid[0].stem == "0701" and test[0].stem == "0801"


def test_data_list_shows_the_split(capsys):
    from pdloss.cli import main

    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "offline" in out and "train" in out and "valid" in out and "test" in out
    counts = split_counts()["offline"]
    assert f"{counts['train']:>6} {counts['valid']:>6} {counts['test']:>6}" in out


# -- model.init -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return write_photos(tmp_path_factory.mktemp("photos"), 3, 48, seed=1)


def tiny(photos, output, **changes):
    evaluate = {"metrics": ["psnr"], "grid_crop": 16, "cdf_weights": "random", "cdf_layer": "relu1_2"}
    raw = tiny_config(photos, output, {"evaluate": evaluate}, **changes)
    return raw


def test_init_starts_exactly_from_the_source_weights(photos, tmp_path):
    source = train(tiny(photos, tmp_path / "a"), progress=False)
    payload = load_checkpoint(source)
    raw = tiny(photos, tmp_path / "b", **{"model.init": str(source), "seed": 7, "optim.lr": 1e-3})
    trainer = Trainer(config_from_dict(raw), progress=False)
    for key, value in payload["model"].items():
        assert torch.equal(trainer.model.state_dict()[key], value), key
    # A fresh optimiser and schedule: nothing but the weights is taken from the source.
    assert payload["step"] == 2 and payload["optimizer"]["state"]
    assert trainer.step == 0 and trainer.scheduler.last_epoch == 0 and not trainer.optimizer.state
    # The first step's loss is the source model's loss on the same batch.
    degraded, target = trainer.train_set[(0, 0)]
    degraded, target = degraded[None], target[None]
    from pdloss.runs.load import load_run

    _, source_model, _, _ = load_run(source)
    with torch.no_grad():
        expected = (source_model(degraded) - target).abs().mean().item()
    assert trainer.train_step(degraded, target)["loss"] == pytest.approx(expected, rel=1e-6)


def test_init_refuses_a_mismatch_naming_both_sides(photos, tmp_path):
    source = train(tiny(photos, tmp_path / "a"), progress=False)
    wider = tiny(photos, tmp_path / "b", **{"model.init": str(source), "model.options.widths": [8, 16, 8]})
    expected = r"options is \{'widths': \[8, 8, 8\]\}, this run's is \{'widths': \[8, 16, 8\]\}"
    with pytest.raises(PdlossError, match=expected):
        train(wider, progress=False)
    other_task = tiny(photos, tmp_path / "c", **{"model.init": str(source), "task": "jpeg", "task_options": {}})
    with pytest.raises(PdlossError, match="its task is 'denoise', this run's is 'jpeg'"):
        train(other_task, progress=False)
    with pytest.raises(PdlossError, match="no checkpoint"):
        train(tiny(photos, tmp_path / "d", **{"model.init": str(tmp_path / "nowhere")}), progress=False)


def test_init_refuses_another_bayer_pattern(photos, tmp_path):
    raw = tiny(photos, tmp_path / "a", task="demosaic", task_options={"pattern": "RGGB"})
    source = train(raw, progress=False)
    other = tiny(photos, tmp_path / "b", task="demosaic", task_options={"pattern": "GRBG"})
    other["model"]["init"] = str(source)
    with pytest.raises(PdlossError, match="its pattern is 'rggb', this run's is 'grbg'"):
        train(other, progress=False)


def test_sweep_plans_a_shared_init_per_seed_first():
    raw = {
        "task": "denoise",
        "seed": 0,
        "output": "x",
        "sweep": [
            ["loss=pdl", "loss.weight=0.1", "model.init=@pre", "seed=0,1"],
            ["run=pre", "loss=l1", "seed=0,1"],
            ["run=scratch", "loss=l1"],
        ],
    }
    planned = plan_runs(raw)
    assert [r.name for r in planned] == ["pre", "pdl-0.1", "pre-seed1", "pdl-0.1-seed1", "scratch"]
    assert [r.depends_on for r in planned] == [None, "pre", None, "pre-seed1", None]
    bad = {**raw, "sweep": [["loss=pdl", "model.init=@nothing"]]}
    with pytest.raises(ConfigError, match=r"model\.init=@nothing names no run"):
        plan_runs(bad)
    cycle = {**raw, "sweep": [["run=a", "model.init=@b"], ["run=b", "model.init=@a"]]}
    with pytest.raises(ConfigError, match="cycle"):
        plan_runs(cycle)
    same = {**raw, "sweep": [["loss=l1"], ["loss=l1"]]}
    assert len(plan_runs(same)) == 1  # the same overrides are one run


def test_sweep_trains_a_shared_init_once_and_fine_tunes_from_it(photos, tmp_path, capsys):
    from pdloss.cli import main

    raw = tiny(photos, tmp_path / "sweep")
    raw["sweep"] = [
        ["run=pre", "loss=l1", "train.iterations=3"],
        ["run=a", "loss=l1", "model.init=@pre"],
        ["run=b", "loss=l1", "optim.lr=0.001", "model.init=@pre"],
    ]
    config_file = tmp_path / "sweep.yaml"
    config_file.write_text(yaml.safe_dump(raw))
    assert main(["sweep", str(config_file), "--no-eval"]) == 0
    progress = capsys.readouterr().err
    # Progress names each run; from the second on, the time left for the whole sweep.
    assert re.search(r"^\[1/3\] l1: .*pre$", progress, re.M)
    assert re.search(r"^\[2/3\] l1 from pre: .*a; sweep time left ~\d+:\d\d:\d\d \(training\)$", progress, re.M)
    assert re.search(r"^\[3/3\] l1 from pre: .*b; sweep time left ~", progress, re.M)
    assert re.search(r"^sweep trained in \d+:\d\d:\d\d$", progress, re.M)
    root = tmp_path / "sweep"
    pre_mtime = (root / "pre" / "checkpoints" / "last.pt").stat().st_mtime_ns
    for name in ("a", "b"):
        config = yaml.safe_load((root / name / "config.yaml").read_text())
        assert config["model"]["init"] == str(root / "pre")
    assert load_checkpoint(root / "pre")["step"] == 3 and load_checkpoint(root / "a")["step"] == 2
    assert main(["sweep", str(config_file), "--no-eval"]) == 0  # resuming: nothing is trained again
    assert (root / "pre" / "checkpoints" / "last.pt").stat().st_mtime_ns == pre_mtime


def test_sweep_seeds_trains_only_those_seeds_with_their_inits(photos, tmp_path, capsys):
    from pdloss.cli import main

    raw = tiny(photos, tmp_path / "sweep")
    raw["seed"] = 0
    raw["sweep"] = [
        ["run=pre", "loss=l1", "train.iterations=3", "seed=0,1"],
        ["run=a", "loss=l1", "model.init=@pre", "seed=0,1"],
        ["run=b", "loss=l1", "optim.lr=0.001", "model.init=@pre"],  # the base seed (0) only
    ]
    config_file = tmp_path / "sweep.yaml"
    config_file.write_text(yaml.safe_dump(raw))
    root = tmp_path / "sweep"
    assert main(["sweep", str(config_file), "--no-eval", "--seeds", "1"]) == 0
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == ["a-seed1", "pre-seed1"]
    config = yaml.safe_load((root / "a-seed1" / "config.yaml").read_text())
    assert config["model"]["init"] == str(root / "pre-seed1") and config["seed"] == 1
    capsys.readouterr()
    assert main(["sweep", str(config_file), "--no-eval", "--seeds", "1,2"]) == 2
    assert capsys.readouterr().err.endswith(
        "pdloss sweep: error: --seeds 2 names no run of this sweep (its seeds: 0, 1)\n"
    )
    with pytest.raises(SystemExit):  # argparse: not a list of integers
        main(["sweep", str(config_file), "--no-eval", "--seeds", "one"])
    assert "expected comma-separated integers, got 'one'" in capsys.readouterr().err
    from pdloss.sweep import sweep

    with pytest.raises(ConfigError, match=r"^--seeds: give at least one seed$"):
        sweep(str(config_file), seeds=[], skip_eval=True)


def test_shipped_laptop_presets_plan():
    for path in sorted(Path(__file__).resolve().parents[2].joinpath("configs").glob("laptop-*.yaml")):
        planned = plan_runs(load_raw(path))
        assert any(r.depends_on for r in planned), path.name


# -- scoring any folder, tables with intervals, the perception-distortion plot ----------------


@pytest.fixture()
def scored_folder(tmp_path):
    """Clean photos outside the training data, an unreadable file among them."""
    folder = tmp_path / "mine"
    folder.mkdir()
    rng = np.random.default_rng(5)
    for i in range(3):
        base = rng.integers(0, 256, (84, 100, 3), dtype=np.uint8)
        Image.fromarray(base).resize((200, 168), Image.BICUBIC).save(folder / f"m{i}.png")
    (folder / "broken.png").write_bytes(b"not a png")
    return folder


def test_evaluate_images_scores_another_folder(photos, scored_folder, tmp_path, capsys):
    from pdloss.cli import main

    run = train(tiny(photos, tmp_path / "run", **{"evaluate.seed": 11}), progress=False)
    with pytest.warns(UserWarning, match="broken.png"):
        assert main(["evaluate", str(run), "--images", str(scored_folder), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "| l1 |" in out and "on " + str(scored_folder) in out
    restored = sorted(p.name for p in (run / "eval-mine" / "restored").glob("*.png"))
    assert restored == ["m0.png", "m1.png", "m2.png"]
    record = json.loads((run / "eval-mine" / "metrics.json").read_text())
    assert record["degradation_seed"] == 11 and record["images_source"] == str(scored_folder)
    assert (run / "results-mine.md").is_file() and not (run / "eval").exists()
    # The same seed gives the same degraded inputs: a second evaluation is identical.
    first = (run / "eval-mine" / "input" / "m1.png").read_bytes()
    main(["evaluate", str(run), "--images", str(scored_folder), "--no-progress"])
    assert (run / "eval-mine" / "input" / "m1.png").read_bytes() == first


def test_super_resolution_inputs_are_kept_apart_for_the_crop_grids(photos, tmp_path):
    from pdloss.degradations import bicubic_downsample
    from pdloss.evaluation.run import evaluate_run
    from pdloss.imageio import read_image

    config = tiny(photos, tmp_path / "run", task="sr4x", task_options={"factor": 4}, model={"name": "edsr-baseline",
                  "options": {"n_feats": 8, "n_resblocks": 1}})  # fmt: skip
    run = train(config, progress=False)
    evaluate_run(run, progress=False)
    evals = run / "eval"
    assert not (evals / "input").exists()  # not measured: not the reference's size
    small = sorted((evals / "input-small").glob("*.png"))
    assert [p.name for p in small] == ["p0.png", "p1.png", "p2.png"]
    reference = read_image(evals / "reference" / "p0.png")
    inp = read_image(small[0])
    assert reference.shape == (3, 48, 48) and inp.shape == (3, 12, 12)
    expected = bicubic_downsample(reference[None], 4)[0].clamp(0, 1)
    torch.testing.assert_close(inp, expected, rtol=0, atol=2 / 255)  # both PNGs rounded to 8 bits


def test_evaluate_images_errors(photos, tmp_path):
    from pdloss.evaluation.run import evaluate_run

    run = train(tiny(photos, tmp_path / "run"), progress=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(PdlossError, match="no image files"):
        evaluate_run(run, images=empty, progress=False)
    small = tmp_path / "small"
    small.mkdir()
    Image.fromarray(np.zeros((20, 40, 3), np.uint8)).save(small / "tiny.png")
    with pytest.raises(PdlossError, match=r"tiny\.png \(40x20 px\)"):
        evaluate_run(run, images=small, progress=False)


def test_sweep_images_reference_intervals_and_perception_distortion(photos, scored_folder, tmp_path, capsys):
    from pdloss.cli import main

    raw = tiny(photos, tmp_path / "sweep", **{"evaluate.metrics": ["psnr", "niqe"], "evaluate.seed": 0, "seed": 0})
    raw["evaluate"]["grid_zoom"] = 2
    raw["data"]["valid"] = str(scored_folder)  # NIQE needs images of 96 px blocks
    raw["sweep"] = [
        ["run=pre", "loss=l1", "train.iterations=3", "seed=0,1"],
        ["run=a", "loss=l1", "model.init=@pre", "seed=0,1"],
        ["run=b", "loss=l1", "optim.lr=0.002", "model.init=@pre", "seed=0,1"],
    ]
    config_file = tmp_path / "sweep.yaml"
    config_file.write_text(yaml.safe_dump(raw))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["sweep", str(config_file), "--images", str(scored_folder), "--reference", "a"])
    assert code == 0
    out = capsys.readouterr().out
    root = tmp_path / "sweep"
    table = (root / "results-mine.md").read_text()
    assert table in out  # the table for the folder is printed
    assert "Difference against **l1 [a]**" in table
    payload = json.loads((root / "results-mine.json").read_text())
    rows = {r["label"]: r for r in payload["rows"] if "run" in r}
    assert set(rows) == {"l1 [pre]", "l1 [a]", "l1 [b]"} and rows["l1 [b]"]["seeds"] == [0, 1]
    # A row's value is the mean over its seeds' evaluations.
    per_seed = [json.loads((root / n / "eval-mine" / "metrics.json").read_text()) for n in ("b", "b-seed1")]
    assert rows["l1 [b]"]["psnr"] == pytest.approx(np.mean([r["mean"]["psnr"] for r in per_seed]))
    # The interval is the paired bootstrap of per-image differences over both seeds.
    diff = payload["differences"]["b"]["psnr"]["difference"]
    a_seeds = [json.loads((root / n / "eval-mine" / "metrics.json").read_text()) for n in ("a", "a-seed1")]
    cells = [
        b["per_image"][stem]["psnr"] - a["per_image"][stem]["psnr"]
        for a, b in zip(a_seeds, per_seed, strict=True)
        for stem in a["per_image"]
    ]
    assert diff["mean"] == pytest.approx(np.mean(cells)) and diff["low"] <= diff["mean"] <= diff["high"]
    assert diff["n_seeds"] == 2 and diff["n_images"] == 3
    # The perception-distortion data hold every entry's mean and its spread over seeds.
    pd_data = json.loads((root / "perception_distortion-mine.json").read_text())
    points = {p["entry"]: p for curve in pd_data["curves"].values() for p in curve}
    assert set(points) == {"pre", "a", "b"}
    assert points["b"]["psnr"] == pytest.approx(rows["l1 [b]"]["psnr"])
    assert points["b"]["psnr_std"] == pytest.approx(np.std([r["mean"]["psnr"] for r in per_seed], ddof=1))
    assert points["a"]["niqe"] == pytest.approx(rows["l1 [a]"]["niqe"])
    for name in ("crops-mine.png", "crops.png", "results.md", "perception_distortion-mine.png"):
        assert (root / name).stat().st_size > 0


def test_sweep_valid_metrics_score_the_validation_pass_only(photos, scored_folder, tmp_path):
    from pdloss.sweep import sweep

    raw = tiny(photos, tmp_path / "sweep", **{"evaluate.metrics": ["psnr", "niqe"], "evaluate.seed": 0})
    raw["evaluate"]["valid_metrics"] = ["psnr", "ms_ssim"]
    raw["data"]["valid"] = str(scored_folder)
    raw["sweep"] = [["run=a", "loss=l1"]]
    config_file = tmp_path / "sweep.yaml"
    config_file.write_text(yaml.safe_dump(raw))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        root = sweep(str(config_file), images=str(scored_folder))
    # The validation table has the validation metrics' columns, the --images table evaluate.metrics'.
    assert json.loads((root / "results.json").read_text())["metrics"] == ["psnr", "ms_ssim"]
    assert json.loads((root / "results-mine.json").read_text())["metrics"] == ["psnr", "niqe"]
    valid_record = root / "a" / "eval" / "metrics.json"
    record = json.loads(valid_record.read_text())
    assert "ms_ssim" in record["row"] and "niqe" not in record["row"]
    assert "niqe" in json.loads((root / "a" / "eval-mine" / "metrics.json").read_text())["row"]
    # Run again: both evaluations are current and reused.
    stamp = valid_record.stat().st_mtime_ns
    sweep(str(config_file), images=str(scored_folder))
    assert valid_record.stat().st_mtime_ns == stamp
    # A record that lacks one of the pass's metrics (pdloss evaluate --metrics psnr) is measured again.
    del record["row"]["ms_ssim"]
    valid_record.write_text(json.dumps(record))
    sweep(str(config_file), images=str(scored_folder), images_only=False)
    assert "ms_ssim" in json.loads(valid_record.read_text())["row"]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("evaluate.valid_metrics", ["psnr", "nique"], r"^evaluate\.valid_metrics: unknown metric 'nique'; known: "),
        ("evaluate.metrics", ["fd"], r"^evaluate\.metrics: unknown metric 'fd'"),
        ("evaluate.valid_metrics", [], r"^evaluate\.valid_metrics must name at least one metric$"),
    ],
)
def test_config_refuses_unknown_or_no_metrics(photos, tmp_path, key, value, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(tiny(photos, tmp_path / "run", **{key: value}))


def test_crop_grid_chooses_textured_windows_on_the_reference(tmp_path):
    from pdloss.imageio import write_image
    from pdloss.report.figures import grid_windows

    flat = torch.full((3, 64, 64), 0.5)
    textured = flat.clone()
    textured[:, 40:56, 8:24] = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(0))
    write_image(tmp_path / "flat.png", flat)
    write_image(tmp_path / "textured.png", textured)
    chosen = grid_windows(tmp_path, ["flat", "textured"], crop=16, windows="textured", max_images=1)
    assert chosen == [("textured", 40, 8, 16)]
    assert grid_windows(tmp_path, ["flat"], crop=16, windows="centre") == [("flat", 24, 24, 16)]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([7.1, 7.6, 122.3], True),  # a broken run beside healthy ones: log scale
        ([7.1, 7.6, None, 9.0], False),  # all within 5x: linear
        ([0.074, 0.1], False),
        ([-0.001, 0.08, 0.5], False),  # KID can be negative (unbiased): never log
        ([None, None], False),
        ([1.0, 5.0], False),  # exactly the ratio: still linear
        ([1.0, 5.01], True),
    ],
)
def test_perception_axis_log_scale_rule(values, expected):
    from pdloss.report.summary import use_log_scale

    assert use_log_scale(values) is expected


def test_perception_distortion_plot_from_its_json_data(tmp_path):
    from pdloss.report.summary import plot_perception_distortion_data

    point = {"entry": "pdl-0.3", "label": "pdl (0.3)", "weight": 0.3, "seeds": [0], "psnr": 26.4, "niqe": 64.6}
    data = {
        "x": "psnr",
        "y": ["niqe", "kid"],
        "curves": {
            "pdl": [{**point, "weight": 0.02, "psnr": 27.1, "niqe": 7.8}, point],
            "l1": [{**point, "entry": "l1", "label": "l1", "weight": None, "psnr": 27.2, "niqe": 7.6}],
        },
    }
    out = plot_perception_distortion_data(data, tmp_path / "pd.png", "test")
    assert out == tmp_path / "pd.png" and out.stat().st_size > 0
    no_psnr = {**data, "curves": {"l1": [{**point, "psnr": None}]}}
    assert plot_perception_distortion_data(no_psnr, tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()


def test_perception_distortion_curves_split_by_the_settings_that_differ():
    from pdloss.report.summary import Entry, perception_distortion_data

    def entry(name, loss, weight, psnr, fine_tuned=True, **options):
        made = Entry(name=name, label=name, loss=loss, weight=weight, fine_tuned=fine_tuned, options=options,
                     seeds=[0], records=[{"row": {"psnr": psnr, "niqe": 8.0}}])  # fmt: skip
        return made

    shared = {"weights": "vgg16-hed"}
    entries = [
        entry("pretrain", "l1", None, 25.0, fine_tuned=False),
        entry("l1", "l1", None, 27.0),
        entry("id-0.02", "pdl", 0.02, 26.0, **shared),
        entry("id-0.005", "pdl", 0.005, 26.5, **shared),
        entry("rsp4x-0.02", "pdl", 0.02, 26.1, projection="rsp", projection_factor=4, **shared),
        entry("rsp2x-0.02", "pdl", 0.02, 26.2, projection="rsp", projection_factor=2, **shared),
        entry("perceptual-l1-0.02", "perceptual-l1", 0.02, 26.3, **shared),
    ]
    curves = perception_distortion_data(entries)["curves"]
    assert list(curves) == [
        "pretrain", "l1", "pdl (projection=default, projection_factor=default)",
        "pdl (projection=rsp, projection_factor=4)", "pdl (projection=rsp, projection_factor=2)", "perceptual-l1",
    ]  # fmt: skip
    identity = curves["pdl (projection=default, projection_factor=default)"]
    assert [p["entry"] for p in identity] == ["id-0.005", "id-0.02"]
    assert [p["psnr"] for p in curves["pdl (projection=rsp, projection_factor=4)"]] == [26.1]
