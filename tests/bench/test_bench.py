"""pdloss.bench: peer implementations against pdloss and hand-written references, the markdown
tables, document updates and a quick `pdloss bench` run (no timing assertions)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from helpers import gradcheck
from pdloss.bench import peers
from pdloss.bench.measure import PeakMemory, Samples, interleaved
from pdloss.bench.report import format_report, format_table1, update_document
from pdloss.cli import main
from pdloss.functional import projected_distribution_distance, wasserstein_1d
from pdloss.functional.contextual import contextual_loss
from pdloss.functional.projections import make_projection


def _features(b=2, c=6, h=4, w=5, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, c, h, w, generator=g, dtype=dtype).relu() + 0.01 * torch.rand(b, c, h, w, generator=g,
                                                                                         dtype=dtype)


def test_channel_loop_equals_pdloss_identity():
    fu, fv = _features(seed=1), _features(seed=2)
    expected = projected_distribution_distance(fu, fv, reduction="none")
    torch.testing.assert_close(peers.pdl_channel_loop(fu, fv).double(), expected, rtol=1e-6, atol=1e-7)


def test_published_sliced_equals_pdloss_with_the_same_directions():
    fu, fv = _features(seed=3), _features(seed=4)
    directions = make_projection("rsp", 6, 2, torch.Generator().manual_seed(0), dtype=torch.float64)
    w1 = projected_distribution_distance(fu, fv, directions, p=1, reduction="none")
    torch.testing.assert_close(peers.sliced_published(fu, fv, directions.float(), p=1).double(), w1,
                               rtol=1e-5, atol=1e-6)
    # p=2 as published: mean over projections of W_2^2.
    u = torch.matmul(directions, fu.flatten(2))
    v = torch.matmul(directions, fv.flatten(2))
    w2sq = wasserstein_1d(u, v, p=2).square().mean(-1)
    torch.testing.assert_close(peers.sliced_published(fu, fv, directions.float(), p=2).double(), w2sq,
                               rtol=1e-5, atol=1e-6)


def _contextual_by_hand(fu: np.ndarray, fv: np.ndarray, h: float = 0.5) -> np.ndarray:
    """The reference formulation with explicit loops over positions (batch-wide target mean)."""
    b, c = fu.shape[:2]
    mean = fv.mean(axis=(0, 2, 3))
    out = []
    for i in range(b):
        u = fu[i].reshape(c, -1).T - mean
        v = fv[i].reshape(c, -1).T - mean
        n, m = len(u), len(v)
        d = np.empty((n, m))
        for a in range(n):
            for k in range(m):
                cos = u[a] @ v[k] / (np.linalg.norm(u[a]) * np.linalg.norm(v[k]))
                d[a, k] = (1 - cos) / 2
        rel = d / (d.min(axis=1, keepdims=True) + 1e-5)
        w = np.exp((1 - rel) / h)
        cx = w / w.sum(axis=1, keepdims=True)
        out.append(-math.log(cx.max(axis=0).mean()))
    return np.array(out)


def test_contextual_reference_matches_hand_computation_and_pdloss_for_one_image():
    fu, fv = _features(b=2, c=4, h=3, w=3, seed=5), _features(b=2, c=4, h=3, w=3, seed=6)
    ours = peers.contextual_reference(fu, fv)
    np.testing.assert_allclose(ours.numpy(), _contextual_by_hand(fu.numpy(), fv.numpy()), rtol=1e-6)
    # One image: the batch-wide mean is the image's own, so the reference equals pdloss's exact loss.
    single = peers.contextual_reference(fu[:1], fv[:1])
    torch.testing.assert_close(single.double(), contextual_loss(fu[:1], fv[:1], reduction="none"), rtol=1e-6,
                               atol=1e-8)


def test_contextual_reference_l2_is_finite_and_zero_for_identical_maps():
    fu = _features(b=1, c=4, h=3, w=3, seed=7)
    assert peers.contextual_reference(fu, fu, distance="l2").item() == pytest.approx(0.0, abs=1e-4)
    with pytest.raises(ValueError, match="distance"):
        peers.contextual_reference(fu, fu, distance="l1")


def test_peers_gradcheck():
    fu = _features(b=1, c=3, h=3, w=3, seed=8).requires_grad_(True)
    fv = _features(b=1, c=3, h=3, w=3, seed=9)
    directions = make_projection("rsp", 3, 2, torch.Generator().manual_seed(1), dtype=torch.float64)
    assert gradcheck(lambda a: peers.pdl_channel_loop(a, fv), (fu,))
    assert gradcheck(lambda a: peers.contextual_reference(a, fv), (fu,))
    assert gradcheck(lambda a: peers.contextual_reference(a, fv, distance="l2"), (fu,))
    for p in (1, 2):
        assert gradcheck(lambda a, p=p: peers.sliced_published(a, fv, directions, p=p), (fu,))


def test_pot_per_image_equals_pdloss():
    pytest.importorskip("ot", reason="POT is installed in benchmarks/.venv-peers only (benchmarks/setup_peers.sh)")
    fu, fv = _features(seed=10), _features(seed=11)
    directions = make_projection("rsp", 6, 1, torch.Generator().manual_seed(2), dtype=torch.float64)
    expected = projected_distribution_distance(fu, fv, directions, reduction="none")
    torch.testing.assert_close(peers.pot_sliced_per_image(fu, fv, directions.float()).double(), expected,
                               rtol=1e-5, atol=1e-6)


def test_interleaved_records_errors_and_memory():
    calls = []

    def ok():
        calls.append("ok")
        return torch.ones(2**20).sum()  # 4 MiB

    def broken():
        raise RuntimeError("out of memory\nsecond line")

    results = interleaved({"ok": ok, "broken": broken}, repeats=3, warmup=1, device="cpu", memory=True)
    assert len(results["ok"].seconds) == 3 and len(calls) == 5  # 1 warm-up + 3 timed + 1 memory call
    assert results["broken"].error == "RuntimeError: out of memory" and not results["broken"].ok
    peak = results["ok"].peak
    assert math.isnan(peak) or peak >= 3.5  # NaN where /proc/self/clear_refs is not writable
    with PeakMemory("cpu") as measured:
        x = torch.ones(8 * 2**20)  # 32 MiB, touched
        del x
    assert math.isnan(measured.mib) or measured.mib >= 30


def test_samples_summary():
    s = Samples(seconds=[1.0, 2.0, 3.0, 4.0, 100.0])
    assert s.median == 3.0 and s.quartiles == (2.0, 4.0)
    assert Samples(error="skipped").to_dict()["median_s"] is None


def _fake_report():
    def samples(t, peak=10.0):
        return {"median_s": t, "q1_s": t * 0.9, "q3_s": t * 1.1, "peak_mib": peak, "samples_s": [t], "error": None}

    names = {"No-perceptual": 1.0, "L1": 1.8, "PDL": 1.82}
    rows = {
        name: {
            "relative_steps_per_s": {"median": 1.0 / t, "q1": 0.9 / t, "q3": 1.1 / t},
            "steps_per_s": 1.0 / t,
            "step": samples(t),
            "loss_only": samples(t - 0.9, 100.0),
        }
        for name, t in names.items()
    }
    table = {"precision": "fp32", "memory_format": "contiguous", "model": "small-unet", "weights": "vgg16-hed (x)",
             "rows": rows, "vgg_pass": samples(0.85),
             "checks": {"pdl_vs_l1_steps_per_s": 1.8 / 1.82, "pdl_loss_overhead_over_vgg": 0.92 / 0.85 - 1}}
    machine = {"device_name": "CPU: test (2 threads)", "torch": "2.x", "numpy": "2.x", "python": "3.11",
               "cpu_count": 2, "torch_threads": 2, "load_average": [0.1, 0.2, 0.3], "time_utc": "now"}
    config = {"batch": 8, "size": 128, "layer": "relu4_3", "repeats": 5, "warmup": 1}
    return {"machine": machine, "config": config, "table1": [table]}


def test_table1_layout():
    report = _fake_report()
    text = format_table1(report["table1"][0], report["config"])
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("| |"))
    assert header == "| | No-perceptual | L1 | PDL |"
    rel = next(line for line in lines if line.startswith("| steps/sec (relative)"))
    assert rel == "| steps/sec (relative) | **1.00** | **0.56** | **0.55** |"
    paper = next(line for line in lines if line.startswith("| paper"))
    assert paper == "| paper, Table 1 (GPU) | 1.00 | 0.57 | 0.57 |"
    assert "| loss forward+backward (ms) | 100.0 | 900.0 | 920.0 |" in lines
    assert any("PDL steps/s over L1-perceptual steps/s: **0.99** (target >= 0.95: met)" in line for line in lines)
    assert any("overhead over the VGG pass: **8.2%** (target < 10%: met)" in line for line in lines)
    full = format_report(report)
    assert full.startswith("Machine: device: CPU: test (2 threads); torch 2.x")


def test_a_quick_run_is_not_judged_against_the_targets():
    report = _fake_report()
    report["table1"][0]["checks"]["pdl_loss_overhead_over_vgg"] = 3.41  # what a 2 x 32 px smoke run measures
    assert "(target < 10%: NOT met)" in format_report(report)
    report["config"]["quick"] = True
    text = format_report(report)
    assert "met)" not in text and "overhead over the VGG pass: **341.0%** (target < 10%: not judged: --quick" in text


def test_update_document_replaces_only_its_section(tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nintro\n", encoding="utf-8")
    update_document(doc, "gpu", "first table")
    update_document(doc, "cpu", "cpu table")
    update_document(doc, "gpu", "second table")
    text = doc.read_text(encoding="utf-8")
    assert text.startswith("# Benchmarks\n\nintro\n")
    assert "first table" not in text and text.count("second table") == 1 and "cpu table" in text
    assert text.index("<!-- bench:gpu:start -->") < text.index("<!-- bench:cpu:start -->")


def test_pdloss_bench_quick_runs(tmp_path, capsys):
    out = tmp_path / "bench.json"
    md = tmp_path / "bench.md"
    code = main(["bench", "--quick", "--suite", "table1,terms,scaling,projections", "--crops", "64",
                 "--factors", "1", "--json", str(out), "--markdown", str(md)])
    assert code == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text(encoding="utf-8"))
    assert set(report) >= {"machine", "config", "table1", "terms", "scaling", "projections"}
    table = report["table1"][0]
    assert list(table["rows"]) == [
        "No-perceptual", "L1", "L2", "CTXDP", "CTXL2", "PDL", "PDL-RSP x1", "PDL-RSP x4", "FDL"
    ]
    assert all(row["step"]["error"] is None for row in table["rows"].values())
    terms = report["terms"]["rows"]
    assert terms["PDL-Id, per-channel loop"]["max_rel_diff"] < 1e-5
    assert terms["PDL-Id, pdloss with torch.sort"]["max_rel_diff"] == 0
    assert "| steps/sec (relative) | **1.00** |" in printed and md.read_text(encoding="utf-8") in printed + "\n"
    assert "met)" not in printed and "not judged: --quick" in printed


def test_pdloss_bench_rejects_unknown_suite_and_precision(capsys):
    assert main(["bench", "--quick", "--suite", "nope"]) == 2
    assert main(["bench", "--quick", "--suite", "terms", "--precision", "fp8"]) == 2
    assert "unknown" in capsys.readouterr().err
