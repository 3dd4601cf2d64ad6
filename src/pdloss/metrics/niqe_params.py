"""NIQE's pristine model: ``niqe_pris_params.npz`` from basicsr 1.4.2 (Apache-2.0).

The parameters are those of the MATLAB NIQE release (Mittal, Soundararajan & Bovik 2013), as
converted by basicsr. basicsr's licence (Apache-2.0) allows redistribution, so the unmodified
file ships in ``pdloss/metrics/data/`` with the licence text and a note of its origin. Where a
build leaves it out, :func:`install_niqe_params` fetches basicsr's source archive from PyPI
(pinned by sha256; basicsr is never installed), extracts only the ``.npz``, checks it and stores
it as ``$PDLOSS_HOME/weights/niqe_pris_params.npz``.
"""

from __future__ import annotations

import os
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from pdloss.errors import WeightsError
from pdloss.weights import cache

PARAMS_NAME = "niqe_pris_params.npz"
PARAMS_SHA256 = "2a7c182a68c9e7f1b2e2e5ec723279d6f65d912b6fcaf37eb2bf03d7367c4296"
SDIST_NAME = "basicsr-1.4.2.tar.gz"
SDIST_SHA256 = "b89b595a87ef964cda9913b4d99380ddb6554c965577c0c10cb7b78e31301e87"
SDIST_URL = "https://files.pythonhosted.org/packages/source/b/basicsr/" + SDIST_NAME
SDIST_MEMBER = "basicsr-1.4.2/basicsr/metrics/niqe_pris_params.npz"
LICENSE_NOTE = "basicsr 1.4.2, Apache License 2.0 (https://github.com/XPixelGroup/BasicSR)"


def params_file() -> Path:
    return cache.weights_dir() / PARAMS_NAME


def bundled_params_file() -> Path:
    return Path(__file__).resolve().parent / "data" / PARAMS_NAME


def niqe_params_path() -> Path | None:
    """The parameter file in use: the cache's (if installed), else the bundled one, else None."""
    for path in (params_file(), bundled_params_file()):
        if path.is_file():
            return path
    return None


def install_niqe_params(progress: bool = True, sdist: str | os.PathLike | None = None) -> Path:
    """Fetch basicsr 1.4.2's source archive (or use ``sdist``), extract the NIQE parameters.

    Args:
        progress: show a download progress bar on stderr.
        sdist: a local ``basicsr-1.4.2.tar.gz`` (e.g. from ``pip download --no-deps
            --no-binary :all: basicsr==1.4.2``); without it the archive is downloaded from PyPI.

    Returns the installed file. Raises WeightsError offline or on a hash mismatch.
    """
    target = params_file()
    if target.is_file() and sdist is None:
        cache.check_sha256(target, PARAMS_SHA256, "NIQE parameter file")
        return target
    with tempfile.TemporaryDirectory() as tmp:
        if sdist is None:
            archive = cache.download(SDIST_URL, Path(tmp) / SDIST_NAME, SDIST_SHA256, progress)
        else:
            archive = Path(sdist)
            if not archive.is_file():
                raise WeightsError(f"{archive} does not exist")
            cache.check_sha256(
                archive, SDIST_SHA256, "basicsr source archive", hint=f" (expected {SDIST_NAME} from PyPI)"
            )
        extract_params(archive, target)
    if progress:
        print(f"installed NIQE parameters ({LICENSE_NOTE}) to {target}", file=sys.stderr)
    return target


def extract_params(archive: Path, target: Path) -> Path:
    """Copy only the ``.npz`` member out of the archive to ``target`` after checking its hash."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            member = tar.extractfile(SDIST_MEMBER)
            if member is None:
                raise KeyError(SDIST_MEMBER)
            data = member.read()
    except (KeyError, tarfile.TarError, OSError) as exc:
        raise WeightsError(f"{archive} has no readable {SDIST_MEMBER}: {exc}") from exc
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(data)
    try:
        cache.check_sha256(tmp, PARAMS_SHA256, "NIQE parameters in the archive")
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    cache.write_record(
        target.with_name(target.name + ".json"),
        {
            "name": "niqe",
            "source": SDIST_URL,
            "source_sha256": SDIST_SHA256,
            "member": SDIST_MEMBER,
            "sha256": PARAMS_SHA256,
            "license": LICENSE_NOTE,
        },
    )
    return target


def load_niqe_params(path: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """``mu_pris_param`` (36,), ``cov_pris_param`` (36, 36) and ``gaussian_window`` (7, 7), float64."""
    if path is None:
        found = niqe_params_path()
        if found is None:
            raise WeightsError(
                f"NIQE needs its pristine model ({PARAMS_NAME}, from {LICENSE_NOTE}), not installed. "
                "Run `pdloss evaluate --install-niqe` (downloads basicsr's source archive from PyPI, "
                f"{SDIST_URL}, and extracts only that file), or call "
                "pdloss.metrics.install_niqe_params(sdist=PATH) with a local basicsr-1.4.2.tar.gz."
            )
        path = found
    path = Path(path)
    cache.check_sha256(path, PARAMS_SHA256, "NIQE parameter file")
    with np.load(path) as data:
        return {
            "mu_pris_param": np.asarray(data["mu_pris_param"], np.float64).reshape(-1),
            "cov_pris_param": np.asarray(data["cov_pris_param"], np.float64),
            "gaussian_window": np.asarray(data["gaussian_window"], np.float64),
        }
