"""FID and KID from row multiplicities equal FID and KID of the repeated rows."""

from __future__ import annotations

import numpy as np
import pytest

from pdloss.errors import InputError
from pdloss.metrics.fid import fid_from_features
from pdloss.metrics.kid import kid_from_features
from pdloss.metrics.resampled import weighted_fid, weighted_kid, weighted_set_metric
from pdloss.stats import FeatureRows, paired_set_bootstrap


def _sets(seed: int = 0, n: int = 14, d: int = 30):
    rng = np.random.default_rng(seed)
    pred = rng.gamma(2.0, 1.0, size=(n, d))  # non-negative, like pooled Inception features
    ref = pred * 0.7 + rng.gamma(2.0, 0.5, size=(n, d))
    return pred, ref


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weighted_fid_equals_fid_of_repeated_rows(seed):
    pred, ref = _sets(seed)
    rng = np.random.default_rng(10 + seed)
    c1, c2 = rng.integers(0, 3, len(pred)), rng.integers(0, 3, len(ref))
    c1[0] = c2[0] = 2  # at least two rows on each side
    expected = fid_from_features(np.repeat(pred, c1, axis=0), np.repeat(ref, c2, axis=0))
    assert weighted_fid(pred, ref)(c1, c2) == pytest.approx(expected, rel=1e-9, abs=1e-9)
    ones = np.ones(len(pred))
    assert weighted_fid(pred, ref)(ones, ones) == pytest.approx(fid_from_features(pred, ref), rel=1e-10)


@pytest.mark.parametrize("seed", [0, 3])
def test_weighted_kid_equals_kid_of_repeated_rows(seed):
    pred, ref = _sets(seed)
    rng = np.random.default_rng(20 + seed)
    counts = rng.integers(0, 3, len(pred))
    counts[0] = 2
    other = rng.permutation(counts)  # the same number of rows on both sides, as a bootstrap draws
    expected = kid_from_features(np.repeat(pred, counts, axis=0), np.repeat(ref, other, axis=0))[0]
    assert weighted_kid(pred, ref)(counts, other) == pytest.approx(expected, rel=1e-10, abs=1e-12)


def test_kid_has_no_weighted_form_where_it_draws_subsets():
    pred, ref = _sets()
    assert weighted_set_metric("kid", pred, ref[:-1]) is None
    with pytest.raises(InputError, match="equal row counts"):
        weighted_kid(pred, ref)(np.ones(len(pred)), np.r_[np.ones(len(ref) - 1), 2])
    with pytest.raises(InputError, match="unknown set metric"):
        weighted_set_metric("lpips", pred, ref)


@pytest.mark.parametrize("name", ["fid", "kid"])
def test_bootstrap_with_weighted_metric_equals_gathering(name):
    rng = np.random.default_rng(5)
    n_images, patches = 6, 2
    image = np.repeat(np.arange(n_images), patches)
    ref = FeatureRows(rng.gamma(2.0, 1.0, size=(n_images * patches, 16)), image)
    sides = []
    for shift in (0.0, 0.3):
        sides.append(
            [(FeatureRows(ref.features + shift + rng.normal(0, 0.3, ref.features.shape), image), ref) for _ in (0, 1)]
        )

    def metric(p: np.ndarray, r: np.ndarray) -> float:
        return fid_from_features(p, r) if name == "fid" else kid_from_features(p, r)[0]

    def fast(p: np.ndarray, r: np.ndarray):
        return weighted_set_metric(name, p, r)

    scenes = [0, 0, 1, 2, 3, 4]
    slow = paired_set_bootstrap(*sides, n_images, metric, n_boot=120, seed=3, clusters=scenes)[0]
    quick = paired_set_bootstrap(*sides, n_images, metric, n_boot=120, seed=3, clusters=scenes, weighted=fast)[0]
    assert (quick.low, quick.high, quick.mean) == pytest.approx((slow.low, slow.high, slow.mean), rel=1e-8, abs=1e-10)
