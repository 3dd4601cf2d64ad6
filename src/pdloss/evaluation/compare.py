"""Paired comparisons of evaluation folders: run B against run A on the same images.

:func:`compare_evaluations` reads evaluation folders (``RUN/eval`` with its ``metrics.json`` and,
for set metrics, ``inception.npz``) and compares every metric with :mod:`pdloss.stats`' paired
bootstrap, resampling photos of one scene together (:func:`pdloss.data.split.scene_groups`);
``pdloss compare-runs`` prints the result.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pdloss.data.split import scene_groups
from pdloss.errors import InputError
from pdloss.metrics.kid import set_metric_from_features
from pdloss.metrics.registry import METRIC_SPECS, list_metrics, set_metrics
from pdloss.runs.layout import eval_folder_name
from pdloss.stats import (
    N_BOOT,
    BootstrapInterval,
    FeatureRows,
    check_settings,
    paired_bootstrap,
    paired_set_bootstrap,
)

SET_METRICS = set_metrics()

SetMetricFn = Callable[[str, np.ndarray, np.ndarray], float]


def scene_clusters(stems: Sequence[str]) -> list[str]:
    """The scene of each image stem (the split manifest's group; an unknown stem is its own scene)."""
    groups = scene_groups()
    return [groups.get(stem, stem) for stem in stems]


@dataclass(frozen=True)
class MetricComparison:
    """One metric of :func:`compare_evaluations`: the interval of ``B - A`` and both sides' means.

    ``kind`` is ``"per_image"`` (paired per-image differences) or ``"set"`` (FID, KID from
    ``inception.npz``; their means are recomputed from the features, averaged over seeds).
    """

    metric: str
    kind: str
    interval: BootstrapInterval
    mean_a: float
    mean_b: float
    higher_is_better: bool

    @property
    def verdict(self) -> str:
        """B against A: ``"better"``, ``"worse"`` or ``"no difference"`` (interval contains 0)."""
        if not self.interval.excludes_zero:
            return "no difference"
        return "better" if (self.interval.mean > 0) == self.higher_is_better else "worse"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "mean_a": self.mean_a,
            "mean_b": self.mean_b,
            "higher_is_better": self.higher_is_better,
            "verdict": self.verdict,
            "difference": self.interval.to_json(),
        }


@dataclass
class Comparison:
    """What :func:`compare_evaluations` found: ``metrics[name]`` per compared metric.

    ``unavailable`` maps each requested metric that could not be compared to the reason.
    """

    evals_a: list[Path]
    evals_b: list[Path]
    stems: list[str]
    n_boot: int
    seed: int
    confidence: float
    n_boot_set: int | None = None
    metrics: dict[str, MetricComparison] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "a": [str(p) for p in self.evals_a],
            "b": [str(p) for p in self.evals_b],
            "images": len(self.stems),
            "seeds": len(self.evals_a),
            "n_boot": self.n_boot,
            "seed": self.seed,
            "confidence": self.confidence,
            "n_boot_set": self.n_boot_set or self.n_boot,
            "metrics": {m: c.to_json() for m, c in self.metrics.items()},
            "unavailable": dict(self.unavailable),
        }


def resolve_evaluation(path: str | Path, tag: str | None = None) -> Path:
    """An evaluation folder (holding ``metrics.json``) from a run folder or an evaluation folder.

    A folder with ``metrics.json`` is taken as is; otherwise ``RUN/eval`` (``RUN/eval-TAG`` with
    ``tag``). Raises :class:`InputError` naming what was looked for.
    """
    path = Path(path)
    if (path / "metrics.json").is_file() and not tag:
        return path
    candidate = path / eval_folder_name(tag)
    if (candidate / "metrics.json").is_file():
        return candidate
    if (path / "metrics.json").is_file():
        return path
    raise InputError(
        f"{path}: no evaluation found (looked for {path / 'metrics.json'} and {candidate / 'metrics.json'}); "
        f"run `pdloss evaluate {path}` first"
    )


def _read_metrics(folder: Path) -> dict[str, Any]:
    file = Path(folder) / "metrics.json"
    if not file.is_file():
        raise InputError(f"{folder}: no metrics.json (is it an evaluation folder? run `pdloss evaluate` first)")
    try:
        data = json.loads(file.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{file}: unreadable ({exc})") from exc
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("per_image"), dict)
        or not isinstance(data.get("mean"), dict)
    ):
        raise InputError(f"{file}: expected an object with 'mean' and 'per_image'")
    if not data["per_image"]:
        raise InputError(f"{file}: no per-image values (no image was evaluated)")
    return data


def _short(names: Sequence[str], limit: int = 8) -> str:
    names = sorted(names)
    more = f" (+{len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _check_stems(folders: Sequence[Path], stem_sets: Sequence[set[str]], what: str = "metrics.json") -> list[str]:
    reference = stem_sets[0]
    problems = []
    for folder, stems in zip(folders[1:], stem_sets[1:], strict=True):
        missing, extra = reference - stems, stems - reference
        if missing:
            problems.append(f"{folder} lacks {_short(missing)}")
        if extra:
            problems.append(f"{folder} has {_short(extra)} that {folders[0]} lacks")
    if problems:
        raise InputError(f"the evaluations are not scored on the same images ({what}): " + "; ".join(problems))
    return sorted(reference)


def _higher_is_better(metric: str) -> bool:
    return METRIC_SPECS[metric].higher_is_better


def _known_metrics() -> list[str]:
    return list_metrics()


def _default_set_metric_fn() -> SetMetricFn | None:
    """The set-metric function of :mod:`pdloss.metrics` (a seam: tests replace it)."""
    return set_metric_from_features


def _value(x: Any) -> float:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else math.nan


def _per_image_table(records: Sequence[dict], stems: Sequence[str], metric: str) -> np.ndarray:
    """``(n_seeds, n_images)`` values of ``metric`` (NaN where null or absent)."""
    return np.array([[_value(r["per_image"][s].get(metric)) for s in stems] for r in records], dtype=np.float64)


def _unavailable_reason(records: Sequence[dict], folders: Sequence[Path], metric: str, default: str) -> str:
    for record, folder in zip(records, folders, strict=True):
        why = (record.get("unavailable") or {}).get(metric)
        if why:
            return f"{folder}: {str(why).split('. To get')[0]}"
    return default


def _read_inception(folder: Path, stems: Sequence[str]) -> tuple[FeatureRows, FeatureRows, str] | str:
    """(prediction rows, reference rows, settings) of ``inception.npz``, or why it is missing."""
    file = Path(folder) / "inception.npz"
    if not file.is_file():
        return f"{file} is missing (re-evaluate the run with this version of pdloss to write it)"
    index = {s: i for i, s in enumerate(stems)}
    try:
        with np.load(file, allow_pickle=False) as z:
            npz_stems = [str(s) for s in z["stems"]]
            arrays = {k: np.asarray(z[k]) for k in ("pred_features", "pred_image", "ref_features", "ref_image")}
            settings = []  # what makes features of two evaluations comparable at all
            for key in ("patch_size", "weights"):
                try:
                    settings.append(f"{key} {z[key]}")
                except (KeyError, ValueError):
                    settings.append(f"{key} unknown")
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(f"{file}: unreadable or incomplete ({exc})") from exc
    if set(npz_stems) != set(stems) or len(npz_stems) != len(set(npz_stems)):
        missing, extra = _short(set(stems) - set(npz_stems)) or "-", _short(set(npz_stems) - set(stems)) or "-"
        raise InputError(
            f"{file} lists other images than {Path(folder) / 'metrics.json'} (missing: {missing}; extra: {extra}); "
            "re-evaluate the run"
        )
    remap = np.array([index[s] for s in npz_stems], dtype=np.int64)
    rows = []
    for side in ("pred", "ref"):
        image = arrays[f"{side}_image"].astype(np.int64)
        if image.size and (image.min() < 0 or image.max() >= len(npz_stems)):
            raise InputError(f"{file}: {side}_image indices outside 0..{len(npz_stems) - 1}")
        rows.append(FeatureRows(arrays[f"{side}_features"], remap[image]))  # float32 as stored
    return rows[0], rows[1], ", ".join(settings)


def _load_sets(
    folders: Sequence[Path],
    stems: Sequence[str],
    set_metric_fn: SetMetricFn | None,
    wanted: Sequence[str],
    unavailable: dict[str, str],
) -> tuple[list[tuple[FeatureRows, FeatureRows]] | None, SetMetricFn | None]:
    """Every folder's (prediction, reference) Inception rows and the set-metric function, or
    ``(None, None)`` with the reason written to ``unavailable`` for each wanted metric."""
    fn = set_metric_fn or _default_set_metric_fn()
    why = None if fn is not None else "pdloss.metrics.set_metric_from_features is not available in this version"
    loaded = [] if why else [_read_inception(f, stems) for f in folders]
    why = why or next((item for item in loaded if isinstance(item, str)), None)
    if why:
        unavailable.update(dict.fromkeys(wanted, why))
        return None, None
    settings = {str(f): p for f, (_, _, p) in zip(folders, loaded, strict=True)}
    if len(set(settings.values())) > 1:
        raise InputError(
            "the evaluations' Inception features use different patch sizes or weights (their FID/KID are "
            f"different numbers): {settings}"
        )
    return [(pred, ref) for pred, ref, _ in loaded], fn


def compare_evaluations(
    evals_a: Sequence[str | Path],
    evals_b: Sequence[str | Path],
    metrics: Sequence[str] | None = None,
    n_boot: int = N_BOOT,
    seed: int = 0,
    set_metric_fn: SetMetricFn | None = None,
    confidence: float = 0.95,
    n_boot_set: int | None = None,
    progress: bool = False,
    clusters: Sequence[str] | None = None,
) -> Comparison:
    """Compare run B against run A on the same images: ``B - A`` per metric with its interval.

    Args:
        evals_a, evals_b: evaluation folders (with ``metrics.json``), one per seed, paired by
            position; every folder must list the same image stems.
        metrics: metric names (default: every metric the folders' means list).
        n_boot: bootstrap replicates of per-image metrics.
        seed: seed of the resampling.
        set_metric_fn: ``fn(name, pred_features, ref_features) -> float`` for "fid"/"kid"
            (default: ``pdloss.metrics.set_metric_from_features`` when this version has it).
        confidence: nominal coverage of the intervals.
        n_boot_set: replicates of set metrics (default ``n_boot``); each costs two set-metric
            evaluations per drawn seed, so a lower number may be wanted for large sets.
        progress: a tqdm bar on stderr while set metrics are bootstrapped.
        clusters: the scene of each image, in the order of the sorted stems (default: the split
            manifest's scenes, :func:`scene_clusters`); photos of one scene are resampled together.

    Returns:
        :class:`Comparison`; ``comparison.metrics[name]`` is a :class:`MetricComparison`. Per-image
        metrics (PSNR, SSIM, MS-SSIM, LPIPS, NIQE) use the per-image values of ``metrics.json``
        (pairs where either side is null are left out; the means are over the pairs kept);
        FID and KID are recomputed from each folder's ``inception.npz``. A metric that cannot be
        compared is listed in ``comparison.unavailable`` with the reason.
    """
    check_settings(n_boot, confidence)
    if n_boot_set is not None:
        check_settings(n_boot_set, confidence)
    folders_a, folders_b = [Path(p) for p in evals_a], [Path(p) for p in evals_b]
    if not folders_a or not folders_b:
        raise InputError("compare_evaluations needs at least one evaluation folder on each side")
    if len(folders_a) != len(folders_b):
        raise InputError(
            f"A has {len(folders_a)} evaluation(s) and B has {len(folders_b)}; they are paired by seed, "
            "so give the same number on both sides"
        )
    folders = folders_a + folders_b
    records = [_read_metrics(f) for f in folders]
    stems = _check_stems(folders, [set(r["per_image"]) for r in records])
    n_seeds = len(folders_a)
    rec_a, rec_b = records[:n_seeds], records[n_seeds:]

    known = _known_metrics()
    if metrics is None:
        listed = {m for r in records for m in r["mean"]}
        listed |= {m for r in records for values in r["per_image"].values() for m in values}
        names = [m for m in known if m in listed]
    else:
        names = [m.strip().lower().replace("-", "_") for m in metrics]
        names = [m for m in dict.fromkeys(names) if m]
        unknown = [m for m in names if m not in known]
        if unknown or not names:
            raise InputError(f"unknown metric(s) {unknown or list(metrics)!r}; choose from {', '.join(known)}")

    result = Comparison(folders_a, folders_b, stems, int(n_boot), int(seed), float(confidence), n_boot_set)
    scenes = list(clusters) if clusters is not None else scene_clusters(stems)
    wanted_sets = [m for m in names if m in SET_METRICS]
    sets, fn = (None, None)
    if wanted_sets:
        sets, fn = _load_sets(folders, stems, set_metric_fn, wanted_sets, result.unavailable)
    for metric in names:
        higher = _higher_is_better(metric)
        if metric in SET_METRICS:
            if sets is None:
                continue  # reason recorded by _load_sets

            def bound(pred: np.ndarray, ref: np.ndarray, _fn: SetMetricFn = fn, _m: str = metric) -> float:
                return float(_fn(_m, pred, ref))

            interval, mean_a, mean_b = paired_set_bootstrap(
                sets[:n_seeds],
                sets[n_seeds:],
                len(stems),
                bound,
                n_boot_set or n_boot,
                confidence,
                seed,
                progress,
                clusters=scenes,
            )
            result.metrics[metric] = MetricComparison(metric, "set", interval, mean_a, mean_b, higher)
            continue
        a, b = _per_image_table(rec_a, stems, metric), _per_image_table(rec_b, stems, metric)
        diff = b - a
        paired = ~np.isnan(diff)
        if not paired.any():
            result.unavailable[metric] = _unavailable_reason(
                records, folders, metric, "no image has a value on both sides"
            )
            continue
        interval = paired_bootstrap(diff, n_boot, confidence, seed, clusters=scenes)
        result.metrics[metric] = MetricComparison(
            metric, "per_image", interval, float(a[paired].mean()), float(b[paired].mean()), higher
        )
    return result


