"""A sweep's runs: the config's ``sweep`` entries times the ``--set`` grid, each named, with
``model.init=@NAME`` resolved and ordered, and each run's own config."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pdloss.config.schema import Config, ConfigError, apply_overrides, config_from_dict


def split_values(text: str) -> list[str]:
    """``"a,b,[1,2]"`` -> ``["a", "b", "[1,2]"]``: commas inside brackets stay."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char in "[{"
        depth -= char in "]}"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _expand_entry(entry: list[str]) -> list[list[str]]:
    """One sweep entry -> its runs: a value list ``seed=0,1,2`` inside an entry is an axis."""
    axes = []
    for item in entry:
        if "=" not in item:
            raise ValueError(f"sweep entry item {item!r} must look like key=value")
        key, values = item.split("=", 1)
        axes.append([f"{key}={v}" for v in split_values(values)] or [item])
    return [list(c) for c in itertools.product(*axes)]


def expand_runs(sweep: list[list[str]], grid: list[str]) -> list[list[str]]:
    """Each run's list of overrides: the config's ``sweep`` entries times the ``--set`` grid."""
    axes = []
    for item in grid:
        if "=" not in item:
            raise ValueError(f"--set {item!r} must look like key=v1,v2")
        key, values = item.split("=", 1)
        axes.append([f"{key}={v}" for v in split_values(values)])
    combos = [list(c) for c in itertools.product(*axes)] if axes else [[]]
    bases = [run for entry in (sweep or [[]]) for run in _expand_entry(entry)]
    runs, seen = [], set()
    for base in bases:
        for combo in combos:
            overrides = [*base, *combo]
            key = tuple(overrides)
            if key not in seen:
                seen.add(key)
                runs.append(overrides)
    return runs


def run_name(config_loss: dict, overrides: list[str]) -> str:
    """A folder name: the loss and its weight, then the values of other overrides
    (``pdl-0.05``, ``perceptual-l1-0.01-crop128``)."""
    name = str(config_loss.get("name", "l1"))
    if name != "l1" and "weight" in config_loss:
        name += f"-{config_loss['weight']:g}"
    for item in overrides:
        key, value = item.split("=", 1)
        # The loss's name and weight are already in the name; its other options are not.
        if key.strip() not in ("loss", "loss.name", "loss.weight"):
            name += f"-{key.split('.')[-1]}{value}"
    return name.replace("/", "_").replace(" ", "")


# Pseudo-overrides of sweep entries, not config keys: ``run=NAME`` names the entry (its folder,
# and the target of ``model.init=@NAME`` in other entries).
_RUN_KEY = "run"
_NAMING_SKIPS = (_RUN_KEY, "seed", "model.init")


@dataclass
class SweepRun:
    """One run of a sweep: its folder name, entry name, overrides and seed."""

    name: str
    group: str  # the name without ``-seedN``: the runs of one entry over its seeds
    entry: str | None  # the entry's ``run=NAME``, if it has one
    overrides: list[str]  # config overrides (without the pseudo-keys)
    seed: int
    combo: tuple[str, ...]  # the entry-independent part (grid values other than the seed)
    init: str | None = None  # ``@NAME`` of another run, or a path
    depends_on: str | None = None  # folder name of the run this one starts from


def _split_overrides(overrides: list[str]) -> tuple[dict[str, str], list[str]]:
    pseudo, rest = {}, []
    for item in overrides:
        key, value = item.split("=", 1)
        if key.strip() == _RUN_KEY:
            pseudo[_RUN_KEY] = value.strip()
        else:
            rest.append(item)
    return pseudo, rest


def plan_runs(raw: dict, grid: list[str] | None = None) -> list[SweepRun]:
    """The runs of a sweep, named, with ``model.init=@NAME`` resolved to the run it names
    (same seed and grid values), ordered so that every run comes after the run it starts from.

    Raises:
        ConfigError: an ``@NAME`` that names no run, a cycle, or two runs with one folder name.
    """
    grid = grid or []
    grid_keys = {item.split("=", 1)[0] for item in grid}
    base_seed = int(raw.get("seed", 0))
    planned: list[SweepRun] = []
    for overrides in expand_runs(raw.get("sweep", []) or [], grid):
        pseudo, rest = _split_overrides(overrides)
        run_raw = apply_overrides(raw, rest)
        seed = int(run_raw.get("seed", 0))
        init = (run_raw.get("model") or {}).get("init")
        naming = [o for o in rest if o.split("=", 1)[0].strip() not in _NAMING_SKIPS]
        combo = tuple(o for o in rest if o.split("=", 1)[0] in grid_keys and o.split("=", 1)[0] != "seed")
        if _RUN_KEY in pseudo:
            name = pseudo[_RUN_KEY] + "".join(run_name({"name": "l1"}, [o])[2:] for o in combo)
        else:
            name = run_name(run_raw.get("loss", {}), naming)
        group = name
        if seed != base_seed:
            name += f"-seed{seed}"
        planned.append(SweepRun(name, group, pseudo.get(_RUN_KEY), rest, seed, combo, init=init))
    names = [r.name for r in planned]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ConfigError(f"two runs of the sweep would share the folder {duplicated[0]!r}; give them run=NAME")
    for run in planned:
        if isinstance(run.init, str) and run.init.startswith("@"):
            target = run.init[1:]
            matches = [r for r in planned if r.entry == target and r.seed == run.seed and r.combo == run.combo]
            if not matches:
                raise ConfigError(
                    f"run {run.name}: model.init=@{target} names no run of this sweep with seed {run.seed} "
                    f"(entries are named with run=NAME)"
                )
            run.depends_on = matches[0].name
    by_name = {r.name: r for r in planned}
    ordered: list[SweepRun] = []

    def visit(run: SweepRun, chain: tuple[str, ...]) -> None:
        if run in ordered:
            return
        if run.name in chain:
            raise ConfigError(f"model.init forms a cycle: {' -> '.join((*chain, run.name))}")
        if run.depends_on:
            visit(by_name[run.depends_on], (*chain, run.name))
        ordered.append(run)

    for run in planned:
        visit(run, ())
    return ordered


def _select(planned: list[SweepRun], only: Sequence[str]) -> list[SweepRun]:
    """The runs of the named entries (by group or run name) and every run they start from."""
    wanted = {r.name for r in planned if r.group in only or r.name in only}
    unknown = [o for o in only if not any(o in (r.group, r.name) for r in planned)]
    if unknown:
        raise ConfigError(f"--only {unknown[0]!r} names no run of this sweep")
    by_name = {r.name: r for r in planned}
    for name in list(wanted):
        while by_name[name].depends_on:
            name = by_name[name].depends_on
            wanted.add(name)
    return [r for r in planned if r.name in wanted]


def select_runs(
    every_run: list[SweepRun], only: Sequence[str] | None = None, seeds: Sequence[int] | None = None
) -> tuple[list[SweepRun], set[str] | None]:
    """The runs to train and evaluate (``--only`` entries with the runs they start from, of the
    ``--seeds`` seeds) and the names that go into the table (None: every run of the sweep).

    Raises:
        ConfigError: an ``--only`` name or a seed that names no run, or an empty seed list.
    """
    planned, tabulated = every_run, None
    if only:
        planned = _select(every_run, only)
        tabulated = {r.name for r in planned if r.group in only or r.name in only}
    if seeds is not None:
        if not seeds:
            raise ConfigError("--seeds: give at least one seed")
        unknown = sorted(set(seeds) - {r.seed for r in every_run})
        if unknown:
            known = ", ".join(str(s) for s in sorted({r.seed for r in every_run}))
            raise ConfigError(f"--seeds {unknown[0]} names no run of this sweep (its seeds: {known})")
        # A run's init has the run's own seed (plan_runs matches them), so nothing it needs is dropped.
        wanted_seeds = set(seeds)
        planned = [r for r in planned if r.seed in wanted_seeds]
        kept = {r.name for r in planned}
        tabulated = kept if tabulated is None else tabulated & kept
    return planned, tabulated


def run_config(raw: dict, root: Path, run: SweepRun) -> Config:
    """The config of one planned run: the sweep's settings, the run's overrides, its folder."""
    run_raw = apply_overrides(raw, run.overrides)
    if run.depends_on:
        run_raw.setdefault("model", {})["init"] = str(root / run.depends_on)
    run_raw["name"] = f"{raw['name']}/{run.name}"
    run_raw["output"] = str(root / run.name)
    return config_from_dict(run_raw)


