"""The mutation audit's data: what is measured, which mutants are equivalent, the hand-written mutants.

Three YAML files beside this module hold it (edit them, not code):

* ``targets.yaml`` -- per module: its source ``files`` (globs relative to the repository), the
  ``tests`` that cover them (``path`` or ``path::test``), the score it must reach (``target``),
  optional mutmut name globs (``select``: only those functions) and a ``note`` on that scope.
* ``equivalents.yaml`` -- per module, per file: mutants that cannot change behaviour, matched on
  their diff's ``removed`` and ``added`` lines (stripped; the lines of a multi-line diff joined by
  ``" / "``), each with the ``reason``; ``device_only: true`` when it differs only on another
  device. They stay listed in docs/testing.md and leave the score's denominator only. When a
  refactor changes a listed line's text, ``measured_as`` keeps the diff the stored results recorded
  (``removed``/``added`` as they were), so those results still render until the module is measured
  again.
* ``named.yaml`` -- hand-written mutants mutmut cannot make (module-level constants, the issue's
  examples): replace ``old`` (exactly once) by ``new`` in ``file`` and run ``tests``.

:func:`load` reads and checks the schema (a :class:`DataError` names the entry);
:func:`problems` compares the data with the tree: a quoted line no longer in its file means a
refactor left a mutant stale. This module needs only the standard library and PyYAML, so a test
can load it on its own.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = Path(__file__).resolve().parent
TARGETS_FILE, EQUIVALENTS_FILE, NAMED_FILE = "targets.yaml", "equivalents.yaml", "named.yaml"


class DataError(ValueError):
    """A data file does not follow its schema; the message names the file and the entry."""


@dataclass(frozen=True)
class Target:
    """A module as measured: source files (globs relative to the repository), the tests that cover
    them, optional mutant-name globs (only those functions), and the score it must reach."""

    files: tuple[str, ...]
    tests: tuple[str, ...]
    target: float
    select: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Equivalent:
    """A mutant that cannot change behaviour, in ``module``'s ``file``; matched on its diff's removed
    and added lines. ``device_only``: it places a tensor on the CPU instead of the input's device,
    so it cannot change a result on a CPU-only machine (where the score is measured) but is not
    equivalent on a GPU; counted apart in the table."""

    module: str
    file: str
    removed: str
    added: str
    reason: str
    device_only: bool = False
    measured_as: tuple[str, str] | None = None  # (removed, added) as stored results recorded them

    def matches(self, removed: str, added: str) -> bool:
        """Whether a mutant's diff is this one's (now, or as stored results recorded it)."""
        return (removed, added) == (self.removed, self.added) or (removed, added) == self.measured_as

    @property
    def python_module(self) -> str:
        """``src/pdloss/metrics/ssim.py`` -> ``pdloss.metrics.ssim`` (mutmut's key prefix)."""
        return self.file.removeprefix("src/").removesuffix(".py").replace("/", ".")


@dataclass(frozen=True)
class NamedMutant:
    """A hand-written mutant: replace ``old`` (exactly once) by ``new`` in ``file``."""

    name: str
    module: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]
    what: str


@dataclass(frozen=True)
class MutationData:
    targets: dict[str, Target]
    equivalents: tuple[Equivalent, ...]
    named: tuple[NamedMutant, ...]


def _read(folder: Path, name: str) -> Any:
    try:
        return yaml.safe_load((folder / name).read_text())
    except (OSError, yaml.YAMLError) as error:
        raise DataError(f"{name}: cannot be read ({error})") from None


def _text(value: Any, where: str, empty: bool = False) -> str:
    if not isinstance(value, str) or (not empty and not value.strip()):
        raise DataError(f"{where} must be a non-empty string, got {value!r}")
    return value


def _texts(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise DataError(f"{where} must be a non-empty list of strings, got {value!r}")
    return tuple(_text(item, f"{where}[{i}]") for i, item in enumerate(value))


def _keys(entry: Any, where: str, required: set[str], optional: Collection[str] = ()) -> dict:
    if not isinstance(entry, dict):
        raise DataError(f"{where} must be a mapping, got {type(entry).__name__}")
    missing, unknown = required - set(entry), set(entry) - required - set(optional)
    if missing or unknown:
        raise DataError(f"{where}: missing {sorted(missing)}, unknown {sorted(unknown)}")
    return entry


def _targets(raw: Any) -> dict[str, Target]:
    if not isinstance(raw, dict) or not raw:
        raise DataError(f"{TARGETS_FILE} must map module names to targets")
    targets = {}
    for name, entry in raw.items():
        where = f"{TARGETS_FILE}: {name}"
        entry = _keys(entry, where, {"files", "tests", "target"}, {"select", "note"})
        score = entry["target"]
        if not isinstance(score, float) or not 0 < score <= 1:
            raise DataError(f"{where}.target must be a fraction in (0, 1], got {score!r}")
        targets[_text(name, where)] = Target(
            files=_texts(entry["files"], f"{where}.files"),
            tests=_texts(entry["tests"], f"{where}.tests"),
            target=score,
            select=_texts(entry["select"], f"{where}.select") if "select" in entry else (),
            note=_text(entry.get("note", ""), f"{where}.note", empty=True),
        )
    return targets


def _equivalents(raw: Any, targets: dict[str, Target]) -> tuple[Equivalent, ...]:
    if not isinstance(raw, dict):
        raise DataError(f"{EQUIVALENTS_FILE} must map module names to files to lists of mutants")
    found: list[Equivalent] = []
    seen: set[tuple[str, str, str]] = set()
    for module, files in raw.items():
        if module not in targets:
            raise DataError(f"{EQUIVALENTS_FILE}: {module!r} is no module of {TARGETS_FILE}")
        if not isinstance(files, dict) or not files:
            raise DataError(f"{EQUIVALENTS_FILE}: {module} must map files to lists of mutants")
        for file, entries in files.items():
            if not any(fnmatch.fnmatch(file, pattern) for pattern in targets[module].files):
                raise DataError(f"{EQUIVALENTS_FILE}: {module}: {file} is not one of the module's files")
            if not isinstance(entries, list) or not entries:
                raise DataError(f"{EQUIVALENTS_FILE}: {module}: {file} must hold a non-empty list")
            for i, entry in enumerate(entries):
                where = f"{EQUIVALENTS_FILE}: {module}: {file}[{i}]"
                entry = _keys(entry, where, {"removed", "added", "reason"}, {"device_only", "measured_as"})
                device_only = entry.get("device_only", False)
                if not isinstance(device_only, bool):
                    raise DataError(f"{where}.device_only must be true or false, got {device_only!r}")
                measured_as = None
                if "measured_as" in entry:
                    former = _keys(entry["measured_as"], f"{where}.measured_as", {"removed", "added"})
                    measured_as = (_text(former["removed"], f"{where}.measured_as.removed"),
                                   _text(former["added"], f"{where}.measured_as.added", empty=True))
                eq = Equivalent(
                    module=module,
                    file=file,
                    removed=_text(entry["removed"], f"{where}.removed"),
                    added=_text(entry["added"], f"{where}.added", empty=True),
                    reason=_text(entry["reason"], f"{where}.reason"),
                    device_only=device_only,
                    measured_as=measured_as,
                )
                if eq.removed == eq.added:
                    raise DataError(f"{where}: removed and added are the same text")
                if (file, eq.removed, eq.added) in seen:
                    raise DataError(f"{where}: the same mutant is listed twice")
                seen.add((file, eq.removed, eq.added))
                found.append(eq)
    return tuple(found)


def _named(raw: Any, targets: dict[str, Target]) -> tuple[NamedMutant, ...]:
    if not isinstance(raw, list) or not raw:
        raise DataError(f"{NAMED_FILE} must be a list of mutants")
    found: list[NamedMutant] = []
    for i, entry in enumerate(raw):
        where = f"{NAMED_FILE}[{i}]"
        entry = _keys(entry, where, {"name", "module", "file", "old", "new", "tests", "what"})
        mutant = NamedMutant(
            name=_text(entry["name"], f"{where}.name"),
            module=_text(entry["module"], f"{where}.module"),
            file=_text(entry["file"], f"{where}.file"),
            old=_text(entry["old"], f"{where}.old"),
            new=_text(entry["new"], f"{where}.new"),
            tests=_texts(entry["tests"], f"{where}.tests"),
            what=_text(entry["what"], f"{where}.what"),
        )
        if mutant.module not in targets:
            raise DataError(f"{where} ({mutant.name}): {mutant.module!r} is no module of {TARGETS_FILE}")
        if mutant.old == mutant.new:
            raise DataError(f"{where} ({mutant.name}): old and new are the same text")
        if any(m.name == mutant.name for m in found):
            raise DataError(f"{where}: the name {mutant.name!r} is used twice")
        found.append(mutant)
    return tuple(found)


def load(folder: Path = DATA_DIR) -> MutationData:
    """The three data files of ``folder``, checked against their schema."""
    targets = _targets(_read(folder, TARGETS_FILE))
    return MutationData(
        targets=targets,
        equivalents=_equivalents(_read(folder, EQUIVALENTS_FILE), targets),
        named=_named(_read(folder, NAMED_FILE), targets),
    )


def target_files(target: Target, root: Path = ROOT) -> list[str]:
    """The files a target's globs match in ``root`` (relative paths, sorted per glob, no repeats)."""
    found: list[str] = []
    for pattern in target.files:
        found += [m for m in sorted(str(p.relative_to(root)) for p in root.glob(pattern)) if m not in found]
    return found


def file_of_test(test: str) -> str:
    """``tests/x/test_y.py::test_z`` -> ``tests/x/test_y.py``."""
    return test.partition("::")[0]


def problems(data: MutationData, root: Path = ROOT) -> list[str]:
    """What in ``data`` no longer matches the tree in ``root``: a target glob or test file that
    matches nothing, a named mutant whose ``old`` text is not in its file exactly once, an
    equivalent mutant whose removed lines are not all in its file. Empty when all is current."""
    found = []
    for name, target in data.targets.items():
        found += [f"{name}: no file matches {p}" for p in target.files if not any(root.glob(p))]
        found += [f"{name}: test {t} is absent" for t in target.tests if not (root / file_of_test(t)).is_file()]
    texts: dict[str, str] = {}

    def text(file: str) -> str:
        if file not in texts:
            path = root / file
            texts[file] = path.read_text() if path.is_file() else ""
        return texts[file]

    for mutant in data.named:
        count = text(mutant.file).count(mutant.old)
        if count != 1:
            found.append(f"named mutant {mutant.name}: its old text occurs {count} times in {mutant.file}")
        found += [f"named mutant {mutant.name}: test {t} is absent" for t in mutant.tests
                  if not (root / file_of_test(t)).is_file()]
    for eq in data.equivalents:
        # A multi-line diff's lines are joined by " / " and each is stripped: look for each line.
        lines = {line.strip() for line in text(eq.file).splitlines()}
        if eq.removed not in lines and not all(part in lines for part in eq.removed.split(" / ")):
            found.append(f"equivalent mutant of {eq.file}: {eq.removed!r} is not in the file")
    return found
