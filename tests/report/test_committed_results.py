"""The committed results re-derive: `pdloss report --check` on docs/results finds no table that the
committed per-image rows, Inception rows and validation tables do not give at its printed digits."""

from __future__ import annotations

from pathlib import Path

import pytest

from pdloss.report.build import check_reports

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results"


@pytest.mark.skipif(not RESULTS.is_dir(), reason="docs/results is not in this checkout (an installed package)")
def test_every_committed_table_regenerates_from_the_committed_files():
    assert check_reports(RESULTS) == []


@pytest.mark.skipif(not RESULTS.is_dir(), reason="docs/results is not in this checkout (an installed package)")
def test_the_results_stay_within_their_size_budget():
    # docs/results holds per-image rows and float16 Inception rows: at most 60 MB in all.
    total = sum(p.stat().st_size for p in RESULTS.rglob("*") if p.is_file())
    assert total < 60 * 2**20, f"docs/results is {total / 2**20:.1f} MB"
