"""Evaluate a folder of results against a folder of references, image by image.

Files are paired by stem (``0801.png`` with ``0801.jpg``). Full-reference metrics (PSNR, SSIM,
MS-SSIM, LPIPS) compare each pair; NIQE is computed on the prediction alone; FID and KID compare
the two sets and so have a mean but no per-image value. FID and KID share one pass of the
Inception network over both sets.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from pdloss.errors import InputError, PdlossError
from pdloss.imageio import list_images, read_image
from pdloss.metrics.psnr import psnr
from pdloss.metrics.registry import METRIC_SPECS, format_value, list_metrics, set_metrics
from pdloss.metrics.ssim import ms_ssim, ms_ssim_min_size, ssim

METRICS = tuple(list_metrics())
HIGHER_IS_BETTER = {name: spec.higher_is_better for name, spec in METRIC_SPECS.items()}
SET_METRICS = set_metrics()
# Companion values of a metric, stored in ``mean`` and the JSON right after it.
COMPANIONS = {"kid": ("kid_std",)}


@dataclass
class EvaluationResult:
    """What :func:`evaluate` measured.

    Attributes:
        mean: metric -> mean over images (FID, KID: the set value); None when unavailable.
            With KID also ``"kid_std"``: the standard deviation of KID over its subsets.
        per_image: stem -> metric -> value (no FID, KID); None when unavailable.
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
        """``{"mean": {metric: value}, "per_image": {stem: {metric: value}}}`` (NaN/inf -> None).

        ``mean`` has the requested metrics in order, each followed by its companions (``kid_std``
        after ``kid``).
        """
        keys = [k for m in self.metrics for k in (m, *COMPANIONS.get(m, ()))]
        return {
            "mean": {k: _finite(self.mean.get(k)) for k in keys},
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
    kid_subset_size: int = 1000,
    kid_subsets: int = 100,
    kid_seed: int = 0,
    features_out: str | os.PathLike | None = None,
) -> EvaluationResult:
    """Measure every prediction against the reference with the same stem.

    Args:
        pred_dir, ref_dir: folders of images (paired by file stem; sizes must match per pair).
        metrics: names or ``"a,b"``; default all of :data:`METRICS`.
        color: ``"rgb"`` (default) or ``"y"`` for PSNR/SSIM/MS-SSIM. 8-bit files are compared on
            their 0-255 values (identical to [0, 1] with data_range 1).
        crop_border: pixels dropped on each side for PSNR/SSIM/MS-SSIM/NIQE.
        device: where LPIPS and FID/KID networks run.
        lpips_backbone: ``"vgg16-imagenet"`` or a torchvision-layout VGG16 file.
        fid_weights: None (installed FID Inception) or a file; FID and KID use the same network.
        fid_patch_size: None for whole images; an int for patch FID and KID (see
            :mod:`pdloss.metrics.fid`).
        fid_reference_stats: an ``.npz`` cache of the reference set: read when it exists (must
            match the patch size in its metadata), written after computing it otherwise. It holds
            ``mu`` and ``sigma`` (pytorch-fid's keys) and, once KID or ``features_out`` needed
            them, the reference feature rows too; a file without them is then completed.
        progress: tqdm bars on stderr.
        kid_subset_size, kid_subsets, kid_seed: KID's subsets (see
            :func:`pdloss.metrics.kid.kid_from_features`).
        features_out: with ``"fid"`` or ``"kid"``, write the feature rows to this ``.npz``:
            ``pred_features`` ``(N_pred, 2048)`` float32, ``pred_image`` ``(N_pred,)`` int64 index
            into ``stems``, ``ref_features``, ``ref_image``, ``stems`` (the sorted pairing stems),
            ``patch_size`` (0 for whole images), for bootstraps with
            :func:`pdloss.metrics.kid.set_metric_from_features`.

    A metric whose weights are missing is reported as unavailable (None, with the reason in
    ``result.unavailable``), never computed on a substitute.
    """
    from tqdm import tqdm


    names = parse_metrics(metrics)
    if "kid" in names and (kid_subsets < 1 or kid_subset_size < 2):
        raise InputError(f"KID needs kid_subsets >= 1 and kid_subset_size >= 2, got {kid_subsets}, {kid_subset_size}")
    pairs = pair_files(pred_dir, ref_dir)
    result = EvaluationResult(metrics=names)
    per_image: dict[str, dict[str, float | None]] = {stem: {} for stem, _, _ in pairs}
    tag = f"{color.upper() if color == 'y' else 'RGB'}, crop {crop_border}"
    result.weights.update({m: f"{tag}" for m in ("psnr", "ssim") if m in names})
    if "ms_ssim" in names:
        result.weights["ms_ssim"] = f"{tag}, Wang's 5 scales"

    lpips_model = _load_lpips(names, lpips_backbone, device, result)
    niqe_params = _load_niqe(names, result)
    inception = _load_inception(names, fid_weights, device, fid_patch_size, result)
    stems = [stem for stem, _, _ in pairs]
    if features_out is not None and not any(m in names for m in SET_METRICS):
        result.notes.append(f"features_out {features_out} not written: neither fid nor kid was measured")
    want_rows = "kid" in names or features_out is not None
    sets = _SetFeatures(inception, fid_reference_stats, fid_patch_size, stems, want_rows, result)

    bar = tqdm(pairs, desc="evaluate", disable=not progress, file=sys.stderr)
    for index, (stem, pred_path, ref_path) in enumerate(bar):
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
        sets.add(index, pred, ref)

    result.per_image = per_image
    for m in names:
        if m in SET_METRICS:
            continue
        values = [row.get(m) for row in per_image.values()]
        result.mean[m] = None if any(v is None for v in values) else sum(values) / len(values)
    if inception is not None:
        sets.finish(names, result, dict(subset_size=kid_subset_size, subsets=kid_subsets, seed=kid_seed))
        if features_out is not None:
            sets.write_features(features_out)
    else:
        result.mean.update({k: None for m in SET_METRICS if m in names for k in (m, *COMPANIONS.get(m, ()))})
        if features_out is not None and any(m in names for m in SET_METRICS):
            result.notes.append(f"features_out {features_out} not written: the Inception is unavailable")
    return result


def _load_lpips(names, backbone, device, result):
    if "lpips" not in names:
        return None
    # Lazy: each metric loads its own parts (scipy, the Inception network) only when asked for.
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
    # Lazy: each metric loads its own parts (scipy, the Inception network) only when asked for.
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
    # Lazy: each metric loads its own parts (scipy, the Inception network) only when asked for.
    from pdloss.metrics.niqe import BLOCK, niqe

    if min(pred.shape[-2:]) - 2 * crop_border < BLOCK:
        result.unavailable.setdefault("niqe", f"needs images of at least {BLOCK} px per side ({stem} is smaller)")
        return None
    return float(niqe(pred, crop_border=crop_border, params=params)[0])


def _load_inception(names, weights, device, patch_size, result):
    """The one Inception extractor that FID and KID share (None when neither is asked or available)."""
    wanted = [m for m in SET_METRICS if m in names]
    if not wanted:
        return None
    # Lazy: each metric loads its own parts (scipy, the Inception network) only when asked for.
    from pdloss.metrics.fid import InceptionFeatures

    try:
        inception = InceptionFeatures(weights=weights, device=device, patch_size=patch_size)
    except PdlossError as exc:
        for m in wanted:
            result.unavailable[m] = str(exc)
        return None
    mode = f"patches of {patch_size} px" if patch_size else "whole images"
    for m in wanted:
        result.weights[m] = f"{inception.weights_label}, 299x299 bilinear, pool3, {mode}"
    return inception


def _fid_settings(inception, patch_size) -> dict[str, str]:
    return {"weights": inception.weights_label.split(" (")[0], "patch_size": str(patch_size)}


class _SetFeatures:
    """Inception features of both sets for FID and KID, extracted once per image.

    FID alone streams statistics (memory independent of the set size), as before. When KID or a
    features file needs the rows, or the reference cache holds rows, the rows are kept and FID is
    computed from them with :func:`pdloss.metrics.kid.set_metric_from_features`, so it equals
    what that function gives for the written file.
    """

    def __init__(self, inception, cache_path, patch_size, stems, want_rows, result) -> None:
        # Lazy: each metric loads its own parts (scipy, the Inception network) only when asked for.
        from pdloss.metrics.fid import FeatureStatistics

        self.inception, self.cache_path, self.patch_size, self.stems = inception, cache_path, patch_size, stems
        self.result = result
        self.cached, self.cached_count, self.cached_rows = None, None, None
        if inception is not None and cache_path is not None and Path(cache_path).is_file():
            self._read_cache(bool(want_rows))
        self.keep = inception is not None and bool(want_rows or self.cached_rows is not None)
        # Reference rows are computed unless the cache has what is needed.
        self.need_ref = inception is not None and (self.cached is None or (self.keep and self.cached_rows is None))
        self.pred_stats, self.ref_stats = FeatureStatistics(), FeatureStatistics()
        self.rows: dict[str, list[np.ndarray]] = {"pred": [], "pred_image": [], "ref": [], "ref_image": []}

    def _read_cache(self, want_rows: bool) -> None:
        # Lazy: each metric loads its own parts (scipy, the Inception network) only when asked for.
        from pdloss.metrics.fid import load_reference_features, load_statistics

        path = self.cache_path
        mu, sigma, meta = load_statistics(path)
        if meta.get("patch_size") not in (None, str(self.patch_size)):
            raise InputError(
                f"FID reference statistics {path} were computed with patch_size {meta.get('patch_size')}, "
                f"not {self.patch_size}; delete the file or pass the same setting"
            )
        self.cached, self.cached_count = (mu, sigma), meta.get("count")
        rows = load_reference_features(path)
        if rows is not None and rows[2] != self.stems:
            if want_rows:
                raise InputError(
                    f"the reference features cached in {path} belong to other images ({len(rows[2])} stems, "
                    f"first {rows[2][:3]}) than these {len(self.stems)} ({self.stems[:3]}); "
                    "delete the file or pass another path"
                )
            rows = None  # FID alone keeps the old behaviour: statistics of any reference set
        self.cached_rows = rows
        what = "statistics and features" if rows is not None else "statistics"
        self.result.notes.append(f"FID reference {what} read from {path}")

    def add(self, index: int, pred: torch.Tensor, ref: torch.Tensor) -> None:
        """Features of one pair ``(1, 3, H, W)`` in [0, 1]."""
        if self.inception is None:
            return
        sides = [("pred", pred, self.pred_stats)] + ([("ref", ref, self.ref_stats)] if self.need_ref else [])
        for side, image, stats in sides:
            f = self.inception.features(image)
            if self.keep:
                self.rows[side].append(f.numpy())
                self.rows[f"{side}_image"].append(np.full(len(f), index, dtype=np.int64))
            else:
                stats.update(f)

    def _ref_rows(self) -> tuple[np.ndarray, np.ndarray]:
        if self.cached_rows is not None:
            return self.cached_rows[0], self.cached_rows[1]
        return np.concatenate(self.rows["ref"]), np.concatenate(self.rows["ref_image"])

    def _same_set(self, ref: np.ndarray) -> bool:
        mu = self.cached[0]
        return (
            self.cached_count == str(len(ref))
            and mu.shape == (ref.shape[1],)
            and np.allclose(mu, ref.mean(0, dtype=np.float64), rtol=1e-4, atol=1e-5)
        )

    def finish(self, names, result, kid_options) -> None:
        # Lazy: each metric loads its own parts (scipy, the Inception network) only when asked for.
        from pdloss.metrics.fid import FeatureStatistics, fid_from_statistics, save_statistics
        from pdloss.metrics.kid import kid_from_features, set_metric_from_features

        if self.keep:
            pred = np.concatenate(self.rows["pred"])
            ref, ref_image = self._ref_rows()
            n, n_ref = len(pred), len(ref)
            # A statistics-only cache (FID alone wrote it, or pytorch-fid) is completed with the
            # rows when it describes these references; one of another set stays FID's reference.
            other_set = self.cached_rows is None and self.cached is not None and not self._same_set(ref)
            if other_set:
                result.notes.append(
                    f"FID against the statistics in {self.cache_path} (another reference set than these "
                    f"{n_ref} samples, which KID and features_out use); the file is left unchanged"
                )
            if "fid" in names:
                if other_set:
                    stats = FeatureStatistics()
                    stats.update(pred)
                    result.mean["fid"] = fid_from_statistics(stats, self.cached)
                else:
                    result.mean["fid"] = set_metric_from_features("fid", pred, ref)
            if "kid" in names:
                result.mean["kid"], result.mean["kid_std"] = kid_from_features(pred, ref, **kid_options)
                m = min(kid_options["subset_size"], n, n_ref)
                result.weights["kid"] += (
                    f", cubic kernel, {kid_options['subsets']} subsets of {m}, seed {kid_options['seed']}"
                )
                if m == n == n_ref:
                    result.notes.append(
                        f"KID on all {n} samples in every subset: kid_std is 0 and does not measure "
                        "sampling uncertainty (bootstrap over images for an interval)"
                    )
            if self.cache_path is not None and self.cached_rows is None and not other_set:
                stats = FeatureStatistics()
                stats.update(ref)
                save_statistics(
                    self.cache_path, stats.mean(), stats.covariance(), features=ref, image=ref_image,
                    stems=self.stems, count=n_ref, **_fid_settings(self.inception, self.patch_size),
                )  # fmt: skip
                result.notes.append(f"FID reference statistics and features written to {self.cache_path}")
        else:
            n = self.pred_stats.count
            if self.cached is None:
                if self.cache_path is not None:
                    save_statistics(
                        self.cache_path, self.ref_stats.mean(), self.ref_stats.covariance(),
                        count=self.ref_stats.count, **_fid_settings(self.inception, self.patch_size),
                    )  # fmt: skip
                    result.notes.append(f"FID reference statistics written to {self.cache_path}")
                result.mean["fid"] = fid_from_statistics(self.pred_stats, self.ref_stats)
            else:
                result.mean["fid"] = fid_from_statistics(self.pred_stats, self.cached)
        if "fid" in names and n < 2048:
            result.notes.append(
                f"FID from {n} samples{' (patches)' if self.patch_size else ''}: biased upwards "
                "for fewer than a few thousand samples; compare only at equal sample counts"
                + ("; KID is unbiased at any sample count" if "kid" in names else "")
            )

    def write_features(self, path: str | os.PathLike) -> None:
        """The ``features_out`` file (see :func:`evaluate`)."""
        if not self.keep:
            return
        ref, ref_image = self._ref_rows()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.tmp.npz")
        np.savez(
            tmp,
            pred_features=np.concatenate(self.rows["pred"]).astype(np.float32),
            pred_image=np.concatenate(self.rows["pred_image"]),
            ref_features=np.asarray(ref, np.float32),
            ref_image=np.asarray(ref_image, np.int64),
            stems=np.array(self.stems, dtype=str),
            patch_size=np.int64(self.patch_size or 0),
            weights=np.array(self.inception.weights_label),
        )
        os.replace(tmp, path)
        self.result.notes.append(f"Inception features written to {path}")


def format_markdown(result: EvaluationResult, per_image: bool = True) -> str:
    """Markdown tables: per image (optional), then means with directions and weights."""
    lines = []
    image_metrics = [m for m in result.metrics if m not in SET_METRICS]
    if per_image and image_metrics:
        lines.append("| image | " + " | ".join(f"{m} {_arrow(m)}" for m in image_metrics) + " |")
        lines.append("|---|" + "---:|" * len(image_metrics))
        for stem, row in result.per_image.items():
            lines.append(f"| {stem} | " + " | ".join(format_value(m, row.get(m), "n/a") for m in image_metrics) + " |")
        lines.append("")
    lines.append("| metric | better | mean | weights / settings |")
    lines.append("|---|---|---:|---|")
    for m in result.metrics:
        better = "higher" if HIGHER_IS_BETTER[m] else "lower"
        # A cell stays short: why a metric is unavailable (often a paragraph) is said once, below.
        weights = result.weights.get(m) or "unavailable (see below)"
        lines.append(f"| {m} {_arrow(m)} | {better} | {_fmt_mean(result, m)} | {weights} |")
    for m, reason in result.unavailable.items():
        lines.append(f"\n{m} unavailable: {reason}")
    lines.extend(f"\nNote: {n}" for n in result.notes)
    return "\n".join(lines)


def format_csv(result: EvaluationResult) -> str:
    """CSV: a header, one row per image, then a ``mean`` row (FID, KID in the mean row only;
    KID is followed by a ``kid_std`` column)."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    columns = [k for m in result.metrics for k in (m, *COMPANIONS.get(m, ()))]
    writer.writerow(["image", *columns])
    for stem, row in result.per_image.items():
        writer.writerow([stem, *("" if m in SET_METRICS or row.get(m) is None else repr(row[m]) for m in columns)])
    writer.writerow(["mean", *("" if result.mean.get(m) is None else repr(result.mean[m]) for m in columns)])
    return out.getvalue()


def _fmt_mean(result: EvaluationResult, metric: str) -> str:
    text = format_value(metric, result.mean.get(metric), "n/a")
    std = result.mean.get("kid_std") if metric == "kid" else None
    # KID's spread over its subsets, when it has one.
    return text if std is None or text == "n/a" else f"{text} ± {format_value(metric, std)}"


def _arrow(metric: str) -> str:
    return METRIC_SPECS[metric].arrow
