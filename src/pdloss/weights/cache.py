"""The weight cache and the file plumbing every weight source shares.

The cache lives in ``$PDLOSS_HOME`` (default ``~/.cache/pdloss``). Converted weights are stored
as ``weights/NAME.pth`` beside ``weights/NAME.json``, a record of the source file, its sha256 and
the converted file's sha256, which :func:`verify_record` checks before every load.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from pdloss.data.builtin import package_dir
from pdloss.errors import WeightsError

OFFLINE_ENV = "PDLOSS_OFFLINE"


def pdloss_home() -> Path:
    """The root of pdloss's cache: ``$PDLOSS_HOME`` or ``~/.cache/pdloss``."""
    home = os.environ.get("PDLOSS_HOME")
    return Path(home).expanduser() if home else Path.home() / ".cache" / "pdloss"


def weights_dir() -> Path:
    return pdloss_home() / "weights"


def offline() -> bool:
    """True when ``$PDLOSS_OFFLINE`` forbids network access (tests set it)."""
    return os.environ.get(OFFLINE_ENV, "").lower() not in ("", "0", "false", "no")


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def check_sha256(path: Path, expected: str, what: str, hint: str = "") -> str:
    """Raise :class:`WeightsError` unless the sha256 of ``path`` starts with ``expected``.

    ``expected`` may be a full digest or a prefix (torchvision names files by an 8-digit prefix).
    Returns the full digest.
    """
    actual = sha256_file(path)
    if not actual.startswith(expected.lower()):
        raise WeightsError(
            f"{what} {path} is corrupt or not the expected file: sha256 {actual[:16]}..., "
            f"expected {expected[:16]}...; delete it and install it again{hint}"
        )
    return actual


def locate_package_file(package: str, relative: str) -> Path | None:
    """A data file inside an installed package, found without importing the package."""
    root = package_dir(package)
    if root is None:
        return None
    path = root / relative
    return path if path.is_file() else None


def atomic_torch_save(obj: Any, path: Path) -> None:
    """``torch.save`` to a temporary file in the same folder, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_record(path: Path, record: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(dict(record), indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_record(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as exc:
        raise WeightsError(f"weight record {path} is unreadable ({exc}); delete it and install again") from exc


def download(url: str, destination: Path, sha256: str, progress: bool = True) -> Path:
    """Download ``url`` to ``destination`` (via a temporary file), verifying its sha256 prefix.

    Raises :class:`WeightsError` when offline mode is on, the network is unreachable, or the
    download does not match ``sha256``.
    """
    if offline():
        raise WeightsError(f"not downloading {url}: ${OFFLINE_ENV} is set")
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{destination.name}.", dir=destination.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=30) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            from tqdm import tqdm

            with tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                desc=destination.name,
                disable=not progress,
                file=sys.stderr,
            ) as bar:
                while block := response.read(1 << 20):
                    out.write(block)
                    bar.update(len(block))
        check_sha256(tmp, sha256, "downloaded file")
        os.replace(tmp, destination)
    except OSError as exc:  # URLError is an OSError
        raise WeightsError(f"could not download {url}: {exc}") from exc
    finally:
        if tmp.exists():
            tmp.unlink()
    return destination


def copy_into_cache(source: Path, destination: Path) -> Path:
    """Copy a user-supplied file into the cache atomically."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = destination.with_name(f".{destination.name}.tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, destination)
    return destination
