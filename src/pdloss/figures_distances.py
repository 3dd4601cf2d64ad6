"""The paper's Fig. 2: why the Wasserstein distance suits feature distributions (paper section 3).

Panel (a), the toy example: a base histogram on a grid of bins of width ``bin_width`` is shifted
by 0, 1, 2, ... bins. The Wasserstein distance W1 grows linearly with the shift (exactly
``shift * bin_width``), while the Kullback-Leibler and Jensen-Shannon divergences stop changing
once the two supports are disjoint (shift >= the base's support width): they compare bin by bin
and ignore how far apart the bins are.

Panels (b-e): histograms of a few channels of VGG16 ``relu4_3`` features of an image at low
resolution (its 4x MATLAB-bicubic down-sampled version, rounded to 8 bits like the sr4x task,
up-sampled back to the original size by the same bicubic) and of the image itself, on a common
binning per channel, with their W1, KL and JS.

Conventions (both parts):

* **KL** is ``KL(P || Q)`` in nats (``scipy.stats.entropy``), where P is the base histogram (a) or
  the high-resolution one (b-e). It is infinite as soon as Q has an empty bin where P has mass,
  so both histograms are smoothed first, as is standard: ``EPSILON = 1e-6`` is added to the
  probability of every bin and each histogram is renormalised to sum 1. On a fixed common grid
  this keeps KL finite and makes it exactly constant for all disjoint supports.
* **JS** is the Jensen-Shannon *divergence* in bits (``scipy.spatial.distance.jensenshannon``
  with ``base=2``, squared: scipy returns its square root), in [0, 1], exactly 1 for disjoint
  supports. It needs no smoothing.
* **W1** is the 1-Wasserstein distance, in the units of the values: for (a)
  ``scipy.stats.wasserstein_distance`` between the histograms (bin centres weighted by their
  mass); for (b-e) :func:`pdloss.functional.wasserstein_1d` between the raw feature values (the
  loss's own distance, independent of the binning).

:func:`distance_figure_data` returns the numbers drawn, :func:`plot_distance_figure` draws them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pdloss.data.builtin import builtin_photos, resolve_image_path
from pdloss.data.sources import resolve_images
from pdloss.degradations import imresize, quantize_uint8
from pdloss.errors import InputError, PdlossError
from pdloss.features import build_extractor, layer_channels
from pdloss.functional import wasserstein_1d
from pdloss.imageio import read_image

EPSILON = 1e-6  # added to every bin's probability before KL (see the module docstring)
FIGSIZE = (15.0, 5.2)  # inches
DPI = 100  # so the PNG is FIGSIZE * DPI = 1500 x 520 pixels
DEFAULT_IMAGE = "builtin:astronaut"
DEFAULT_CHANNELS = (0, 1, 2, 3)
LR_FACTOR = 4


def _scipy():
    try:
        from scipy.spatial.distance import jensenshannon
        from scipy.stats import entropy, wasserstein_distance
    except ImportError as exc:  # an optional extra
        raise PdlossError("the distance figure needs scipy: pip install 'pdloss[metrics]'") from exc
    return entropy, jensenshannon, wasserstein_distance


def smoothed(p: np.ndarray, epsilon: float = EPSILON) -> np.ndarray:
    """``(p + epsilon) / sum(p + epsilon)`` of a histogram ``(..., bins)`` normalised to mass 1."""
    p = np.asarray(p, dtype=np.float64)
    p = p / p.sum(-1, keepdims=True)
    q = p + epsilon
    return q / q.sum(-1, keepdims=True)


def kl_divergence(p: np.ndarray, q: np.ndarray, epsilon: float = EPSILON) -> float:
    """``KL(p || q)`` in nats of two histograms on the same bins, after :func:`smoothed`."""
    entropy, _, _ = _scipy()
    return float(entropy(smoothed(p, epsilon), smoothed(q, epsilon)))


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence in bits (in [0, 1]) of two histograms on the same bins."""
    _, jensenshannon, _ = _scipy()
    return float(jensenshannon(np.asarray(p, np.float64), np.asarray(q, np.float64), base=2) ** 2)


def default_base_histogram(width: int = 10) -> np.ndarray:
    """A skewed, gamma-like histogram of ``width`` bins, all non-empty, mass 1:
    ``p_i proportional to (i + 1) exp(-i / 2.5)``."""
    i = np.arange(width, dtype=np.float64)
    p = (i + 1) * np.exp(-i / 2.5)
    return p / p.sum()


def toy_shift_data(
    base: Sequence[float] | None = None, max_shift: int = 30, bin_width: float = 1.0
) -> dict[str, Any]:
    """Panel (a): the base histogram shifted by 0..``max_shift`` bins on one common grid.

    Args:
        base: probabilities (or counts) of the base histogram; default
            :func:`default_base_histogram`. Its support width is the number of bins from the
            first to the last non-empty one.
        max_shift: the largest shift, in bins (>= 1).
        bin_width: width of a bin in value units (> 0); the grid's bin centres are
            ``(k + 0.5) * bin_width``, k = 0 .. len(base) + max_shift - 1.

    Returns:
        ``{"bin_width", "epsilon", "base", "support_width", "shifts", "shift_values", "w1", "kl",
        "js"}``: lists over the shifts (``shift_values`` = shifts x bin_width); KL in nats
        (smoothed, see the module docstring), JS in bits, W1 in value units.
    """
    _, _, wasserstein_distance = _scipy()
    p = np.asarray(default_base_histogram() if base is None else base, dtype=np.float64)
    if p.ndim != 1 or p.size == 0 or (p < 0).any() or not p.sum() > 0 or not np.isfinite(p).all():
        raise InputError("the base histogram must be a non-empty 1-D array of non-negative numbers with mass > 0")
    if int(max_shift) != max_shift or max_shift < 1:
        raise InputError(f"max_shift must be a positive integer, got {max_shift}")
    if not (bin_width > 0 and math.isfinite(bin_width)):
        raise InputError(f"bin_width must be positive, got {bin_width}")
    p = p / p.sum()
    max_shift = int(max_shift)
    nonzero = np.flatnonzero(p)
    support_width = int(nonzero[-1] - nonzero[0] + 1)
    grid = p.size + max_shift
    centres = (np.arange(grid) + 0.5) * bin_width
    # Row k is the base moved right by k bins, all on the same grid (so the smoothing is the
    # same for every shift and KL is comparable between shifts).
    shifted = np.zeros((max_shift + 1, grid))
    rows = np.arange(max_shift + 1)[:, None]
    shifted[rows, rows + np.arange(p.size)[None, :]] = p
    reference = shifted[0]
    w1 = [float(wasserstein_distance(centres, centres, reference, q)) for q in shifted]
    kl = [kl_divergence(reference, q) for q in shifted]
    js = [js_divergence(reference, q) for q in shifted]
    return {
        "bin_width": float(bin_width),
        "epsilon": EPSILON,
        "base": p.tolist(),
        "support_width": support_width,
        "shifts": list(range(max_shift + 1)),
        "shift_values": (np.arange(max_shift + 1) * bin_width).tolist(),
        "w1": w1,
        "kl": kl,
        "js": js,
    }


def prepare_pair(image: torch.Tensor, crop: int = 512, factor: int = LR_FACTOR) -> tuple[torch.Tensor, torch.Tensor]:
    """The (low-resolution, high-resolution) pair of one image ``(3, H, W)`` in [0, 1].

    The image is centre-cropped to at most ``crop`` x ``crop`` (0 = whole image) and trimmed to
    multiples of ``factor``; the low-resolution version is MATLAB-bicubic down-sampled by
    ``factor``, rounded to 8 bits (as the sr4x task), then bicubic up-sampled back to the same size
    and clipped to [0, 1]. Both returned ``(3, h, w)``, float32.
    """
    if image.ndim != 3 or image.shape[0] != 3:
        raise InputError(f"expected an RGB image (3, H, W), got {tuple(image.shape)}")
    h, w = image.shape[-2:]
    ch, cw = (h, w) if crop <= 0 else (min(crop, h), min(crop, w))
    ch, cw = ch - ch % factor, cw - cw % factor
    if ch < factor or cw < factor:
        raise InputError(f"image of {w}x{h} pixels is too small for a {factor}x down-sampling")
    top, left = (h - ch) // 2, (w - cw) // 2
    high = image[:, top : top + ch, left : left + cw].float()
    low = quantize_uint8(imresize(high, size=(ch // factor, cw // factor)))
    low = imresize(low, size=(ch, cw)).clamp(0, 1)
    return low, high


def feature_values(
    images: torch.Tensor, weights: str, channels: Sequence[int], layer: str = "relu4_3", backbone: str = "vgg16"
) -> tuple[torch.Tensor, str]:
    """VGG features of ``images`` ``(B, 3, H, W)`` in [0, 1] -> ``(B, len(channels), h*w)`` and the
    weights label. Channels outside the layer are refused."""
    extractor = build_extractor(backbone, weights, (layer,))
    n = layer_channels(backbone, layer)
    bad = [c for c in channels if not 0 <= c < n]
    if bad or not channels:
        raise InputError(f"channels must be 1 or more of 0..{n - 1} of {backbone} {layer}, got {list(channels)}")
    side = min(images.shape[-2:])
    if side < extractor.min_size:
        raise InputError(f"images of {side} pixels are smaller than the {extractor.min_size} that {layer} needs")
    with torch.no_grad():
        features = extractor(images, (layer,))[layer]  # (B, C, h, w)
    return features[:, list(channels)].flatten(2), extractor.weights_label


def channel_panels(low: torch.Tensor, high: torch.Tensor, bins: int = 64) -> list[dict[str, Any]]:
    """Per channel: common-binning histograms and W1 / KL / JS of low- vs high-resolution values.

    Args:
        low, high: ``(K, N)`` feature values of K channels (N may differ between the two).
        bins: number of equal bins spanning the channel's joint [min, max].

    Returns:
        one dict per channel: ``bin_edges`` (bins + 1), ``hist_low`` / ``hist_high`` (fractions
        summing to 1), ``w1`` (:func:`pdloss.functional.wasserstein_1d` on the values), ``kl``
        (``KL(high || low)``, nats, smoothed) and ``js`` (bits) on the histograms.
    """
    if bins < 2:
        raise InputError(f"bins must be >= 2, got {bins}")
    w1 = wasserstein_1d(low.double(), high.double()).tolist()  # all channels at once
    lo_np, hi_np = low.double().numpy(), high.double().numpy()
    panels = []
    for k in range(lo_np.shape[0]):  # a handful of plotted channels, not a hot path
        vmin = float(min(lo_np[k].min(), hi_np[k].min()))
        vmax = float(max(lo_np[k].max(), hi_np[k].max()))
        if vmax <= vmin:  # a constant channel (dead ReLU): one bin around the value
            vmin, vmax = vmin - 0.5, vmax + 0.5
        edges = np.linspace(vmin, vmax, bins + 1)
        h_low = np.histogram(lo_np[k], edges)[0] / lo_np[k].size
        h_high = np.histogram(hi_np[k], edges)[0] / hi_np[k].size
        panels.append(
            {
                "bin_edges": edges.tolist(),
                "hist_low": h_low.tolist(),
                "hist_high": h_high.tolist(),
                "w1": float(w1[k]),
                "kl": kl_divergence(h_high, h_low),
                "js": js_divergence(h_high, h_low),
            }
        )
    return panels


def distance_figure_data(
    image: str | Path | torch.Tensor | None = None,
    weights: str = "vgg16-hed",
    channels: Sequence[int] = DEFAULT_CHANNELS,
    layer: str = "relu4_3",
    crop: int = 512,
    bins: int = 64,
    max_shift: int = 30,
    bin_width: float = 1.0,
) -> dict[str, Any]:
    """All numbers of Fig. 2.

    Args:
        image: a file, ``builtin:NAME``, or an RGB tensor ``(3, H, W)`` in [0, 1]; default
            :func:`default_image` (``builtin:astronaut``).
        weights: VGG16 weights (``vgg16-hed`` offline; ``random`` for tests only).
        channels: the feature channels of the panels (b-e).
        layer: the VGG16 layer (the paper's ``relu4_3``).
        crop: centre crop side before the 4x down/up-sampling (0 = whole image).
        bins: bins per channel histogram.
        max_shift, bin_width: the toy example (:func:`toy_shift_data`).

    Returns:
        ``{"toy": toy_shift_data(...), "features": {"image", "weights", "backbone", "layer",
        "size", "factor", "channels": [{"channel", ...channel_panels fields}]}}``, plus the raw
        values drawn from: ``"values_low"`` / ``"values_high"`` ``(K, h*w)`` float32 tensors
        (kept out of :func:`write_json`).
    """
    toy = toy_shift_data(max_shift=max_shift, bin_width=bin_width)
    if image is None:
        image = default_image()
    if isinstance(image, torch.Tensor):
        tensor, name = image, "tensor"
    else:
        tensor, name = read_image(resolve_image_path(image)), str(image)
    channels = [int(c) for c in channels]
    low, high = prepare_pair(tensor, crop=crop)
    values, label = feature_values(torch.stack([low, high]), weights, channels, layer)
    panels = channel_panels(values[0], values[1], bins=bins)
    return {
        "toy": toy,
        "features": {
            "image": name,
            "weights": label,
            "backbone": "vgg16",
            "layer": layer,
            "size": [int(high.shape[-1]), int(high.shape[-2])],
            "factor": LR_FACTOR,
            "epsilon": EPSILON,
            "channels": [{"channel": c, **panel} for c, panel in zip(channels, panels, strict=True)],
        },
        "values_low": values[0],
        "values_high": values[1],
    }


def default_image() -> str:
    """``builtin:astronaut``, or the first built-in photo installed; a clear error if none."""
    if DEFAULT_IMAGE.split(":", 1)[1] in builtin_photos():
        return DEFAULT_IMAGE
    return str(resolve_images("builtin")[0])


def write_json(data: dict[str, Any], path: str | Path) -> Path:
    """The figure's data as JSON, without the raw feature values."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    public = {k: v for k, v in data.items() if not k.startswith("values_")}
    path.write_text(json.dumps(public, indent=1) + "\n")
    return path


def plot_distance_figure(data: dict[str, Any], out_png: str | Path) -> Path:
    """Draw Fig. 2 from :func:`distance_figure_data`: (a) on the left, then one column per channel
    (low resolution on top, high resolution below, same axes). Writes ``FIGSIZE * DPI`` pixels."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise PdlossError("the distance figure needs matplotlib: pip install 'pdloss[train]'") from exc

    toy, feats = data["toy"], data["features"]
    panels = feats["channels"]
    fig = plt.figure(figsize=FIGSIZE, dpi=DPI)
    # Fixed margins (not tight_layout, which ignores the offset third axis of panel a).
    ax = fig.add_subplot(fig.add_gridspec(1, 1, left=0.04, right=0.225, top=0.84, bottom=0.1)[0, 0])
    grid = fig.add_gridspec(2, len(panels), left=0.345, right=0.99, top=0.84, bottom=0.1, wspace=0.28, hspace=0.3)
    x = toy["shift_values"]
    # Three scales (value units, nats, bits): one y-axis each, all starting at 0.
    kl_axis, js_axis = ax.twinx(), ax.twinx()
    js_axis.spines["right"].set_position(("axes", 1.2))
    curves = (
        (ax, toy["w1"], "o-", "tab:blue", "Wasserstein W1 (value units)"),
        (kl_axis, toy["kl"], "s-", "tab:red", f"KL (nats, eps={toy['epsilon']:g})"),
        (js_axis, toy["js"], "^-", "tab:green", "JS (bits)"),
    )
    handles = []
    for axis, y, style, colour, label in curves:
        handles += axis.plot(x, y, style, color=colour, markersize=3, label=label)
        axis.set_ylim(0, 1.08 * max(max(y), 1e-12))
        axis.set_ylabel(label, color=colour, fontsize=8)
        axis.tick_params(axis="y", colors=colour, labelsize=7)
    ax.set_xlim(0, x[-1])
    ax.set_xlabel("shift (value units)")
    ax.axvline(toy["support_width"] * toy["bin_width"], color="grey", linestyle=":", linewidth=1)
    ax.legend(handles=handles, fontsize=7, loc="lower right")
    ax.set_title(f"(a) shifted histogram (support {toy['support_width']} bins, dotted)", fontsize=9)

    letters = "bcdefghijklmnopqrstuvwxyz"
    for i, panel in enumerate(panels):
        edges = np.asarray(panel["bin_edges"])
        top = max(max(panel["hist_low"]), max(panel["hist_high"]))
        low_name = f"low resolution ({feats['factor']}x bicubic)"
        rows = (("hist_low", "tab:orange", low_name), ("hist_high", "tab:blue", "image"))
        for row, (key, colour, name) in enumerate(rows):
            axis = fig.add_subplot(grid[row, i])
            axis.stairs(panel[key], edges, fill=True, color=colour, alpha=0.8)
            axis.set_yscale("log")  # ReLU features put much mass in the zero bin
            axis.set_ylim(1e-4, 1.5 * top)
            axis.tick_params(labelsize=7)
            if row == 0:
                axis.set_title(
                    f"({letters[i % len(letters)]}) channel {panel['channel']}\n"
                    f"W1 {panel['w1']:.3g}, KL {panel['kl']:.3g}, JS {panel['js']:.3g}",
                    fontsize=9,
                )
            else:
                axis.set_xlabel(f"{feats['layer']} activation", fontsize=8)
            if i == 0:
                axis.set_ylabel(f"{name}\nfraction", fontsize=8)
    fig.suptitle(
        f"Distances between distributions (KL in nats, JS in bits): {Path(feats['image']).name}, "
        f"{feats['size'][0]}x{feats['size'][1]}, VGG16 {feats['layer']} ({feats['weights']})",
        fontsize=10,
    )
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=DPI)
    plt.close(fig)
    return out
