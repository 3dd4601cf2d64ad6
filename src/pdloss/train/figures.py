"""Pictures of a comparison: side-by-side crops and the feature CDFs of the paper's Fig. 3."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from pdloss.imageio import read_image


def _stems(run_dir: Path) -> list[str]:
    return sorted(p.stem for p in (run_dir / "eval" / "reference").glob("*.png"))


def _busiest_window(image: np.ndarray, size: int) -> tuple[int, int]:
    """Top-left corner of the ``size`` window with the most gradient energy (texture shows there)."""
    grey = image.mean(0)
    energy = np.abs(np.diff(grey, axis=0))[:, :-1] + np.abs(np.diff(grey, axis=1))[:-1, :]
    integral = np.pad(energy, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    h, w = energy.shape
    if h < size or w < size:
        return 0, 0
    sums = integral[size:, size:] - integral[:-size, size:] - integral[size:, :-size] + integral[:-size, :-size]
    top, left = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return int(top), int(left)


def crop_grid(
    run_dirs: Sequence[Path], labels: Sequence[str], out_png: Path, crop: int = 96, max_images: int = 3
) -> Path:
    """A grid: one row per image; columns input, each run's restoration, reference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first = Path(run_dirs[0])
    stems = _stems(first)[:max_images]
    has_input = (first / "eval" / "input").is_dir()
    columns = (["input"] if has_input else []) + list(labels) + ["reference"]
    fig, axes = plt.subplots(len(stems), len(columns), figsize=(2.2 * len(columns), 2.3 * len(stems)), squeeze=False)
    for r, stem in enumerate(stems):
        reference = read_image(first / "eval" / "reference" / f"{stem}.png").numpy()
        size = min(crop, *reference.shape[1:])
        top, left = _busiest_window(reference, size)
        panels = []
        if has_input:
            panels.append(first / "eval" / "input" / f"{stem}.png")
        panels += [Path(d) / "eval" / "restored" / f"{stem}.png" for d in run_dirs]
        panels.append(first / "eval" / "reference" / f"{stem}.png")
        for c, (path, title) in enumerate(zip(panels, columns, strict=True)):
            image = read_image(path).numpy()[:, top : top + size, left : left + size]
            ax = axes[r][c]
            ax.imshow(image.transpose(1, 2, 0), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(title, fontsize=9)
        axes[r][0].set_ylabel(stem, fontsize=8)
    fig.tight_layout()
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png


def feature_cdf_plot(
    run_dirs: Sequence[Path],
    labels: Sequence[str],
    out_png: Path,
    weights: str,
    layer: str = "relu4_3",
    channels: Sequence[int] = (0, 1, 2, 3),
    backbone: str = "vgg16",
) -> Path:
    """The paper's Fig. 3: cumulative distributions of VGG feature channels, reference vs each run,
    pooled over the evaluation images."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pdloss.features import get_extractor

    extractor = get_extractor(backbone, weights, [layer])
    first = Path(run_dirs[0])
    stems = _stems(first)

    def pooled(folder: Path) -> np.ndarray:
        values = []
        with torch.no_grad():
            for stem in stems:
                x = read_image(folder / f"{stem}.png")[None]
                f = extractor(x, [layer])[layer][0]  # (C, h, w)
                values.append(f[list(channels)].flatten(1).numpy())
        return np.concatenate(values, axis=1)  # (channels, samples)

    curves = {"reference": pooled(first / "eval" / "reference")}
    for run_dir, label in zip(run_dirs, labels, strict=True):
        curves[label] = pooled(Path(run_dir) / "eval" / "restored")
    fig, axes = plt.subplots(1, len(channels), figsize=(3.2 * len(channels), 3), squeeze=False)
    for i, channel in enumerate(channels):
        ax = axes[0][i]
        for label, values in curves.items():
            v = np.sort(values[i])
            ax.plot(
                v,
                np.arange(1, v.size + 1) / v.size,
                label=label,
                linewidth=2.2 if label == "reference" else 1.2,
                color="black" if label == "reference" else None,
            )
        ax.set_title(f"{layer} channel {channel}", fontsize=9)
        ax.set_xlabel("activation")
        ax.set_xscale("symlog", linthresh=1e-2 * max(1e-6, float(curves["reference"][i].max())))
    axes[0][0].set_ylabel("cumulative fraction")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"Feature CDFs ({extractor.weights_label})", fontsize=9)
    fig.tight_layout()
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png
