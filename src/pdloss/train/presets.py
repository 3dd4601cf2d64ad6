"""The packaged presets: the repository's ``configs/*.yaml``, by name.

``configs/`` is the one copy. A wheel carries it as package data under ``pdloss/presets/``
(``setup.py`` copies it there at build time); an editable install or a checkout reads
``configs/`` itself. ``pdloss train NAME`` and ``pdloss sweep NAME`` take an existing file first,
then a preset of that name. This module imports neither torch nor yaml, so that a wrong config
argument fails at once (the command line checks it before its heavy imports).
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from pathlib import Path

from pdloss.errors import PdlossError

SUFFIX = ".yaml"


class PresetError(PdlossError, ValueError):
    """A config argument is neither an existing file nor a packaged preset."""


@dataclass(frozen=True)
class Preset:
    """One packaged config: ``name`` (the file's stem), its ``path`` and ``summary`` (first comment line)."""

    name: str
    path: Path
    summary: str


def preset_dir() -> Path | None:
    """The folder holding the presets: the wheel's ``pdloss/presets/``, else a checkout's ``configs/``.

    None when neither exists (a broken install).
    """
    package = importlib.resources.files("pdloss")
    if not isinstance(package, Path):  # a zipped install: no folder to read presets from
        return None
    packaged = package / "presets"
    if packaged.is_dir() and any(packaged.glob(f"*{SUFFIX}")):
        return packaged
    # src layout: the checkout's root is two folders above the package (src/pdloss/).
    root = package.resolve().parents[1]
    checkout = root / "configs"
    if checkout.is_dir() and (root / "pyproject.toml").is_file():
        return checkout
    return None


def _summary(path: Path) -> str:
    """The first comment line of a YAML file, without its ``#`` (empty when it has none)."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            text = line.strip()
            if text.startswith("#"):
                return text.lstrip("#").strip()
            if text:
                break
    return ""


def list_presets() -> list[Preset]:
    """Every packaged preset, sorted by name."""
    folder = preset_dir()
    if folder is None:
        return []
    return [Preset(p.stem, p, _summary(p)) for p in sorted(folder.glob(f"*{SUFFIX}"))]


def find_preset(name: str) -> Preset | None:
    """The preset called ``name`` (``.yaml`` optional), or None."""
    stem = name[: -len(SUFFIX)] if name.endswith(SUFFIX) else name
    return next((p for p in list_presets() if p.name == stem), None)


def resolve_config(argument: str) -> Path:
    """A config argument as a file: an existing path as given, else the packaged preset of that name.

    Raises :class:`PresetError` naming the presets when it is neither. A path with folders
    (``configs/x.yaml``) never silently becomes a preset: the error names the preset to pass instead.
    """
    path = Path(argument)
    if path.is_file():
        return path
    bare = len(path.parts) == 1
    preset = find_preset(path.name)
    if preset is not None and bare:
        return preset.path
    if path.is_dir():
        raise PresetError(f"{argument} is a folder, not a config file")
    if preset is not None:
        raise PresetError(f"config file not found: {argument} (the packaged preset of that name: {preset.name})")
    names = ", ".join(p.name for p in list_presets()) or "none installed"
    raise PresetError(
        f"config file not found: {argument}; not a packaged preset either (presets: {names}; "
        "`pdloss config list` describes them)"
    )
