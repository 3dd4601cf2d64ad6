"""The feature-CDF figure (the paper's Fig. 3): every run its own colour, a legend that hides no
curve, the empirical CDF of the pooled values (files and arrays made here)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from matplotlib.colors import to_rgba
from PIL import Image

from pdloss.imageio import write_image
from pdloss.report.figures import draw_feature_cdfs, feature_cdf_plot, run_colors


@pytest.mark.parametrize("count", [1, 4, 10, 11, 16, 20, 21, 30])
def test_run_colors_are_pairwise_distinct(count):
    colors = run_colors(count)
    assert len(colors) == count
    for a, b in itertools.combinations(colors, 2):
        assert not np.allclose(a, b)


def test_sixteen_runs_get_sixteen_colours_and_a_legend_outside_the_panels():
    rng = np.random.default_rng(0)
    labels = ["reference", *[f"run {i}" for i in range(16)]]
    curves = {label: rng.random((2, 50)) for label in labels}
    fig = draw_feature_cdfs(curves, "relu4_3", [0, 1], title="t")
    try:
        for ax in fig.axes:
            lines = ax.get_lines()
            assert [line.get_label() for line in lines] == labels
            colors = {tuple(np.round(to_rgba(line.get_color()), 6)) for line in lines}
            assert len(colors) == len(labels)
            assert lines[0].get_color() == "black"
        (legend,) = fig.legends
        assert [t.get_text() for t in legend.get_texts()] == labels
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        box = legend.get_window_extent(renderer)
        for ax in fig.axes:
            assert not box.overlaps(ax.get_window_extent(renderer))
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


def test_each_curve_is_the_empirical_cdf_of_its_values():
    curves = {"reference": np.array([[3.0, 1.0, 2.0]]), "a": np.array([[0.5, 0.0, 4.0]])}
    fig = draw_feature_cdfs(curves, "relu1_2", [7], title="t")
    try:
        reference, run = fig.axes[0].get_lines()
        np.testing.assert_allclose(reference.get_xdata(), [1, 2, 3])
        np.testing.assert_allclose(reference.get_ydata(), [1 / 3, 2 / 3, 1])
        np.testing.assert_allclose(run.get_xdata(), [0, 0.5, 4])
        assert fig.axes[0].get_title() == "relu1_2 channel 7"
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


def test_feature_cdf_plot_from_run_folders_keeps_the_legend_in_the_file(tmp_path):
    runs = []
    for r in range(12):
        run = tmp_path / f"run{r}"
        g = torch.Generator().manual_seed(r)
        for kind in ("reference", "restored"):
            (run / "eval" / kind).mkdir(parents=True)
            write_image(run / "eval" / kind / "a.png", torch.rand(3, 32, 32, generator=g))
        runs.append(run)
    out = feature_cdf_plot(runs, [f"r{r}" for r in range(12)], tmp_path / "cdf.png", "random", "relu1_2", [0, 1])
    width, height = Image.open(out).size
    # Two panels of 3.2 in at 110 dpi are 704 px; the legend to their right widens the saved image.
    assert width > 704 + 40 and height > 0
