"""Paired bootstrap confidence intervals for comparing two trained runs on the same images.

Two runs A and B scored on the same images (and, optionally, with several seeds each, paired by
position) differ image by image; :func:`paired_bootstrap` turns the table of per-image
differences ``B - A`` of shape ``(n_seeds, n_images)`` into a mean with a bootstrap interval that
resamples images and seeds. :func:`paired_set_bootstrap` does the same for set metrics (FID, KID),
whose value exists only for a whole set, by resampling the images whose Inception features make
up the sets. :func:`compare_evaluations` reads evaluation folders (``RUN/eval`` with its
``metrics.json`` and, for set metrics, ``inception.npz``) and compares every metric;
``pdloss compare-runs`` prints the result.

Resampling scheme (hierarchical, the same for every metric given the same ``seed``): a replicate
draws ``n_seeds`` seeds with replacement (only when there are several), then ``n_images`` image
indices with replacement, the same image indices for every drawn seed, because the images are
the shared unit of the two runs; the statistic is the mean over the drawn (seed, image) cells.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pdloss.errors import InputError
from pdloss.train.layout import eval_folder_name

#: Metrics that have a value for a whole set only (no per-image value in ``metrics.json``).
SET_METRICS = ("fid", "kid")
#: Decimal places of each metric in the tables (as ``pdloss.evaluation.run._fmt``): 3 otherwise.
#: KID needs 4: its differences are a few thousandths (0.000 [0.000, 0.000] said nothing).
DIGITS = {"psnr": 2, "fid": 2, "kid": 4}

SetMetricFn = Callable[[str, np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class BootstrapInterval:
    """A mean difference ``B - A`` with its bootstrap percentile interval.

    Attributes:
        mean: the observed mean difference (over all present cells; set metrics: the mean over
            seeds of the difference on the full sets).
        low, high: the interval's bounds (``low <= high``).
        n_seeds, n_images: how many seeds and images had a value.
        excludes_zero: the interval lies strictly above or strictly below 0.
        confidence: the interval's nominal coverage, e.g. 0.95.
        n_boot: bootstrap replicates drawn.
    """

    mean: float
    low: float
    high: float
    n_seeds: int
    n_images: int
    excludes_zero: bool
    confidence: float = 0.95
    n_boot: int = 2000

    def to_json(self) -> dict[str, Any]:
        return {
            "mean": self.mean,
            "low": self.low,
            "high": self.high,
            "n_seeds": self.n_seeds,
            "n_images": self.n_images,
            "excludes_zero": self.excludes_zero,
            "confidence": self.confidence,
            "n_boot": self.n_boot,
        }


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


# --------------------------------------------------------------------------------------------
# The bootstrap


def _check_settings(n_boot: int, confidence: float) -> None:
    if int(n_boot) != n_boot or n_boot < 1:
        raise InputError(f"n_boot must be a positive integer, got {n_boot!r}")
    if not 0 < confidence < 1:
        raise InputError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")


def _draws(n_boot: int, n_seeds: int, n_images: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Replicate draws: seed indices ``(n_boot, n_seeds)`` and image indices ``(n_boot, n_images)``.

    Seeds first, then images, from one generator: every metric compared with the same ``seed``
    and the same table size sees the same resamples.
    """
    rng = np.random.default_rng(seed)
    if n_seeds > 1:
        seed_idx = rng.integers(0, n_seeds, size=(n_boot, n_seeds))
    else:
        seed_idx = np.zeros((n_boot, 1), dtype=np.int64)
    image_idx = rng.integers(0, n_images, size=(n_boot, n_images))
    return seed_idx, image_idx


def _counts(idx: np.ndarray, n: int) -> np.ndarray:
    """How often each of ``n`` values occurs in each row of ``idx`` ``(B, k)`` -> ``(B, n)``."""
    b = idx.shape[0]
    flat = (idx + n * np.arange(b)[:, None]).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n)


def _interval(mean: float, replicates: np.ndarray, n_seeds: int, n_images: int, confidence: float) -> BootstrapInterval:
    replicates = replicates[np.isfinite(replicates)]
    if replicates.size == 0:
        raise InputError("no bootstrap replicate had a value")
    alpha = (1.0 - confidence) / 2
    low, high = (float(v) for v in np.quantile(replicates, [alpha, 1.0 - alpha]))
    return BootstrapInterval(
        mean=float(mean),
        low=low,
        high=high,
        n_seeds=n_seeds,
        n_images=n_images,
        excludes_zero=bool(low > 0 or high < 0),
        confidence=float(confidence),
        n_boot=len(replicates),
    )


def paired_bootstrap(
    diffs: np.ndarray | Sequence, n_boot: int = 2000, confidence: float = 0.95, seed: int = 0
) -> BootstrapInterval:
    """Mean of paired differences with a hierarchical bootstrap percentile interval.

    Args:
        diffs: ``(n_seeds, n_images)`` per-image differences ``B - A`` (or ``(n_images,)`` for one
            seed); NaN where a value is missing. Seeds or images without any value are dropped.
        n_boot: bootstrap replicates.
        confidence: nominal coverage of the interval, in (0, 1).
        seed: seed of the resampling (same seed, same interval).

    Returns:
        :class:`BootstrapInterval` whose ``mean`` is the mean over all present cells.

    A replicate resamples seeds (when there are several) and images with replacement, the same
    images for every drawn seed, and takes the mean over the drawn present cells. The interval is
    the percentile interval of the replicates: the statistic is a mean of differences, nearly
    unbiased and close to symmetric, so BCa's bias and skew corrections are small here, while
    the percentile method needs no jackknife (which for FID/KID would cost one set-metric
    evaluation per left-out image and seed) and treats per-image and set metrics alike. Like any
    bootstrap interval it is somewhat narrow for few images (about 93% coverage for a nominal
    95% at 30 images) and cannot be better than the spread the seeds show: with 2-3 seeds the
    between-seed part of the uncertainty is itself uncertain.
    """
    _check_settings(n_boot, confidence)
    d = np.asarray(diffs, dtype=np.float64)
    if d.ndim == 1:
        d = d[None]
    if d.ndim != 2:
        raise InputError(f"diffs must be (n_seeds, n_images) or (n_images,), got shape {d.shape}")
    if np.isinf(d).any():
        raise InputError("diffs contain infinite values; use NaN for missing values")
    present = ~np.isnan(d)
    d = d[present.any(axis=1)][:, present.any(axis=0)]
    present = ~np.isnan(d)
    if d.size == 0:
        raise InputError("no paired difference to bootstrap: every value is missing (or diffs is empty)")
    n_seeds, n_images = d.shape
    values = np.where(present, d, 0.0)
    weights = present.astype(np.float64)
    seed_idx, image_idx = _draws(int(n_boot), n_seeds, n_images, seed)
    seed_counts = _counts(seed_idx, n_seeds).astype(np.float64)
    image_counts = _counts(image_idx, n_images).astype(np.float64)
    # Sum and number of drawn present cells of each replicate: seed counts x table x image counts.
    sums = ((seed_counts @ values) * image_counts).sum(axis=1)
    cells = ((seed_counts @ weights) * image_counts).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        replicates = np.where(cells > 0, sums / cells, np.nan)
    return _interval(values.sum() / weights.sum(), replicates, n_seeds, n_images, confidence)


@dataclass(frozen=True)
class FeatureRows:
    """Feature rows of a set and the image each row comes from.

    ``features`` ``(N, D)``; ``image`` ``(N,)`` integers in ``[0, n_images)`` (an image may own
    several rows, e.g. its patches, or none).
    """

    features: np.ndarray
    image: np.ndarray

    def __post_init__(self) -> None:
        if self.features.ndim != 2 or self.image.shape != (self.features.shape[0],):
            raise InputError(
                f"features (N, D) and image (N,) expected, got {self.features.shape} and {self.image.shape}"
            )

    def gather(self, images: np.ndarray, n_images: int) -> np.ndarray:
        """The rows of the drawn ``images`` (a drawn-twice image's rows appear twice)."""
        order = np.argsort(self.image, kind="stable")
        counts = np.bincount(self.image, minlength=n_images)
        starts = np.cumsum(counts) - counts
        lengths = counts[images]
        total = int(lengths.sum())
        # Position k of the output belongs to drawn image j; its row is starts[j] + (k - first k of j).
        first = np.cumsum(lengths) - lengths
        offsets = np.repeat(starts[images] - first, lengths) + np.arange(total)
        return self.features[order[offsets]]


def paired_set_bootstrap(
    sets_a: Sequence[tuple[FeatureRows, FeatureRows]],
    sets_b: Sequence[tuple[FeatureRows, FeatureRows]],
    n_images: int,
    metric: Callable[[np.ndarray, np.ndarray], float],
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    progress: bool = False,
) -> tuple[BootstrapInterval, float, float]:
    """Bootstrap interval of ``metric(B) - metric(A)`` for a set metric (FID, KID).

    Args:
        sets_a, sets_b: per seed (paired by position) ``(prediction rows, reference rows)``.
        n_images: number of shared images (the ``image`` indices of every set lie below it).
        metric: ``metric(pred_features, ref_features) -> float``.
        n_boot, confidence, seed: as :func:`paired_bootstrap` (the same draws for the same seed).
        progress: a tqdm bar on stderr over the replicates.

    Returns:
        ``(interval, mean_a, mean_b)``: the observed difference is the mean over seeds of
        ``metric(B_s, ref_B_s) - metric(A_s, ref_A_s)`` on the full sets; a replicate draws seeds
        and images as :func:`paired_bootstrap` and takes, for each drawn seed, the same metric
        difference on the drawn images' rows (predictions and references alike), averaged over the
        drawn seeds. Duplicated rows make a resampled FID or KID larger than a fresh sample's would be;
        the bias is similar on both sides, which is why only the difference is bootstrapped.
        Cost: ``2 x n_boot x n_seeds`` metric evaluations.
    """
    from tqdm import tqdm

    _check_settings(n_boot, confidence)
    if not sets_a or len(sets_a) != len(sets_b):
        raise InputError(f"need the same, non-zero number of seeds on both sides, got {len(sets_a)} and {len(sets_b)}")
    if n_images < 1:
        raise InputError("no images to resample")
    n_seeds = len(sets_a)
    full_a = np.array([metric(p.features, r.features) for p, r in sets_a])
    full_b = np.array([metric(p.features, r.features) for p, r in sets_b])
    seed_idx, image_idx = _draws(int(n_boot), n_seeds, n_images, seed)
    seed_counts = _counts(seed_idx, n_seeds)
    replicates = np.empty(len(seed_idx))
    for b in tqdm(
        range(len(seed_idx)), desc="set-metric bootstrap", file=sys.stderr, leave=False, disable=not progress
    ):
        images = image_idx[b]
        total = 0.0
        for s in np.flatnonzero(seed_counts[b]):  # a seed drawn twice is evaluated once, counted twice
            (pa, ra), (pb, rb) = sets_a[s], sets_b[s]
            diff = metric(pb.gather(images, n_images), rb.gather(images, n_images)) - metric(
                pa.gather(images, n_images), ra.gather(images, n_images)
            )
            total += seed_counts[b, s] * diff
        replicates[b] = total / seed_counts[b].sum()
    interval = _interval(float(np.mean(full_b - full_a)), replicates, n_seeds, n_images, confidence)
    return interval, float(full_a.mean()), float(full_b.mean())


# --------------------------------------------------------------------------------------------
# Evaluation folders


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
    from pdloss.metrics.evaluate import HIGHER_IS_BETTER

    return HIGHER_IS_BETTER.get(metric, False if metric == "kid" else True)


def _known_metrics() -> list[str]:
    from pdloss.metrics.evaluate import METRICS

    return list(dict.fromkeys([*METRICS, *SET_METRICS]))


def _default_set_metric_fn() -> SetMetricFn | None:
    """pdloss.metrics' ``set_metric_from_features`` where this version has it."""
    import importlib

    for module in ("pdloss.metrics", "pdloss.metrics.kid", "pdloss.metrics.fid"):
        try:
            fn = getattr(importlib.import_module(module), "set_metric_from_features", None)
        except ImportError:
            fn = None
        if fn is not None:
            return fn
    return None


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
    n_boot: int = 2000,
    seed: int = 0,
    set_metric_fn: SetMetricFn | None = None,
    confidence: float = 0.95,
    n_boot_set: int | None = None,
    progress: bool = False,
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

    Returns:
        :class:`Comparison`; ``comparison.metrics[name]`` is a :class:`MetricComparison`. Per-image
        metrics (PSNR, SSIM, MS-SSIM, LPIPS, NIQE) use the per-image values of ``metrics.json``
        (pairs where either side is null are left out; the means are over the pairs kept);
        FID and KID are recomputed from each folder's ``inception.npz``. A metric that cannot be
        compared is listed in ``comparison.unavailable`` with the reason.
    """
    _check_settings(n_boot, confidence)
    if n_boot_set is not None:
        _check_settings(n_boot_set, confidence)
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
                sets[:n_seeds], sets[n_seeds:], len(stems), bound, n_boot_set or n_boot, confidence, seed, progress
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
        interval = paired_bootstrap(diff, n_boot, confidence, seed)
        result.metrics[metric] = MetricComparison(
            metric, "per_image", interval, float(a[paired].mean()), float(b[paired].mean()), higher
        )
    return result


# --------------------------------------------------------------------------------------------
# Text


def _number(value: float, digits: int) -> str:
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.00"


def format_interval(result: BootstrapInterval | MetricComparison, metric: str) -> str:
    """``"-0.21 [-0.35, -0.08]*"``: mean and interval, with a star when it excludes 0.

    Digits per metric as in the result tables (2 for PSNR and FID, 3 otherwise).
    """
    interval = result.interval if isinstance(result, MetricComparison) else result
    digits = DIGITS.get(metric, 3)
    star = "*" if interval.excludes_zero else ""
    return f"{_number(interval.mean, digits)} [{_number(interval.low, digits)}, {_number(interval.high, digits)}]{star}"
