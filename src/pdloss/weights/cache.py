"""The weight cache and the file plumbing every weight source shares.

The cache lives in ``$PDLOSS_HOME`` (default ``~/.cache/pdloss``). Converted weights are stored
as ``weights/NAME.pth`` beside ``weights/NAME.json``, a record of the source file, its sha256 and
the converted file's sha256, which :func:`verify_record` checks before every load.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from pdloss._hub import OFFLINE_ENV, offline, package_dir, pdloss_home, sha256_file
from pdloss.errors import WeightsError

__all__ = [  # the _hub names are part of this module's interface (cache.offline(), cache.sha256_file())
    "OFFLINE_ENV",
    "atomic_torch_save",
    "check_sha256",
    "download",
    "ensure_dir",
    "locate_package_file",
    "offline",
    "package_dir",
    "pdloss_home",
    "read_record",
    "sha256_file",
    "weights_dir",
    "write_record",
]

def weights_dir() -> Path:
    return pdloss_home() / "weights"


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


def ensure_dir(folder: Path) -> Path:
    """Create ``folder`` (and its parents) or raise a one-line :class:`WeightsError` naming ``$PDLOSS_HOME``.

    Folders get the usual mode (0755 under umask 022, 0750 under 027).
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WeightsError(_unwritable(folder, exc)) from None
    return folder


def _unwritable(where: Path, exc: OSError) -> str:
    home = os.environ.get("PDLOSS_HOME")
    now = f"PDLOSS_HOME={home}" if home else "PDLOSS_HOME is unset, so the cache is ~/.cache/pdloss"
    return (
        f"cannot write the weight cache at {where}: {exc.strerror or exc}; set PDLOSS_HOME to a writable folder ({now})"
    )


def _shared_mode(path: str | Path) -> None:
    """Give a finished cache file the mode a plain ``open()`` would (0644 under umask 022, 0640 under
    027): ``mkstemp`` makes 0600, which hides a shared cache from the group."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


def _temporary(folder: Path, name: str) -> tuple[int, str]:
    ensure_dir(folder)
    try:
        return tempfile.mkstemp(prefix=f".{name}.", dir=folder)
    except OSError as exc:
        raise WeightsError(_unwritable(folder, exc)) from None


def locate_package_file(package: str, relative: str) -> Path | None:
    """A data file inside an installed package, found without importing the package."""
    root = package_dir(package)
    if root is None:
        return None
    path = root / relative
    return path if path.is_file() else None


def _atomic_write(path: Path, write: Callable[[str], object]) -> Path:
    """``write(temporary file)`` in ``path``'s folder, then rename it over ``path`` (never a half file)."""
    fd, tmp = _temporary(path.parent, path.name)
    os.close(fd)
    try:
        write(tmp)
        _shared_mode(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def atomic_torch_save(obj: Any, path: Path) -> None:
    """``torch.save`` to a temporary file in the same folder, then rename over ``path``."""
    _atomic_write(path, lambda tmp: torch.save(obj, tmp))


def write_record(path: Path, record: Mapping[str, Any]) -> None:
    fd, tmp = _temporary(path.parent, path.name)
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps(dict(record), indent=2, sort_keys=True) + "\n")
    _shared_mode(tmp)
    os.replace(tmp, path)


def read_record(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, NotADirectoryError):  # no record (a file in the way of the folder: none either)
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
    fd, tmp_name = _temporary(destination.parent, destination.name)
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
        _shared_mode(tmp)
        os.replace(tmp, destination)
    except OSError as exc:  # URLError is an OSError
        raise WeightsError(f"could not download {url}: {exc}") from exc
    finally:
        if tmp.exists():
            tmp.unlink()
    return destination

