"""FID's plumbing, checked against values written here: what reaches the network, in which order
the rows come back, the statistics of an iterable, the files, and every error's whole message.

The Inception itself is replaced by a stub that reads 2048 fixed pixels of its input, so each
feature row is a known function of the preprocessed image (resized to 299x299 bilinearly with
``align_corners=False``, then ``2x - 1``) and the tests run in a second. The formulas are
checked against pytorch-fid's scipy expression in ``tests/test_metrics_fid.py``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pdloss.errors import InputError
from pdloss.imageio import read_image, write_image
from pdloss.metrics import fid as fid_module
from pdloss.metrics.fid import (
    FID,
    FeatureStatistics,
    InceptionFeatures,
    extract_patches,
    fid_from_features,
    fid_from_statistics,
    frechet_distance,
    frechet_distance_low_rank,
    frechet_distance_rows_to_gaussian,
    load_reference_features,
    load_statistics,
    save_statistics,
)

# 2048 fixed positions of the flattened (3, 299, 299) network input.
PIXELS = torch.randperm(3 * 299 * 299, generator=torch.Generator().manual_seed(5))[:2048]


class StubInception(torch.nn.Module):
    """Returns ``x.flatten(1)[:, PIXELS]``; records the shape and dtype of every batch."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[tuple[int, ...], torch.dtype]] = []
        self.loaded: list[tuple[dict, str]] = []
        self.moved_to: list[torch.device] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append((tuple(x.shape), x.dtype))
        return x.flatten(1)[:, PIXELS]

    def load_fid_state_dict(self, state: dict, source: str) -> None:
        self.loaded.append((state, source))

    def to(self, device):  # records where the extractor put the network
        self.moved_to.append(torch.device(device))
        return super().to(device)


def _expected_rows(images: torch.Tensor) -> torch.Tensor:
    """The stub's rows for images, with the preprocessing written out."""
    x = images.to(torch.float32)
    if x.shape[-2:] != (299, 299):
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
    return (2 * x - 1).flatten(1)[:, PIXELS]


@pytest.fixture
def stub(monkeypatch):
    """InceptionFeatures/FID build the stub instead of loading the Inception and its weights."""
    import pdloss.metrics.fid_weights as fw
    import pdloss.metrics.inception as inc

    class Loaded:
        state_dict: ClassVar[dict] = {"w": torch.zeros(1)}
        label = "stub weights (0123456789ab)"

    requested = []
    made: list[StubInception] = []

    def load(spec=None):
        requested.append(spec)
        return Loaded()

    def build():
        made.append(StubInception())
        return made[-1]

    monkeypatch.setattr(fw, "load_fid_weights", load)
    monkeypatch.setattr(inc, "FIDInceptionV3", build)
    return requested, made, Loaded


# -- the extractor ------------------------------------------------------------------------------
def test_extractor_loads_the_named_weights_into_the_network(stub):
    requested, made, loaded = stub
    extractor = InceptionFeatures(weights="my.pth", device="cpu", batch_size=3, patch_size=32)
    assert requested == ["my.pth"]
    assert extractor.weights_label == "stub weights (0123456789ab)"
    assert extractor.device == torch.device("cpu") and isinstance(extractor.device, torch.device)
    assert (extractor.batch_size, extractor.patch_size) == (3, 32)
    assert extractor.net is made[0]
    assert made[0].loaded == [(loaded.state_dict, loaded.label)]
    assert made[0].moved_to == [torch.device("cpu")]
    default = InceptionFeatures()
    assert requested[-1] is None
    assert (default.batch_size, default.patch_size, default.device) == (16, None, torch.device("cpu"))


def test_features_are_the_network_on_the_prepared_batches_in_order(stub):
    _, made, _ = stub
    images = torch.rand(5, 3, 40, 48, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    out = InceptionFeatures(batch_size=2).features(images)
    # Batches of 2, 2, 1 of float32 299x299 images, their rows concatenated in order.
    assert made[0].calls == [((2, 3, 299, 299), torch.float32)] * 2 + [((1, 3, 299, 299), torch.float32)]
    assert out.shape == (5, 2048) and out.dtype == torch.float32
    torch.testing.assert_close(out, _expected_rows(images), rtol=0, atol=1e-6)
    assert not out.requires_grad


def test_features_in_patch_mode_are_row_major_tiles_image_by_image(stub):
    _, made, _ = stub
    images = torch.rand(2, 3, 40, 50, generator=torch.Generator().manual_seed(1))
    out = InceptionFeatures(batch_size=4, patch_size=16).features(images)
    # 2 x 3 tiles of 16 px per image (the 8- and 2-pixel remainders dropped): 12 rows.
    cells = [(b, i, j) for b in range(2) for i in range(2) for j in range(3)]
    tiles = [images[b, :, 16 * i : 16 * (i + 1), 16 * j : 16 * (j + 1)] for b, i, j in cells]
    torch.testing.assert_close(out, _expected_rows(torch.stack(tiles)), rtol=0, atol=1e-6)
    assert [c[0][0] for c in made[0].calls] == [4, 4, 4]


def test_features_refuse_images_outside_the_unit_range(stub):
    with pytest.raises(InputError, match="FID input"):
        InceptionFeatures().features(torch.full((1, 3, 20, 20), 1.8))  # beyond [0, 1] by more than half
    with pytest.raises(InputError, match="FID input"):
        InceptionFeatures().features(torch.rand(1, 1, 20, 20))


def test_folder_features_sorted_by_stem_with_an_index_per_row(stub, tmp_path):
    g = torch.Generator().manual_seed(2)
    sizes = {"c": (32, 48), "a": (48, 32), "b": (32, 32)}
    for stem, (h, w) in sizes.items():
        write_image(tmp_path / f"{stem}.png", torch.rand(3, h, w, generator=g))
    rows, index, stems = InceptionFeatures(patch_size=16).folder_features(tmp_path)
    assert stems == ["a", "b", "c"]
    # a: 3x2 tiles, b: 2x2, c: 2x3.
    assert index.dtype == np.int64 and index.tolist() == [0] * 6 + [1] * 4 + [2] * 6
    assert rows.dtype == np.float32 and rows.shape == (16, 2048)
    a = read_image(tmp_path / "a.png", "RGB")[None]
    np.testing.assert_allclose(rows[:6], _expected_rows(extract_patches(a, 16)).numpy(), rtol=0, atol=1e-6)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"^no image files in .*empty$"):
        InceptionFeatures().folder_features(tmp_path / "empty")


def test_statistics_of_batches_and_single_images_and_the_fid_of_two_sets(stub):
    g = torch.Generator().manual_seed(3)
    batch, single = torch.rand(3, 3, 24, 24, generator=g), torch.rand(3, 24, 24, generator=g)
    metric = FID(batch_size=2)
    assert metric.higher_is_better is False
    mu, sigma = metric.statistics(iter([batch, single]), total=2)
    rows = _expected_rows(torch.cat([batch, single[None]])).double().numpy()
    np.testing.assert_allclose(mu, rows.mean(0), rtol=0, atol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(rows, rowvar=False), rtol=0, atol=1e-12)
    other = torch.rand(4, 3, 24, 24, generator=g)
    value = metric(batch, other)
    expected = frechet_distance_low_rank(rows[:3], _expected_rows(other).double().numpy())
    assert value == pytest.approx(expected, rel=1e-12)
    assert value > 1.0


# -- statistics, formulas, files ------------------------------------------------------------
def test_feature_statistics_keep_rows_up_to_the_dimension():
    s = FeatureStatistics(3)
    assert s.dim == 3 and s.count == 0
    with pytest.raises(InputError, match=r"^no features were accumulated$"):
        s.mean()
    with pytest.raises(InputError, match=r"^FID needs at least 2 samples per set, got 0$"):
        s.covariance()
    s.update(torch.tensor([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]]))
    s.update(np.array([[0.0, 0.0, 3.0]], dtype=np.float32))
    assert s.count == 3
    np.testing.assert_array_equal(s.rows(), [[1, 2, 3], [3, 2, 1], [0, 0, 3]])
    assert s.rows().dtype == np.float64
    np.testing.assert_allclose(s.mean(), [4 / 3, 4 / 3, 7 / 3], rtol=1e-15)
    # Hand-computed unbiased covariance of the three rows.
    expected = np.array([[7 / 3, 4 / 3, -5 / 3], [4 / 3, 4 / 3, -2 / 3], [-5 / 3, -2 / 3, 4 / 3]])
    np.testing.assert_allclose(s.covariance(), expected, rtol=1e-12, atol=1e-14)
    s.update([[1.0, 1.0, 1.0]])  # a fourth row in 3-D: the rows are no longer kept
    assert s.count == 4 and s.rows() is None


def test_update_reshapes_to_rows_of_the_dimension():
    s = FeatureStatistics(2)
    s.update(np.arange(4.0))  # (4,) -> two rows of 2
    np.testing.assert_array_equal(s.rows(), [[0, 1], [2, 3]])
    np.testing.assert_array_equal(s.mean(), [1.0, 2.0])


def test_float32_statistics_are_computed_in_float64():
    # pytorch-fid's reference files hold float32 mu and sigma: the distance must not be
    # computed in float32 (eigh in float32 is off by about 1e-7 relative).
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(60, 30)), rng.normal(size=(50, 30)) * 1.2 + 0.1
    mu1, s1 = a.mean(0).astype(np.float32), np.cov(a, rowvar=False).astype(np.float32)
    mu2, s2 = b.mean(0).astype(np.float32), np.cov(b, rowvar=False).astype(np.float32)
    exact = frechet_distance(*(np.asarray(v, np.float64) for v in (mu1, s1, mu2, s2)))
    for args in ((mu1, s1, mu2, s2), (mu1.astype(np.float64), s1, mu2, s2.astype(np.float64)),
                 (mu1, s1.astype(np.float64), mu2, s2)):  # fmt: skip
        assert frechet_distance(*args) == pytest.approx(exact, rel=1e-13)
    rows = a[:20].astype(np.float32)
    exact_rows = frechet_distance_rows_to_gaussian(*(np.asarray(v, np.float64) for v in (rows, mu2, s2)))
    assert frechet_distance_rows_to_gaussian(rows, mu2, s2) == pytest.approx(exact_rows, rel=1e-13)
    small = b[:20].astype(np.float32)
    exact_low = frechet_distance_low_rank(rows.astype(np.float64), small.astype(np.float64))
    assert frechet_distance_low_rank(rows, small) == pytest.approx(exact_low, rel=1e-13)
    assert fid_from_features(rows, small) == pytest.approx(exact_low, rel=1e-13)


def test_frechet_distance_accepts_scalars_and_checks_every_shape():
    # Scalars are 1-D statistics: (m1 - m2)^2 + (s1 - s2)^2 with standard deviations s.
    assert frechet_distance(0.0, 1.0, 2.0, 4.0) == pytest.approx(4.0 + 1.0, rel=1e-14)
    message = r"^mismatched statistics: mu \(2,\) / \(2,\), sigma \(3, 3\) / \(3, 3\)$"
    with pytest.raises(InputError, match=message):
        frechet_distance(np.zeros(2), np.eye(3), np.zeros(2), np.eye(3))
    with pytest.raises(InputError, match=r"^mismatched statistics: mu \(2,\) / \(2,\), sigma \(2, 2\) / \(3, 3\)$"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.eye(3))
    with pytest.raises(InputError, match=r"^mismatched statistics: mu \(2,\) / \(3,\), sigma \(2, 2\) / \(2, 2\)$"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(2))


def test_small_set_formulas_check_their_inputs_with_whole_messages():
    rng = np.random.default_rng(5)
    f = rng.normal(size=(3, 4))
    message = r"^need two feature sets \(N >= 2, same width\), got \(1, 4\) and \(3, 4\)$"
    with pytest.raises(InputError, match=message):
        frechet_distance_low_rank(f[:1], f)
    with pytest.raises(InputError, match=r"^need two feature sets \(N >= 2, same width\), got \(3, 4\) and \(3, 3\)$"):
        frechet_distance_low_rank(f, f[:, :3])
    with pytest.raises(InputError, match=r"got \(4,\) and \(3, 4\)$"):
        frechet_distance_low_rank(f[0], f)
    with pytest.raises(InputError, match=r"got \(3, 4\) and \(4,\)$"):
        frechet_distance_low_rank(f, f[0])
    assert frechet_distance_low_rank(f[:2], f[1:]) >= 0  # two rows are enough
    assert frechet_distance_rows_to_gaussian(f[:2], np.zeros(4), np.eye(4)) >= 0
    good = (np.zeros(4), np.eye(4))
    for rows, mu, sigma, shown in (
        (f[:1], *good, r"features \(1, 4\), mu \(4,\), sigma \(4, 4\)"),
        (f[0], *good, r"features \(4,\), mu \(4,\), sigma \(4, 4\)"),
        (f, np.zeros(3), np.eye(4), r"features \(3, 4\), mu \(3,\), sigma \(4, 4\)"),
        (f, np.zeros(4), np.eye(3), r"features \(3, 4\), mu \(4,\), sigma \(3, 3\)"),
    ):
        with pytest.raises(InputError, match=rf"^mismatched shapes: {shown}$"):
            frechet_distance_rows_to_gaussian(rows, mu, sigma)


def test_fid_from_features_checks_its_sets_and_switches_formulas_at_the_dimension():
    rng = np.random.default_rng(6)
    message = r"^FID needs two feature sets \(N >= 2, same width\), got \(1, 3\) and \(2, 3\)$"
    with pytest.raises(InputError, match=message):
        fid_from_features(np.ones((1, 3)), np.ones((2, 3)))
    for a, b in (((3,), (2, 3)), ((2, 3), (3,)), ((2, 3), (2, 4)), ((2, 3), (1, 3))):
        with pytest.raises(InputError, match=r"^FID needs two feature sets"):
            fid_from_features(np.ones(a), np.ones(b))
    # More rows than dimensions on either side: the D x D statistics, the same value.
    a, b = rng.normal(size=(5, 3)), rng.normal(size=(4, 3)) + 1
    full = frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert fid_from_features(torch.from_numpy(a), torch.from_numpy(b)) == pytest.approx(full, rel=1e-10)
    assert fid_from_features(a[:3], b) == pytest.approx(
        frechet_distance(a[:3].mean(0), np.cov(a[:3], rowvar=False), b.mean(0), np.cov(b, rowvar=False)), rel=1e-6
    )  # 1e-6: the full formula takes square roots of round-off eigenvalues of singular covariances


def test_fid_from_statistics_with_a_large_set_on_either_side():
    rng = np.random.default_rng(7)
    big, small = FeatureStatistics(3), FeatureStatistics(3)
    big.update(rng.normal(size=(10, 3)))
    small.update(rng.normal(size=(2, 3)) + 0.5)
    expected = frechet_distance(big.mean(), big.covariance(), small.mean(), small.covariance())
    # 1e-6: the full formula takes square roots of round-off eigenvalues of the singular covariance.
    assert fid_from_statistics(big, small) == pytest.approx(expected, rel=1e-6)
    assert fid_from_statistics(small, big) == pytest.approx(expected, rel=1e-6)
    assert fid_from_statistics(big, (small.mean(), small.covariance())) == pytest.approx(expected, rel=1e-12)


def test_extract_patches_bounds_and_whole_messages():
    x = torch.rand(1, 3, 16, 40)
    assert extract_patches(x, 16).shape == (2, 3, 16, 16)  # 16 is the smallest tile; an exact fit
    with pytest.raises(InputError, match=r"^patch_size must be at least 16, got 15$"):
        extract_patches(torch.rand(1, 3, 40, 40), 15)
    with pytest.raises(InputError, match=r"^images of 16x40 are smaller than patch_size 17$"):
        extract_patches(x, 17)
    with pytest.raises(InputError, match=r"^images of 40x16 are smaller than patch_size 20$"):
        extract_patches(x.transpose(-1, -2), 20)


def test_statistics_files_round_trip_with_their_features(tmp_path):
    mu, sigma = np.arange(3.0), np.eye(3)
    rows = np.arange(12, dtype=np.float64).reshape(4, 3)
    path = save_statistics(tmp_path / "deep" / "er" / "ref.npz", mu, sigma, features=rows,
                           image=[0, 0, 1, 1], stems=["x", "y"], patch_size=32)  # fmt: skip
    assert path == tmp_path / "deep" / "er" / "ref.npz"
    assert sorted(p.name for p in path.parent.iterdir()) == ["ref.npz"]  # no temporary file left
    got_mu, got_sigma, meta = load_statistics(path)
    np.testing.assert_array_equal(got_mu, mu)
    np.testing.assert_array_equal(got_sigma, sigma)
    assert meta == {"patch_size": "32"}
    features, image, stems = load_reference_features(path)
    assert features.dtype == np.float32 and image.dtype == np.int64
    np.testing.assert_array_equal(features, rows)
    assert image.tolist() == [0, 0, 1, 1] and stems == ["x", "y"]
    plain = save_statistics(tmp_path / "plain.npz", mu, sigma)
    assert load_reference_features(plain) is None
    assert load_statistics(plain)[2] == {}
    for bad in ({"image": None, "stems": ["x"]}, {"image": [0] * 4, "stems": None}, {"image": [0], "stems": ["x"]}):
        with pytest.raises(InputError, match=r"^cached features need their image indices and the image stems$"):
            save_statistics(tmp_path / "bad.npz", mu, sigma, features=rows, **bad)


def test_unreadable_statistics_files_are_clear_errors(tmp_path):
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip file")
    expected = r"^cannot read FID statistics .*broken\.npz: .*\(expected an \.npz with mu and sigma\)$"
    with pytest.raises(InputError, match=expected):
        load_statistics(broken)
    with pytest.raises(InputError, match=r"^cannot read the cached features of .*broken\.npz: "):
        load_reference_features(broken)
    only_mu = tmp_path / "only_mu.npz"
    np.savez(only_mu, mu=np.zeros(2))
    with pytest.raises(InputError, match=r"^cannot read FID statistics .*only_mu\.npz: 'sigma"):
        load_statistics(only_mu)
    no_stems = tmp_path / "no_stems.npz"
    np.savez(no_stems, mu=np.zeros(2), sigma=np.eye(2), features=np.zeros((1, 2)), image=np.zeros(1))
    with pytest.raises(InputError, match=r"^cannot read the cached features of .*no_stems\.npz: 'stems"):
        load_reference_features(no_stems)


def test_input_size_is_the_networks():
    assert fid_module.INPUT_SIZE == 299  # TF Inception's input side (pytorch-fid resizes to it)
    exact = torch.rand(1, 3, 299, 299)
    torch.testing.assert_close(fid_module.inception_input(exact), 2 * exact - 1, rtol=0, atol=0)


def test_progress_bars_go_to_stderr_only_when_asked(stub, tmp_path, capsys):
    images = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(8))
    metric = FID()
    metric.statistics([images[0], images[1]])
    metric.statistics([images[0], images[1]], progress=False, total=2)
    assert capsys.readouterr() == ("", "")
    metric.statistics(iter([images[0], images[1]]), progress=True, total=2)
    out, err = capsys.readouterr()
    assert out == "" and "FID features: " in err and "2/2" in err and "XX" not in err
    for i in range(2):
        write_image(tmp_path / f"{i}.png", images[i])
    metric.folder_features(tmp_path)
    assert capsys.readouterr() == ("", "")
    metric.folder_features(tmp_path, progress=True)
    out, err = capsys.readouterr()
    assert out == "" and "Inception features: " in err and "2/2" in err and "XX" not in err


def test_small_set_against_a_gaussian_is_zero_for_its_own_statistics_and_never_nan():
    rng = np.random.default_rng(9)
    f = rng.normal(size=(12, 6))
    assert frechet_distance_rows_to_gaussian(f, f.mean(0), np.cov(f, rowvar=False)) == pytest.approx(0.0, abs=1e-9)
    # A rank-one reference covariance: the small matrix's other eigenvalues are round-off, some
    # of them negative; they are clipped to 0, not square-rooted into NaN.
    v = rng.normal(size=(6, 1))
    sigma = v @ v.T
    value = frechet_distance_rows_to_gaussian(f, np.zeros(6), sigma)
    assert np.isfinite(value)
    assert value == pytest.approx(frechet_distance(f.mean(0), np.cov(f, rowvar=False), np.zeros(6), sigma), rel=1e-6)


def test_update_accumulates_in_float64_from_any_input():
    # Float32 rows: their outer products must be formed in float64. Rows 1 + 2^-13 and 1 in 1-D:
    # the exact unbiased variance is (2^-13)^2 / 2 = 2^-27; a float32 outer product drops the
    # 2^-26 of (1 + 2^-13)^2 and gives -2^-27.
    s = FeatureStatistics(1)
    s.update(np.array([[1 + 2**-13], [1.0]], dtype=np.float32))
    assert s.covariance()[0, 0] == 2**-27
    # A tensor that requires grad (features straight from a network) is read without error.
    t = FeatureStatistics(3)
    t.update(torch.ones(2, 3, requires_grad=True))
    np.testing.assert_array_equal(t.mean(), [1.0, 1.0, 1.0])
    one = FeatureStatistics(2)
    one.update(np.array([[2.0, 5.0]]))
    np.testing.assert_array_equal(one.mean(), [2.0, 5.0])  # one row has a mean (not a covariance)


def test_fid_from_features_takes_tensors_and_two_rows(stub, tmp_path):
    rng = np.random.default_rng(10)
    a, b = rng.normal(size=(2, 4)), rng.normal(size=(2, 4)) + 1
    expected = frechet_distance_low_rank(a, b)
    grad = torch.from_numpy(a).requires_grad_(True)  # features straight from a network
    assert fid_from_features(grad, torch.from_numpy(b)) == pytest.approx(expected, rel=1e-12)
    assert fid_from_features(torch.from_numpy(a), grad.detach()[[1, 0]] + 1) >= 0


def test_folder_features_order_by_stem_across_subfolders(stub, tmp_path):
    g = torch.Generator().manual_seed(11)
    write_image(tmp_path / "z" / "a.png", torch.rand(3, 16, 16, generator=g))
    write_image(tmp_path / "b.png", torch.rand(3, 16, 16, generator=g))
    rows, _, stems = InceptionFeatures().folder_features(tmp_path)
    assert stems == ["a", "b"]  # by stem, not by path (z/a.png sorts after b.png)
    a = read_image(tmp_path / "z" / "a.png", "RGB")[None]
    np.testing.assert_allclose(rows[:1], _expected_rows(a).numpy(), rtol=0, atol=1e-6)


def test_inception_input_checks_its_batch_with_whole_messages():
    with pytest.raises(InputError, match=r"^FID input "):
        fid_module.inception_input(torch.rand(1, 1, 20, 20))  # one channel: RGB needed
    with pytest.raises(InputError, match=r"^FID input "):
        fid_module.inception_input(torch.full((1, 3, 20, 20), 1.8))  # beyond [0, 1] by more than half
    with pytest.raises(InputError, match=r"^FID input "):
        fid_module.inception_input(torch.full((1, 3, 20, 20), 2.6))  # a declared range of [0, 2] would let it pass


# -- survivors of the second review ---------------------------------------------------------------
@pytest.mark.parametrize(
    "x, message",
    [
        (torch.rand(1, 1, 8, 8), "FID input has 1 channels, expected 3 (shape (1, 1, 8, 8); images are (B, C, H, W), "
                                 "channels first)"),
        (torch.full((1, 3, 8, 8), 2.5), "FID input has values in [2.5, 2.5], far outside the declared range [0, 1]; "
                                        "rescale the input or pass the matching input_range"),
        (torch.full((1, 3, 8, 8), float("nan")),
         "FID input contains NaN or Inf values; check the model output and data pipeline"),
    ],
)  # fmt: skip
def test_inception_input_whole_messages(x, message):
    import re

    from pdloss.metrics.fid import inception_input

    with pytest.raises(InputError, match=f"^{re.escape(message)}$"):
        inception_input(x)


def test_features_that_require_grad_and_float32_rows_are_read_in_float64():
    g = torch.Generator().manual_seed(3)
    x = torch.rand(4, 3, generator=g, dtype=torch.float64)
    y = torch.rand(5, 3, generator=g, dtype=torch.float64)
    assert fid_from_features(x.clone().requires_grad_(True), y.clone().requires_grad_(True)) == fid_from_features(
        x.numpy(), y.numpy()
    )
    stats = FeatureStatistics(dim=1)
    stats.update(torch.tensor([[4097.0]], requires_grad=True))
    # 4097^2 = 16785409 needs 25 bits: float32 products would round it to 16785408.
    stats.update(np.array([[4097.0]], dtype=np.float32))
    assert stats.count == 2 and stats._outer[0, 0] == 2 * 16785409.0


def test_two_rows_per_set_are_enough_for_fid():
    x = np.array([[0.0, 1.0], [1.0, 0.0]])
    assert fid_from_features(x, x) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(InputError):
        fid_from_features(x[:1], x)


def test_folder_features_sort_by_stem_and_progress_names_its_bars(stub, tmp_path, capsys):
    folder = tmp_path / "images"
    g = torch.Generator().manual_seed(0)
    for stem in ("a-b", "a"):  # by path "a-b.png" < "a.png" ('-' < '.'); by stem "a" < "a-b"
        write_image(folder / f"{stem}.png", torch.rand(3, 8, 8, generator=g))
    extractor = InceptionFeatures()
    capsys.readouterr()
    names = extractor.folder_features(folder, progress=True)[2]
    assert names == ["a", "a-b"]
    assert "Inception features" in capsys.readouterr().err
    FID().statistics([torch.rand(3, 8, 8, generator=g)] * 3, progress=True)
    assert "FID features" in capsys.readouterr().err
