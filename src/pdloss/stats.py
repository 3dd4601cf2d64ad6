"""Paired bootstrap confidence intervals: the statistics, and nothing else.

Two runs A and B scored on the same images (and, optionally, with several seeds each, paired by
position) differ image by image; :func:`paired_bootstrap` turns the table of per-image
differences ``B - A`` of shape ``(n_seeds, n_images)`` into a mean with a bootstrap interval.
:func:`paired_set_bootstrap` does the same for set metrics (FID, KID), whose value exists only for
a whole set, by resampling the images whose Inception features make up the sets. Reading
evaluation folders is :mod:`pdloss.evaluation.compare`'s job; printing is :mod:`pdloss.report`'s.

Resampling scheme (hierarchical, one procedure for every metric: the same ``seed`` and table size
give the same draws): a replicate draws ``n_seeds`` seeds with replacement (only when there are
several), then ``n_clusters`` clusters of images with replacement, the same clusters for every
drawn seed, because the images are the shared unit of the two runs. A cluster is a scene: photos
of one scene (a stereo pair, two views of one wall) are not independent samples and are drawn
together; without ``clusters`` every image is its own cluster. The statistic is the mean over the
drawn (seed, image) cells (set metrics: the metric on the drawn images' rows).

Monte-Carlo error: a percentile bound estimated from B replicates moves between bootstrap seeds.
:attr:`BootstrapInterval.mc_error` estimates its standard error from the replicates themselves
(the order statistics one binomial standard deviation either side of the bound, halved), so a
bound is stable at a printed digit when ``mc_error`` is well below half that digit.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from pdloss.errors import InputError

#: Replicates of every interval (per-image and set metrics alike). With 4000, a 2.5% bound rests
#: on 100 replicates; its Monte-Carlo error is about 4% of the interval's half-width.
N_BOOT = 4000


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
        n_clusters: independent units resampled (scenes; ``n_images`` without clusters).
        mc_error: estimated Monte-Carlo standard error of the bounds (the larger of the two).
    """

    mean: float
    low: float
    high: float
    n_seeds: int
    n_images: int
    excludes_zero: bool
    confidence: float = 0.95
    n_boot: int = N_BOOT
    n_clusters: int | None = None
    mc_error: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "mean": self.mean,
            "low": self.low,
            "high": self.high,
            "n_seeds": self.n_seeds,
            "n_images": self.n_images,
            "n_clusters": self.n_clusters if self.n_clusters is not None else self.n_images,
            "excludes_zero": self.excludes_zero,
            "confidence": self.confidence,
            "n_boot": self.n_boot,
            "mc_error": self.mc_error,
        }


def check_settings(n_boot: int, confidence: float) -> None:
    """An InputError for a replicate count that is not a positive integer or a confidence outside (0, 1)."""
    if int(n_boot) != n_boot or n_boot < 1:
        raise InputError(f"n_boot must be a positive integer, got {n_boot!r}")
    if not 0 < confidence < 1:
        raise InputError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")


def cluster_index(clusters: Sequence | np.ndarray | None, n_images: int) -> np.ndarray:
    """Cluster labels (any hashable per image, or None) -> integer labels ``(n_images,)`` in
    ``[0, n_clusters)``, numbered in order of first appearance."""
    if clusters is None:
        return np.arange(n_images)
    labels = list(clusters)
    if len(labels) != n_images:
        raise InputError(f"{len(labels)} cluster labels for {n_images} images")
    first: dict[Any, int] = {}
    return np.array([first.setdefault(label, len(first)) for label in labels], dtype=np.int64)


def _draws(n_boot: int, n_seeds: int, clusters: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Replicate draws: seed counts ``(n_boot, n_seeds)`` and image counts ``(n_boot, n_images)``.

    Seeds first, then clusters, from one generator: every metric compared with the same ``seed``
    and the same table sees the same resamples. An image's count is its cluster's.
    """
    rng = np.random.default_rng(seed)
    if n_seeds > 1:
        seed_idx = rng.integers(0, n_seeds, size=(n_boot, n_seeds))
    else:
        seed_idx = np.zeros((n_boot, 1), dtype=np.int64)
    n_clusters = int(clusters.max()) + 1
    cluster_idx = rng.integers(0, n_clusters, size=(n_boot, n_clusters))
    return _counts(seed_idx, n_seeds), _counts(cluster_idx, n_clusters)[:, clusters]


def _counts(idx: np.ndarray, n: int) -> np.ndarray:
    """How often each of ``n`` values occurs in each row of ``idx`` ``(B, k)`` -> ``(B, n)``."""
    b = idx.shape[0]
    flat = (idx + n * np.arange(b)[:, None]).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n)


def quantile_mc_error(replicates: np.ndarray, q: float) -> float:
    """Monte-Carlo standard error of the ``q`` quantile of ``replicates``: half the distance between
    the order statistics ``B q -/+ sqrt(B q (1 - q))`` (a binomial standard deviation of the rank)."""
    r = np.sort(np.asarray(replicates, np.float64))
    b = len(r)
    spread = np.sqrt(b * q * (1 - q))
    lo = int(np.clip(np.floor(b * q - spread), 0, b - 1))
    hi = int(np.clip(np.ceil(b * q + spread), 0, b - 1))
    return float(r[hi] - r[lo]) / 2


def _interval(
    mean: float,
    replicates: np.ndarray,
    n_seeds: int,
    n_images: int,
    confidence: float,
    n_clusters: int | None = None,
) -> BootstrapInterval:
    replicates = replicates[np.isfinite(replicates)]
    if replicates.size == 0:
        raise InputError("no bootstrap replicate had a value")
    alpha = (1.0 - confidence) / 2
    low, high = (float(v) for v in np.quantile(replicates, [alpha, 1.0 - alpha]))
    mc = max(quantile_mc_error(replicates, alpha), quantile_mc_error(replicates, 1.0 - alpha))
    return BootstrapInterval(
        mean=float(mean),
        low=low,
        high=high,
        n_seeds=n_seeds,
        n_images=n_images,
        excludes_zero=bool(low > 0 or high < 0),
        confidence=float(confidence),
        n_boot=len(replicates),
        n_clusters=n_clusters if n_clusters is not None else n_images,
        mc_error=mc,
    )


def paired_bootstrap(
    diffs: np.ndarray | Sequence,
    n_boot: int = N_BOOT,
    confidence: float = 0.95,
    seed: int = 0,
    clusters: Sequence | np.ndarray | None = None,
) -> BootstrapInterval:
    """Mean of paired differences with a hierarchical bootstrap percentile interval.

    Args:
        diffs: ``(n_seeds, n_images)`` per-image differences ``B - A`` (or ``(n_images,)`` for one
            seed); NaN where a value is missing. Seeds or images without any value are dropped.
        n_boot: bootstrap replicates.
        confidence: nominal coverage of the interval, in (0, 1).
        seed: seed of the resampling (same seed, same interval).
        clusters: ``(n_images,)`` labels; images with one label (one scene) are drawn together.

    Returns:
        :class:`BootstrapInterval` whose ``mean`` is the mean over all present cells.

    A replicate resamples seeds (when there are several) and clusters of images with replacement,
    the same clusters for every drawn seed, and takes the mean over the drawn present cells. The
    interval is the percentile interval of the replicates: the statistic is a mean of differences,
    nearly unbiased and close to symmetric, so BCa's bias and skew corrections are small here,
    while the percentile method needs no jackknife (which for FID/KID would cost one set-metric
    evaluation per left-out image and seed) and treats per-image and set metrics alike. Like any
    bootstrap interval it is somewhat narrow for few clusters (about 93% coverage for a nominal
    95% at 30) and cannot be better than the spread the seeds show: with 2-3 seeds the
    between-seed part of the uncertainty is itself uncertain.
    """
    check_settings(n_boot, confidence)
    d = np.asarray(diffs, dtype=np.float64)
    if d.ndim == 1:
        d = d[None]
    if d.ndim != 2:
        raise InputError(f"diffs must be (n_seeds, n_images) or (n_images,), got shape {d.shape}")
    if np.isinf(d).any():
        raise InputError("diffs contain infinite values; use NaN for missing values")
    labels = cluster_index(clusters, d.shape[1])
    present = ~np.isnan(d)
    kept_images = present.any(axis=0)
    d = d[present.any(axis=1)][:, kept_images]
    labels = cluster_index(labels[kept_images], d.shape[1])
    present = ~np.isnan(d)
    if d.size == 0:
        raise InputError("no paired difference to bootstrap: every value is missing (or diffs is empty)")
    n_seeds, n_images = d.shape
    values = np.where(present, d, 0.0)
    weights = present.astype(np.float64)
    seed_counts, image_counts = _draws(int(n_boot), n_seeds, labels, seed)
    seed_counts, image_counts = seed_counts.astype(np.float64), image_counts.astype(np.float64)
    # Sum and number of drawn present cells of each replicate: seed counts x table x image counts.
    sums = ((seed_counts @ values) * image_counts).sum(axis=1)
    cells = ((seed_counts @ weights) * image_counts).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        replicates = np.where(cells > 0, sums / cells, np.nan)
    n_clusters = int(labels.max()) + 1
    return _interval(values.sum() / weights.sum(), replicates, n_seeds, n_images, confidence, n_clusters)


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
    n_boot: int = N_BOOT,
    confidence: float = 0.95,
    seed: int = 0,
    progress: bool = False,
    clusters: Sequence | np.ndarray | None = None,
    weighted: Callable[[np.ndarray, np.ndarray], Callable[[np.ndarray, np.ndarray], float] | None] | None = None,
) -> tuple[BootstrapInterval, float, float]:
    """Bootstrap interval of ``metric(B) - metric(A)`` for a set metric (FID, KID).

    Args:
        sets_a, sets_b: per seed (paired by position) ``(prediction rows, reference rows)``.
        n_images: number of shared images (the ``image`` indices of every set lie below it).
        metric: ``metric(pred_features, ref_features) -> float``.
        n_boot, confidence, seed, clusters: as :func:`paired_bootstrap` (the same draws for the
            same seed, clusters and table size).
        progress: a tqdm bar on stderr over the replicates.
        weighted: optional ``weighted(pred_features, ref_features) -> value(c_pred, c_ref)``, the
            metric of the rows repeated ``c`` times (:func:`pdloss.metrics.resampled.weighted_set_metric`);
            it must equal ``metric`` on the gathered rows. Precomputed once per set, it replaces the
            gathering and makes a replicate far cheaper; None (or a None value) gathers rows.

    Returns:
        ``(interval, mean_a, mean_b)``: the observed difference is the mean over seeds of
        ``metric(B_s, ref_B_s) - metric(A_s, ref_A_s)`` on the full sets; a replicate draws seeds
        and clusters as :func:`paired_bootstrap` and takes, for each drawn seed, the same metric
        difference on the drawn images' rows (predictions and references alike), averaged over the
        drawn seeds. Duplicated rows make a resampled FID or KID larger than a fresh sample's would be;
        the bias is similar on both sides, which is why only the difference is bootstrapped.
        Cost: ``2 x n_boot x n_seeds`` metric evaluations.
    """
    check_settings(n_boot, confidence)
    if not sets_a or len(sets_a) != len(sets_b):
        raise InputError(f"need the same, non-zero number of seeds on both sides, got {len(sets_a)} and {len(sets_b)}")
    if n_images < 1:
        raise InputError("no images to resample")
    labels = cluster_index(clusters, n_images)
    n_seeds = len(sets_a)
    full_a = np.array([metric(p.features, r.features) for p, r in sets_a])
    full_b = np.array([metric(p.features, r.features) for p, r in sets_b])
    seed_counts, image_counts = _draws(int(n_boot), n_seeds, labels, seed)
    every_image = np.arange(n_images)

    def side(rows: tuple[FeatureRows, FeatureRows]) -> Callable[[np.ndarray], float]:
        """The metric of one (prediction, reference) pair as a function of the image counts."""
        pred, ref = rows
        fast = weighted(pred.features, ref.features) if weighted is not None else None
        if fast is not None:
            return lambda counts: fast(counts[pred.image], counts[ref.image])

        def gathered(counts: np.ndarray) -> float:
            images = np.repeat(every_image, counts)
            return metric(pred.gather(images, n_images), ref.gather(images, n_images))

        return gathered

    value_a, value_b = [side(rows) for rows in sets_a], [side(rows) for rows in sets_b]
    replicates = np.empty(len(seed_counts))
    # The replicates are thousands of small (N x N) products and SVDs: a multi-threaded BLAS only
    # spins on them, 40x slower on a busy 2-core machine than one thread (measured: 150 ms against
    # 3.8 ms for one 176-row FID).
    with threadpool_limits(limits=1):
        _replicate_loop(replicates, seed_counts, image_counts, value_a, value_b, progress)
    interval = _interval(
        float(np.mean(full_b - full_a)), replicates, n_seeds, n_images, confidence, int(labels.max()) + 1
    )
    return interval, float(full_a.mean()), float(full_b.mean())


def _replicate_loop(
    replicates: np.ndarray,
    seed_counts: np.ndarray,
    image_counts: np.ndarray,
    value_a: Sequence[Callable[[np.ndarray], float]],
    value_b: Sequence[Callable[[np.ndarray], float]],
    progress: bool,
) -> None:
    from tqdm import tqdm

    for b in tqdm(
        range(len(seed_counts)), desc="set-metric bootstrap", file=sys.stderr, leave=False, disable=not progress
    ):
        counts = image_counts[b]
        total = 0.0
        for s in np.flatnonzero(seed_counts[b]):  # a seed drawn twice is evaluated once, counted twice
            total += seed_counts[b, s] * (value_b[s](counts) - value_a[s](counts))
        replicates[b] = total / seed_counts[b].sum()
