"""``pdloss study create``: pair images by file stem across methods, crop, store the design.

Every method folder (and the optional reference folder) must hold an image of the same size
for a given stem; the study uses the stems present in all of them. The same crop box is cut
from every method's image of a stem (centred, or at a seeded random position), so the raters
compare the same region. Crops are written as lossless PNG under ``crops/`` and the design
goes into ``study.sqlite``; the database is built under a temporary name and renamed last, so
an interrupted ``create`` leaves no half-made study behind.
"""

from __future__ import annotations

import json
import random
import re
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pdloss.errors import ImageReadError, InputError
from pdloss.imageio import list_images, read_image, write_image
from pdloss.study.db import DB_NAME, SCHEMA, SCHEMA_VERSION, connect, db_path
from pdloss.study.paths import crop_relpath

_META_KEYS = (
    "schema_version", "title", "crop", "crop_mode", "questions_per_rater", "seed", "has_reference",
    "reference_source", "created_at",
)
# Names are stored and reported, never shown to raters; a sweep's table names runs like
# ``perceptual-l1 (0.02) [scratch-perceptual-l1-0.02]``.
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._+\-()\[\]]{0,79}$")


@dataclass(frozen=True)
class StudySummary:
    """What ``create_study`` made."""

    folder: Path
    methods: list[str]
    stems: list[str]
    crop: tuple[int, int] | None  # (w, h) of the first image's box, for the message
    questions: int
    pairs: int
    skipped: dict[str, int]  # method name -> number of its images without a partner


def check_method_name(name: str, where: str = "method name") -> str:
    """``name`` if it is a valid method name (never shown to raters; stored and reported), else an
    InputError saying what is allowed; ``where`` says where the name came from."""
    if not _NAME_RE.match(name):
        raise InputError(
            f"{where} {name!r} must be 1-80 characters: letters, digits, space and ._+-()[] "
            "(starting with a letter or digit)"
        )
    return name


def parse_method_spec(spec: str) -> tuple[str, Path]:
    """``NAME=DIR`` -> (name, folder), with a clear error for anything else."""
    if "=" not in spec:
        raise InputError(f"--method expects NAME=DIR, got {spec!r}")
    name, folder = spec.split("=", 1)
    name = check_method_name(name.strip())
    if not folder:
        raise InputError(f"--method {spec!r} has no folder")
    return name, Path(folder)


def _images_by_stem(folder: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in list_images(folder):
        stem = path.relative_to(folder).with_suffix("").as_posix()
        if stem in found:
            raise InputError(
                f"two images with the stem {stem!r} in {folder}: {found[stem].name}, {path.name}"
            )
        found[stem] = path
    return found


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return im.size
    except (UnidentifiedImageError, OSError) as exc:
        raise ImageReadError(f"cannot read image {path}: {exc}") from exc


def _crop_box(size: tuple[int, int], crop: int, mode: str, rng: random.Random) -> tuple[int, int, int, int]:
    width, height = size
    w = width if crop <= 0 else min(crop, width)
    h = height if crop <= 0 else min(crop, height)
    if mode == "center":
        return (width - w) // 2, (height - h) // 2, w, h
    return rng.randint(0, width - w), rng.randint(0, height - h), w, h


def _write_crop(src: Path, box: tuple[int, int, int, int], dest: Path) -> None:
    x, y, w, h = box
    image = read_image(src, mode="RGB")
    write_image(dest, image[:, y : y + h, x : x + w])


def create_study(
    folder: str | Path,
    methods: list[tuple[str, Path]],
    reference: Path | None = None,
    crop: int = 800,
    crop_mode: str = "center",
    questions: int = 20,
    seed: int = 0,
    title: str | None = None,
    show_progress: bool = True,
    extra_meta: dict[str, str] | None = None,
) -> StudySummary:
    """Create a study in ``folder`` (made if missing; refused if it already holds a study).

    Args:
        folder: the study folder.
        methods: (name, image folder) per method, at least two, names unique.
        reference: optional folder of reference images shown beside each pair.
        crop: side of the square crop in pixels (clipped to the image); 0 shows whole images.
        crop_mode: ``"center"`` or ``"random"`` (position drawn from ``seed`` per image).
        questions: questions per rater (at most pairs x images).
        seed: seeds the random crop positions and the raters' question sets.
        title: study title shown to raters (default: the folder name).
        extra_meta: more ``key: value`` strings for the ``meta`` table and ``design.json``
            (``study create --from-sweep`` records the sweep there); may not replace a built-in key.
    """
    from tqdm import tqdm

    folder = Path(folder)
    if len(methods) < 2:
        raise InputError("a study needs at least two --method NAME=DIR")
    names = [name for name, _ in methods]
    if len(set(names)) != len(names):
        raise InputError(f"method names must be unique, got {names}")
    if crop_mode not in ("center", "random"):
        raise InputError(f"crop mode must be 'center' or 'random', got {crop_mode!r}")
    if crop < 0:
        raise InputError(f"--crop must be >= 0 (0 = whole images), got {crop}")
    if questions < 1:
        raise InputError(f"--questions must be >= 1, got {questions}")
    if db_path(folder).exists():
        raise InputError(f"{folder} already holds a study ({DB_NAME}); choose a new folder")
    clash = sorted(set(_META_KEYS) & set(extra_meta or {}))
    if clash:
        raise InputError(f"extra_meta may not replace the study's own keys {clash}")

    listings = {name: _images_by_stem(path) for name, path in methods}
    ref_listing = _images_by_stem(reference) if reference is not None else None
    common = set.intersection(*(set(v) for v in listings.values()))
    if ref_listing is not None:
        common &= set(ref_listing)
    stems = sorted(common)
    if not stems:
        raise InputError(
            "no file stem is present in every method folder"
            + (" and the reference folder" if reference is not None else "")
            + "; images are paired by name without suffix"
        )
    skipped = {name: len(listing) - len(stems) for name, listing in listings.items()}
    n_pairs = len(names) * (len(names) - 1) // 2
    if questions > n_pairs * len(stems):
        raise InputError(
            f"--questions {questions} exceeds the {n_pairs * len(stems)} distinct questions "
            f"({n_pairs} method pairs x {len(stems)} images)"
        )

    rng = random.Random(seed)
    boxes: list[tuple[int, int, int, int]] = []
    for stem in stems:
        sources = [listings[name][stem] for name in names]
        if ref_listing is not None:
            sources.append(ref_listing[stem])
        sizes = {str(p): _image_size(p) for p in sources}
        if len(set(sizes.values())) != 1:
            detail = ", ".join(f"{p}: {w}x{h}" for p, (w, h) in sizes.items())
            raise InputError(f"images for {stem!r} differ in size ({detail}); crops must match")
        boxes.append(_crop_box(next(iter(sizes.values())), crop, crop_mode, rng))

    folder.mkdir(parents=True, exist_ok=True)
    jobs = []
    for image_id, (stem, box) in enumerate(zip(stems, boxes, strict=True), start=1):
        for method_id, name in enumerate(names, start=1):
            jobs.append((listings[name][stem], box, folder / crop_relpath(method_id, image_id)))
        if ref_listing is not None:
            jobs.append((ref_listing[stem], box, folder / crop_relpath(None, image_id)))
    for src, box, dest in tqdm(
        jobs, desc="cropping", unit="image", file=sys.stderr, disable=not show_progress
    ):
        _write_crop(src, box, dest)

    tmp = folder / f".{DB_NAME}.tmp"
    for stale in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
        stale.unlink(missing_ok=True)
    conn = connect(tmp)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.executescript(SCHEMA)
        meta = {
            "schema_version": str(SCHEMA_VERSION),
            "title": title or folder.resolve().name,
            "crop": str(crop),
            "crop_mode": crop_mode,
            "questions_per_rater": str(questions),
            "seed": str(seed),
            "has_reference": "1" if reference is not None else "0",
            "reference_source": str(reference.resolve()) if reference is not None else "",
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        meta.update({str(k): str(v) for k, v in (extra_meta or {}).items()})
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", meta.items())
        conn.executemany(
            "INSERT INTO methods (id, name, source) VALUES (?, ?, ?)",
            [(i, name, str(path.resolve())) for i, (name, path) in enumerate(methods, start=1)],
        )
        conn.executemany(
            "INSERT INTO images (id, stem, x, y, w, h) VALUES (?, ?, ?, ?, ?, ?)",
            [(i, stem, *box) for i, (stem, box) in enumerate(zip(stems, boxes, strict=True), start=1)],
        )
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error:
        conn.close()
        tmp.unlink(missing_ok=True)
        raise
    conn.close()
    tmp.replace(db_path(folder))
    design = {"methods": names, "stems": stems, "crop_boxes_xywh": boxes}
    if extra_meta:
        design["source"] = dict(extra_meta)
    (folder / "design.json").write_text(json.dumps(design, indent=1) + "\n")
    return StudySummary(
        folder=folder,
        methods=names,
        stems=stems,
        crop=(boxes[0][2], boxes[0][3]),
        questions=questions,
        pairs=n_pairs,
        skipped=skipped,
    )
