"""The λ selection rule (pdloss.report.selection) on hand-made validation tables."""

from __future__ import annotations

import json

import pytest

from pdloss.report.selection import loss_family, select_weights, selection_report


def _row(run, weight, psnr, niqe, seeds=(0,)):
    loss = run.rsplit("-", 1)[0] if weight is not None else run
    return {"label": run, "run": run, "loss": loss, "weight": weight, "psnr": psnr, "niqe": niqe, "seeds": list(seeds)}


ROWS = [
    {"label": "reference", "niqe": 3.0},
    _row("pretrain", None, 24.0, 9.0),
    _row("l1", None, 25.0, 8.0),
    _row("pdl-0.02", 0.02, 24.9, 7.0),
    _row("pdl-0.08", 0.08, 24.5, 6.0, seeds=(0, 1, 2)),  # exactly 0.5 dB below: still qualifies
    _row("pdl-0.3", 0.3, 24.49, 5.0),  # lowest NIQE, but 0.51 dB below pixel L1
    _row("scratch-pdl-0.02", 0.02, 26.0, 1.0),  # another protocol: never a candidate
    _row("perceptual-l1-0.3", 0.3, 20.0, 9.5),
]


def test_lowest_niqe_within_half_a_db_of_pixel_l1():
    chosen = select_weights(ROWS)
    assert chosen["picks"]["pdl"]["weight"] == 0.08 and chosen["picks"]["pdl"]["seeds"] == [0, 1, 2]
    assert chosen["picks"]["perceptual-l1"] is None
    assert "scratch-pdl" not in chosen["picks"]
    assert [c["qualifies"] for c in chosen["candidates"]["pdl"]] == [True, True, False]
    # A wider margin admits λ = 0.3.
    assert select_weights(ROWS, margin_db=0.6)["picks"]["pdl"]["weight"] == 0.3


def test_family_is_the_run_name_without_its_weight():
    assert loss_family("rsp4x-0.02", 0.02) == "rsp4x"
    assert loss_family("fdl-0.000004", 4e-6) == "fdl"
    assert loss_family("pdl-0.02", 0.08) is None and loss_family("l1", None) is None


def test_a_table_without_pixel_l1_is_refused():
    with pytest.raises(ValueError, match="pixel-L1"):
        select_weights([r for r in ROWS if r.get("run") != "l1"])


def test_report_lists_each_table(tmp_path):
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "results.json").write_text(json.dumps({"rows": ROWS}))
    text, payload = selection_report(tmp_path)
    assert "| toy | pdl | 0.08 | 24.50 | 6.000 |" in text and "0.3: 24.49 / 5.000 [1] x" in text
    assert payload["toy"]["picks"]["pdl"]["run"] == "pdl-0.08"
