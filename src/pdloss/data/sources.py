"""Data sources: a name or path -> the list of image files the harness trains or evaluates on.

Sources: ``"builtin"`` (photos inside installed wheels, :mod:`pdloss.data.builtin`),
``"debian-photos"`` (fetched by ``pdloss data fetch debian-photos``), or a folder path (any
folder of images, searched recursively: DIV2K's ``DIV2K_train_HR/`` works as is) or one image file.
Any source may end in a Python slice of its sorted file list, to split one set into training and
validation images: ``builtin[3:]`` and ``builtin[:3]``. ``SET:SUBSET`` selects part of the fixed
photo split (:mod:`pdloss.data.split`): ``offline:train``, ``offline:valid``, ``offline:test``,
``builtin:train+valid``, ``div2k:test``...
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pdloss.data.builtin import BUILTIN_PHOTOS, builtin_photos
from pdloss.data.debian import NAME as DEBIAN_PHOTOS
from pdloss.data.debian import debian_photo_paths, debian_photos_dir, load_manifest
from pdloss.data.split import SPLIT_SETS, SUBSETS, resolve_split
from pdloss.errors import InputError
from pdloss.imageio import IMAGE_SUFFIXES, list_images

NAMED_SOURCES = ("builtin", DEBIAN_PHOTOS)
_SLICE = re.compile(r"^(.+)\[(-?\d*):(-?\d*)\]$")
_SPLIT = re.compile(r"^([a-z0-9-]+):([a-z+]+)$")


def resolve_images(source: str | Path) -> list[Path]:
    """The image files of a data source (sorted); a clear error when there are none.

    Raises:
        InputError: unknown name, missing folder, empty folder, or a named set not installed.
    """
    text = str(source)
    sliced = _SLICE.match(text)
    if sliced:
        base, start, stop = sliced.groups()
        images = resolve_images(base)[slice(int(start) if start else None, int(stop) if stop else None)]
        if not images:
            raise InputError(f"data source {text!r} selects no image (the set has {len(resolve_images(base))})")
        return images
    split = _SPLIT.match(text)
    if split and split.group(1) in SPLIT_SETS and all(part in SUBSETS for part in split.group(2).split("+")):
        return resolve_split(split.group(1), split.group(2))
    if text == "builtin":
        photos = builtin_photos()
        if not photos:
            raise InputError(
                "no built-in photos found: install scikit-image, scikit-learn or matplotlib "
                "(pip install 'pdloss[data]')"
            )
        return [photos[name] for name in sorted(photos)]
    if text == DEBIAN_PHOTOS:
        paths = debian_photo_paths()
        if not paths:
            raise InputError(
                f"the {DEBIAN_PHOTOS} set is not in {debian_photos_dir()}: "
                f"run `pdloss data fetch {DEBIAN_PHOTOS}`"
            )
        return paths
    path = Path(source).expanduser()
    if path.is_file():
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise InputError(f"{path} is not an image file (known suffixes: {', '.join(IMAGE_SUFFIXES)})")
        return [path]
    if not path.is_dir():
        raise InputError(
            f"data source {text!r} is neither a folder nor one of the named sets ({', '.join(NAMED_SOURCES)})"
        )
    images = list_images(path)
    if not images:
        raise InputError(f"no image files in {path} (looked for {', '.join(IMAGE_SUFFIXES)}, recursively)")
    return images


@dataclass
class SourceInfo:
    name: str
    present: int
    expected: int | None
    location: str


def list_sources() -> list[SourceInfo]:
    """The named sets, how many of their images are present here, and where they live."""
    photos = builtin_photos()

    expected = len(load_manifest()["files"])
    return [
        SourceInfo("builtin", len(photos), len(BUILTIN_PHOTOS), "inside installed wheels"),
        SourceInfo(DEBIAN_PHOTOS, len(debian_photo_paths()), expected, str(debian_photos_dir())),
    ]
