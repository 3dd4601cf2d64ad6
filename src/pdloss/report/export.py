"""Export a sweep's evaluations into a results folder that needs no runs to re-derive its tables.

``export_study(config, folder)`` reads each run's evaluation (``RUN/eval[-TAG]/metrics.json`` and
``inception.npz``) and writes::

    FOLDER/study.json          entries (label, loss, weight, options, seeds, runs; an earlier checkpoint
                               of ``evaluate.steps`` is an entry of its own, ``ENTRY@STEP``), the images and
                               their scenes, the table's input/reference rows, evaluation settings
    FOLDER/per_image.csv.gz    one row per run and image: entry, seed, run, step, image, scene, metrics
    FOLDER/features.npz        the set metrics' Inception rows: the reference's once, each run's
                               prediction rows (float16, compressed), and the image of every row
    FOLDER/provenance.json     commit, command, config hash, CPU model and flags, precision, versions,
                               seeds and the training wall time of every run

:mod:`pdloss.report.results` reads such a folder back; ``pdloss report`` regenerates the tables.
Float16 halves the features' size; FID and KID recomputed from them differ from the float32 values
of the runs' own tables by less than the printed digits (the report recomputes every number from
the committed files, so the published tables are exactly what those files give).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pdloss.amp import amp_dtype
from pdloss.config.schema import apply_overrides, config_from_dict, load_raw
from pdloss.config.sweep import plan_runs
from pdloss.data.split import scene_groups
from pdloss.errors import PdlossError
from pdloss.evaluation.run import images_tag
from pdloss.metrics.registry import METRIC_SPECS
from pdloss.provenance import machine_facts
from pdloss.runs.layout import eval_folder_name

STUDY_FILE = "study.json"
PER_IMAGE_FILE = "per_image.csv.gz"
FEATURES_FILE = "features.npz"
PROVENANCE_FILE = "provenance.json"


def _training_seconds(run_dir: Path, until: int | None = None) -> float | None:
    """Training wall time from ``log.csv``: each row's steps over its measured steps per second
    (up to step ``until``: the time an earlier checkpoint took)."""
    log = run_dir / "log.csv"
    if not log.is_file():
        return None
    total, previous = 0.0, 0
    with log.open() as f:
        for row in csv.DictReader(f):
            step, speed = int(row["step"]), float(row.get("steps_per_s") or "nan")
            if until is not None and step > until:
                break
            if math.isfinite(speed) and speed > 0:
                total += (step - previous) / speed
            previous = step
    return round(total, 1)


def _run_provenance(run_dir: Path, config, until: int | None = None) -> dict[str, Any]:
    """What the run's own ``provenance.json`` says; else the precision ``train.amp`` gives on this
    machine's CPU, marked as inferred."""
    own = run_dir / PROVENANCE_FILE
    facts = json.loads(own.read_text()) if own.is_file() else {}
    if "precision" not in facts:
        dtype = amp_dtype(config.train.amp, "cpu")
        facts["precision"] = "float32" if dtype is None else str(dtype).removeprefix("torch.")
        facts["precision_inferred"] = f"train.amp={config.train.amp} on the exporting machine's CPU"
    if until is not None:  # an earlier checkpoint: the time up to it, not the whole run's
        facts["training_seconds"] = _training_seconds(run_dir, until)
    facts.setdefault("training_seconds", _training_seconds(run_dir))
    return facts


def export_study(
    config_path: str | Path,
    folder: str | Path,
    source: str | None = "offline:test",
    only: Sequence[str] | None = None,
    runs_root: str | Path | None = None,
    reference: str | None = None,
    comparisons: Sequence[tuple[str, str]] = (),
    command: str = "",
    notes: Sequence[str] = (),
) -> Path:
    """Write a results folder from the evaluated runs of a sweep config (see the module docstring).

    Args:
        config_path: the sweep's config (its ``sweep`` list names the runs).
        folder: the results folder to write (created; its files are replaced).
        source: the evaluated image source (``offline:test``; None for ``data.valid``).
        only: entries (run names without ``-seedN``) to export; default every evaluated one.
        runs_root: where the run folders are (default the config's ``output``).
        reference: the entry the tables compare rows with.
        comparisons: ``(A, B)`` entry pairs whose differences ``B - A`` the report shows.
        command: the command that produced the evaluations (recorded).
        notes: sentences for the report.
    """
    raw = load_raw(config_path)
    planned = plan_runs(raw)
    root = Path(runs_root or raw["output"])
    tag = images_tag(source) if source else None
    base = {k: v for k, v in raw.items() if k != "sweep"}
    entries: dict[str, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    features: dict[str, np.ndarray] = {}
    stems: list[str] | None = None
    extra_rows, metrics, settings, run_facts = None, None, None, {}
    for run in planned:
        if only is not None and run.group not in only:
            continue
        run_dir = root / run.name
        config = config_from_dict(apply_overrides(base, run.overrides))
        # The run's evaluation, then those of its earlier checkpoints (evaluate.steps) as entries
        # "ENTRY@STEP": the points of a training-length curve.
        earlier = sorted(s for s in config.evaluate.steps if s < config.train.iterations)
        evaluations = [(run.group, run.name, eval_folder_name(tag), None)] + [
            (f"{run.group}@{step}", f"{run.name}@{step}", eval_folder_name(tag, step), step) for step in earlier
        ]
        for entry_name, run_name, eval_name, earlier_step in evaluations:
            metrics_file = run_dir / eval_name / "metrics.json"
            if not metrics_file.is_file():
                if only is not None:
                    raise PdlossError(
                        f"{metrics_file} is missing: evaluate {run_dir} on {source or 'data.valid'} first"
                    )
                continue
            record = json.loads(metrics_file.read_text())
            run_stems = sorted(record["per_image"])
            if stems is None:
                stems, extra_rows, settings = run_stems, record.get("extra_rows", []), record.get("settings")
                # Metrics with a value: an unavailable one (LPIPS without its weights) is left out.
                measured = {m for values in record["per_image"].values() for m, v in values.items() if v is not None}
                measured |= {m for m, v in record["row"].items() if v is not None and METRIC_SPECS.get(m, None)}
                metrics = [m for m in METRIC_SPECS if m in measured]
            elif run_stems != stems:
                raise PdlossError(f"{metrics_file}: other images than the first run's")
            label = config.loss_label + (f", step {earlier_step}" if earlier_step is not None else "")
            entry = entries.setdefault(
                entry_name,
                {
                    "label": label,
                    "loss": str(config.loss.get("name")),
                    "weight": config.loss.get("weight"),
                    "options": {k: v for k, v in config.loss.items() if k not in ("name", "weight")},
                    "overrides": [o for o in run.overrides if not o.startswith("seed=")],
                    "fine_tuned": bool(config.model.init),
                    "seeds": [],
                    "runs": {},
                }
                | ({"step": earlier_step} if earlier_step is not None else {}),
            )
            entry["seeds"].append(run.seed)
            entry["runs"][str(run.seed)] = run_name
            step = record["row"].get("step")
            for stem in stems:
                values = record["per_image"][stem]
                rows.append(
                    {"entry": entry_name, "seed": run.seed, "run": run_name, "step": step, "image": stem}
                    | {m: values.get(m) for m in metrics if not METRIC_SPECS[m].is_set}
                )
            npz = run_dir / eval_name / "inception.npz"
            if npz.is_file():
                with np.load(npz, allow_pickle=False) as z:
                    remap = np.array([stems.index(str(s)) for s in z["stems"]], dtype=np.int16)
                    features[f"pred/{run_name}"] = z["pred_features"].astype(np.float16)
                    features[f"pred_image/{run_name}"] = remap[z["pred_image"]]
                    ref = z["ref_features"].astype(np.float16)
                    if "ref" not in features:
                        features["ref"], features["ref_image"] = ref, remap[z["ref_image"]]
                    elif not np.array_equal(features["ref"], ref):
                        raise PdlossError(f"{npz}: reference features differ from the first run's (other images?)")
            run_facts[run_name] = _run_provenance(run_dir, config, earlier_step) | {"step": step, "seed": run.seed}
    if not entries or stems is None:
        raise PdlossError(f"no evaluated run of {config_path} on {source or 'data.valid'} under {root}")
    missing = [name for pair in comparisons for name in pair if name not in entries]
    if reference and reference not in entries:
        missing.append(reference)
    if missing:
        raise PdlossError(f"entries named for comparison were not exported: {sorted(set(missing))}")
    labels = [e["label"] for e in entries.values()]
    for name, entry in entries.items():
        if labels.count(entry["label"]) > 1:  # pre-training and fine-tuning with one loss, say
            entry["label"] = f"{entry['label']} [{name}]"
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    scenes = scene_groups()
    study = {
        "study": raw["name"],
        "task": raw.get("task"),
        "task_options": raw.get("task_options", {}),
        "config": str(config_path),
        "source": source or raw.get("data", {}).get("valid"),
        "metrics": metrics,
        "images": stems,
        "scenes": [scenes.get(s, s) for s in stems],
        "extra_rows": extra_rows,
        "evaluation": settings,
        "reference": reference,
        "comparisons": [list(pair) for pair in comparisons],
        "entries": entries,
        "notes": list(notes),
    }
    (folder / STUDY_FILE).write_text(json.dumps(study, indent=1) + "\n")
    buffer = io.StringIO()
    columns = ["entry", "seed", "run", "step", "image", *[m for m in metrics if not METRIC_SPECS[m].is_set]]
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    # mtime=0: the same rows give the same bytes, so an unchanged export leaves git clean.
    with gzip.GzipFile(folder / PER_IMAGE_FILE, "wb", mtime=0) as f:
        f.write(buffer.getvalue().encode())
    if features:
        np.savez_compressed(folder / FEATURES_FILE, **features)
    config_bytes = Path(config_path).read_bytes()
    provenance = {
        "command": command,
        "config": str(config_path),
        "config_sha256": hashlib.sha256(config_bytes).hexdigest(),
        "exported_on": machine_facts(Path(config_path).resolve().parent),
        "runs": run_facts,
    }
    (folder / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=1) + "\n")
    return folder
