"""Where pdloss keeps its downloads, and the file checks every download shares (bottom layer).

The weight cache (:mod:`pdloss.weights.cache`) and the photo sets (:mod:`pdloss.data`) both store
files under ``$PDLOSS_HOME``, honour ``$PDLOSS_OFFLINE`` and check sha256 digests; this module
holds those few functions so that neither package imports the other.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

OFFLINE_ENV = "PDLOSS_OFFLINE"


def pdloss_home() -> Path:
    """The root of pdloss's cache: ``$PDLOSS_HOME`` or ``~/.cache/pdloss``."""
    home = os.environ.get("PDLOSS_HOME")
    return Path(home).expanduser() if home else Path.home() / ".cache" / "pdloss"


def offline() -> bool:
    """True when ``$PDLOSS_OFFLINE`` forbids network access (tests set it)."""
    return os.environ.get(OFFLINE_ENV, "").lower() not in ("", "0", "false", "no")


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """The hex sha256 digest of a file, read in ``chunk``-byte blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def package_dir(package: str) -> Path | None:
    """The folder of an installed package, found without importing it, or None."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))
