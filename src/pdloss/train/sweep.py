"""``pdloss sweep``: the grid of losses and weights of a paper table, gathered into one table.

Runs come from the config's ``sweep`` list (one list of overrides per run) and/or from
``--set KEY=V1,V2`` grids (their cartesian product). Each run trains into ``OUTPUT/RUN_NAME``
(skipped when already done, resumed when interrupted), is evaluated, and the rows are gathered
into ``OUTPUT/results.md|csv|json`` with ``OUTPUT/crops.png`` and ``OUTPUT/feature_cdf.png``.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

from pdloss.train.config import apply_overrides, config_from_dict, load_raw


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


def expand_runs(sweep: list[list[str]], grid: list[str]) -> list[list[str]]:
    """Each run's list of overrides: the config's ``sweep`` entries times the ``--set`` grid."""
    axes = []
    for item in grid:
        if "=" not in item:
            raise ValueError(f"--set {item!r} must look like key=v1,v2")
        key, values = item.split("=", 1)
        axes.append([f"{key}={v}" for v in split_values(values)])
    combos = [list(c) for c in itertools.product(*axes)] if axes else [[]]
    bases = sweep or [[]]
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
        if not key.startswith("loss"):
            name += f"-{key.split('.')[-1]}{value}"
    return name.replace("/", "_").replace(" ", "")


def sweep(
    config_path: str,
    grid: list[str] | None = None,
    base_overrides: list[str] | None = None,
    device: str | None = None,
    skip_eval: bool = False,
) -> Path:
    """Train and evaluate every run of the sweep; returns the folder of the gathered table."""
    from pdloss.train.evaluation import evaluate_run, write_results
    from pdloss.train.figures import crop_grid, feature_cdf_plot
    from pdloss.train.trainer import train

    raw = apply_overrides(load_raw(config_path), base_overrides or [])
    runs = expand_runs(raw.pop("sweep", []) or [], grid or [])
    root = Path(raw["output"])
    run_dirs, labels, rows, records = [], [], [], []
    for index, overrides in enumerate(runs, start=1):
        run_raw = apply_overrides(raw, overrides)
        name = run_name(run_raw.get("loss", {}), overrides)
        run_raw["name"] = f"{raw['name']}/{name}"
        run_raw["output"] = str(root / name)
        config = config_from_dict(run_raw)
        run_dir = Path(config.output)
        print(f"[{index}/{len(runs)}] {config.loss_label}: {run_dir}", file=sys.stderr)
        if not (run_dir / "DONE").exists():
            train(config, resume=(run_dir / "checkpoints" / "last.pt").exists(), device=device)
        if skip_eval:
            continue
        metrics_file = run_dir / "eval" / "metrics.json"
        checkpoint = run_dir / "checkpoints" / "last.pt"
        if metrics_file.exists() and metrics_file.stat().st_mtime >= checkpoint.stat().st_mtime:
            record = json.loads(metrics_file.read_text())
        else:
            record = evaluate_run(run_dir, device=device or "cpu", fid_cache_dir=root)
        records.append(record)
        rows.append(record["row"])
        run_dirs.append(run_dir)
        labels.append(config.loss_label)
    if skip_eval or not records:
        return root
    first = config_from_dict(apply_overrides(raw, runs[0]))
    metrics = list(first.evaluate.metrics)
    weights, unavailable, notes = {}, {}, []
    for record in records:
        weights.update(record["weights"])
        unavailable.update(record["unavailable"])
        notes += [n for n in record["notes"] if n not in notes]
    extra = records[0]["extra_rows"]
    write_results(root, [*extra, *rows], metrics, weights, unavailable, notes, title=f"{first.task}: {raw['name']}")
    crop_grid(run_dirs, labels, root / "crops.png", crop=first.evaluate.grid_crop)
    loss_weights = [str(r["loss_weights"]).split(" ")[0] for r in rows if r.get("loss_weights")]
    cdf_weights = first.evaluate.cdf_weights or (loss_weights[0] if loss_weights else "vgg16-hed")
    try:
        feature_cdf_plot(
            run_dirs,
            labels,
            root / "feature_cdf.png",
            cdf_weights,
            first.evaluate.cdf_layer,
            first.evaluate.cdf_channels,
        )
    except Exception as exc:  # the plot needs VGG weights; the table stands without it
        print(f"feature CDF plot skipped: {exc}", file=sys.stderr)
    return root
