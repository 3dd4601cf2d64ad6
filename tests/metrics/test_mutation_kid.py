"""KID: hand-computed kernel and estimator values, torch-fidelity's defaults written out, every
error's whole message, and the KID class on a stub network (the real one is exercised in
``tests/test_metrics_kid.py``)."""

from __future__ import annotations

import inspect
from typing import ClassVar

import numpy as np
import pytest
import torch

from pdloss.errors import InputError
from pdloss.imageio import write_image
from pdloss.metrics import kid as kid_module
from pdloss.metrics.kid import KID, kid_from_features, mmd2_unbiased, polynomial_kernel, set_metric_from_features


def test_polynomial_kernel_by_hand():
    # (a . b / d + 1)^3 with d = 2: a = (1, 2), b = (3, -1) -> (1/2 + 1)^3 = 3.375.
    a, b = np.array([[1.0, 2.0]]), np.array([[3.0, -1.0], [0.0, 0.0]])
    np.testing.assert_allclose(polynomial_kernel(a, b), [[3.375, 1.0]], rtol=1e-15)
    assert polynomial_kernel(a.astype(np.float32), b).dtype == np.float64
    # Float32 rows are multiplied in float64 (a float32 dot product of 2048 values loses digits).
    big = np.full((1, 3), 1 + 2**-20, dtype=np.float32)
    assert polynomial_kernel(big, big)[0, 0] == pytest.approx((float(big[0, 0]) ** 2 + 1) ** 3, rel=1e-15)


def test_mmd2_unbiased_by_hand():
    # m = 2: within = (sum - trace) / (m (m - 1)) for each block, cross = 2 * sum / m^2.
    k_xx = np.array([[9.0, 1.0], [3.0, 9.0]])  # off-diagonal sum 4
    k_yy = np.array([[7.0, 2.0], [2.0, 7.0]])  # off-diagonal sum 4
    k_xy = np.array([[1.0, 2.0], [3.0, 4.0]])  # sum 10
    assert mmd2_unbiased(k_xx, k_yy, k_xy) == pytest.approx(4 / 2 + 4 / 2 - 2 * 10 / 4, rel=1e-15)
    three = np.ones((3, 3))
    assert mmd2_unbiased(three, 2 * three, three) == pytest.approx(1 + 2 - 2, rel=1e-15)


def test_torch_fidelity_defaults():
    # kid_subset_size=1000, kid_subsets=100 (torch-fidelity, clean-fid), seed 0.
    assert (kid_module.KID_SUBSET_SIZE, kid_module.KID_SUBSETS) == (1000, 100)
    defaults = {k: p.default for k, p in inspect.signature(kid_from_features).parameters.items()}
    assert (defaults["subset_size"], defaults["subsets"], defaults["seed"]) == (1000, 100, 0)
    # Subsets of 1000 rows by default (two subsets here, to stay fast).
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(1002, 2)), rng.normal(size=(1001, 2)) + 0.1
    draws = np.random.default_rng(0)
    values = []
    for _ in range(2):
        ix, iy = draws.choice(1002, 1000, replace=False), draws.choice(1001, 1000, replace=False)
        xs, ys = x[ix], y[iy]
        values.append(mmd2_unbiased(polynomial_kernel(xs, xs), polynomial_kernel(ys, ys), polynomial_kernel(xs, ys)))
    mean, std = kid_from_features(x, y, subsets=2)
    assert mean == pytest.approx(np.mean(values), rel=1e-9)
    assert std == pytest.approx(np.std(values), rel=1e-6)


def test_two_rows_and_two_subsets_are_enough():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(2, 3)), rng.normal(size=(3, 3))
    mean, std = kid_from_features(x, y, subset_size=2, subsets=1)
    assert np.isfinite(mean) and std == 0.0
    draws = np.random.default_rng(0)
    _, iy = draws.choice(2, 2, replace=False), draws.choice(3, 2, replace=False)
    ys = y[iy]
    assert mean == pytest.approx(
        mmd2_unbiased(polynomial_kernel(x, x), polynomial_kernel(ys, ys), polynomial_kernel(x, ys)), rel=1e-12
    )


@pytest.mark.parametrize(
    "x,y,options,message",
    [
        ((5, 4), (5, 3), {}, r"KID needs features of one width, got 4 and 3"),
        ((5, 4), (1, 4), {}, r"KID needs at least 2 samples per set, got 5 and 1"),
        ((1, 4), (5, 4), {}, r"KID needs at least 2 samples per set, got 1 and 5"),
        ((5, 4), (5, 4), {"subset_size": 1}, r"KID needs subsets >= 1 and subset_size >= 2, got 100 and 1"),
        ((5, 4), (5, 4), {"subsets": 0}, r"KID needs subsets >= 1 and subset_size >= 2, got 0 and 1000"),
        ((5,), (5, 4), {}, r"KID first features must be \(N, D\), got shape \(5,\)"),
        ((5, 4), (5,), {}, r"KID second features must be \(N, D\), got shape \(5,\)"),
    ],
)
def test_bad_input_whole_messages(x, y, options, message):
    with pytest.raises(InputError, match=f"^{message}$"):
        kid_from_features(np.zeros(x), np.zeros(y), **options)


def test_non_finite_features_name_their_set():
    good = np.zeros((3, 2))
    with pytest.raises(InputError, match=r"^KID first features contain NaN or inf$"):
        kid_from_features(np.full((3, 2), np.inf), good)
    with pytest.raises(InputError, match=r"^KID second features contain NaN or inf$"):
        kid_from_features(good, np.full((3, 2), np.nan))


def test_set_metric_whole_messages_and_options():
    x = np.random.default_rng(2).normal(size=(6, 3))
    with pytest.raises(InputError, match=r"^unknown set metric 'is'; choose fid or kid$"):
        set_metric_from_features("is", x, x)
    with pytest.raises(InputError, match=r"^FID takes no options, got \['seed', 'subsets'\]$"):
        set_metric_from_features("fid", x, x, subsets=1, seed=1)
    with pytest.raises(InputError, match=r"^unknown KID option\(s\) \['degree'\]; use subset_size, subsets, seed$"):
        set_metric_from_features("kid", x, x, degree=2, seed=1)
    y = x[::-1] + 0.5
    assert (
        set_metric_from_features("kid", x, y, subset_size=3, subsets=2, seed=4)
        == kid_from_features(x, y, subset_size=3, subsets=2, seed=4)[0]
    )


# -- the class, on a stub network ---------------------------------------------------------------
PIXELS = torch.randperm(3 * 299 * 299, generator=torch.Generator().manual_seed(6))[:2048]


class _Stub(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)[:, PIXELS]

    def load_fid_state_dict(self, state: dict, source: str) -> None:
        self.source = source


@pytest.fixture
def stub(monkeypatch):
    import pdloss.metrics.fid_weights as fw
    import pdloss.metrics.inception as inc

    class Loaded:
        state_dict: ClassVar[dict] = {}
        label = "stub"

    requested = []
    monkeypatch.setattr(fw, "load_fid_weights", lambda spec=None: requested.append(spec) or Loaded())
    monkeypatch.setattr(inc, "FIDInceptionV3", _Stub)
    return requested


def test_kid_class_passes_its_options_and_network_arguments(stub, tmp_path):
    metric = KID(weights="w.pth", batch_size=2, patch_size=16, subset_size=3, subsets=5, seed=9)
    assert stub == ["w.pth"] and metric.higher_is_better is False
    assert (metric.batch_size, metric.patch_size, metric.weights_label) == (2, 16, "stub")
    assert metric.options == {"subset_size": 3, "subsets": 5, "seed": 9}
    default = KID()
    assert stub[-1] is None
    assert default.options == {"subset_size": 1000, "subsets": 100, "seed": 0}
    assert (default.batch_size, default.patch_size) == (16, None)
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(1, 3, 32, 32, generator=g), torch.rand(1, 3, 32, 48, generator=g)
    # Patch mode: 4 and 6 tiles; subsets of 3 rows.
    expected = kid_from_features(metric.features(a), metric.features(b), subset_size=3, subsets=5, seed=9)
    assert metric(a, b) == expected and expected[1] > 0
    write_image(tmp_path / "p" / "x.png", a[0])
    write_image(tmp_path / "r" / "x.png", b[0])
    f1, f2 = metric.folder_features(tmp_path / "p")[0], metric.folder_features(tmp_path / "r")[0]
    assert metric.between_folders(tmp_path / "p", tmp_path / "r") == kid_from_features(
        f1, f2, subset_size=3, subsets=5, seed=9
    )


def test_features_that_require_grad_are_read_as_plain_rows():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(5, 4, generator=g, dtype=torch.float64).requires_grad_(True)
    y = torch.rand(6, 4, generator=g, dtype=torch.float64)
    # np.asarray of a tensor that requires grad fails: the rows are detached first.
    assert kid_from_features(x, y, subset_size=3, subsets=4, seed=2) == kid_from_features(
        x.detach().numpy(), y.numpy(), subset_size=3, subsets=4, seed=2
    )


def test_between_folders_shows_progress_only_when_asked(stub, tmp_path, capsys):
    metric = KID(batch_size=2, subset_size=2, subsets=2)
    g = torch.Generator().manual_seed(0)
    for folder in ("p", "r"):
        for stem in ("a", "b"):
            write_image(tmp_path / folder / f"{stem}.png", torch.rand(3, 16, 16, generator=g))
    capsys.readouterr()
    quiet = metric.between_folders(tmp_path / "p", tmp_path / "r")
    assert capsys.readouterr().err == ""
    assert metric.between_folders(tmp_path / "p", tmp_path / "r", progress=True) == quiet
    assert capsys.readouterr().err != ""  # the progress bars
