"""Pictures of a comparison: side-by-side crops and the feature CDFs of the paper's Fig. 3."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from pdloss.features import build_extractor
from pdloss.imageio import read_image


def _stems(run_dir: Path, eval_name: str = "eval") -> list[str]:
    return sorted(p.stem for p in (run_dir / eval_name / "reference").glob("*.png"))


def _busiest_window(image: np.ndarray, size: int) -> tuple[int, int, float]:
    """Top-left corner of the ``size`` window with the most gradient energy (texture shows there),
    and that window's mean energy."""
    grey = image.mean(0)
    energy = np.abs(np.diff(grey, axis=0))[:, :-1] + np.abs(np.diff(grey, axis=1))[:-1, :]
    integral = np.pad(energy, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    h, w = energy.shape
    if h < size or w < size:
        return 0, 0, float(energy.mean()) if energy.size else 0.0
    sums = integral[size:, size:] - integral[:-size, size:] - integral[size:, :-size] + integral[:-size, :-size]
    top, left = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return int(top), int(left), float(sums[top, left]) / size**2


def grid_windows(
    reference_dir: Path, stems: Sequence[str], crop: int, windows: str = "textured", max_images: int = 3
) -> list[tuple[str, int, int, int]]:
    """The ``(stem, top, left, size)`` windows of a crop grid, chosen on the references only.

    ``"textured"``: each image's window of most gradient energy, and the ``max_images`` images whose
    window has the most (texture is where losses differ; the restorations play no part in the
    choice). ``"centre"``: the centre window of the first ``max_images`` images.
    """
    if windows not in ("textured", "centre"):
        raise ValueError(f"windows must be 'textured' or 'centre', got {windows!r}")
    chosen = []
    for stem in stems:
        reference = read_image(reference_dir / f"{stem}.png").numpy()
        size = min(crop, *reference.shape[1:])
        if windows == "centre":
            h, w = reference.shape[1:]
            chosen.append((stem, (h - size) // 2, (w - size) // 2, size, 0.0))
        else:
            top, left, energy = _busiest_window(reference, size)
            chosen.append((stem, top, left, size, energy))
    if windows == "textured":
        chosen.sort(key=lambda item: -item[4])
    return [item[:4] for item in chosen[:max_images]]


def crop_grid(
    run_dirs: Sequence[Path],
    labels: Sequence[str],
    out_png: Path,
    crop: int = 96,
    max_images: int = 3,
    eval_name: str | Sequence[str] = "eval",
    zoom: int = 1,
    windows: str = "textured",
) -> Path:
    """A grid: one row per image; columns input, each run's restoration, reference.

    ``eval_name``: the evaluation folder inside every run, or one per run (an earlier checkpoint's
    ``eval-TAG-stepN`` beside another run's ``eval-TAG``); the images must be the same.
    ``zoom``: each crop is enlarged ``zoom`` times by pixel replication (2: the 2x zoom that shows
    texture and grain); ``windows``: see :func:`grid_windows`.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if zoom < 1:
        raise ValueError(f"zoom must be >= 1, got {zoom}")
    names = [eval_name] * len(run_dirs) if isinstance(eval_name, str) else list(eval_name)
    if len(names) != len(run_dirs):
        raise ValueError(f"{len(names)} evaluation folder names for {len(run_dirs)} runs")
    first = Path(run_dirs[0])
    evals = first / names[0]
    chosen = grid_windows(evals / "reference", _stems(first, names[0]), crop, windows, max_images)
    input_dir = next((evals / name for name in ("input", "input-small") if (evals / name).is_dir()), None)
    has_input = input_dir is not None
    factors = {stem: _input_factor(input_dir, evals / "reference", stem) if has_input else 1 for stem, *_ in chosen}
    # The windows start on the low-resolution grid, so that the input's pixels cover them exactly.
    chosen = [(stem, top - top % factors[stem], left - left % factors[stem], size) for stem, top, left, size in chosen]
    largest = max(factors.values(), default=1)
    input_title = "input" if largest == 1 else f"input ({largest}x nearest)"
    columns = ([input_title] if has_input else []) + list(labels) + ["reference"]
    scale = max(1.0, zoom * crop / 96)
    fig, axes = plt.subplots(
        len(chosen), len(columns), figsize=(2.2 * scale * len(columns), 2.3 * scale * len(chosen)), squeeze=False
    )
    for r, (stem, top, left, size) in enumerate(chosen):
        panels = []
        if has_input:
            panels.append((input_dir / f"{stem}.png", factors[stem]))
        panels += [(Path(d) / name / "restored" / f"{stem}.png", 1) for d, name in zip(run_dirs, names, strict=True)]
        panels.append((evals / "reference" / f"{stem}.png", 1))
        for c, ((path, factor), title) in enumerate(zip(panels, columns, strict=True)):
            image = crop_panel(read_image(path).numpy(), top, left, size, zoom, factor)
            ax = axes[r][c]
            ax.imshow(image.transpose(1, 2, 0), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(title, fontsize=9)
        axes[r][0].set_ylabel(f"{stem} ({zoom}x)" if zoom > 1 else stem, fontsize=8)
    fig.tight_layout()
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png


def crop_panel(image: np.ndarray, top: int, left: int, size: int, zoom: int, factor: int = 1) -> np.ndarray:
    """The ``size`` x ``size`` window at ``(top, left)`` of the reference grid, zoomed ``zoom`` times
    by pixel replication. ``factor`` > 1: ``image`` (C, h, w) is that many times smaller than the
    reference (a super-resolution input); its pixels covering the window are replicated
    ``factor * zoom`` times (nearest neighbour, as SR figures show inputs)."""
    if factor > 1:
        image = image[:, top // factor : (top + size) // factor, left // factor : (left + size) // factor]
        zoom = zoom * factor
    else:
        image = image[:, top : top + size, left : left + size]
    return image.repeat(zoom, axis=1).repeat(zoom, axis=2) if zoom > 1 else image


def _input_factor(input_dir: Path, reference_dir: Path, stem: str) -> int:
    """How many times smaller the input of ``stem`` is than its reference (1: the same size)."""
    from PIL import Image

    with Image.open(input_dir / f"{stem}.png") as small, Image.open(reference_dir / f"{stem}.png") as big:
        (w, h), (big_w, big_h) = small.size, big.size
    if big_h % h or big_w % w or big_h // h != big_w // w:
        raise ValueError(f"input {stem} is {w}x{h}, not a whole fraction of its {big_w}x{big_h} reference")
    return big_h // h


def run_colors(count: int) -> list:
    """``count`` distinct line colours: tab10 up to 10 runs, tab20 up to 20, then evenly spaced hues
    (a sweep's table often has 15-20 rows, and tab10 repeats after 10)."""
    import matplotlib

    if count <= 10:
        return [matplotlib.colormaps["tab10"](i) for i in range(count)]
    if count <= 20:
        return [matplotlib.colormaps["tab20"](i) for i in range(count)]
    return [matplotlib.colormaps["hsv"](i / count) for i in range(count)]


def draw_feature_cdfs(curves: dict[str, np.ndarray], layer: str, channels: Sequence[int], title: str):
    """The figure of :func:`feature_cdf_plot` from pooled values: ``curves`` maps ``"reference"``
    (drawn black) and each run's label to a ``(len(channels), samples)`` array. One panel per
    channel; one legend for all, to the right of the panels, so that it hides no curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(channels), figsize=(3.2 * len(channels), 3), squeeze=False)
    runs = [label for label in curves if label != "reference"]
    color_of = {"reference": "black", **dict(zip(runs, run_colors(len(runs)), strict=True))}
    for i, channel in enumerate(channels):
        ax = axes[0][i]
        for label, values in curves.items():
            v = np.sort(values[i])
            ax.plot(
                v,
                np.arange(1, v.size + 1) / v.size,
                label=label,
                linewidth=2.2 if label == "reference" else 1.2,
                color=color_of[label],
            )
        ax.set_title(f"{layer} channel {channel}", fontsize=9)
        ax.set_xlabel("activation")
        ax.set_xscale("symlog", linthresh=1e-2 * max(1e-6, float(curves["reference"][i].max())))
    axes[0][0].set_ylabel("cumulative fraction")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    return fig


def feature_cdf_plot(
    run_dirs: Sequence[Path],
    labels: Sequence[str],
    out_png: Path,
    weights: str,
    layer: str = "relu4_3",
    channels: Sequence[int] = (0, 1, 2, 3),
    backbone: str = "vgg16",
    eval_name: str = "eval",
) -> Path:
    """The paper's Fig. 3: cumulative distributions of VGG feature channels, reference vs each run,
    pooled over the evaluation images."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt


    extractor = build_extractor(backbone, weights, [layer])
    first = Path(run_dirs[0])
    stems = _stems(first, eval_name)

    def pooled(folder: Path) -> np.ndarray:
        values = []
        with torch.no_grad():
            for stem in stems:
                x = read_image(folder / f"{stem}.png")[None]
                f = extractor(x, [layer])[layer][0]  # (C, h, w)
                values.append(f[list(channels)].flatten(1).numpy())
        return np.concatenate(values, axis=1)  # (channels, samples)

    curves = {"reference": pooled(first / eval_name / "reference")}
    for run_dir, label in zip(run_dirs, labels, strict=True):
        curves[label] = pooled(Path(run_dir) / eval_name / "restored")
    fig = draw_feature_cdfs(curves, layer, channels, title=f"Feature CDFs ({extractor.weights_label})")
    out_png.parent.mkdir(parents=True, exist_ok=True)
    # "tight": the legend sits outside the axes, to their right.
    fig.savefig(out_png, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return out_png
