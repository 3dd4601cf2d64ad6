"""The mutation audit's data files (tools/mutation/*.yaml): their schema, and that every quoted
source line is still in the file it names (a refactor that moves or changes a line leaves its
mutant stale: this test says which)."""

from __future__ import annotations

import fnmatch
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "mutation"


@pytest.fixture(scope="module")
def mutation_data():
    if not (TOOL / "data.py").is_file():
        pytest.skip(f"{TOOL} is absent (an installed package without the repository's tools)")
    sys.path.insert(0, str(ROOT))
    try:
        from tools.mutation import data
    finally:
        sys.path.remove(str(ROOT))
    return data


def test_the_data_files_load_with_every_entry(mutation_data):
    data = mutation_data.load()
    # The tables as they stood when they left the script's source: 12 modules, 274 equivalent
    # mutants (62 of them device-only), 32 hand-written mutants.
    assert len(data.targets) == 12 and len(data.equivalents) == 274 and len(data.named) == 32
    assert sum(eq.device_only for eq in data.equivalents) == 62
    assert {"functional", "losses", "metrics-fid", "degradations", "resume"} <= set(data.targets)
    assert all(0 < t.target <= 1 and t.files and t.tests for t in data.targets.values())


def test_each_equivalent_mutant_has_a_module_an_identifier_and_a_reason(mutation_data):
    data = mutation_data.load()
    identifiers = set()
    for eq in data.equivalents:
        assert eq.module in data.targets
        assert any(fnmatch.fnmatch(eq.file, pattern) for pattern in data.targets[eq.module].files), eq
        assert eq.removed.strip() and eq.removed != eq.added and eq.reason.strip(), eq
        identifiers.add((eq.file, eq.removed, eq.added))
    assert len(identifiers) == len(data.equivalents)
    names = [m.name for m in data.named]
    assert len(set(names)) == len(names)
    assert all(m.module in data.targets and m.old != m.new and m.tests and m.what for m in data.named)


def test_every_quoted_line_still_occurs_in_the_file_it_names(mutation_data):
    data = mutation_data.load()
    for mutant in data.named:
        assert (ROOT / mutant.file).read_text().count(mutant.old) == 1, f"{mutant.name}: stale in {mutant.file}"
    # The tool's own check covers the equivalent mutants, the targets' globs and every test path.
    assert mutation_data.problems(data) == []


def test_a_stale_or_malformed_entry_is_reported(mutation_data, tmp_path):
    data = mutation_data.load()
    # A tree where the first named mutant's line was edited away: the check names the mutant.
    first = data.named[0]
    (tmp_path / first.file).parent.mkdir(parents=True)
    (tmp_path / first.file).write_text("nothing quoted here\n")
    found = mutation_data.problems(data, root=tmp_path)
    assert f"named mutant {first.name}: its old text occurs 0 times in {first.file}" in found
    # An equivalent mutant without a reason is refused when the files load, naming where.
    for name in ("targets.yaml", "named.yaml"):
        (tmp_path / name).write_text((TOOL / name).read_text())
    text = (TOOL / "equivalents.yaml").read_text()
    reason = text.index("reason: ", text.index("src/pdloss/metrics/color.py:"))
    (tmp_path / "equivalents.yaml").write_text(text[:reason] + "reason: ''" + text[text.index("\n", reason):])
    with pytest.raises(mutation_data.DataError, match=r"metrics-psnr-ssim: src/pdloss/metrics/color\.py\[0\]\.reason"):
        mutation_data.load(tmp_path)


def test_the_tool_lists_and_checks_without_running_mutmut():
    if not (TOOL / "cli.py").is_file():
        pytest.skip(f"{TOOL} is absent")
    listed = subprocess.run([sys.executable, "-m", "tools.mutation", "--list"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert "projections: src/pdloss/" in listed.stdout and "tests: tests/" in listed.stdout
    checked = subprocess.run([sys.executable, "-m", "tools.mutation", "--check"], cwd=ROOT, capture_output=True,
                             text=True, timeout=120)
    assert checked.returncode == 0 and checked.stdout.endswith("hand-written mutants: no problems\n"), checked.stdout


def test_the_page_is_the_rendering_of_the_stored_results(mutation_data):
    # docs/testing.md's tables are written from docs/results/mutation/*.json and the equivalents
    # (matched when the page is written): the two must agree, also for results measured before
    # their code moved to another file (equivalents.yaml names the new file).
    from tools.mutation import report

    data = mutation_data.load()
    page = report.DOC.read_text()
    if report.BEGIN not in page:
        pytest.skip("docs/testing.md holds no mutation results")
    block = page[page.index(report.BEGIN) : page.index(report.END) + len(report.END)]
    assert report.render(data, report.read_results(data)) == block, "run: python -m tools.mutation --render"
