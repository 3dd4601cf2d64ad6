"""The working copy a mutation run measures, and the facts recorded about it (hashes, machine)."""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

from .data import ROOT, file_of_test

WORK = ROOT / ".mutation"  # the copies measured (git-ignored)


def mutmut_exe() -> Path:
    exe = Path(sys.executable).with_name("mutmut")
    if not exe.exists():
        sys.exit(f"mutmut is not installed beside {sys.executable}: pip install -e '.[dev]'")
    return exe


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def head_sha256(rel: str) -> str | None:
    """The sha256 of ``rel`` as committed at ``HEAD`` (None when it is not in ``HEAD``)."""
    result = subprocess.run(["git", "show", f"HEAD:{rel}"], cwd=ROOT, capture_output=True)
    return hashlib.sha256(result.stdout).hexdigest() if result.returncode == 0 else None


def git_head() -> str:
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return result.stdout.strip() or "unknown"


def machine() -> str:
    """One line: CPU model, cores, whether it has AVX512-BF16, the load, the software."""
    model, flags = platform.processor() or "unknown CPU", ""
    try:
        info = Path("/proc/cpuinfo").read_text()
        model = re.search(r"model name\s*:\s*(.*)", info).group(1).strip()
        flags = re.search(r"flags\s*:\s*(.*)", info).group(1)
    except (OSError, AttributeError):
        pass
    bf16 = "avx512_bf16" if "avx512_bf16" in flags.split() else "no avx512_bf16"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    try:
        from importlib.metadata import version

        tools = f"mutmut {version('mutmut')}, torch {version('torch')}"
    except Exception:  # metadata missing: the line stays informative without it
        tools = "versions unknown"
    python = platform.python_version()
    return f"{model}, {os.cpu_count()} cores, {bf16}, load {load:.1f} at start; Python {python}, {tools}"


def copy_tree(dest: Path, tests: list[str]) -> None:
    """The working tree's src/ and configs/, the given tests, every module of tests/ that is not a
    test file (conftest.py, shared helpers the tests import), and pyproject.toml, into ``dest``
    (emptied first)."""
    if dest.exists():
        shutil.rmtree(dest)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(ROOT / "src", dest / "src", ignore=ignore)
    if (ROOT / "configs").is_dir():
        shutil.copytree(ROOT / "configs", dest / "configs", ignore=ignore)
    (dest / "tests").mkdir()
    support = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("*.py") if not p.name.startswith("test_"))
    for name in dict.fromkeys([*support, *map(file_of_test, tests)]):
        if (ROOT / name).exists():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    shutil.copy2(ROOT / "pyproject.toml", dest / "pyproject.toml")


# mutmut leaves decorated functions alone. A cache decorator changes no result, so the copy
# drops it and its function is mutated like any other (resize_matrix, the quantile grid, ...).
_CACHE_DECORATOR = re.compile(r"^[ \t]*@(?:functools\.)?(?:lru_cache|cache)(?:\([^)]*\))?[ \t]*\n", re.M)


def strip_caches(dest: Path, files: list[str]) -> list[str]:
    """Remove ``@lru_cache``/``@cache`` lines from the copies of ``files``; returns where."""
    changed = []
    for rel in files:
        path = dest / rel
        text = path.read_text()
        new, count = _CACHE_DECORATOR.subn("", text)
        if count:
            path.write_text(new)
            changed.append(f"{rel} ({count})")
    return changed


def run_env() -> dict[str, str]:
    """The environment of mutmut and pytest runs."""
    env = dict(os.environ)
    # One thread: the machine is shared (and a forked child never inherits an OpenMP pool).
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1", PDLOSS_OFFLINE="1")
    env.pop("MUTANT_UNDER_TEST", None)
    return env
