"""Evaluate a folder of results against a folder of references, image by image.

Files are paired by stem (``0801.png`` with ``0801.jpg``). Full-reference metrics (PSNR, SSIM,
MS-SSIM, LPIPS) compare each pair; NIQE is computed on the prediction alone; FID compares the
two sets and so has a mean but no per-image value.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch

from pdloss.errors import InputError, PdlossError

METRICS = ("psnr", "ssim", "ms_ssim", "lpips", "niqe", "fid")
HIGHER_IS_BETTER = {"psnr": True, "ssim": True, "ms_ssim": True, "lpips": False, "niqe": False, "fid": False}
SET_METRICS = ("fid",)


@dataclass
class EvaluationResult:
    """What :func:`evaluate` measured.

    Attributes:
        mean: metric -> mean over images (FID: the set value); None when unavailable.
        per_image: stem -> metric -> value (no FID); None when unavailable.
        weights: metric -> the weights/parameters used (for the result table).
        unavailable: metric -> why it was not computed.
        notes: remarks for the table (e.g. FID's small-sample bias).
    """

    metrics: list[str]
    mean: dict[str, float | None] = field(default_factory=dict)
    per_image: dict[str, dict[str, float | None]] = field(default_factory=dict)
    weights: dict[str, str] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, dict]:
        """``{"mean": {metric: value}, "per_image": {stem: {metric: value}}}`` (NaN/inf -> None)."""
        return {
            "mean": {m: _finite(self.mean.get(m)) for m in self.metrics},
            "per_image": {
                s: {m: _finite(v.get(m)) for m in self.metrics if m not in SET_METRICS}
                for s, v in self.per_image.items()
            },
        }


def _finite(value: float | None) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and math.isinf(value):
        return None
    return value


def parse_metrics(spec: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """``"psnr,ssim"`` or a list -> validated, de-duplicated list in the given order."""
    if spec is None:
        return list(METRICS)
    names = [s.strip().lower().replace("-", "_") for s in (spec.split(",") if isinstance(spec, str) else spec)]
    names = [n for n in dict.fromkeys(names) if n]
    unknown = [n for n in names if n not in METRICS]
    if unknown or not names:
        raise InputError(f"unknown metric(s) {unknown or spec!r}; choose from {', '.join(METRICS)}")
    return names


def pair_files(pred_dir: str | os.PathLike, ref_dir: str | os.PathLike) -> list[tuple[str, Path, Path]]:
    """``(stem, prediction, reference)`` for every stem, sorted; errors on duplicates or gaps."""
    from pdloss.imageio import list_images

    def by_stem(folder) -> dict[str, Path]:
        files: dict[str, Path] = {}
        for path in list_images(folder):
            if path.stem in files:
                raise InputError(f"two files with stem {path.stem!r} in {folder}: {files[path.stem].name}, {path.name}")
            files[path.stem] = path
        if not files:
            raise InputError(f"no image files in {folder}")
        return files

    preds, refs = by_stem(pred_dir), by_stem(ref_dir)
    missing_ref = sorted(set(preds) - set(refs))
    missing_pred = sorted(set(refs) - set(preds))
    if missing_ref or missing_pred:
        parts = []
        if missing_ref:
            parts.append(f"{len(missing_ref)} prediction(s) without a reference ({', '.join(missing_ref[:5])})")
        if missing_pred:
            parts.append(f"{len(missing_pred)} reference(s) without a prediction ({', '.join(missing_pred[:5])})")
        raise InputError(f"files are paired by stem, and {'; '.join(parts)}")
    return [(stem, preds[stem], refs[stem]) for stem in sorted(preds)]


def evaluate(
    pred_dir: str | os.PathLike,
    ref_dir: str | os.PathLike,
    metrics: str | list[str] | tuple[str, ...] | None = None,
    color: str = "rgb",
    crop_border: int = 0,
    device: str | torch.device = "cpu",
    lpips_backbone: str = "vgg16-imagenet",
    fid_weights: str | os.PathLike | None = None,
    fid_patch_size: int | None = None,
    fid_reference_stats: str | os.PathLike | None = None,
    progress: bool = True,
) -> EvaluationResult:
    """Measure every prediction against the reference with the same stem.

    Args:
        pred_dir, ref_dir: folders of images (paired by file stem; sizes must match per pair).
        metrics: names or ``"a,b"``; default all of :data:`METRICS`.
        color: ``"rgb"`` (default) or ``"y"`` for PSNR/SSIM/MS-SSIM. 8-bit files are compared on
            their 0-255 values (identical to [0, 1] with data_range 1).
        crop_border: pixels dropped on each side for PSNR/SSIM/MS-SSIM/NIQE.
        device: where LPIPS and FID networks run.
        lpips_backbone: ``"vgg16-imagenet"`` or a torchvision-layout VGG16 file.
        fid_weights: None (installed FID Inception) or a file.
        fid_patch_size: None for whole images; an int for patch FID (see :mod:`pdloss.metrics.fid`).
        fid_reference_stats: an ``.npz`` of reference statistics: read when it exists (must match
            the FID settings in its metadata), written after computing them otherwise.
        progress: tqdm bars on stderr.

    A metric whose weights are missing is reported as unavailable (None, with the reason in
    ``result.unavailable``), never computed on a substitute.
    """
    from tqdm import tqdm

    from pdloss.imageio import read_image
    from pdloss.metrics.psnr import psnr
    from pdloss.metrics.ssim import ms_ssim, ms_ssim_min_size, ssim

    names = parse_metrics(metrics)
    pairs = pair_files(pred_dir, ref_dir)
    result = EvaluationResult(metrics=names)
    per_image: dict[str, dict[str, float | None]] = {stem: {} for stem, _, _ in pairs}
    tag = f"{color.upper() if color == 'y' else 'RGB'}, crop {crop_border}"
    result.weights.update({m: f"{tag}" for m in ("psnr", "ssim") if m in names})
    if "ms_ssim" in names:
        result.weights["ms_ssim"] = f"{tag}, Wang's 5 scales"

    lpips_model = _load_lpips(names, lpips_backbone, device, result)
    niqe_params = _load_niqe(names, result)
    fid = _load_fid(names, fid_weights, device, fid_patch_size, result)
    from pdloss.metrics.fid import FeatureStatistics

    pred_stats, ref_stats = FeatureStatistics(), FeatureStatistics()
    ref_cached = _read_reference_stats(fid, fid_reference_stats, fid_patch_size, result)

    for stem, pred_path, ref_path in tqdm(pairs, desc="evaluate", disable=not progress, file=sys.stderr):
        pred = read_image(pred_path, "RGB")[None]
        ref = read_image(ref_path, "RGB")[None]
        if pred.shape != ref.shape:
            raise InputError(
                f"{pred_path.name} is {pred.shape[-2]}x{pred.shape[-1]} but its reference "
                f"{ref_path.name} is {ref.shape[-2]}x{ref.shape[-1]}"
            )
        row = per_image[stem]
        small = min(pred.shape[-2:]) - 2 * crop_border
        if "psnr" in names:
            row["psnr"] = float(psnr(pred, ref, color=color, crop_border=crop_border))
        if "ssim" in names:
            row["ssim"] = float(ssim(pred, ref, color=color, crop_border=crop_border))
        if "ms_ssim" in names:
            if small >= ms_ssim_min_size():
                row["ms_ssim"] = float(ms_ssim(pred, ref, color=color, crop_border=crop_border))
            else:
                row["ms_ssim"] = None
                result.unavailable.setdefault(
                    "ms_ssim",
                    f"needs images of at least {ms_ssim_min_size()} px per side ({stem} is smaller)",
                )
        if "lpips" in names:
            row["lpips"] = float(lpips_model(pred.to(device), ref.to(device))) if lpips_model else None
        if "niqe" in names:
            row["niqe"] = _niqe_one(pred, crop_border, niqe_params, stem, result)
        if fid is not None:
            pred_stats.update(fid.features(pred))
            if ref_cached is None:
                ref_stats.update(fid.features(ref))

    result.per_image = per_image
    for m in names:
        if m in SET_METRICS:
            continue
        values = [row.get(m) for row in per_image.values()]
        result.mean[m] = None if any(v is None for v in values) else sum(values) / len(values)
    if "fid" in names:
        result.mean["fid"] = _finish_fid(
            fid, pred_stats, ref_stats, ref_cached, fid_reference_stats, fid_patch_size, result
        )
    return result


def _load_lpips(names, backbone, device, result):
    if "lpips" not in names:
        return None
    from pdloss.metrics.lpips import LPIPS

    try:
        model = LPIPS(backbone=backbone, reduction="none").to(device)
    except PdlossError as exc:
        result.unavailable["lpips"] = str(exc)
        return None
    result.weights["lpips"] = f"v0.1, {model.weights_label}"
    return model


def _load_niqe(names, result):
    if "niqe" not in names:
        return None
    from pdloss.metrics.niqe_params import LICENSE_NOTE, load_niqe_params

    try:
        params = load_niqe_params()
    except PdlossError as exc:
        result.unavailable["niqe"] = str(exc)
        return None
    result.weights["niqe"] = f"MATLAB release pristine model via {LICENSE_NOTE.split(',')[0]}, Y, 96x96 blocks"
    return params


def _niqe_one(pred, crop_border, params, stem, result) -> float | None:
    if params is None:
        return None
    from pdloss.metrics.niqe import BLOCK, niqe

    if min(pred.shape[-2:]) - 2 * crop_border < BLOCK:
        result.unavailable.setdefault("niqe", f"needs images of at least {BLOCK} px per side ({stem} is smaller)")
        return None
    return float(niqe(pred, crop_border=crop_border, params=params)[0])


def _load_fid(names, weights, device, patch_size, result):
    if "fid" not in names:
        return None
    from pdloss.metrics.fid import FID

    try:
        fid = FID(weights=weights, device=device, patch_size=patch_size)
    except PdlossError as exc:
        result.unavailable["fid"] = str(exc)
        return None
    mode = f"patches of {patch_size} px" if patch_size else "whole images"
    result.weights["fid"] = f"{fid.weights_label}, 299x299 bilinear, pool3, {mode}"
    return fid


def _fid_settings(fid, patch_size) -> dict[str, str]:
    return {"weights": fid.weights_label.split(" (")[0], "patch_size": str(patch_size)}


def _read_reference_stats(fid, path, patch_size, result):
    if fid is None or path is None or not Path(path).is_file():
        return None
    from pdloss.metrics.fid import load_statistics

    mu, sigma, meta = load_statistics(path)
    wanted = _fid_settings(fid, patch_size)
    if meta.get("patch_size") not in (None, wanted["patch_size"]):
        raise InputError(
            f"FID reference statistics {path} were computed with patch_size {meta.get('patch_size')}, "
            f"not {patch_size}; delete the file or pass the same setting"
        )
    result.notes.append(f"FID reference statistics read from {path}")
    return mu, sigma, int(meta.get("count", "0") or 0)


def _finish_fid(fid, pred_stats, ref_stats, ref_cached, stats_path, patch_size, result) -> float | None:
    if fid is None:
        return None
    from pdloss.metrics.fid import fid_from_statistics, save_statistics

    if ref_cached is None:
        mu_r, sigma_r, count_r = ref_stats.mean(), ref_stats.covariance(), ref_stats.count
        if stats_path is not None:
            save_statistics(stats_path, mu_r, sigma_r, count=count_r, **_fid_settings(fid, patch_size))
            result.notes.append(f"FID reference statistics written to {stats_path}")
    else:
        mu_r, sigma_r, count_r = ref_cached
    n = pred_stats.count
    if n < 2048:
        result.notes.append(
            f"FID from {n} samples{' (patches)' if patch_size else ''}: biased upwards "
            "for fewer than a few thousand samples; compare only at equal sample counts"
        )
    return fid_from_statistics(pred_stats, ref_stats if ref_cached is None else (mu_r, sigma_r))


def format_markdown(result: EvaluationResult, per_image: bool = True) -> str:
    """Markdown tables: per image (optional), then means with directions and weights."""
    lines = []
    image_metrics = [m for m in result.metrics if m not in SET_METRICS]
    if per_image and image_metrics:
        lines.append("| image | " + " | ".join(f"{m} {_arrow(m)}" for m in image_metrics) + " |")
        lines.append("|---|" + "---:|" * len(image_metrics))
        for stem, row in result.per_image.items():
            lines.append(f"| {stem} | " + " | ".join(_fmt(row.get(m)) for m in image_metrics) + " |")
        lines.append("")
    lines.append("| metric | better | mean | weights / settings |")
    lines.append("|---|---|---:|---|")
    for m in result.metrics:
        better = "higher" if HIGHER_IS_BETTER[m] else "lower"
        weights = result.weights.get(m) or f"unavailable: {result.unavailable.get(m, '')}"
        lines.append(f"| {m} {_arrow(m)} | {better} | {_fmt(result.mean.get(m))} | {weights} |")
    for m, reason in result.unavailable.items():
        if m in result.weights:
            lines.append(f"\n{m}: {reason}")
    lines.extend(f"\nNote: {n}" for n in result.notes)
    return "\n".join(lines)


def format_csv(result: EvaluationResult) -> str:
    """CSV: a header, one row per image, then a ``mean`` row (FID in the mean row only)."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["image", *result.metrics])
    for stem, row in result.per_image.items():
        writer.writerow(
            [stem, *("" if m in SET_METRICS or row.get(m) is None else repr(row[m]) for m in result.metrics)]
        )
    writer.writerow(["mean", *("" if result.mean.get(m) is None else repr(result.mean[m]) for m in result.metrics)])
    return out.getvalue()


def _arrow(metric: str) -> str:
    return "↑" if HIGHER_IS_BETTER[metric] else "↓"


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    if math.isinf(value):
        return "inf"
    return f"{value:.4f}"
