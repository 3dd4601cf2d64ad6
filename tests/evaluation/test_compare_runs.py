"""compare_evaluations and ``pdloss compare-runs`` on evaluation folders written by the test."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import pdloss.evaluation.compare
from pdloss.cli import main
from pdloss.errors import InputError
from pdloss.evaluation.compare import compare_evaluations
from pdloss.report.format import format_interval
from pdloss.stats import paired_bootstrap

STEMS = [f"img{i:02d}" for i in range(12)]
DIM = 6


def _distance_of_means(name: str, pred: np.ndarray, ref: np.ndarray) -> float:
    """Stand-in set metric: squared distance between the feature means (lower is better)."""
    assert name in ("fid", "kid") and pred.shape[1] == ref.shape[1] == DIM
    return float(np.sum((pred.mean(0) - ref.mean(0)) ** 2))


def write_eval(
    folder: Path,
    values: dict[str, np.ndarray],
    features: tuple[np.ndarray, np.ndarray] | None = None,
    stems: list[str] = STEMS,
    patch_size: int = 64,
    unavailable: dict[str, str] | None = None,
) -> Path:
    """metrics.json as pdloss.evaluation.run writes it (NaN -> null), and optionally inception.npz.

    ``features``: (pred, ref) arrays ``(n_images, 2, DIM)``: two patch rows per image.
    """
    folder.mkdir(parents=True, exist_ok=True)
    per_image = {
        s: {m: (None if np.isnan(v[i]) else float(v[i])) for m, v in values.items()} for i, s in enumerate(stems)
    }
    mean = {m: (None if np.isnan(v).all() else float(np.nanmean(v))) for m, v in values.items()}
    record = {"mean": {**mean, "fid": 1.0}, "per_image": per_image, "unavailable": unavailable or {}, "notes": []}
    (folder / "metrics.json").write_text(json.dumps(record))
    if features is not None:
        pred, ref = features
        order = np.random.default_rng(0).permutation(len(stems))  # the npz lists stems in its own order
        image = np.repeat(np.arange(len(stems)), pred.shape[1])
        np.savez(
            folder / "inception.npz",
            pred_features=pred[order].reshape(-1, DIM).astype(np.float32),
            pred_image=image,
            ref_features=ref[order].reshape(-1, DIM).astype(np.float32),
            ref_image=image,
            stems=np.array(stems)[order],
            patch_size=np.array(patch_size),
        )
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """Two seeds of runs A and B: B has +0.5 dB PSNR, +0.05 LPIPS (worse), equal NIQE, a null SSIM,
    no MS-SSIM, and Inception features nearer the reference."""
    root = tmp_path_factory.mktemp("runs")
    rng = np.random.default_rng(0)
    n = len(STEMS)
    base = rng.normal(25, 2, n)
    ref = rng.standard_normal((n, 2, DIM))
    table: dict = {"a": [], "b": [], "values": {"a": [], "b": []}, "features": {"a": [], "b": []}}
    for seed in range(2):
        a = {"psnr": base + rng.normal(0, 0.2, n), "lpips": rng.uniform(0.2, 0.3, n), "niqe": rng.uniform(4, 6, n)}
        b = {"psnr": a["psnr"] + 0.5 + rng.normal(0, 0.1, n), "lpips": a["lpips"] + 0.05, "niqe": a["niqe"].copy()}
        a["ssim"], b["ssim"] = rng.uniform(0.7, 0.8, n), rng.uniform(0.7, 0.8, n)
        if seed == 0:
            b["ssim"][3] = np.nan
        a["ms_ssim"] = b["ms_ssim"] = np.full(n, np.nan)
        feats = {"a": ref + 1.0 + rng.normal(0, 0.3, ref.shape), "b": ref + 0.2 + rng.normal(0, 0.3, ref.shape)}
        why = {"ms_ssim": "MS-SSIM needs 161 px. To get it, use larger crops"}
        for side, values in (("a", a), ("b", b)):
            folder = write_eval(root / f"run_{side}{seed}" / "eval", values, (feats[side], ref), unavailable=why)
            table[side].append(folder)
            table["values"][side].append(values)
            table["features"][side].append((feats[side].reshape(-1, DIM), ref.reshape(-1, DIM)))
    table["root"] = root
    return table


def test_per_image_metrics_match_the_hand_built_differences(runs):
    result = compare_evaluations(runs["a"], runs["b"], n_boot=500, seed=1, set_metric_fn=_distance_of_means)
    va, vb = runs["values"]["a"], runs["values"]["b"]
    psnr = result.metrics["psnr"]
    diffs = np.stack([b["psnr"] - a["psnr"] for a, b in zip(va, vb, strict=True)])
    expected = paired_bootstrap(diffs, n_boot=500, seed=1)
    assert psnr.interval == expected
    assert psnr.mean_a == pytest.approx(np.mean([a["psnr"] for a in va]))
    assert psnr.mean_b - psnr.mean_a == pytest.approx(psnr.interval.mean) == pytest.approx(diffs.mean())
    assert (psnr.interval.n_images, psnr.interval.n_seeds) == (12, 2)
    assert psnr.verdict == "better" and psnr.higher_is_better
    assert result.metrics["lpips"].verdict == "worse"  # +0.05 LPIPS, lower is better
    assert result.metrics["lpips"].interval.mean == pytest.approx(0.05)
    niqe = result.metrics["niqe"].interval
    assert niqe.low == niqe.high == 0 and result.metrics["niqe"].verdict == "no difference"
    ssim = result.metrics["ssim"]  # image 3 of seed 0 has no SSIM on B: that pair is left out
    kept = [np.delete(b["ssim"] - a["ssim"], 3) if s == 0 else b["ssim"] - a["ssim"] for s, (a, b) in
            enumerate(zip(va, vb, strict=True))]  # fmt: skip
    assert ssim.interval.mean == pytest.approx(np.concatenate(kept).mean())
    assert ssim.interval.n_images == 12  # image 3 still has its seed-1 pair
    assert "ms_ssim" not in result.metrics and result.unavailable["ms_ssim"].endswith("MS-SSIM needs 161 px")


def test_set_metric_bootstrap_from_the_inception_features(runs):
    result = compare_evaluations(
        runs["a"], runs["b"], metrics=["fid", "kid"], n_boot=200, seed=0, set_metric_fn=_distance_of_means
    )
    fa, fb = runs["features"]["a"], runs["features"]["b"]
    expected_a = np.mean([_distance_of_means("fid", p, r) for p, r in fa])
    expected_b = np.mean([_distance_of_means("fid", p, r) for p, r in fb])
    for metric in ("fid", "kid"):
        c = result.metrics[metric]
        assert c.kind == "set" and not c.higher_is_better
        assert c.mean_a == pytest.approx(expected_a, rel=1e-5) and c.mean_b == pytest.approx(expected_b, rel=1e-5)
        assert c.interval.mean == pytest.approx(expected_b - expected_a, rel=1e-5)
        assert c.interval.high < 0 and c.verdict == "better"  # B's features are nearer the reference
    assert result.metrics["fid"].interval == result.metrics["kid"].interval  # same draws, same stand-in


def test_set_metrics_unavailable_without_features_or_function(runs, tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    values = {"psnr": rng.normal(25, 1, len(STEMS))}
    a, b = write_eval(tmp_path / "a", values), write_eval(tmp_path / "b", values)
    result = compare_evaluations([a], [b], metrics=["psnr", "fid"], n_boot=50, set_metric_fn=_distance_of_means)
    assert "inception.npz is missing" in result.unavailable["fid"] and "psnr" in result.metrics
    monkeypatch.setattr(pdloss.evaluation.compare, "_default_set_metric_fn", lambda: None)
    result = compare_evaluations(runs["a"][:1], runs["b"][:1], metrics=["fid"], n_boot=50)
    assert "set_metric_from_features is not available" in result.unavailable["fid"]


def test_mismatched_stems_are_named(tmp_path):
    rng = np.random.default_rng(2)
    a = write_eval(tmp_path / "a", {"psnr": rng.normal(25, 1, 12)})
    b = write_eval(tmp_path / "b", {"psnr": rng.normal(25, 1, 12)}, stems=STEMS[:5] + STEMS[6:] + ["other"])
    with pytest.raises(InputError, match=r"lacks img05.*has other that"):
        compare_evaluations([a], [b], n_boot=10)


def test_mismatched_patch_sizes_are_refused(runs, tmp_path):
    rng = np.random.default_rng(3)
    feats = (rng.standard_normal((12, 2, DIM)), rng.standard_normal((12, 2, DIM)))
    values = {"psnr": rng.normal(25, 1, 12)}
    a = write_eval(tmp_path / "a", values, feats, patch_size=64)
    b = write_eval(tmp_path / "b", values, feats, patch_size=32)
    with pytest.raises(InputError, match="different patch sizes or weights"):
        compare_evaluations([a], [b], metrics=["fid"], n_boot=10, set_metric_fn=_distance_of_means)


def test_bad_inputs_give_clear_errors(runs, tmp_path):
    with pytest.raises(InputError, match="at least one evaluation folder"):
        compare_evaluations([], [], n_boot=10)
    with pytest.raises(InputError, match="paired by seed"):
        compare_evaluations(runs["a"], runs["b"][:1], n_boot=10)
    with pytest.raises(InputError, match=r"no metrics\.json"):
        compare_evaluations([tmp_path], runs["b"][:1], n_boot=10)
    with pytest.raises(InputError, match="unknown metric"):
        compare_evaluations(runs["a"], runs["b"], metrics=["psnr", "sharpness"], n_boot=10)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "metrics.json").write_text(json.dumps({"mean": {}, "per_image": {}}))
    with pytest.raises(InputError, match="no per-image values"):
        compare_evaluations([tmp_path / "empty"], runs["b"][:1], n_boot=10)


def test_cli_prints_the_table_and_json(runs, capsys, monkeypatch):
    monkeypatch.setattr(pdloss.evaluation.compare, "_default_set_metric_fn", lambda: _distance_of_means)
    root = runs["root"]
    a = f"{root / 'run_a0'},{root / 'run_a1'}"  # run folders: resolved to RUN/eval
    b = f"{runs['b'][0]},{runs['b'][1]}"  # evaluation folders as they are
    assert main(["compare-runs", a, b, "--boot", "300", "--seed", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    expected = compare_evaluations(runs["a"], runs["b"], n_boot=300, seed=2, set_metric_fn=_distance_of_means)
    assert data["metrics"]["psnr"]["difference"]["low"] == pytest.approx(expected.metrics["psnr"].interval.low)
    assert data["metrics"]["fid"]["verdict"] == "better" and data["seeds"] == 2 and data["images"] == 12
    assert set(data["metrics"]) == {"psnr", "ssim", "lpips", "niqe", "fid"} and "ms_ssim" in data["unavailable"]

    assert main(["compare-runs", a, b, "--boot", "300", "--seed", "2", "--metrics", "psnr,lpips,fid"]) == 0
    text = capsys.readouterr().out
    lines = {line.split()[0]: line for line in text.splitlines() if line.split()}
    psnr = expected.metrics["psnr"]
    assert f"{psnr.mean_a:.2f}" in lines["PSNR"] and format_interval(psnr, "psnr") in lines["PSNR"]
    assert lines["PSNR"].rstrip().endswith("better") and "12 x 2" in lines["PSNR"]
    assert format_interval(expected.metrics["lpips"], "lpips") in lines["LPIPS"] and lines["LPIPS"].endswith("worse")
    assert format_interval(expected.metrics["fid"], "fid") in lines["FID"]
    assert "NIQE" not in lines


def test_cli_eval_tag_and_errors(runs, tmp_path, capsys):
    rng = np.random.default_rng(4)
    psnr = rng.normal(25, 1, 12)
    write_eval(tmp_path / "ra" / "eval-kodak", {"psnr": psnr})
    write_eval(tmp_path / "rb" / "eval-kodak", {"psnr": psnr + 1.0})
    args = ["compare-runs", str(tmp_path / "ra"), str(tmp_path / "rb"), "--boot", "100"]
    assert main([*args, "--eval-tag", "kodak", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["metrics"]["psnr"]["difference"]["mean"] == pytest.approx(1.0)
    assert data["a"] == [str(tmp_path / "ra" / "eval-kodak")]
    assert main(args) == 2  # no RUN/eval
    assert "no evaluation found" in capsys.readouterr().err
    write_eval(tmp_path / "rc" / "eval", {"psnr": psnr}, stems=[*STEMS[:-1], "zzz"])
    assert main(["compare-runs", str(runs["a"][0]), str(tmp_path / "rc"), "--boot", "10"]) == 2
    assert "lacks img11" in capsys.readouterr().err


def test_real_fid_and_kid_on_synthetic_inception_features(tmp_path):
    kid = pytest.importorskip("pdloss.metrics.kid", reason="pdloss.metrics.kid (KID) is not in this version")
    if not hasattr(kid, "set_metric_from_features"):
        pytest.skip("pdloss.metrics.kid has no set_metric_from_features in this version")
    rng = np.random.default_rng(5)
    n, rows, dim = 10, 2, 64  # narrower than Inception's 2048 to stay fast; both metrics take any width
    ref = rng.standard_normal((n * rows, dim)).astype(np.float32)
    image = np.repeat(np.arange(n), rows)
    folders = {}
    for side, shift in (("a", 0.6), ("b", 0.1)):
        pred = (ref + shift + rng.normal(0, 0.5, ref.shape)).astype(np.float32)
        folder = write_eval(tmp_path / side, {"psnr": rng.normal(25, 1, n)}, stems=STEMS[:n])
        arrays = {"pred_features": pred, "pred_image": image, "ref_features": ref, "ref_image": image}
        np.savez(folder / "inception.npz", **arrays, stems=np.array(STEMS[:n]), patch_size=np.int64(0))
        folders[side] = (folder, pred)
    result = compare_evaluations([folders["a"][0]], [folders["b"][0]], metrics=["fid", "kid"], n_boot=100)
    for metric in ("fid", "kid"):
        c = result.metrics[metric]
        assert c.mean_a == pytest.approx(kid.set_metric_from_features(metric, folders["a"][1], ref))
        assert c.mean_b == pytest.approx(kid.set_metric_from_features(metric, folders["b"][1], ref))
        assert c.verdict == "better" and c.interval.high < 0
