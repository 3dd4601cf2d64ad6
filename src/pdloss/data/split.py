"""The fixed train / validation / test split of the offline photos, and DIV2K's equivalent.

Sources of the form ``SET:SUBSET`` select a part of a split (``SUBSET`` is ``train``, ``valid``,
``test``, or several joined by ``+``, e.g. ``train+valid``):

- ``offline:SUBSET``: the built-in photos and the debian-photos set together (46 photos: 23 train,
  12 valid, 11 test). Needs ``pdloss data fetch debian-photos``.
- ``builtin:SUBSET``: the built-in part only (10 photos: 5 train, 3 valid, 2 test), offline with
  nothing fetched: the demo's split.
- ``debian-photos:SUBSET``: the debian-photos part only.
- ``div2k:SUBSET``: DIV2K under ``$PDLOSS_DIV2K`` (default ``data/DIV2K``): ``train`` is
  ``DIV2K_train_HR`` 0001-0700, ``valid`` its 0701-0800 (for choosing hyperparameters), ``test``
  is ``DIV2K_valid_HR`` (0801-0900, where the paper reports).

The photo split is a manifest kept in the repository (``manifests/split.json``), written once by a
stated rule (see its ``rule`` field) and never edited by hand: scenes photographed twice (stereo or
sequence pairs) stay in one subset, so no test scene is seen in training.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from pdloss.data.builtin import builtin_photo_path
from pdloss.data.debian import NAME as DEBIAN_PHOTOS
from pdloss.data.debian import debian_photos_dir
from pdloss.errors import InputError
from pdloss.imageio import list_images

SUBSETS = ("train", "valid", "test")
SPLIT_SETS = ("offline", "builtin", "debian-photos", "div2k")
MANIFEST = Path(__file__).parent / "manifests" / "split.json"
DIV2K_TRAIN_END = 700  # DIV2K_train_HR 0001-0700 train, 0701-0800 valid


@lru_cache(maxsize=1)
def load_split() -> dict[str, Any]:
    """The split manifest: ``{"sets": {"builtin": {name: {"subset", "group"}}, "debian-photos": ...}}``."""
    return json.loads(MANIFEST.read_text())


def parse_subsets(text: str) -> tuple[str, ...]:
    """``"train+valid"`` -> ``("train", "valid")``; a clear error for an unknown name."""
    parts = tuple(p.strip() for p in text.split("+") if p.strip())
    unknown = [p for p in parts if p not in SUBSETS]
    if unknown or not parts:
        raise InputError(f"unknown split subset {text!r}; use {', '.join(SUBSETS)} or a '+' of them (train+valid)")
    return parts


def split_names(split_set: str, subsets: tuple[str, ...]) -> list[str]:
    """The photo names (built-in names or debian file names) of ``subsets`` in ``split_set``."""
    sets = load_split()["sets"]
    members = ("builtin", "debian-photos") if split_set == "offline" else (split_set,)
    return [name for member in members for name, entry in sets[member].items() if entry["subset"] in subsets]


def scene_groups() -> dict[str, str]:
    """Each offline photo's file stem -> its scene (the manifest's group): photos of one scene
    (stereo or sequence pairs, such as ``opencv-graf1`` and ``opencv-graf3``) are not independent
    samples, so the bootstrap resamples them together."""
    return {
        Path(name).stem: entry["group"] for entries in load_split()["sets"].values() for name, entry in entries.items()
    }


def div2k_root() -> Path:
    return Path(os.environ.get("PDLOSS_DIV2K", "data/DIV2K")).expanduser()


def _div2k_images(subsets: tuple[str, ...]) -> list[Path]:
    root = div2k_root()
    images: list[Path] = []
    for subset in subsets:
        folder = root / ("DIV2K_valid_HR" if subset == "test" else "DIV2K_train_HR")
        if not folder.is_dir():
            raise InputError(f"div2k:{subset} needs {folder} (set PDLOSS_DIV2K to the folder holding DIV2K_*_HR/)")
        files = list_images(folder)
        if subset == "train":
            files = files[:DIV2K_TRAIN_END]
        elif subset == "valid":
            files = files[DIV2K_TRAIN_END:]
        images += files
    return images


def resolve_split(split_set: str, subset_text: str) -> list[Path]:
    """The image files of ``SET:SUBSET`` (sorted by set, then name)."""
    subsets = parse_subsets(subset_text)
    if split_set == "div2k":
        return _div2k_images(subsets)
    sets = load_split()["sets"]
    paths: list[Path] = []
    members = ("builtin", DEBIAN_PHOTOS) if split_set == "offline" else (split_set,)
    for member in members:
        names = [name for name, entry in sets[member].items() if entry["subset"] in subsets]
        if member == "builtin":
            paths += [builtin_photo_path(name) for name in names]
            continue
        folder = debian_photos_dir()
        missing = [name for name in names if not (folder / name).is_file()]
        if missing:
            raise InputError(
                f"{split_set}:{subset_text} needs the {DEBIAN_PHOTOS} set ({len(missing)} of its photos are not in "
                f"{folder}, e.g. {missing[0]}): run `pdloss data fetch {DEBIAN_PHOTOS}`"
            )
        paths += [folder / name for name in names]
    return paths


def split_counts() -> dict[str, dict[str, int]]:
    """``{set: {subset: photos}}`` of the photo split (for ``pdloss data list``)."""
    counts: dict[str, dict[str, int]] = {}
    for split_set in ("offline", "builtin", "debian-photos"):
        counts[split_set] = {subset: len(split_names(split_set, (subset,))) for subset in SUBSETS}
    return counts
