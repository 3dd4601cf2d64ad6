"""``pdloss sweep``: the grid of losses and weights of a paper table, gathered into one table.

Runs come from the config's ``sweep`` list (one list of overrides per run) and/or from
``--set KEY=V1,V2`` grids (their cartesian product). Each run trains into ``OUTPUT/RUN_NAME``
(skipped when already done, resumed when interrupted), is evaluated, and the rows are gathered
into ``OUTPUT/results.md|csv|json`` with ``OUTPUT/crops.png`` and ``OUTPUT/feature_cdf.png``.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pdloss.train.config import ConfigError, apply_overrides, check_same_training, config_from_dict, load_raw


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


# Loss families for the time-left estimate: losses of one family cost about the same per step.
# A family no run of the sweep has measured yet is estimated from the measured ones through these
# relative step costs (then its own measured seconds per step replace them). Measured on 2-core
# CPUs (docs/benchmarks.md, docs/reproduction.md "Cost"): with small-unet on 64 px crops a VGG16
# relu4_3 pass makes a step 3.3x a pixel-L1 step; an FDL step is about 12x a PDL step (40x pixel);
# an SRGAN step (discriminator update + VGG-free generator term) about 3x a PDL step (10x pixel).
LOSS_FAMILY: dict[str, str] = {
    "l1": "pixel",
    "perceptual-l1": "vgg",
    "perceptual-l2": "vgg",
    "ctx-dp": "vgg",
    "ctx-l2": "vgg",
    "pdl": "vgg",
    "fdl": "fdl",
    "adversarial": "adversarial",
}
FAMILY_STEP_COST: dict[str, float] = {"pixel": 1.0, "vgg": 3.3, "fdl": 40.0, "adversarial": 10.0}


class _Eta:
    """Time left for the whole sweep, from the seconds per step measured on the runs trained so far.

    A step's cost is taken as proportional to the pixels it trains on (batch x crop^2), so a
    pre-training on 64 px crops predicts fine-tunes on 48 px ones. Per loss name where that loss
    has run, else per loss family (:data:`LOSS_FAMILY`), else from the measured families through
    :data:`FAMILY_STEP_COST` (a pixel-L1 pre-training thus predicts the feature losses' steps).
    """

    def __init__(self) -> None:
        self.per_loss: dict[str, list[float]] = {}  # seconds per pixel of a training batch

    def record(self, loss: str, steps: int, seconds: float, pixels_per_step: int) -> None:
        if steps > 0:
            self.per_loss.setdefault(loss, []).append(seconds / (steps * pixels_per_step))

    def _seconds_per_pixel(self, loss: str) -> float | None:
        if loss in self.per_loss:
            return statistics.mean(self.per_loss[loss])
        per_family: dict[str, list[float]] = {}
        for name, values in self.per_loss.items():
            per_family.setdefault(LOSS_FAMILY.get(name, "other"), []).extend(values)
        if not per_family:
            return None
        family = LOSS_FAMILY.get(loss, "other")
        if family in per_family:
            return statistics.mean(per_family[family])
        costed = {f: statistics.mean(v) / FAMILY_STEP_COST[f] for f, v in per_family.items() if f in FAMILY_STEP_COST}
        if family not in FAMILY_STEP_COST or not costed:
            return statistics.mean([v for values in per_family.values() for v in values])
        return statistics.mean(list(costed.values())) * FAMILY_STEP_COST[family]

    def left(self, remaining: list[tuple[str, int, int]]) -> float | None:
        """Seconds for the (loss, steps, pixels per step) still to train; None before any
        measurement (unless nothing is left)."""
        total = 0.0
        for loss, steps, pixels in remaining:
            if steps <= 0:
                continue
            per_pixel = self._seconds_per_pixel(loss)
            if per_pixel is None:
                return None
            total += steps * pixels * per_pixel
        return total


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


def _run_config(raw: dict, root: Path, run: SweepRun):
    """The config of one planned run: the sweep's settings, the run's overrides, its folder."""
    run_raw = apply_overrides(raw, run.overrides)
    if run.depends_on:
        run_raw.setdefault("model", {})["init"] = str(root / run.depends_on)
    run_raw["name"] = f"{raw['name']}/{run.name}"
    run_raw["output"] = str(root / run.name)
    return config_from_dict(run_raw)


def _current_evaluation(config, eval_name: str, metrics: Sequence[str]) -> dict | None:
    """The run's evaluation record if it is newer than the run's last checkpoint, was made with
    the config's evaluation settings (crop, metrics, seed...) and measured every one of ``metrics``
    (``pdloss evaluate --metrics`` may have measured fewer); otherwise None (evaluate again)."""
    run_dir = Path(config.output)
    metrics_file = run_dir / eval_name / "metrics.json"
    checkpoint = run_dir / "checkpoints" / "last.pt"
    if not (metrics_file.exists() and checkpoint.exists() and (run_dir / "DONE").exists()):
        return None
    if metrics_file.stat().st_mtime < checkpoint.stat().st_mtime:
        return None
    record = json.loads(metrics_file.read_text())
    if record.get("settings") != dataclasses.asdict(config.evaluate):
        return None
    return record if all(m in record.get("row", {}) for m in metrics) else None


def _remaining_steps(config) -> int:
    from pdloss.train.checkpoint import load_checkpoint

    run_dir = Path(config.output)
    if (run_dir / "DONE").exists():
        return 0
    last = run_dir / "checkpoints" / "last.pt"
    done = int(load_checkpoint(last)["step"]) if last.exists() else 0
    return max(0, config.train.iterations - done)


def _hms(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def sweep(
    config_path: str,
    grid: list[str] | None = None,
    base_overrides: list[str] | None = None,
    device: str | None = None,
    skip_eval: bool = False,
    images: str | None = None,
    reference: str | None = None,
    only: Sequence[str] | None = None,
    images_only: bool = False,
    seeds: Sequence[int] | None = None,
) -> Path:
    """Train and evaluate every run of the sweep; returns the folder of the gathered table.

    ``images``: also (or, for finished runs, only) evaluate every run on this data source (a
    folder, ``offline:test``...) and write ``results-TAG.*`` (:func:`~pdloss.train.evaluation.images_tag`).
    ``reference``: the entry (run name without ``-seedN``) the tables compare every row with
    (default ``evaluate.reference``). ``only``: train and evaluate only these entries (and train
    the runs they start from); the table still holds every other run of the sweep whose
    evaluation is current, so a partial call completes the sweep's table instead of replacing it
    with the subset. ``images_only``: with ``images``, skip the validation set's evaluation.
    ``seeds``: train and evaluate only the runs of these seeds (a grid at one seed first); the
    table keeps the other seeds' runs whose evaluation is current, as with ``only``.
    """
    from pdloss.train.evaluation import evaluate_run, images_tag
    from pdloss.train.layout import eval_folder_name, results_name
    from pdloss.train.trainer import train

    raw = apply_overrides(load_raw(config_path), base_overrides or [])
    every_run = plan_runs(raw, grid)
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
    raw.pop("sweep", None)
    root = Path(raw["output"])
    config_of = {run.name: _run_config(raw, root, run) for run in every_run}
    configs = [config_of[run.name] for run in planned]
    # A finished or interrupted run trained with other settings (the config was edited since) is
    # refused before anything trains: reusing it would put a stale run under the new settings.
    for config in configs:
        run_dir = Path(config.output)
        trained = (run_dir / "DONE").exists() or (run_dir / "checkpoints" / "last.pt").exists()
        if trained and (run_dir / "config.yaml").exists():
            check_same_training(run_dir, config)
    eta, started = _Eta(), time.perf_counter()
    for index, (run, config) in enumerate(zip(planned, configs, strict=True), start=1):
        run_dir = Path(config.output)
        remaining = [
            (str(c.loss.get("name")), _remaining_steps(c), c.data.batch * c.data.crop**2) for c in configs[index - 1 :]
        ]
        left = eta.left(remaining)
        tail = f"; sweep time left ~{_hms(left)} (training)" if left is not None else ""
        init = f" from {run.depends_on}" if run.depends_on else ""
        print(f"[{index}/{len(planned)}] {config.loss_label}{init}: {run_dir}{tail}", file=sys.stderr)
        loss, steps, pixels = remaining[0]
        if steps > 0:
            t0 = time.perf_counter()
            train(config, resume=(run_dir / "checkpoints" / "last.pt").exists(), device=device)
            eta.record(loss, steps, time.perf_counter() - t0, pixels)
    print(f"sweep trained in {_hms(time.perf_counter() - started)}", file=sys.stderr)
    if skip_eval:
        return root
    sources = [None] if images is None else ([images] if images_only else [None, images])
    for source in sources:
        tag = images_tag(source) if source is not None else None
        metrics = _pass_metrics(config_of[every_run[0].name], source)
        records = []
        for run in every_run:
            config = config_of[run.name]
            record = _current_evaluation(config, eval_folder_name(tag), metrics)
            if tabulated is not None and run.name not in tabulated:
                # Not asked for: in the table only if its evaluation is already current.
                if record is not None:
                    records.append((run, config, record))
                continue
            if record is None:
                record = evaluate_run(
                    Path(config.output), metrics=metrics, device=device or "cpu", fid_cache_dir=root,
                    images=source, settings=config.evaluate,
                )
            records.append((run, config, record))
        gather(root, raw, records, metrics, tag=tag, reference=reference)
        if tag:
            print((root / f"{results_name(tag)}.md").read_text())
    return root


def _pass_metrics(config, source: str | None) -> list[str]:
    """The metrics of one evaluation pass: ``evaluate.valid_metrics`` (when set) on the validation
    set, where lambda is chosen; ``evaluate.metrics`` on ``--images``, where results are reported."""
    if source is None and config.evaluate.valid_metrics is not None:
        return list(config.evaluate.valid_metrics)
    return list(config.evaluate.metrics)


_PER_RUN_NOTES = ("Inception features written to", "FID reference statistics and features read from")


def gather(
    root: Path,
    raw: dict,
    records: list,
    metrics: Sequence[str],
    tag: str | None = None,
    reference: str | None = None,
) -> None:
    """The sweep's table (``results[-TAG].md|csv|json``: one row per entry, the mean over its
    seeds, and the paired intervals against the ``reference`` entry), crop grid, feature CDFs and
    perception-distortion plot, from each run's evaluation record. ``metrics``: the table's columns
    (the pass's, :func:`_pass_metrics`)."""
    from pdloss.train.evaluation import write_results
    from pdloss.train.figures import crop_grid, feature_cdf_plot
    from pdloss.train.layout import eval_folder_name
    from pdloss.train.summary import (
        difference_table,
        differences,
        entry_rows,
        group_entries,
        perception_distortion_plot,
    )

    first = records[0][1]
    metrics = list(metrics)
    weights, unavailable, notes = {}, {}, []
    for _, _, record in records:
        weights.update(record["weights"])
        unavailable.update(record["unavailable"])
        # Per-run file locations belong to each run's own table, not to the sweep's.
        notes += [n for n in record["notes"] if n not in notes and not n.startswith(_PER_RUN_NOTES)]
    suffix = f"-{tag}" if tag else ""
    eval_name = eval_folder_name(tag)
    entries = group_entries(records, eval_name)
    rows = entry_rows(entries, metrics)
    if any(len(e.seeds) > 1 for e in entries):
        notes.append("Rows with several seeds show the mean over their seeds (results.json: seeds, std_over_seeds).")
    source = records[0][2].get("images_source", "")
    crop = records[0][2].get("crop")
    described = f"{source}" + (f", centre {crop} px" if crop else ", whole images")
    notes.append(f"Evaluated on {described}, degradation seed {records[0][2].get('degradation_seed')}.")
    extra = records[0][2]["extra_rows"]
    title = f"{first.task}: {raw['name']}" + (f" on {source}" if source else "")
    paths = write_results(
        root, [*extra, *rows], metrics, weights, unavailable, notes, title=title, name=f"results{suffix}"
    )
    reference = reference or first.evaluate.reference
    if reference:
        diffs = differences(entries, reference, metrics)
        with paths["md"].open("a") as md:
            md.write("\n" + difference_table(entries, diffs, reference, metrics))
        payload = json.loads(paths["json"].read_text())
        payload["reference"] = reference
        payload["differences"] = diffs
        paths["json"].write_text(json.dumps(payload, indent=2))
    perception_distortion_plot(entries, root / f"perception_distortion{suffix}.png", title=title)
    # Pictures: the first seed of each entry.
    run_dirs = [e.eval_dirs[0].parent for e in entries]
    labels = [e.label for e in entries]
    crop_grid(
        run_dirs,
        labels,
        root / f"crops{suffix}.png",
        crop=first.evaluate.grid_crop,
        eval_name=eval_name,
        zoom=first.evaluate.grid_zoom,
        windows=first.evaluate.grid_windows,
    )
    loss_weights = [str(r["loss_weights"]).split(" ")[0] for r in rows if r.get("loss_weights")]
    cdf_weights = first.evaluate.cdf_weights or (loss_weights[0] if loss_weights else "vgg16-hed")
    try:
        feature_cdf_plot(
            run_dirs,
            labels,
            root / f"feature_cdf{suffix}.png",
            cdf_weights,
            first.evaluate.cdf_layer,
            first.evaluate.cdf_channels,
            eval_name=eval_name,
        )
    except Exception as exc:  # the plot needs VGG weights; the table stands without it
        print(f"feature CDF plot skipped: {exc}", file=sys.stderr)
