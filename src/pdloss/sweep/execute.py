"""``pdloss sweep``: the grid of losses and weights of a paper table, gathered into one table.

This module executes a sweep: it trains the planned runs (:mod:`pdloss.config.sweep`) in order with an estimate
of the time left, evaluates those whose evaluation is not current, and hands the records to
:func:`.gather.gather`.

Runs come from the config's ``sweep`` list (one list of overrides per run) and/or from
``--set KEY=V1,V2`` grids (their cartesian product). Each run trains into ``OUTPUT/RUN_NAME``
(skipped when already done, resumed when interrupted), is evaluated, and the rows are gathered
into ``OUTPUT/results.md|csv|json`` with ``OUTPUT/crops.png`` and ``OUTPUT/feature_cdf.png``.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from pdloss.config.schema import Config, apply_overrides, load_raw
from pdloss.config.sweep import SweepRun, plan_runs, run_config, select_runs
from pdloss.errors import PdlossError
from pdloss.evaluation.run import evaluate_run, evaluation_images, images_tag
from pdloss.runs.checkpoint import load_checkpoint
from pdloss.runs.layout import (
    config_file,
    done_file,
    eval_folder_name,
    last_checkpoint,
    results_name,
    step_checkpoint,
)
from pdloss.runs.snapshot import check_same_training
from pdloss.sweep.gather import _pass_metrics, gather
from pdloss.train.trainer import train

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


def _current_evaluation(
    config: Config, eval_name: str, metrics: Sequence[str], checkpoint: Path | None = None
) -> dict | None:
    """The run's evaluation record if it is newer than the evaluated checkpoint (default the last),
    was made with the config's evaluation settings (crop, metrics, seed...) and measured every one of
    ``metrics`` (``pdloss evaluate --metrics`` may have measured fewer); otherwise None (evaluate again)."""
    run_dir = Path(config.output)
    metrics_file = run_dir / eval_name / "metrics.json"
    checkpoint = checkpoint or last_checkpoint(run_dir)
    if not (metrics_file.exists() and checkpoint.exists() and done_file(run_dir).exists()):
        return None
    if metrics_file.stat().st_mtime < checkpoint.stat().st_mtime:
        return None
    record = json.loads(metrics_file.read_text())
    if record.get("settings") != dataclasses.asdict(config.evaluate):
        return None
    return record if all(m in record.get("row", {}) for m in metrics) else None


def evaluate_earlier_steps(
    config: Config, source: str | None, metrics: Sequence[str], root: Path, device: str | None
) -> list[dict]:
    """Evaluate the run's checkpoints of ``evaluate.steps`` before its last step (each into
    ``RUN/eval[-TAG]-stepN``; a current record is reused); returns their records, by step."""
    run_dir = Path(config.output)
    tag = images_tag(source) if source is not None else None
    records = []
    for step in sorted(s for s in config.evaluate.steps if s < config.train.iterations):
        checkpoint = step_checkpoint(run_dir, step)
        if not checkpoint.is_file():
            raise PdlossError(
                f"{checkpoint} is missing: evaluate.steps names step {step}, but the run did not keep its "
                "checkpoint (train.checkpoint_every, train.keep_checkpoints)"
            )
        record = _current_evaluation(config, eval_folder_name(tag, step), metrics, checkpoint)
        if record is None:
            record = evaluate_run(
                checkpoint, metrics=metrics, device=device or "cpu", fid_cache_dir=root,
                images=source, settings=config.evaluate,
            )
        records.append(record)
    return records


def _remaining_steps(config: Config) -> int:
    run_dir = Path(config.output)
    if done_file(run_dir).exists():
        return 0
    last = last_checkpoint(run_dir)
    done = int(load_checkpoint(last)["step"]) if last.exists() else 0
    return max(0, config.train.iterations - done)


def _hms(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def refuse_stale_runs(configs: Sequence[Config]) -> None:
    """Raise ConfigError for a finished or interrupted run trained with other settings (the config
    was edited since): checked before anything trains, since reusing it would put a stale run
    under the new settings."""
    for config in configs:
        run_dir = Path(config.output)
        trained = done_file(run_dir).exists() or last_checkpoint(run_dir).exists()
        if trained and config_file(run_dir).exists():
            check_same_training(run_dir, config)


def train_runs(planned: Sequence[SweepRun], configs: Sequence[Config], device: str | None) -> None:
    """Train (or resume, or skip when done) each planned run in order, printing the sweep's time left."""
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
            train(config, resume=last_checkpoint(run_dir).exists(), device=device)
            eta.record(loss, steps, time.perf_counter() - t0, pixels)
    print(f"sweep trained in {_hms(time.perf_counter() - started)}", file=sys.stderr)


def evaluate_runs(
    every_run: Sequence[SweepRun],
    config_of: dict[str, Config],
    tabulated: set[str] | None,
    source: str | None,
    metrics: Sequence[str],
    root: Path,
    device: str | None,
) -> list[tuple[SweepRun, Config, dict]]:
    """The (run, config, evaluation record) of each run for one pass (``source``: None for the
    validation set): a current record is reused, a run asked for is evaluated otherwise, and a
    run not asked for (outside ``tabulated``) is in only when its record is current."""
    tag = images_tag(source) if source is not None else None
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
        evaluate_earlier_steps(config, source, metrics, root, device)
        records.append((run, config, record))
    return records


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
    folder, ``offline:test``...) and write ``results-TAG.*`` (:func:`~pdloss.evaluation.run.images_tag`).
    ``reference``: the entry (run name without ``-seedN``) the tables compare every row with
    (default ``evaluate.reference``). ``only``: train and evaluate only these entries (and train
    the runs they start from); the table still holds every other run of the sweep whose
    evaluation is current, so a partial call completes the sweep's table instead of replacing it
    with the subset. ``images_only``: with ``images``, skip the validation set's evaluation.
    ``seeds``: train and evaluate only the runs of these seeds (a grid at one seed first); the
    table keeps the other seeds' runs whose evaluation is current, as with ``only``.
    """
    raw = apply_overrides(load_raw(config_path), base_overrides or [])
    every_run = plan_runs(raw, grid)
    planned, tabulated = select_runs(every_run, only, seeds)
    raw.pop("sweep", None)
    root = Path(raw["output"])
    config_of = {run.name: run_config(raw, root, run) for run in every_run}
    configs = [config_of[run.name] for run in planned]
    refuse_stale_runs(configs)
    if images is not None and not skip_eval:
        # Before any training: a photo too small for the evaluation fails now, not after the sweep.
        settings = {(c.evaluate.crop, "ms_ssim" in c.evaluate.metrics): c for c in config_of.values()}
        for config in settings.values():
            evaluation_images(images, config)
    train_runs(planned, configs, device)
    if skip_eval:
        return root
    sources = [None] if images is None else ([images] if images_only else [None, images])
    for source in sources:
        tag = images_tag(source) if source is not None else None
        metrics = _pass_metrics(config_of[every_run[0].name], source)
        records = evaluate_runs(every_run, config_of, tabulated, source, metrics, root, device)
        gather(root, raw, records, metrics, tag=tag, reference=reference)
        if tag:
            print((root / f"{results_name(tag)}.md").read_text())
    return root
