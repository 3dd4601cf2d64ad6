"""Paired bootstrap intervals (pdloss.stats): coverage, reproducibility, hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from pdloss.errors import InputError
from pdloss.evaluation.compare import MetricComparison
from pdloss.report.format import format_interval
from pdloss.stats import (
    BootstrapInterval,
    FeatureRows,
    paired_bootstrap,
    paired_set_bootstrap,
)


def _coverage(n_seeds: int, seed_sd: float, trials: int = 200, n_images: int = 30, mu: float = 0.3) -> float:
    """Share of trials whose 95% interval holds the true mean difference ``mu``.

    Differences = mu + image effect (shared by all seeds) + seed effect + noise, so the mean
    over a fresh set of images and seeds has expectation exactly mu.
    """
    rng = np.random.default_rng(1234)
    hits = 0
    for trial in range(trials):
        image = rng.standard_normal(n_images)
        seeds = rng.normal(0.0, seed_sd, (n_seeds, 1))
        diffs = mu + image[None] + seeds + rng.normal(0.0, 0.5, (n_seeds, n_images))
        result = paired_bootstrap(diffs, n_boot=1000, seed=trial)
        hits += result.low <= mu <= result.high
    return hits / trials


def test_coverage_of_images_at_about_the_nominal_rate():
    assert 0.90 <= _coverage(n_seeds=1, seed_sd=0.0) <= 0.99


def test_coverage_with_seeds_hierarchical():
    assert 0.90 <= _coverage(n_seeds=3, seed_sd=0.2) <= 0.99


def test_same_seed_same_interval_other_seed_other_interval():
    diffs = np.random.default_rng(0).normal(0.1, 1.0, (2, 25))
    first, again, other = (paired_bootstrap(diffs, n_boot=500, seed=s) for s in (7, 7, 8))
    assert first == again
    assert (first.low, first.high) != (other.low, other.high)
    assert first.mean == other.mean == pytest.approx(diffs.mean())


def test_constant_differences_give_a_point_interval():
    result = paired_bootstrap(np.full((3, 10), 0.25), n_boot=200)
    assert (result.mean, result.low, result.high) == pytest.approx((0.25, 0.25, 0.25))
    assert result.excludes_zero and (result.n_seeds, result.n_images) == (3, 10)
    zero = paired_bootstrap(np.zeros(10), n_boot=200)
    assert not zero.excludes_zero and zero.low == zero.high == 0


def test_two_images_hand_computed_quantiles():
    # Resampling two images {0, 1}: the mean is 0, 1/2 or 1 with probabilities 1/4, 1/2, 1/4.
    result = paired_bootstrap([0.0, 1.0], n_boot=20000, seed=3)
    assert (result.low, result.high) == (0.0, 1.0)
    narrow = paired_bootstrap([0.0, 1.0], n_boot=20000, seed=3, confidence=0.4)  # 30% / 70% quantiles
    assert (narrow.low, narrow.high) == (0.5, 0.5)


def test_interval_width_matches_the_plug_in_standard_error():
    # Image bootstrap of a mean: replicate variance = (1/n) * mean((d - mean d)^2); for a near
    # normal distribution of replicates the 95% interval is about mean +- 1.96 of that.
    d = np.random.default_rng(5).standard_normal(200)
    result = paired_bootstrap(d, n_boot=20000, seed=0)
    se = np.sqrt(np.mean((d - d.mean()) ** 2) / d.size)
    assert result.high - result.low == pytest.approx(2 * 1.959964 * se, rel=0.05)
    assert (result.low + result.high) / 2 == pytest.approx(d.mean(), abs=0.1 * se)


def test_missing_values_are_left_out():
    d = np.array([[1.0, np.nan, 3.0, np.nan], [np.nan, np.nan, np.nan, np.nan]])
    result = paired_bootstrap(d, n_boot=300)
    assert result.mean == pytest.approx(2.0)
    assert (result.n_seeds, result.n_images) == (1, 2)  # the empty seed and image are dropped
    assert 1.0 <= result.low <= result.high <= 3.0


@pytest.mark.parametrize(
    "bad, kwargs, message",
    [
        ([], {}, "no paired difference"),
        ([[np.nan, np.nan]], {}, "no paired difference"),
        (np.zeros((2, 2, 2)), {}, "shape"),
        ([1.0, np.inf], {}, "infinite"),
        ([1.0, 2.0], {"n_boot": 0}, "n_boot"),
        ([1.0, 2.0], {"confidence": 1.0}, "confidence"),
    ],
)
def test_bad_input_is_refused(bad, kwargs, message):
    with pytest.raises(InputError, match=message):
        paired_bootstrap(bad, **kwargs)


def test_feature_rows_gather_repeats_a_drawn_image_rows():
    features = np.arange(12, dtype=np.float64).reshape(6, 2)
    rows = FeatureRows(features, np.array([2, 0, 2, 1, 0, 2]))  # image 3 has no row
    got = rows.gather(np.array([2, 0, 2, 3]), n_images=4)
    expected = np.concatenate([features[[0, 2, 5]], features[[1, 4]], features[[0, 2, 5]]])
    np.testing.assert_array_equal(got, expected)


def test_set_bootstrap_with_a_linear_metric_equals_the_per_image_bootstrap():
    # With metric = mean of the first feature and the same number of rows per image, the set
    # difference is the mean of per-image differences, so both bootstraps (same draws) agree.
    rng = np.random.default_rng(2)
    n_images, patches, n_seeds = 12, 3, 2
    image = np.repeat(np.arange(n_images), patches)

    def side(shift: float) -> list[tuple[FeatureRows, FeatureRows]]:
        return [
            (
                FeatureRows(rng.normal(shift, 1, (image.size, 4)), image),
                FeatureRows(rng.normal(0, 1, (image.size, 4)), image),
            )
            for _ in range(n_seeds)
        ]

    sets_a, sets_b = side(0.0), side(0.5)
    per_image = np.stack([
        b[0].features[:, 0].reshape(n_images, patches).mean(1) - a[0].features[:, 0].reshape(n_images, patches).mean(1)
        for a, b in zip(sets_a, sets_b, strict=True)
    ])  # fmt: skip
    interval, mean_a, mean_b = paired_set_bootstrap(
        sets_a, sets_b, n_images, lambda pred, ref: float(pred[:, 0].mean()), n_boot=400, seed=4
    )
    reference = paired_bootstrap(per_image, n_boot=400, seed=4)
    assert (interval.mean, interval.low, interval.high) == pytest.approx(
        (reference.mean, reference.low, reference.high)
    )
    assert mean_b - mean_a == pytest.approx(interval.mean)
    assert mean_a == pytest.approx(np.mean([p.features[:, 0].mean() for p, _ in sets_a]))


def test_set_bootstrap_with_a_distance_of_means_sees_a_shift():
    rng = np.random.default_rng(3)
    n_images, dim = 20, 8
    image = np.repeat(np.arange(n_images), 2)

    def distance(pred: np.ndarray, ref: np.ndarray) -> float:
        return float(np.sum((pred.mean(0) - ref.mean(0)) ** 2))

    ref = FeatureRows(rng.standard_normal((image.size, dim)), image)
    near = FeatureRows(ref.features + rng.normal(0.1, 0.3, ref.features.shape), image)
    far = FeatureRows(ref.features + rng.normal(0.6, 0.3, ref.features.shape), image)
    interval, mean_a, mean_b = paired_set_bootstrap([(near, ref)], [(far, ref)], n_images, distance, n_boot=300)
    assert mean_a == pytest.approx(distance(near.features, ref.features))
    assert mean_b == pytest.approx(distance(far.features, ref.features))
    assert interval.mean == pytest.approx(mean_b - mean_a) and interval.low > 0 and interval.excludes_zero
    same, _, _ = paired_set_bootstrap([(near, ref)], [(near, ref)], n_images, distance, n_boot=50)
    assert same.low == same.high == same.mean == 0


def test_set_bootstrap_refuses_unpaired_seeds():
    rows = FeatureRows(np.zeros((2, 2)), np.array([0, 1]))
    with pytest.raises(InputError, match="same, non-zero number of seeds"):
        paired_set_bootstrap([(rows, rows)], [], 2, lambda p, r: 0.0)


def test_format_interval_digits_and_star():
    interval = BootstrapInterval(-0.2149, -0.3512, -0.0833, 1, 30, True)
    assert format_interval(interval, "psnr") == "-0.21 [-0.35, -0.08]*"
    assert format_interval(interval, "lpips") == "-0.215 [-0.351, -0.083]*"
    assert format_interval(interval, "kid") == "-0.2149 [-0.3512, -0.0833]*"  # KID's differences are ~1e-3
    spans = BootstrapInterval(-0.0004, -0.002, 0.003, 2, 30, False)
    assert format_interval(spans, "fid") == "0.00 [0.00, 0.00]"  # no "-0.00"
    comparison = MetricComparison("psnr", "per_image", interval, 24.0, 23.79, True)
    assert format_interval(comparison, "psnr") == "-0.21 [-0.35, -0.08]*"
    assert comparison.verdict == "worse"


def test_clusters_of_identical_twins_give_the_interval_of_the_singles():
    # Each image shown twice as one scene: the scene is the unit, so the interval is the singles'
    # exactly (same draws: one cluster per single image), while treating the twins as independent
    # images narrows it by about sqrt(2).
    rng = np.random.default_rng(3)
    singles = rng.normal(0.2, 1.0, size=(2, 12))
    twins = np.repeat(singles, 2, axis=1)
    scenes = np.repeat(np.arange(12), 2)
    alone = paired_bootstrap(singles, n_boot=3000, seed=5)
    grouped = paired_bootstrap(twins, n_boot=3000, seed=5, clusters=scenes)
    assert (grouped.low, grouped.high, grouped.mean) == pytest.approx((alone.low, alone.high, alone.mean), abs=1e-12)
    assert grouped.n_clusters == 12 and grouped.n_images == 24
    naive = paired_bootstrap(twins, n_boot=3000, seed=5)
    ratio = (naive.high - naive.low) / (alone.high - alone.low)
    assert 0.6 < ratio < 0.8  # 1/sqrt(2) = 0.71


def test_distinct_cluster_labels_equal_no_clusters():
    d = np.random.default_rng(0).normal(size=(3, 9))
    a = paired_bootstrap(d, n_boot=500, seed=2)
    b = paired_bootstrap(d, n_boot=500, seed=2, clusters=[f"scene{i}" for i in range(9)])
    assert (a.low, a.high) == (b.low, b.high)


def test_cluster_labels_must_match_the_images():
    with pytest.raises(InputError, match="cluster labels"):
        paired_bootstrap(np.zeros((1, 4)), n_boot=10, clusters=[0, 1, 2])


def test_set_bootstrap_resamples_scenes_together():
    rng = np.random.default_rng(1)
    n = 8

    def rows(values: np.ndarray) -> FeatureRows:
        return FeatureRows(values[:, None].astype(np.float64), np.arange(len(values)))

    def mean_gap(pred: np.ndarray, ref: np.ndarray) -> float:
        return float(pred.mean() - ref.mean())

    ref = rng.normal(size=n)
    a, b = ref + rng.normal(0, 0.3, n), ref + 0.2 + rng.normal(0, 0.3, n)
    single = paired_set_bootstrap([(rows(a), rows(ref))], [(rows(b), rows(ref))], n, mean_gap, n_boot=800, seed=4)[0]
    twin = np.repeat(np.arange(n), 2)
    doubled = paired_set_bootstrap(
        [(rows(a[twin]), rows(ref[twin]))],
        [(rows(b[twin]), rows(ref[twin]))],
        2 * n,
        mean_gap,
        n_boot=800,
        seed=4,
        clusters=twin,
    )[0]
    assert (doubled.low, doubled.high) == pytest.approx((single.low, single.high), abs=1e-12)


def test_monte_carlo_error_matches_the_spread_of_bounds_over_bootstrap_seeds():
    d = np.random.default_rng(7).normal(0.1, 1.0, size=(1, 40))
    results = [paired_bootstrap(d, n_boot=1000, seed=s) for s in range(60)]
    spread = np.std([r.low for r in results], ddof=1)
    estimate = np.mean([r.mc_error for r in results])
    assert 0.6 < estimate / spread < 1.6
    # and it shrinks as 1/sqrt(B)
    more = paired_bootstrap(d, n_boot=16000, seed=0).mc_error
    assert 0.15 < more / estimate < 0.4  # sqrt(1000 / 16000) = 0.25
