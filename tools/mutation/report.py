"""docs/testing.md's mutation tables and the raw results in docs/results/mutation/*.json."""

from __future__ import annotations

import json
import re
from pathlib import Path

from .data import ROOT, Equivalent, MutationData

DOC = ROOT / "docs" / "testing.md"
RESULTS = ROOT / "docs" / "results" / "mutation"  # one JSON file per module, written by this tool
BEGIN, END = "<!-- mutation-results:begin (written by tools/mutation) -->", "<!-- mutation-results:end -->"
# The markers earlier versions wrote (replaced by BEGIN when the page is next written).
_OLD_BEGINS = ("<!-- mutation-results:begin (written by scripts/mutation.py) -->",)
DATA_RE = re.compile(r"<!-- mutation-data\n(.*?)\n-->", re.S)
COMMAND = "nice -n 19 .venv/bin/python -m tools.mutation"


def _source_lines(module: str) -> set[str]:
    """The stripped lines of ``pdloss.x.y``'s file now (empty when the file is gone)."""
    path = ROOT / "src" / (module.replace(".", "/") + ".py")
    return {line.strip() for line in path.read_text().splitlines()} if path.is_file() else set()


def find_equivalent(data: MutationData, key: str, removed: str, added: str) -> Equivalent | None:
    """The listed equivalent mutant with this diff in the module of mutmut's ``key``, if any.

    A result measured before its code moved to another file names the old module: when that
    module's file no longer holds the removed lines, the mutant is looked up by its diff alone
    (equivalents.yaml names the new file), so stored results render as they did."""
    module = key.partition(".x")[0]  # pdloss.metrics.ssim.x_ssim__mutmut_3 -> pdloss.metrics.ssim
    same_diff = [eq for eq in data.equivalents if eq.matches(removed, added)]
    for eq in same_diff:
        if eq.python_module == module:
            return eq
    if same_diff:
        lines = _source_lines(module)
        if removed not in lines and not all(part in lines for part in removed.split(" / ")):
            return same_diff[0]
    return None


def with_equivalents(data: MutationData, result: dict) -> dict:
    """Counts with the equivalent mutants of the current equivalents.yaml (matched when the page
    is written, so editing the list needs no new run)."""
    counts = dict(result["counts"])
    matches = [find_equivalent(data, s["key"], s["removed"], s["added"]) for s in result.get("survivors", [])]
    counts["equivalent"] = sum(1 for m in matches if m is not None)
    counts["device_only"] = sum(1 for m in matches if m is not None and m.device_only)
    return counts


def score(counts: dict, device_only_as_survivors: bool = False) -> float | None:
    """(killed + timed out) / (mutants - equivalent); None without mutants."""
    detected = counts["killed"] + counts["timeout"]
    excluded = counts["equivalent"] - (counts.get("device_only", 0) if device_only_as_survivors else 0)
    denominator = counts["total"] - excluded
    return detected / denominator if denominator else None


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'")


def _score_rows(data: MutationData, modules: dict) -> list[str]:
    lines = [
        "| module | mutants | killed | timed out | survived | no tests | equivalent | score | target | "
        "score with device-only as survivors | wall | measured |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, target in data.targets.items():
        r = modules.get(name)
        if r is None or r.get("status") != "measured":
            why = "not measured yet" if r is None else r.get("status", "?")
            lines.append(f"| {name} | {why} | | | | | | | {target.target:.0%} | | | |")
            continue
        c = with_equivalents(data, r)
        value, strict = score(c), score(c, device_only_as_survivors=True)
        mark = "" if value is None or value >= r["target"] else " (below)"
        if c["not_checked"]:  # an interrupted run: the score so far counts the unrun mutants as survivors
            run = c["total"] - c["not_checked"]
            partial = score(dict(c, total=run, not_checked=0))
            mark += (
                f"; INCOMPLETE: {c['not_checked']} of {c['total']} mutants not run, "
                f"{'-' if partial is None else f'{partial:.1%}'} of the {run} run"
            )
        undetected = c["survived"] + c["suspicious"] + c["not_checked"] + c["no_tests"] - c["equivalent"]
        equivalent = f"{c['equivalent']}" + (f" ({c['device_only']} device-only)" if c["device_only"] else "")
        lines.append(
            f"| {name} | {c['total']} | {c['killed']} | {c['timeout']} | {undetected} | {c['no_tests']} | "
            f"{equivalent} | {'-' if value is None else f'{value:.1%}'}{mark} | {r['target']:.0%} | "
            f"{'-' if strict is None else f'{strict:.1%}'} | {r['wall_s'] / 60:.1f} min | {r['date']} |"
        )
    return lines


def _module_section(data: MutationData, name: str, r: dict) -> list[str]:
    lines = [f"#### {name}", ""]
    dirty = ", ".join(r["dirty"]) or "none"
    files = ", ".join(f"`{f}` ({r['sha256'][f]})" for f in r["files"])
    tests = ", ".join(f"`{t}`" for t in r["tests"])
    absent = ", ".join(r.get("missing_tests", []))
    lines += [
        f"- files: {files}; differing from HEAD {r['head']}: {dirty}",
        f"- tests: {tests}" + (f" (absent then: {absent})" if absent else ""),
    ]
    if r.get("note"):
        lines.append(f"- scope: {r['note']}")
    if r.get("uncached"):
        uncached = ", ".join(r["uncached"])
        lines.append(f"- cache decorators removed in the copy (so mutmut mutates those functions): {uncached}")
    if r.get("retested"):
        rt = r["retested"]
        lines.append(
            f"- measured in two steps: all mutants on {rt['first_run']} ({rt['first_wall_s'] / 60:.1f} min), then "
            f"the {rt['mutants']} undetected ones again on {rt['date']} after tests were added "
            f"(`--retest-undetected`, {rt['wall_s'] / 60:.1f} min); the plain command measures all at once"
        )
    lines += [
        f"- command: `{COMMAND} {name}` (mutmut in `.mutation/{name}/`, {r['wall_s'] / 60:.1f} min wall)",
        f"- machine: {r['machine']}",
        f"- raw results (counts, every undetected mutant's diff): `docs/results/mutation/{name}.json`",
        "",
    ]
    survivors = [sv for sv in r.get("survivors", []) if sv["status"] != "not checked"]
    unrun = len(r.get("survivors", [])) - len(survivors)
    if unrun:
        lines += [f"- {unrun} mutants were not run (the run was interrupted); their names are in the JSON file", ""]
    if survivors:
        lines += ["| mutant | status | original | mutated | equivalent because |", "|---|---|---|---|---|"]
        for sv in survivors:
            short = sv["key"].rpartition(".")[2]
            eq = find_equivalent(data, sv["key"], sv["removed"], sv["added"])
            why = "" if eq is None else ("device-only: " if eq.device_only else "") + eq.reason
            lines.append(
                f"| {_md(short)} | {sv['status']} | `{_md(sv['removed'])[:160]}` | "
                f"`{_md(sv['added'])[:160]}` | {_md(why)} |"
            )
        lines.append("")
    return lines


def render(data: MutationData, results: dict) -> str:
    """The block between docs/testing.md's markers: scores, hand-written mutants, per module."""
    modules = results.get("modules", {})
    lines = [BEGIN, "", "### Scores", "", *_score_rows(data, modules)]
    lines += [
        "",
        "Score = (killed + timed out) / (mutants - equivalent). \"survived\" counts every mutant not killed "
        "and not equivalent, those without tests included. \"device-only\" mutants place a tensor on the CPU "
        "instead of the input's device: no test on a CPU-only machine can tell them apart, so they are listed "
        "with the equivalent ones, and the next-to-last column counts them as survivors instead.",
        "",
    ]
    named = results.get("named", [])
    if named:
        lines += ["### Hand-written mutants (module-level constants and the issue's examples)", ""]
        lines += ["| mutant | module | what | result | first failing test |", "|---|---|---|---|---|"]
        for row in named:
            lines.append(
                f"| {row['name']} | {row['module']} | {_md(row['what'])} | {row['status']} | "
                f"{_md(row.get('detail', ''))} |"
            )
        lines += ["", f"Measured {results.get('named_date', '?')} with `{results.get('named_command', '')}`.", ""]
    lines += ["### Per module", ""]
    for name in data.targets:
        r = modules.get(name)
        if r is not None and r.get("status") == "measured":
            lines += _module_section(data, name, r)
    lines.append(END)
    return "\n".join(lines)


def _result_path(name: str) -> Path:
    return RESULTS / f"{name}.json"


def write_doc(data: MutationData, results: dict) -> None:
    """The tables into ``docs/testing.md`` (between its markers), the raw results (every
    surviving mutant's diff, counts, hashes) into ``docs/results/mutation/<module>.json``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    for name, result in results.get("modules", {}).items():
        _result_path(name).write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    if results.get("named"):
        named = {"date": results.get("named_date"), "command": results.get("named_command"), "rows": results["named"]}
        _result_path("named").write_text(json.dumps(named, indent=1, ensure_ascii=False) + "\n")
    text = DOC.read_text() if DOC.exists() else f"# Testing\n\n{BEGIN}\n{END}\n"
    text = DATA_RE.sub("", text).rstrip() + "\n"  # results once embedded here now live in RESULTS
    for old in _OLD_BEGINS:
        text = text.replace(old, BEGIN)
    block = render(data, results)
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOC.write_text(text)


def read_results(data: MutationData) -> dict:
    """The stored results: ``modules`` (name -> result), ``named`` rows, their date and command."""
    results: dict = {"modules": {}, "named": []}
    if DOC.exists():  # results embedded by earlier versions of this tool
        found = DATA_RE.search(DOC.read_text())
        if found:
            results.update(json.loads(found.group(1).replace("- -", "--")))
    for name in data.targets:
        if _result_path(name).exists():
            results["modules"][name] = json.loads(_result_path(name).read_text())
    if _result_path("named").exists():
        named = json.loads(_result_path("named").read_text())
        results.update(named=named["rows"], named_date=named["date"], named_command=named["command"])
    return results
