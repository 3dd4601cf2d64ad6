"""Where a study keeps its crops, and the one function that turns a name into a file to serve.

The web app never builds a path from what a client sent: it maps a question's token to ids in
the database and the ids to ``crops/m<method>/<image>.png``. :func:`safe_study_file` checks
again that the resolved file lies inside the study's crop folder (symbolic links included), so
even a corrupted database cannot make the server read a file elsewhere.
"""

from __future__ import annotations

from pathlib import Path

from pdloss.study.db import CROPS_DIR, REFERENCE_DIR


def crop_relpath(method_id: int | None, image_id: int) -> str:
    """Path of a crop relative to the study folder; ``method_id=None`` is the reference."""
    sub = REFERENCE_DIR if method_id is None else f"m{int(method_id)}"
    return f"{CROPS_DIR}/{sub}/{int(image_id)}.png"


def safe_study_file(folder: str | Path, relpath: str) -> Path | None:
    """The file ``folder/relpath`` if it exists and resolves inside ``folder/crops``, else ``None``."""
    root = (Path(folder) / CROPS_DIR).resolve()
    if "\x00" in relpath:
        return None
    candidate = (Path(folder) / relpath).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate
