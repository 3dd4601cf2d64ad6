"""``pdloss report``: every table, interval and plot of the results page, regenerated from the
committed results folders alone (no runs, no checkpoints).

For each folder under the results directory that holds a ``study.json``
(:mod:`pdloss.report.export`) it writes ``report.md`` and ``report.json``: the means over seeds of
every entry, the paired differences against the study's reference and its named comparisons, and,
when the folder has a ``curves.json``, the difference curves (:mod:`pdloss.report.curves`). A
``summary.json`` beside the folders names the summary's rows (a study and two entries each); the
summary goes to ``summary.md``. ``check_reports`` regenerates everything into a temporary folder and
lists what differs from the committed files: the test that runs it in CI is what makes every
published number re-derivable.
"""

from __future__ import annotations

import filecmp
import json
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pdloss.errors import InputError
from pdloss.metrics.registry import METRIC_SPECS, format_value
from pdloss.report.curves import curves_report
from pdloss.report.export import STUDY_FILE
from pdloss.report.format import difference_header, format_interval, mc_line
from pdloss.report.results import BOOT_SEED, Study, load_study
from pdloss.report.selection import selection_report
from pdloss.stats import N_BOOT

SUMMARY_SPEC = "summary.json"
REPORT_FILES = ("report.md", "report.json")


def _provenance_line(study: Study) -> str:
    runs = study.provenance.get("runs", {})
    machine = study.provenance.get("exported_on", {})
    precisions = sorted({str(r.get("precision")) for r in runs.values()})
    inferred = any("precision_inferred" in r for r in runs.values())
    seconds = sum(r.get("training_seconds") or 0 for r in runs.values())
    versions = machine.get("versions", {})
    caps = {k: v for r in runs.values() for k, v in (r.get("machine") or {}).get("isa_caps", {}).items()}
    return (
        f"Runs: {len(runs)}, trained on {machine.get('cpu', '?')} ({machine.get('cpu_kind', '?')}; "
        f"flags {', '.join(machine.get('cpu_flags', [])) or '?'}"
        f"{'; capped by ' + ', '.join(f'{k}={v}' for k, v in caps.items()) if caps else ''}) in {'/'.join(precisions)}"
        f"{' (precision inferred from train.amp)' if inferred else ''}; torch {versions.get('torch', '?')}, "
        f"numpy {versions.get('numpy', '?')}; commit {str(machine.get('commit') or '?')[:12]}; "
        f"training time {seconds / 3600:.2f} h in all (provenance.json)."
    )


def _cell(interval: Any, metric: str) -> str:
    text = format_interval(interval, metric, signed=True)
    better = interval.excludes_zero and (interval.mean > 0) == METRIC_SPECS[metric].higher_is_better
    return f"**{text}**" if better else text


def comparison_rows(
    study: Study, pairs: Sequence[tuple[str, str]], metrics: Sequence[str], n_boot: int
) -> tuple[list[str], list[dict[str, Any]]]:
    """Markdown rows ``| B minus A | seeds | intervals... |`` and their JSON."""
    lines, records = [], []
    for a, b in pairs:
        intervals, seeds = study.compare_metrics(a, b, metrics, n_boot)
        cells = [_cell(intervals[m], m) for m in metrics]
        record = {"a": a, "b": b, "metrics": {m: i.to_json() for m, i in intervals.items()}, "seeds": seeds}
        lines.append(f"| {study.label(b)} minus {study.label(a)} | {len(seeds)} | " + " | ".join(cells) + " |")
        records.append(record)
    return lines, records


def study_report(study: Study, n_boot: int = N_BOOT) -> tuple[str, dict[str, Any]]:
    """The markdown and JSON of one study's tables."""
    metrics = study.metrics
    head = " | ".join(f"{METRIC_SPECS[m].title} {METRIC_SPECS[m].arrow}" for m in metrics)
    lines = [
        f"## {study.name}: {study.meta.get('task')} on {study.meta.get('source')}",
        "",
        _provenance_line(study),
        "",
        "Means over seeds (set metrics: the mean over seeds of each run's value on the whole set):",
        "",
        f"| entry | seeds | {head} |",
        "|---|---|" + "---|" * len(metrics),
    ]
    payload: dict[str, Any] = {"study": study.name, "n_boot": n_boot, "bootstrap_seed": BOOT_SEED, "means": {}}
    for row in study.meta.get("extra_rows") or []:
        cells = " | ".join(format_value(m, row.get(m)) for m in metrics)
        lines.append(f"| {row['label']} | - | {cells} |")
    for entry in study.entries:
        means = {m: study.mean(entry, m) for m in metrics}
        payload["means"][entry] = {"seeds": study.seeds(entry), **means}
        cells = " | ".join(format_value(m, means[m]) for m in metrics)
        lines.append(f"| {study.label(entry)} | {len(study.seeds(entry))} | {cells} |")
    pairs = [(study.meta["reference"], e) for e in study.entries if study.meta.get("reference") not in (None, e)]
    pairs += [tuple(p) for p in study.meta.get("comparisons", [])]
    if pairs:
        dhead = difference_header(metrics)
        rows, records = comparison_rows(study, pairs, metrics, n_boot)
        lines += [
            "",
            f"Paired differences (B minus A over the seeds both have; 95% bootstrap interval, {n_boot} "
            "replicates resampling seeds and scenes; * = excludes 0, **bold** = B better):",
            "",
            f"| difference | seeds | {dhead} |",
            "|---|---|" + "---|" * len(metrics),
            *rows,
        ]
        payload["differences"] = records
        lines += ["", mc_line(records, metrics)]
    lines += [f"- {note}" for note in study.meta.get("notes", [])]
    return "\n".join(lines) + "\n", payload


def summary_report(results_dir: Path, spec: dict[str, Any], n_boot: int = N_BOOT) -> tuple[str, dict[str, Any]]:
    """The summary table: one row per ``{"row", "study", "a", "b"}`` of the spec."""
    metrics = list(spec.get("metrics", ["psnr", "ms_ssim", "niqe", "fid", "kid"]))
    dhead = difference_header(metrics)
    lines = [
        spec.get("title", "Summary"),
        "",
        f"| {spec.get('row_header', 'comparison')} | seeds | {dhead} |",
        "|---|---|" + "---|" * len(metrics),
    ]
    records = []
    studies: dict[str, Study] = {}
    missing = []
    for row in spec["rows"]:
        study = studies.setdefault(row["study"], load_study(results_dir / row["study"]))
        if row["a"] not in study.entries or row["b"] not in study.entries:
            missing.append(row["row"])
            continue
        intervals, seeds = study.compare_metrics(row["a"], row["b"], metrics, n_boot)
        cells = [_cell(intervals[m], m) for m in metrics]
        records.append({**row, "metrics": {m: i.to_json() for m, i in intervals.items()}, "seeds": seeds})
        lines.append(f"| {row['row']} | {len(seeds)} | " + " | ".join(cells) + " |")
    if records:
        lines += ["", mc_line(records, metrics)]
    if missing:
        lines += ["", f"Not run yet: {'; '.join(missing)}."]
    lines += ["", *spec.get("notes", [])]
    return "\n".join(lines).rstrip() + "\n", {"rows": records, "n_boot": n_boot, "bootstrap_seed": BOOT_SEED}


def study_folders(results_dir: Path) -> list[Path]:
    return sorted(p.parent for p in Path(results_dir).glob(f"*/{STUDY_FILE}"))


def build_reports(results_dir: str | Path, out_dir: str | Path | None = None, n_boot: int = N_BOOT) -> list[Path]:
    """Write every study's report (and the summary) from ``results_dir`` into ``out_dir`` (default:
    beside the results); returns the files written, relative paths mirrored under ``out_dir``."""
    results_dir = Path(results_dir)
    out_dir = Path(out_dir) if out_dir is not None else results_dir
    folders = study_folders(results_dir)
    if not folders and not (results_dir / SUMMARY_SPEC).is_file() and not any(results_dir.glob("*/results.json")):
        raise InputError(f"{results_dir}: no results folder with a {STUDY_FILE} or results.json, and no {SUMMARY_SPEC}")
    written = []
    for folder in folders:
        study = load_study(folder)
        text, payload = study_report(study, n_boot)
        target = out_dir / folder.relative_to(results_dir)
        target.mkdir(parents=True, exist_ok=True)
        if (folder / "curves.json").is_file():
            extra, data = curves_report(study, json.loads((folder / "curves.json").read_text()), target, n_boot)
            text += "\n" + extra
            payload["curves"] = data
            written.append(target / "curves.png")
        (target / "report.md").write_text(text)
        (target / "report.json").write_text(json.dumps(payload, indent=1) + "\n")
        written += [target / name for name in REPORT_FILES]
    if any(results_dir.glob("*/results.json")):
        text, payload = selection_report(results_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "selection.md").write_text(text)
        (out_dir / "selection.json").write_text(json.dumps(payload, indent=1) + "\n")
        written += [out_dir / "selection.md", out_dir / "selection.json"]
    if out_dir == results_dir:
        for page in docs_pages(results_dir):
            written.append(fill_docs_blocks(page, results_dir))
    spec_file = results_dir / SUMMARY_SPEC
    if spec_file.is_file():
        text, payload = summary_report(results_dir, json.loads(spec_file.read_text()), n_boot)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "summary.md").write_text(text)
        (out_dir / "summary-report.json").write_text(json.dumps(payload, indent=1) + "\n")
        written += [out_dir / "summary.md", out_dir / "summary-report.json"]
    return written


_BLOCK = re.compile(r"(<!-- report:(?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- /report -->)", re.S)


def docs_block(results_dir: Path, name: str) -> str:
    """What a page's ``<!-- report:NAME -->`` block holds: the difference curves of NAME's report
    (from its ``### `` heading on), or the whole report when it has none."""
    text = (Path(results_dir) / name / "report.md").read_text()
    start = text.find("\n### ")
    return text[start + 1 :] if start >= 0 else text


def fill_docs_blocks(page: str | Path, results_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write ``page`` (to ``out``, default in place) with every ``<!-- report:NAME -->`` block
    replaced by :func:`docs_block` of the regenerated reports in ``results_dir``."""
    page, results_dir = Path(page), Path(results_dir)
    text = _BLOCK.sub(lambda m: m.group(1) + docs_block(results_dir, m["name"]) + m.group(4), page.read_text())
    target = Path(out) if out is not None else page
    target.write_text(text)
    return target


def check_reports(results_dir: str | Path, n_boot: int = N_BOOT) -> list[str]:
    """Regenerate every report into a temporary folder; the committed tables (``.md``) that differ.

    The tables hold the numbers at their printed digits, so they must agree on any machine; the
    JSON beside them (full precision) and the pictures (plotting library's bytes) are not compared."""
    results_dir = Path(results_dir)
    with tempfile.TemporaryDirectory() as tmp:
        written = build_reports(results_dir, tmp, n_boot)
        differ = []
        for path in written:
            if path.suffix != ".md":
                continue
            committed = results_dir / path.relative_to(tmp)
            if not committed.is_file() or not filecmp.cmp(committed, path, shallow=False):
                differ.append(str(committed))
        # The results page's report blocks hold the same tables.
        for page in docs_pages(results_dir):
            filled = fill_docs_blocks(page, tmp, Path(tmp) / page.name)
            if filled.read_text() != page.read_text():
                differ.append(str(page))
        return differ


def docs_pages(results_dir: Path) -> list[Path]:
    """The pages beside the results (``docs/*.md``) that hold ``<!-- report:NAME -->`` blocks."""
    return sorted(p for p in Path(results_dir).parent.glob("*.md") if _BLOCK.search(p.read_text()))
