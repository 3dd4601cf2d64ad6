"""Difference curves: ``B - A`` with its paired interval against a setting (crop size, steps).

A results folder's ``curves.json`` names the points::

    {"title": "PDL minus L1-perceptual",
     "metrics": ["psnr", "niqe", "kid"],
     "panels": [{"name": "feature-map size", "xlabel": "training crop (px)",
                 "lines": [{"label": "λ = 0.02",
                            "points": [{"x": 64, "a": "crops-64-perceptual-l1-0.02", "b": "crops-64-pdl-0.02"}]}]}]}

Points whose entries were not exported (runs not done yet) are listed as missing, not drawn.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pdloss.metrics.registry import METRIC_SPECS
from pdloss.report.format import difference_header, format_interval, mc_line
from pdloss.report.results import Study


def curves_report(study: Study, spec: dict[str, Any], out_dir: Path, n_boot: int) -> tuple[str, dict[str, Any]]:
    """Markdown tables and ``out_dir/curves.png`` of the spec's curves; returns (markdown, data)."""
    metrics = list(spec.get("metrics", ["psnr", "niqe", "kid"]))
    lines = [f"### {spec.get('title', 'Difference curves')}", ""]
    data: dict[str, Any] = {"panels": [], "b_name": spec.get("b_name", "B")}
    for panel in spec["panels"]:
        head = difference_header(metrics)
        lines += [f"{panel['name']} ({panel.get('xlabel', 'x')}):", ""]
        table = [f"| line | x | seeds | {head} |", "|---|---|---|" + "---|" * len(metrics)]
        panel_data = {"name": panel["name"], "xlabel": panel.get("xlabel", ""), "lines": []}
        missing = []
        for line in panel["lines"]:
            points = []
            for point in line["points"]:
                if point["a"] not in study.entries or point["b"] not in study.entries:
                    missing.append(f"{line['label']} at {point['x']}")
                    continue
                intervals, seeds = study.compare_metrics(point["a"], point["b"], metrics, n_boot)
                values = {m: i.to_json() for m, i in intervals.items()}
                cells = " | ".join(format_interval(values[m], m, signed=True) for m in metrics)
                table.append(f"| {line['label']} | {point['x']} | {len(seeds)} | {cells} |")
                points.append({"x": point["x"], "a": point["a"], "b": point["b"], "seeds": seeds, "metrics": values})
            panel_data["lines"].append({"label": line["label"], "points": points})
        if len(table) > 2:
            points = [p for line in panel_data["lines"] for p in line["points"]]
            lines += [*table, "", mc_line(points, metrics), ""]
        if missing:
            lines += [f"Not run yet: {', '.join(missing)}.", ""]
        data["panels"].append(panel_data)
    plot_curves(data, metrics, out_dir / "curves.png", spec.get("title", ""))
    return "\n".join(lines), data


def plot_curves(data: dict[str, Any], metrics: list[str], out_png: Path, title: str = "") -> Path:
    """One row of panels per setting, one column per metric: the mean difference with its 95%
    interval as error bars, a dashed line at 0 (no difference). Numeric x on a log2 axis (crop
    sizes, steps); text x (feature networks) as categories."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = data["panels"]
    # One colour per line label in every panel (a panel with only the λ = 0.08 line draws it in
    # λ = 0.08's colour, not in the first one).
    labels = list(dict.fromkeys(line["label"] for panel in panels for line in panel["lines"]))
    fig, axes = plt.subplots(len(panels), len(metrics), figsize=(3.6 * len(metrics), 2.9 * len(panels)), squeeze=False)
    for row, panel in zip(axes, panels, strict=True):
        for ax, metric in zip(row, metrics, strict=True):
            spec = METRIC_SPECS[metric]
            xs_all = list(dict.fromkeys(p["x"] for line in panel["lines"] for p in line["points"]))
            categorical = any(isinstance(x, str) for x in xs_all)
            if not categorical:
                xs_all = sorted(xs_all)
            for k, line in enumerate(panel["lines"]):
                pts = line["points"]
                if not pts:
                    continue
                shift = k - (len(panel["lines"]) - 1) / 2  # lines side by side, not on top of each other
                if categorical:
                    xs = [xs_all.index(p["x"]) + 0.06 * shift for p in pts]
                else:
                    xs = [p["x"] * (1 + 0.02 * shift) for p in pts]
                means = [p["metrics"][metric]["mean"] for p in pts]
                lows = [p["metrics"][metric]["mean"] - p["metrics"][metric]["low"] for p in pts]
                highs = [p["metrics"][metric]["high"] - p["metrics"][metric]["mean"] for p in pts]
                ax.errorbar(
                    xs, means, yerr=[lows, highs], marker="o", capsize=3, label=line["label"],
                    color=f"C{labels.index(line['label']) % 10}",
                )
            if not xs_all:
                ax.text(0.5, 0.5, "not run yet", transform=ax.transAxes, ha="center", va="center", color="0.4")
                ax.set_yticks([])
            ax.axhline(0, color="0.5", linestyle="--", linewidth=0.8)
            if categorical:
                ax.set_xticks(range(len(xs_all)))
                ax.set_xlim(-0.5, len(xs_all) - 0.5)
            else:
                ax.set_xscale("log", base=2)
                ax.set_xticks(xs_all)
            ax.set_xticklabels([str(x) for x in xs_all])
            ax.set_xlabel(panel.get("xlabel", ""))
            better = "lower" if not spec.higher_is_better else "higher"
            ax.set_title(f"Δ{spec.title} ({better}: {data.get('b_name', 'B')} better)", fontsize=9)
        if row[0].get_legend_handles_labels()[0]:
            row[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png
