"""KID: the unbiased MMD^2 estimator written out with loops, its subsets, and its wiring in evaluate."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from pdloss.errors import InputError
from pdloss.imageio import write_image
from pdloss.metrics import evaluate, kid
from pdloss.metrics.fid import FID, InceptionFeatures, fid_from_features, frechet_distance_low_rank, load_statistics
from pdloss.metrics.inception import FIDInceptionV3
from pdloss.metrics.kid import KID, kid_from_features, set_metric_from_features

pytestmark = pytest.mark.usefixtures("one_thread")


def _k(a, b):
    d = len(a)
    return (sum(float(a[t]) * float(b[t]) for t in range(d)) / d + 1.0) ** 3


def _loop_kid(x, y):
    """Unbiased MMD^2 with the cubic kernel, pair by pair (x and y have the same number of rows)."""
    m = len(x)
    pairs = [(i, j) for i, j in itertools.product(range(m), repeat=2) if i != j]
    kxx = sum(_k(x[i], x[j]) for i, j in pairs) / len(pairs)
    kyy = sum(_k(y[i], y[j]) for i, j in pairs) / len(pairs)
    kxy = sum(_k(x[i], y[j]) for i, j in itertools.product(range(m), repeat=2)) / m**2
    return kxx + kyy - 2 * kxy


def test_kid_equals_the_estimator_written_with_loops():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(9, 6)), rng.normal(size=(9, 6)) * 1.3 + 0.4
    expected = _loop_kid(x, y)
    mean, std = kid_from_features(x, y, subset_size=1000, subsets=1)
    assert mean == pytest.approx(expected, abs=1e-10, rel=0)
    assert std == 0.0
    # Every subset is the whole of both sets: the same value for any number of subsets and seed.
    assert kid_from_features(x, y, subset_size=9, subsets=7, seed=5) == (mean, 0.0)
    assert kid_from_features(torch.from_numpy(x).float(), y)[0] == pytest.approx(
        _loop_kid(x.astype(np.float32), y), abs=1e-10
    )


@pytest.mark.parametrize("gram", [True, False])
def test_subsets_are_the_documented_draws(monkeypatch, gram):
    # Subset s: m rows of x, then m rows of y, without replacement, from one default_rng(seed);
    # mean and population std (ddof 0) of the subset values, as torch-fidelity reports them.
    if not gram:
        monkeypatch.setattr(kid, "_GRAM_LIMIT", 0)  # the per-subset kernel path
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(15, 5)), rng.normal(size=(12, 5)) + 0.3
    draws = np.random.default_rng(3)
    values = []
    for _ in range(4):
        ix, iy = draws.choice(15, 6, replace=False), draws.choice(12, 6, replace=False)
        values.append(_loop_kid(x[ix], y[iy]))
    mean, std = kid_from_features(x, y, subset_size=6, subsets=4, seed=3)
    assert mean == pytest.approx(np.mean(values), abs=1e-10, rel=0)
    assert std == pytest.approx(np.std(values), abs=1e-10, rel=0)
    assert std > 0
    # m = min(subset_size, Nx, Ny): the smaller set whole, the larger one subsampled.
    draws = np.random.default_rng(0)
    ix, iy = draws.choice(15, 12, replace=False), draws.choice(12, 12, replace=False)
    assert kid_from_features(x, y, subsets=1)[0] == pytest.approx(_loop_kid(x[ix], y[iy]), abs=1e-10, rel=0)


def test_std_is_reproducible_with_a_seed():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(60, 8)), rng.normal(size=(50, 8))
    first = kid_from_features(x, y, subset_size=20, subsets=30, seed=7)
    assert kid_from_features(x, y, subset_size=20, subsets=30, seed=7) == first
    other = kid_from_features(x, y, subset_size=20, subsets=30, seed=8)
    assert other != first and first[1] > 0


def test_about_zero_for_one_distribution_and_grows_with_a_shift():
    # Features on the scale of Inception's pool3 (non-negative, mean ~0.4): rectified correlated
    # Gaussians, one distribution; y shifted by a growing amount.
    d, n, seeds = 32, 40, 16
    shifts = (0.0, 0.1, 0.2, 0.4, 0.8)
    base = np.random.default_rng(100).normal(size=(d, d)) / np.sqrt(d)
    values = np.zeros((seeds, len(shifts)))
    fids = []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        x = np.maximum(rng.normal(size=(n, d)) @ base + 0.4, 0)
        noise = rng.normal(size=(n, d)) @ base + 0.4
        for k, shift in enumerate(shifts):
            values[seed, k] = kid_from_features(x, np.maximum(noise + shift, 0))[0]
        fids.append(fid_from_features(x, np.maximum(noise, 0)))
    same = values[:, 0]
    # Unbiased: for two samples of one distribution the mean over seeds is within noise of 0 ...
    assert abs(same.mean()) < 3 * same.std(ddof=1) / np.sqrt(seeds)
    means = values.mean(0)
    assert np.abs(same).mean() < 0.1 * means[3]
    # ... while FID of the same pairs is clearly positive (its small-sample bias).
    assert np.mean(fids) > 10 * np.abs(same).mean()
    assert np.all(np.diff(means) > 0), means
    assert np.all(values[:, -1] > values[:, 2]) and np.all(values[:, 2] > values[:, 0])


def test_bad_input_is_refused():
    x = np.zeros((5, 4))
    with pytest.raises(InputError, match="one width"):
        kid_from_features(x, np.zeros((5, 3)))
    with pytest.raises(InputError, match="at least 2 samples"):
        kid_from_features(x, np.zeros((1, 4)))
    with pytest.raises(InputError, match="subset_size >= 2"):
        kid_from_features(x, x, subset_size=1)
    with pytest.raises(InputError, match="NaN"):
        kid_from_features(x, np.full((5, 4), np.nan))
    with pytest.raises(InputError, match=r"\(N, D\)"):
        kid_from_features(np.zeros(5), x)
    with pytest.raises(InputError, match="unknown set metric"):
        set_metric_from_features("is", x, x)
    with pytest.raises(InputError, match="FID takes no options"):
        set_metric_from_features("fid", x, x, seed=1)
    with pytest.raises(InputError, match="unknown KID option"):
        set_metric_from_features("kid", x, x, degree=2)


def test_set_metric_from_features():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(30, 16)), rng.normal(size=(25, 16)) + 0.2
    assert set_metric_from_features("fid", x, y) == pytest.approx(frechet_distance_low_rank(x, y), rel=1e-12)
    assert (
        set_metric_from_features("kid", x, y, subset_size=10, subsets=5, seed=2)
        == (kid_from_features(x, y, subset_size=10, subsets=5, seed=2)[0])
    )


# --- evaluate, on an Inception with random weights (always present) ---------------------------


@pytest.fixture(scope="module")
def random_inception(tmp_path_factory):
    """A pytorch-fid-layout file of random weights: the real network code, not the real weights."""
    torch.manual_seed(0)
    net = FIDInceptionV3()
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 2.0)
            module.bias.data.uniform_(-0.1, 0.1)
    state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    state["fc.weight"], state["fc.bias"] = torch.randn(1008, 2048), torch.zeros(1008)
    path = tmp_path_factory.mktemp("inception") / "random_inception.pth"
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def small_folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("kid_eval")
    g = torch.Generator().manual_seed(0)
    for stem in ("c", "a", "b"):  # sorted stems: a, b, c
        ref = torch.nn.functional.interpolate(torch.rand(1, 3, 8, 6, generator=g), size=(64, 48), mode="bilinear")[0]
        pred = (ref + 0.1 * torch.randn(ref.shape, generator=g)).clamp(0, 1)
        write_image(root / "ref" / f"{stem}.png", ref.clamp(0, 1))
        write_image(root / "pred" / f"{stem}.png", pred)
    return root / "pred", root / "ref"


@pytest.fixture
def count_forwards(monkeypatch):
    calls = []
    original = InceptionFeatures.features

    def counted(self, images):
        calls.append(images.shape[0])
        return original(self, images)

    monkeypatch.setattr(InceptionFeatures, "features", counted)
    return calls


def test_fid_and_kid_share_one_pass_and_features_out(small_folders, random_inception, tmp_path, count_forwards):
    pred_dir, ref_dir = small_folders
    out = tmp_path / "features.npz"
    result = evaluate(pred_dir, ref_dir, metrics=["fid", "kid", "psnr"], fid_weights=random_inception,
                      fid_patch_size=32, features_out=out, progress=False)  # fmt: skip
    assert len(count_forwards) == 6  # one call per image and side, shared by FID and KID
    data = result.to_json()
    assert list(data["mean"]) == ["fid", "kid", "kid_std", "psnr"]
    assert set(data["per_image"]["a"]) == {"psnr"}
    assert data["mean"]["kid_std"] == 0.0  # 6 patches per side < subset_size: all in every subset
    assert any("kid_std is 0" in note for note in result.notes)
    assert "random_inception.pth" in result.weights["kid"] and "subsets of 6" in result.weights["kid"]
    with np.load(out) as raw:
        f = {k: raw[k] for k in raw.files}
    assert f["pred_features"].shape == (6, 2048) and f["pred_features"].dtype == np.float32
    assert f["ref_features"].shape == (6, 2048) and f["ref_features"].dtype == np.float32
    assert f["pred_image"].dtype == np.int64
    np.testing.assert_array_equal(f["pred_image"], [0, 0, 1, 1, 2, 2])  # 64x48 -> 2x1 tiles of 32
    np.testing.assert_array_equal(f["ref_image"], [0, 0, 1, 1, 2, 2])
    assert list(f["stems"]) == ["a", "b", "c"] and int(f["patch_size"]) == 32
    # The rows are the extractor's own features of the files, in order.
    from pdloss.imageio import read_image

    extractor = InceptionFeatures(weights=random_inception, patch_size=32)
    expected = extractor.features(read_image(pred_dir / "b.png")[None]).numpy()
    np.testing.assert_allclose(f["pred_features"][f["pred_image"] == 1], expected, rtol=1e-5, atol=1e-5)
    assert set_metric_from_features("fid", f["pred_features"], f["ref_features"]) == result.mean["fid"]
    assert set_metric_from_features("kid", f["pred_features"], f["ref_features"]) == result.mean["kid"]


def test_reference_cache_holds_features_for_kid(small_folders, random_inception, tmp_path, count_forwards):
    pred_dir, ref_dir = small_folders
    cache = tmp_path / "ref.npz"
    common = dict(fid_weights=random_inception, fid_reference_stats=cache, progress=False)
    # FID alone writes pytorch-fid's statistics only, as before.
    fid_only = evaluate(pred_dir, ref_dir, metrics="fid", **common)
    with np.load(cache) as raw:
        assert "features" not in raw.files and {"mu", "sigma"} <= set(raw.files)
    assert len(count_forwards) == 6
    # KID then completes that file with the reference rows (they describe the same images) ...
    both = evaluate(pred_dir, ref_dir, metrics=["fid", "kid"], kid_subset_size=2, kid_subsets=5, **common)
    assert len(count_forwards) == 12
    with np.load(cache) as raw:
        assert raw["features"].shape == (3, 2048) and list(raw["stems"]) == ["a", "b", "c"]
    _, _, meta = load_statistics(cache)
    assert meta["count"] == "3"
    assert both.mean["fid"] == pytest.approx(fid_only.mean["fid"], rel=1e-5)
    assert both.mean["kid_std"] > 0  # subsets of 2 of 3 samples differ
    # ... which later runs read instead of running the Inception on the references.
    again = evaluate(pred_dir, ref_dir, metrics=["kid", "fid"], kid_subset_size=2, kid_subsets=5, **common)
    assert len(count_forwards) == 15
    assert again.mean["kid"] == both.mean["kid"] and again.mean["fid"] == both.mean["fid"]
    assert any("statistics and features read" in note for note in again.notes)
    # Cached features of other images are refused for KID, not silently used.
    with pytest.raises(InputError, match="belong to other images"):
        evaluate(pred_dir, ref_dir, metrics="kid", fid_weights=random_inception,
                 fid_reference_stats=_other_stems_cache(cache, tmp_path), progress=False)  # fmt: skip


def _other_stems_cache(cache, tmp_path):
    with np.load(cache) as raw:
        arrays = {k: raw[k] for k in raw.files}
    arrays["stems"] = np.array(["x", "y", "z"])
    path = tmp_path / "other.npz"
    np.savez(path, **arrays)
    return path


def test_kid_class_uses_the_fid_extractor(small_folders, random_inception):
    pred_dir, ref_dir = small_folders
    metric = KID(weights=random_inception, subset_size=2, subsets=4, seed=1)
    fid = FID(weights=random_inception)
    x = torch.rand(2, 3, 40, 40)
    torch.testing.assert_close(metric.features(x[:1]), fid.features(x[:1]))
    f1, index, stems = metric.folder_features(pred_dir)
    assert stems == ["a", "b", "c"] and index.tolist() == [0, 1, 2]
    f2 = metric.folder_features(ref_dir)[0]
    assert metric.between_folders(pred_dir, ref_dir) == kid_from_features(f1, f2, subset_size=2, subsets=4, seed=1)
    value, std = metric(x, x.flip(-1))
    assert np.isfinite(value) and std == 0.0
