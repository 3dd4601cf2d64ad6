"""pdloss export / pdloss report on runs written by the test: every committed number re-derives."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from pdloss.cli import main
from pdloss.metrics.kid import set_metric_from_features
from pdloss.report.build import build_reports, check_reports
from pdloss.report.export import export_study
from pdloss.report.results import load_study
from pdloss.stats import FeatureRows, paired_bootstrap, paired_set_bootstrap

# Two photos of one scene (graf1, graf3) and three others: 4 scenes, 5 images.
STEMS = ["chelsea", "coffee", "mate-Aqua", "opencv-graf1", "opencv-graf3"]
SCENES = ["chelsea", "coffee", "mate-Aqua", "opencv-graf", "opencv-graf"]
CONFIG = """
name: toy
task: denoise
task_options: {sigma: 50}
seed: 0
output: RUNS
data: {train: offline:train, valid: offline:valid, crop: 64, batch: 2}
model: {name: small-unet}
loss: {name: l1, weights: vgg16-hed}
train: {iterations: 10}
evaluate: {metrics: [psnr, niqe, fid]}
sweep:
  - [run=pretrain, loss=l1, 'seed=0,1']
  - [run=base, loss=perceptual-l1, loss.weight=0.02, model.init=@pretrain, 'seed=0,1']
  - [run=new, loss=pdl, loss.weight=0.02, model.init=@pretrain, 'seed=0,1']
"""


def _write_run(
    run_dir: Path, ref: np.ndarray, shift: float, rng: np.random.Generator, folder: str = "eval-offline-test"
) -> dict:
    out = run_dir / folder
    out.mkdir(parents=True)
    per_image = {s: {"psnr": 20 + shift + rng.normal(0, 0.5), "niqe": 5 - shift + rng.normal(0, 0.3)} for s in STEMS}
    # The evaluation lists images in its own order; export must map them to the sorted stems.
    order = STEMS[::-1]
    pred = ref + shift + rng.normal(0, 0.5, size=ref.shape).astype(np.float32)
    image = np.repeat(np.arange(len(order)), 2)
    np.savez(
        out / "inception.npz",
        pred_features=pred,
        pred_image=image,
        ref_features=ref,
        ref_image=image,
        stems=np.array(order),
        patch_size=np.int64(64),
        weights=np.array("toy"),
    )
    row = {"step": 10, "psnr": float(np.mean([v["psnr"] for v in per_image.values()])), "fid": 1.0}
    (out / "metrics.json").write_text(
        json.dumps({"per_image": per_image, "row": row, "extra_rows": [], "settings": {}})
    )
    (run_dir / "log.csv").write_text("step,loss,pixel,lr,steps_per_s\n5,1,1,1,2.0\n10,1,1,1,5.0\n")
    return {"per_image": per_image, "pred": pred, "ref": ref, "image": image, "order": order}


@pytest.fixture
def study(tmp_path: Path):
    runs = tmp_path / "runs"
    config = tmp_path / "toy.yaml"
    config.write_text(CONFIG.replace("RUNS", str(runs)))
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(2 * len(STEMS), 8)).astype(np.float32)  # one reference set for every run
    written = {}
    for name, shift in (("base", 0.0), ("new", 0.3)):
        for seed in (0, 1):
            folder = name if seed == 0 else f"{name}-seed{seed}"
            written[(name, seed)] = _write_run(runs / folder, ref, shift, rng)
    folder = export_study(config, tmp_path / "results" / "toy", reference="base", command="test")
    return folder, written


def test_export_writes_rows_features_and_provenance(study):
    folder, _ = study
    meta = json.loads((folder / "study.json").read_text())
    assert meta["images"] == sorted(STEMS) and meta["scenes"] == SCENES
    assert list(meta["entries"]) == ["base", "new"]  # pretrain has no evaluation: not exported
    rows = gzip.open(folder / "per_image.csv.gz", "rt").read().splitlines()
    assert rows[0] == "entry,seed,run,step,image,psnr,niqe" and len(rows) == 1 + 4 * len(STEMS)
    provenance = json.loads((folder / "provenance.json").read_text())
    assert provenance["runs"]["new-seed1"]["training_seconds"] == pytest.approx(5 / 2 + 5 / 5)
    assert provenance["runs"]["new"]["precision"] in ("float32", "bfloat16")
    assert provenance["config_sha256"] and provenance["exported_on"]["cpu"]


def test_loaded_study_recomputes_means_and_intervals_independently(study):
    folder, written = study
    s = load_study(folder)
    expected = np.mean([np.mean([written[("new", k)]["per_image"][x]["psnr"] for x in STEMS]) for k in (0, 1)])
    assert s.mean("new", "psnr") == pytest.approx(expected, abs=1e-12)
    # An independent paired bootstrap on the same table, with graf1 and graf3 drawn as one scene.
    diffs = np.array(
        [
            [written[("new", k)]["per_image"][x]["niqe"] - written[("base", k)]["per_image"][x]["niqe"] for x in STEMS]
            for k in (0, 1)
        ]
    )
    direct = paired_bootstrap(diffs, n_boot=500, seed=0, clusters=SCENES)
    interval, seeds = s.compare("base", "new", "niqe", n_boot=500)
    assert seeds == [0, 1]
    assert (interval.low, interval.high, interval.mean) == pytest.approx((direct.low, direct.high, direct.mean))
    assert interval.n_clusters == 4


def test_set_metric_from_committed_float16_rows_matches_the_float32_value(study):
    folder, written = study
    s = load_study(folder)
    w = written[("new", 1)]
    full = set_metric_from_features("fid", w["pred"], w["ref"])
    assert s.run_values("new", 1, "fid") == pytest.approx(full, rel=2e-3)
    # The set bootstrap on the committed rows equals one run directly on the float16-rounded rows.
    index = {stem: STEMS.index(stem) for stem in STEMS}
    remap = np.array([index[x] for x in w["order"]])

    def rows(k: str, seed: int, side: str) -> FeatureRows:
        data = written[(k, seed)]
        return FeatureRows(data[side].astype(np.float16).astype(np.float64), remap[data["image"]])

    def fid(p: np.ndarray, r: np.ndarray) -> float:
        return float(set_metric_from_features("fid", p, r))

    sets = {k: [(rows(k, seed, "pred"), rows(k, seed, "ref")) for seed in (0, 1)] for k in ("base", "new")}
    direct = paired_set_bootstrap(sets["base"], sets["new"], len(STEMS), fid, n_boot=60, seed=0, clusters=SCENES)[0]
    interval, _ = s.compare("base", "new", "fid", n_boot=60)
    # (the report computes FID from Gram matrices, the direct bootstrap from gathered rows: round-off apart)
    assert (interval.low, interval.high) == pytest.approx((direct.low, direct.high), rel=1e-6)


def test_report_regenerates_and_check_catches_an_edited_table(study, capsys):
    folder, _ = study
    results = folder.parent
    written = build_reports(results, n_boot=200)
    assert folder / "report.md" in written
    text = (folder / "report.md").read_text()
    assert "| pdl (0.02) minus perceptual-l1 (0.02) | 2 |" in text
    assert check_reports(results, n_boot=200) == []
    assert main(["report", str(results), "--check", "--boot", "200"]) == 0
    (folder / "report.md").write_text(text.replace("|", "¦", 3))
    assert check_reports(results, n_boot=200) == [str(folder / "report.md")]
    assert main(["report", str(results), "--check", "--boot", "200"]) == 1
    assert "differs" in capsys.readouterr().err


def test_summary_rows_name_a_study_and_two_entries(study):
    folder, _ = study
    results = folder.parent
    (results / "summary.json").write_text(
        json.dumps(
            {
                "title": "## Summary",
                "metrics": ["psnr", "niqe"],
                "rows": [{"row": "toy: new minus base", "study": "toy", "a": "base", "b": "new"}],
            }
        )
    )
    build_reports(results, n_boot=200)
    summary = (results / "summary.md").read_text()
    s = load_study(folder)
    interval, _ = s.compare("base", "new", "psnr", n_boot=200)
    assert f"| toy: new minus base | 2 | {interval.mean:+.2f} [{interval.low:+.2f}, {interval.high:+.2f}]" in summary


def test_export_refuses_a_missing_named_entry(study, tmp_path):
    config = tmp_path / "toy.yaml"
    with pytest.raises(Exception, match="evaluate"):
        export_study(config, tmp_path / "other", only=["pretrain"])


@pytest.mark.usefixtures("study")
def test_earlier_checkpoints_are_entries_of_their_own(tmp_path):
    """An entry's evaluate.steps: each earlier checkpoint's evaluation is exported as ENTRY@STEP,
    with its own rows, features and the training time up to that step."""
    runs = tmp_path / "runs"
    config = tmp_path / "toy.yaml"
    text = config.read_text().replace(
        "[run=new, loss=pdl,", "[run=new, loss=pdl, train.checkpoint_every=5, 'evaluate.steps=[5]',"
    )
    config.write_text(text)
    rng = np.random.default_rng(1)
    ref = np.load(runs / "new" / "eval-offline-test" / "inception.npz")["ref_features"]
    for name in ("new", "new-seed1"):
        _write_run(runs / name, ref, 0.1, rng, folder="eval-offline-test-step5")
    out = export_study(config, tmp_path / "results" / "steps", reference="base")
    meta = json.loads((out / "study.json").read_text())
    assert list(meta["entries"]) == ["base", "new", "new@5"]
    assert meta["entries"]["new@5"]["step"] == 5
    assert meta["entries"]["new@5"]["runs"] == {"0": "new@5", "1": "new-seed1@5"}
    assert meta["entries"]["new@5"]["label"] == "pdl (0.02), step 5"
    study5 = load_study(out)
    assert set(study5.entries) == {"base", "new", "new@5"}
    with np.load(out / "features.npz") as z:
        assert "pred/new-seed1@5" in z.files
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["runs"]["new-seed1@5"]["training_seconds"] == pytest.approx(5 / 2)  # up to step 5 only
    assert provenance["runs"]["new-seed1"]["training_seconds"] == pytest.approx(5 / 2 + 5 / 5)


def test_curves_tabulate_each_point_and_list_the_missing_ones(study):
    folder, _ = study
    spec = {
        "title": "new minus base",
        "metrics": ["psnr", "niqe"],
        "panels": [
            {
                "name": "size",
                "xlabel": "crop",
                "lines": [
                    {
                        "label": "l",
                        "points": [{"x": 64, "a": "base", "b": "new"}, {"x": 128, "a": "base-128", "b": "new-128"}],
                    }
                ],
            },
            {
                "name": "network",
                "xlabel": "features",
                "lines": [{"label": "l", "points": [{"x": "vgg16-hed", "a": "base", "b": "new"}]}],
            },
        ],
    }
    (folder / "curves.json").write_text(json.dumps(spec))
    build_reports(folder.parent, n_boot=200)
    text = (folder / "report.md").read_text()
    interval, _ = load_study(folder).compare("base", "new", "niqe", n_boot=200)
    assert "| l | 64 | 2 | " in text and f"{interval.mean:+.3f} [{interval.low:+.3f}, {interval.high:+.3f}]" in text
    assert "Not run yet: l at 128." in text
    assert (folder / "curves.png").stat().st_size > 10_000
    assert check_reports(folder.parent, n_boot=200) == []


def test_a_docs_page_block_holds_the_regenerated_tables(study, tmp_path):
    folder, _ = study
    results = folder.parent
    page = results.parent / "page.md"
    page.write_text("# Results\n\nBefore.\n\n<!-- report:toy -->\nstale\n<!-- /report -->\n\nAfter.\n")
    build_reports(results, n_boot=200)
    text = page.read_text()
    assert "stale" not in text and "Before." in text and "After." in text
    assert (folder / "report.md").read_text() in text  # no curves: the whole report
    assert check_reports(results, n_boot=200) == []
    page.write_text(text.replace("minus", "less", 1))
    assert check_reports(results, n_boot=200) == [str(page)]
