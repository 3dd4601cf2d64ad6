"""Evaluation of trained runs: restored images, metrics, the paper's tables and pictures.

``evaluate_run(RUN)`` restores the run's validation set and writes::

    RUN/eval/restored/STEM.png   the model's output (8-bit)
    RUN/eval/input/STEM.png      the degraded input (same-size tasks; the mosaic for demosaic)
    RUN/eval/reference/STEM.png  the clean image
    RUN/eval/metrics.json        {"mean", "per_image", "weights", "unavailable", "notes", "row"}
    RUN/results.md|csv|json      the one-run table (reference, input and this loss)

``write_results`` gathers several runs into one table in the layout of the paper's Tables 2, 4,
6 and 7: one row per loss and weight, columns PSNR, MS-SSIM, LPIPS, NIQE, FID with arrows.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import torch

from pdloss.config.schema import Config, EvaluateConfig
from pdloss.data.paired import ValidationDataset, image_sizes
from pdloss.data.sources import resolve_images
from pdloss.degradations import build_degradation
from pdloss.errors import PdlossError
from pdloss.imageio import write_image
from pdloss.metrics.evaluate import evaluate
from pdloss.metrics.registry import METRIC_SPECS, format_value
from pdloss.runs.layout import LAST_CHECKPOINT, eval_folder_name, results_name
from pdloss.runs.load import load_run
from pdloss.runs.lock import run_lock

#: The columns of a results table, in this order when measured (SSIM only when asked for).
TABLE_METRICS = tuple(m for m in METRIC_SPECS if m != "ssim")
METRIC_TITLES = {name: spec.title for name, spec in METRIC_SPECS.items()}


def evaluation_seed(config: Config) -> int:
    """The seed of the evaluated images' degradations (``evaluate.seed``, else the run's seed)."""
    return config.seed if config.evaluate.seed is None else int(config.evaluate.seed)


def images_tag(source: str | Path) -> str:
    """The name of an evaluation on another image source: ``offline:test`` -> ``offline-test``,
    ``/data/my photos/`` -> ``my-photos`` (folders ``RUN/eval-TAG/``, tables ``results-TAG.md``)."""
    text = str(source).rstrip("/\\")
    text = Path(text).name if ("/" in text or "\\" in text) else text
    tag = re.sub(r"[^A-Za-z0-9._+-]+", "-", text).strip("-.")
    if not tag:
        raise PdlossError(f"cannot name an evaluation of {source!r}; give a folder with a name")
    return tag


def _check_image_sizes(paths: list[Path], min_size: int, source: str) -> list[Path]:
    """Readable images of ``source`` (unreadable ones skipped with a warning naming them);
    an error naming any image smaller than ``min_size`` and when nothing is left."""
    import warnings


    kept, unreadable, small = [], [], []
    for path, size in zip(paths, image_sizes(paths), strict=True):
        if size is None:
            unreadable.append(str(path))
        elif min(size) < min_size:
            small.append(f"{path} ({size[1]}x{size[0]} px)")
        else:
            kept.append(Path(path))
    if unreadable:
        warnings.warn(f"{source}: skipping {len(unreadable)} unreadable file(s): {', '.join(unreadable)}", stacklevel=3)
    if small:
        raise PdlossError(
            f"{source}: {len(small)} image(s) smaller than the {min_size} px this evaluation needs "
            f"(evaluate.crop, the model's stride and the metrics): {'; '.join(small)}"
        )
    if not kept:
        raise PdlossError(f"{source}: no readable image to evaluate")
    return kept


def evaluation_images(images: str | Path, config: Config) -> list[Path]:
    """The images of a data source (a folder, read with its subfolders, or a named set) that an
    evaluation of a run of ``config`` uses; a :class:`PdlossError` naming every image too small for
    it. ``pdloss sweep --images`` calls this before it trains anything."""

    try:
        paths = resolve_images(images)
    except PdlossError as exc:
        raise PdlossError(f"--images {images}: {exc}") from None
    # MS-SSIM's five scales need 161 px; a crop needs its own size.
    need = max(config.evaluate.crop or 0, 161 if "ms_ssim" in config.evaluate.metrics else 32)
    return _check_image_sizes(paths, need, str(images))


def _restore_validation(
    config: Config,
    model: torch.nn.Module,
    out: Path,
    limit: int | None,
    device,
    progress: bool = True,
    images: str | Path | None = None,
) -> int:

    degradation = build_degradation(config.task, **config.task_options)
    if images is None:
        paths = resolve_images(config.data.valid or config.data.train)
    else:
        paths = evaluation_images(images, config)
    limit = limit or config.evaluate.limit or config.data.valid_limit
    if limit:
        paths = paths[:limit]
    valid = ValidationDataset(paths, degradation, config.evaluate.crop, seed=evaluation_seed(config))
    from tqdm import tqdm

    model.eval()
    with torch.no_grad():
        for index in tqdm(range(len(valid)), desc="restore", file=sys.stderr, leave=False, disable=not progress):
            degraded, target = valid[index]
            stem = Path(valid.paths[index]).stem
            prediction = model(degraded[None].to(device)).float().clamp(0, 1)[0]
            write_image(out / "restored" / f"{stem}.png", prediction)
            write_image(out / "reference" / f"{stem}.png", target)
            # Inputs of the reference's size are measured (the table's input row); smaller ones (super-
            # resolution) are kept apart, for the crop grids only.
            same_size = degraded.shape[-2:] == target.shape[-2:]
            write_image(out / ("input" if same_size else "input-small") / f"{stem}.png", degraded.clamp(0, 1))
    return len(valid)


def evaluate_run(
    run_or_checkpoint: str | Path,
    metrics: list[str] | None = None,
    limit: int | None = None,
    device: str | torch.device = "cpu",
    progress: bool = True,
    fid_cache_dir: str | Path | None = None,
    images: str | Path | None = None,
    settings: EvaluateConfig | None = None,
) -> dict[str, Any]:
    """Restore the validation set of a run (or ``images``), measure it, write its tables; returns the row.

    ``fid_cache_dir``: where the reference set's FID statistics are cached (a sweep shares one
    folder between its runs; default ``RUN/eval``).
    ``images``: another data source (a folder, ``offline:test``...): its clean images are degraded
    with the run's task (seed ``evaluate.seed``, recorded), restored and measured into
    ``RUN/eval-TAG/`` and ``RUN/results-TAG.*`` (TAG from :func:`images_tag`).
    ``settings``: evaluation settings to use instead of the run's own (a sweep evaluates every run
    with the sweep file's ``evaluate`` section); recorded in ``metrics.json``.
    An earlier checkpoint (``RUN/checkpoints/step-N.pt``, not ``last.pt``) is measured into
    ``RUN/eval[-TAG]-stepN/`` and ``RUN/results[-TAG]-stepN.*``, beside the run's own evaluation.
    """

    config, model, run_dir, payload = load_run(run_or_checkpoint, device)
    path = Path(run_or_checkpoint)
    earlier_step = int(payload["step"]) if path.is_file() and path.name != LAST_CHECKPOINT else None
    if settings is not None:
        config = dataclasses.replace(config, evaluate=settings)
    # One writer per run folder (re-entrant: a sweep training this run may evaluate it).
    with run_lock(run_dir, "evaluate"):
        return _evaluate_locked(
            config, model, run_dir, payload, metrics, limit, device, progress, fid_cache_dir, images, earlier_step
        )


def _evaluate_locked(
    config: Config,
    model: torch.nn.Module,
    run_dir: Path,
    payload: dict,
    metrics: list[str] | None,
    limit: int | None,
    device: str | torch.device,
    progress: bool,
    fid_cache_dir: str | Path | None,
    images: str | Path | None,
    earlier_step: int | None = None,
) -> dict[str, Any]:
    tag = images_tag(images) if images is not None else None
    out = run_dir / eval_folder_name(tag, earlier_step)
    if out.is_dir():
        # A stale image from an earlier, larger set must not enter this evaluation.
        shutil.rmtree(out / "restored", ignore_errors=True)
        shutil.rmtree(out / "input", ignore_errors=True)
        shutil.rmtree(out / "input-small", ignore_errors=True)
        shutil.rmtree(out / "reference", ignore_errors=True)
    count = _restore_validation(config, model, out, limit, device, progress, images=images)
    if count == 0:
        raise PdlossError(f"{run_dir}: the validation set is empty")
    metrics = list(metrics or config.evaluate.metrics)
    patch = config.evaluate.fid_patch_size
    # FID statistics of the reference set are cached under a hash of its images, so the runs of
    # a sweep (same validation set) compute them once and a changed set never reuses stale ones.
    cache_dir = Path(fid_cache_dir) if fid_cache_dir else out
    stats = cache_dir / f"fid-reference-{_folder_digest(out / 'reference')}-p{patch or 'full'}.npz"
    set_metric = any(m in metrics for m in ("fid", "kid"))
    common = dict(device=device, fid_patch_size=patch, fid_reference_stats=stats if set_metric else None)
    # The Inception rows of every image, so FID/KID differences between runs can be bootstrapped.
    features = out / "inception.npz" if set_metric else None
    result = evaluate(out / "restored", out / "reference", metrics, progress=progress, features_out=features, **common)
    row = {
        "label": config.loss_label,
        "loss": config.loss.get("name"),
        "weight": config.loss.get("weight"),
        "step": int(payload["step"]),
        "run": run_dir.name,
        "seed": config.seed,
        "loss_weights": payload.get("weights"),
        **{m: result.mean.get(m) for m in metrics},
    }
    extra_rows = _extra_rows(out, metrics, cache_dir, common)
    record = {
        **result.to_json(),
        "weights": result.weights,
        "unavailable": result.unavailable,
        "notes": result.notes,
        "row": row,
        "extra_rows": extra_rows,
        "images": count,
        "images_source": str(images if images is not None else (config.data.valid or config.data.train)),
        "degradation_seed": evaluation_seed(config),
        "crop": config.evaluate.crop,
        "settings": dataclasses.asdict(config.evaluate),
    }
    (out / "metrics.json").write_text(json.dumps(record, indent=2))
    write_results(
        run_dir,
        [*extra_rows, row],
        metrics,
        result.weights,
        result.unavailable,
        result.notes,
        title=f"{config.task}: {config.name}"
        + (f" on {images}" if images is not None else "")
        + (f" at step {earlier_step}" if earlier_step is not None else ""),
        name=results_name(tag, earlier_step),
    )
    return record


def _extra_rows(out: Path, metrics: list[str], cache_dir: Path, common: dict) -> list[dict[str, Any]]:
    """The table's ``reference`` (NIQE) and ``input`` rows, cached by the content of the folders:
    every run of a sweep sees the same degraded inputs (``evaluate.seed``), so they are measured once."""
    key = _folder_digest(out / "reference") + (_folder_digest(out / "input") if (out / "input").is_dir() else "")
    cache = cache_dir / f"extra-rows-{hashlib.sha256((key + ','.join(metrics)).encode()).hexdigest()[:12]}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    rows = []
    if (out / "input").is_dir():
        inp = evaluate(out / "input", out / "reference", metrics, progress=False, **common)
        rows.append({"label": "input", **{m: inp.mean.get(m) for m in metrics}})
    if "niqe" in metrics:
        ref = evaluate(out / "reference", out / "reference", ["niqe"], progress=False)
        rows.insert(0, {"label": "reference", "niqe": ref.mean.get("niqe")})
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(rows))
    return rows


def _folder_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.png")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def write_results(
    folder: Path,
    rows: list[dict[str, Any]],
    metrics: list[str],
    weights: dict[str, str],
    unavailable: dict[str, str],
    notes: list[str],
    title: str = "",
    name: str = "results",
) -> dict[str, Path]:
    """results.md / results.csv / results.json in the paper's table layout."""
    columns = [m for m in TABLE_METRICS if m in metrics] + [m for m in metrics if m not in TABLE_METRICS]
    header = [f"{METRIC_TITLES.get(m, m)} {METRIC_SPECS[m].arrow if m in METRIC_SPECS else ''}".rstrip()
              for m in columns]
    lines = [
        f"## {title}" if title else "",
        "",
        "| loss | " + " | ".join(header) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for row in rows:
        lines.append(f"| {row['label']} | " + " | ".join(format_value(m, row.get(m)) for m in columns) + " |")
    lines.append("")
    loss_weights = sorted({r["loss_weights"] for r in rows if r.get("loss_weights")})
    if loss_weights:
        lines.append(f"Loss features: {', '.join(loss_weights)}.")
    for metric, source in sorted(weights.items()):
        lines.append(f"- {METRIC_TITLES.get(metric, metric)}: {source}")
    for metric, why in sorted(unavailable.items()):
        # The first sentence says what is missing; the full instructions are in results.json.
        lines.append(f"- {METRIC_TITLES.get(metric, metric)} unavailable: {why.split('. To get')[0]}")
    lines += [f"- {note}" for note in notes]
    folder.mkdir(parents=True, exist_ok=True)
    paths = {ext: folder / f"{name}.{ext}" for ext in ("md", "csv", "json")}
    paths["md"].write_text("\n".join(lines).lstrip() + "\n")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["loss", "weight", *columns])
    for row in rows:
        writer.writerow(
            [row["label"], row.get("weight", "")] + ["" if row.get(m) is None else row.get(m) for m in columns]
        )
    paths["csv"].write_text(buffer.getvalue())
    paths["json"].write_text(
        json.dumps(
            {"rows": rows, "metrics": columns, "weights": weights, "unavailable": unavailable, "notes": notes}, indent=2
        )
    )
    return paths
