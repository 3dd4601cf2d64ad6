"""The hand-written mutants (named.yaml): each applied alone to a copy of the tree, its tests run."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

from .data import ROOT, NamedMutant, file_of_test
from .tree import WORK, copy_tree, run_env


def run_named(selected: list[NamedMutant], timeout: float, work: Path | None = None) -> list[dict]:
    """One result row per mutant: ``killed`` (a test failed, ``detail`` names the first),
    ``survived``, ``timeout``, ``stale`` (its old text is not in the file exactly once),
    ``no tests`` or ``baseline fails`` (the tests fail without the mutant)."""
    results = []
    dest = work or WORK / "named"
    tests = sorted({t for m in selected for t in m.tests if (ROOT / file_of_test(t)).exists()})
    copy_tree(dest, tests)
    env = run_env()
    env["PYTHONPATH"] = str(dest / "src")  # ahead of the editable install's path entry
    pytest = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-W", "ignore"]
    baseline: dict[tuple[str, ...], int] = {}
    for mutant in selected:
        path = dest / mutant.file
        tests = tuple(t for t in mutant.tests if (ROOT / file_of_test(t)).exists())
        row = {"name": mutant.name, "module": mutant.module, "file": mutant.file, "what": mutant.what,
               "old": mutant.old, "new": mutant.new, "tests": list(tests)}
        text = path.read_text() if path.exists() else ""
        if text.count(mutant.old) != 1 or not tests:
            row["status"] = "stale" if tests else "no tests"
            row["detail"] = f"the text occurs {text.count(mutant.old)} times in {mutant.file}" if tests else ""
            results.append(row)
            continue
        if tests not in baseline:
            proc = subprocess.run([*pytest, *tests], cwd=dest, env=env, capture_output=True, timeout=timeout)
            baseline[tests] = proc.returncode
        if baseline[tests] != 0:
            row["status"] = "baseline fails"
            results.append(row)
            continue
        path.write_text(text.replace(mutant.old, mutant.new))
        started = time.perf_counter()
        try:
            proc = subprocess.run([*pytest, *tests], cwd=dest, env=env, capture_output=True, text=True, timeout=timeout)
            row["status"] = "killed" if proc.returncode != 0 else "survived"
            failed = re.findall(r"^FAILED (\S+)", proc.stdout, re.M) or re.findall(r"^ERROR (\S+)", proc.stdout, re.M)
            row["detail"] = failed[0] if failed else ""
        except subprocess.TimeoutExpired:
            row["status"], row["detail"] = "timeout", f"> {timeout:.0f} s"
        finally:
            path.write_text(text)
        row["wall_s"] = round(time.perf_counter() - started, 1)
        results.append(row)
        print(f"  named {mutant.name}: {row['status']} {row.get('detail', '')}", flush=True)
    return results
