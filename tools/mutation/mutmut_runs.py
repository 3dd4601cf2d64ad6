"""mutmut runs: measure one module in its copy, collect the counts and the undetected mutants' diffs."""

from __future__ import annotations

import datetime as _dt
import fnmatch
import json
import re
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from .data import ROOT, Target, file_of_test, target_files
from .tree import WORK, copy_tree, git_head, head_sha256, machine, mutmut_exe, run_env, sha256, strip_caches

# mutmut's status of a mutant -> the column it is counted in.
STATUS_GROUP = {
    "killed": "killed",
    "timeout": "timeout",
    "segfault": "timeout",  # -9: the runner's SIGKILL after the CPU-time limit
    "survived": "survived",
    "no tests": "no_tests",
    "suspicious": "suspicious",
    "not checked": "not_checked",
    "skipped": "not_checked",
    "caught by type check": "killed",
    "check was interrupted by user": "not_checked",
}


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def _snapshot(dest: Path, files: list[str], tests: list[str], missing: list[str], note: str, base: Path) -> dict:
    """What a run measures: the files' hashes (from ``base``: the tree, or an earlier copy)."""
    return {
        "files": files,
        "tests": tests,
        "missing_tests": missing,
        "started": time.time() if base == ROOT else (dest / "pyproject.toml").stat().st_mtime,
        "head": git_head(),
        "machine": machine() + (f"; {note}" if note else ""),
        "sha256": {f: sha256(base / f)[:12] for f in files},
        "dirty": [f for f in files if head_sha256(f) != sha256(base / f)],
        "uncached": [],
    }


def _mutmut_config(files: list[str], tests: list[str]) -> str:
    return "\n".join(
        [
            "",
            "[tool.mutmut]",
            'source_paths = ["src"]',
            f"only_mutate = {_toml_list(files)}",
            f"pytest_add_cli_args_test_selection = {_toml_list(tests)}",
            'pytest_add_cli_args = ["-p", "no:cacheprovider", "-W", "ignore"]',
            'process_isolation = "fork"',
            "use_git_change_detection = false",
            "",
        ]
    )


def run_module(
    name: str, target: Target, timeout: float | None, jobs: int = 1, note: str = "", collect_only: bool = False
) -> dict:
    """Measure one module in ``.mutation/<name>/``; with ``collect_only``, count what an earlier
    (interrupted or timed-out) run there left, without running anything."""
    files = target_files(target)
    if not files:
        return {"name": name, "status": "absent", "files": list(target.files)}
    tests = [t for t in target.tests if (ROOT / file_of_test(t)).exists()]
    missing = [t for t in target.tests if t not in tests]
    dest = WORK / name
    log = dest / "mutmut.log"
    if collect_only:
        try:
            snapshot = json.loads((dest / "measured.json").read_text())
        except (OSError, json.JSONDecodeError):
            if not log.exists():
                sys.exit(f"{name}: no earlier run in {dest} to collect")
            # A run of an earlier version of this tool: rebuild the snapshot from the copy.
            copied = [t for t in target.tests if (dest / file_of_test(t)).exists()]
            snapshot = _snapshot(dest, files, copied, [t for t in target.tests if t not in copied], note, dest)
        files, tests, missing = snapshot["files"], snapshot["tests"], snapshot["missing_tests"]
        wall, returncode = log.stat().st_mtime - snapshot["started"], "collected after an interrupted run"
    else:
        copy_tree(dest, tests)
        # What is measured is the tree at copy time (other edits may land while mutmut runs).
        snapshot = _snapshot(dest, files, tests, missing, note, ROOT)
        snapshot["uncached"] = strip_caches(dest, files)
        (dest / "measured.json").write_text(json.dumps(snapshot, indent=1, ensure_ascii=False))
        with open(dest / "pyproject.toml", "a") as f:
            f.write(_mutmut_config(files, tests))
        command = [str(mutmut_exe()), "run", "--max-children", str(jobs), *target.select]
        started = time.perf_counter()
        with open(log, "w") as out:
            try:
                proc = subprocess.run(
                    command, cwd=dest, env=run_env(), stdout=out, stderr=subprocess.STDOUT, timeout=timeout
                )
                returncode = proc.returncode
            except subprocess.TimeoutExpired:
                returncode = "timeout"
        wall = time.perf_counter() - started
    result = {
        "name": name,
        "files": files,
        "tests": tests,
        "missing_tests": missing,
        "select": list(target.select),
        "note": target.note,
        "uncached": snapshot["uncached"],
        "target": target.target,
        "wall_s": round(wall, 1),
        "returncode": returncode,
        "date": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "head": snapshot["head"],
        "machine": snapshot["machine"],
        "sha256": snapshot["sha256"],
        "dirty": snapshot["dirty"],
    }
    result.update(collect(dest, target))
    counts = result.get("counts", {})
    nothing_ran = bool(counts.get("total")) and counts.get("not_checked") == counts.get("total")
    # mutmut generated the mutants but its clean run of the tests failed (so no mutant was tested):
    # a failure to fix, not a score of 0%.
    if (returncode != 0 and not counts.get("total")) or nothing_ran:
        tail = log.read_text(errors="replace")[-3000:]
        result["status"] = "failed"
        result["log_tail"] = re.sub(r"[⠀-⣿]+ [^\n]*?(?=⠀|\n|$)", "", tail)[-1500:]
    else:
        result["status"] = "measured"
    return result


def retest_undetected(
    name: str, target: Target, previous: dict | None, timeout: float | None, jobs: int, note: str
) -> dict:
    """Rerun the mutants ``previous`` did not detect, with the current tests; merge the counts.

    Valid only when the module's files are byte-identical to the measured ones (mutmut names
    its mutants by function and number, so the same source gives the same mutants) and tests
    were added, not weakened: a mutant killed then is still killed.
    """
    if previous is None or previous.get("status") != "measured":
        sys.exit(f"{name}: no earlier measurement to retest; run it in full first")
    current = {f: sha256(ROOT / f)[:12] for f in target_files(target)}
    if current != previous["sha256"]:
        sys.exit(f"{name}: its files changed since the last run ({previous['sha256']} -> {current}); run it in full")
    keys = [sv["key"] for sv in previous["survivors"]]
    if not keys:
        return previous
    result = run_module(name, replace(target, select=tuple(keys)), timeout, jobs, note)
    if result["status"] != "measured":
        return result
    counts = dict(previous["counts"])
    for sv in previous["survivors"]:
        counts[STATUS_GROUP.get(sv["status"], "suspicious")] -= 1
    for group, n in result["counts"].items():
        if group != "total":
            counts[group] += n
    result.update(
        counts=counts,
        select=list(target.select),
        wall_s=round(previous["wall_s"] + result["wall_s"], 1),
        retested={"date": result["date"], "mutants": len(keys), "wall_s": result["wall_s"],
                  "first_run": previous["date"], "first_wall_s": previous["wall_s"]},
    )
    return result


def collect(dest: Path, target: Target) -> dict:
    """Counts by status and the diffs of the mutants that were not killed."""
    from mutmut.stats import status_by_exit_code  # the dev extra's mutmut: only a measurement needs it

    codes: dict[str, int | None] = {}
    for meta in (dest / "mutants").rglob("*.py.meta"):
        codes.update(json.loads(meta.read_text())["exit_code_by_key"])
    if target.select:
        codes = {k: v for k, v in codes.items() if any(fnmatch.fnmatch(k, s) for s in target.select)}
    counts = dict.fromkeys(["total", "killed", "timeout", "survived", "no_tests", "suspicious", "not_checked"], 0)
    undetected = []
    for key, code in codes.items():
        group = STATUS_GROUP.get(status_by_exit_code[code], "suspicious")
        counts[group] += 1
        counts["total"] += 1
        if group not in ("killed", "timeout"):
            undetected.append((key, status_by_exit_code[code]))
    diffs = _diffs(dest, [k for k, _ in undetected]) if undetected else {}
    survivors = []
    for key, status in sorted(undetected, key=lambda kv: _natural(kv[0])):
        removed, added = diffs.get(key, ("?", "?"))
        survivors.append({"key": key, "status": status, "removed": removed, "added": added})
    return {"counts": counts, "survivors": survivors}


def _natural(key: str) -> tuple:
    head, _, number = key.rpartition("__mutmut_")
    return (head, int(number) if number.isdigit() else 0)


# Run in the copy (mutmut's own modules read its mutants folder): each key's removed and added
# lines, stripped, a multi-line diff's lines joined by " / " (the form equivalents.yaml quotes).
_DIFF_SCRIPT = r"""
import json, sys
from mutmut.mutation.diff_apply import find_mutant, get_diff_for_mutant
out = {}
for key in json.loads(sys.stdin.read()):
    try:
        diff = get_diff_for_mutant(key, path=find_mutant(key).path)
    except Exception as exc:
        out[key] = ["?", f"(no diff: {exc})"]
        continue
    lines = diff.splitlines()
    minus = [l[1:].strip() for l in lines if l.startswith("-") and not l.startswith("---")]
    plus = [l[1:].strip() for l in lines if l.startswith("+") and not l.startswith("+++")]
    out[key] = [" / ".join(minus), " / ".join(plus)]
print(json.dumps(out))
"""


def _diffs(dest: Path, keys: list[str]) -> dict[str, tuple[str, str]]:
    proc = subprocess.run(
        [sys.executable, "-c", _DIFF_SCRIPT], cwd=dest, env=run_env(), input=json.dumps(keys),
        capture_output=True, text=True, timeout=600,
    )
    try:
        return {k: tuple(v) for k, v in json.loads(proc.stdout.strip().splitlines()[-1]).items()}
    except (json.JSONDecodeError, IndexError):
        return {}
