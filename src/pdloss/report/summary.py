"""A sweep's results across seeds: one row per sweep entry (the mean over its seeds), paired 95%
intervals of every entry against a reference entry, and the perception-distortion plot.

``summarise(...)`` turns the evaluation records of a sweep's runs into:

- ``entries``: per entry (a run name without its ``-seedN``), the seeds, the mean and the spread
  (standard deviation over seeds) of every metric;
- ``differences``: per entry against the reference entry, ``B - A`` with the paired bootstrap
  interval of :func:`pdloss.evaluation.compare.compare_evaluations` (images and seeds resampled; only the seeds
  both entries have are paired);
- ``perception_distortion.png|json``: PSNR against NIQE and KID, one curve per loss through its
  weights (fine-tuned runs), single points for runs of another protocol (from scratch, the
  pre-training), error bars of one standard deviation over seeds where an entry has several.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pdloss.evaluation.compare import compare_evaluations
from pdloss.metrics.registry import METRIC_SPECS
from pdloss.report.format import format_interval
from pdloss.stats import N_BOOT

PD_DISTORTION = "psnr"
PD_PERCEPTION = ("niqe", "kid")
# A perception axis whose largest value is this many times its smallest is drawn on a log scale.
LOG_SCALE_RATIO = 5.0


@dataclass
class Entry:
    """The runs of one sweep entry (one per seed) and their evaluation records."""

    name: str
    label: str
    loss: str
    weight: float | None
    fine_tuned: bool
    options: dict[str, Any] = field(default_factory=dict)  # the loss's settings besides its name and weight
    seeds: list[int] = field(default_factory=list)
    eval_dirs: list[Path] = field(default_factory=list)
    records: list[dict] = field(default_factory=list)

    def values(self, metric: str) -> list[float]:
        out = []
        for record in self.records:
            value = record["row"].get(metric)
            if value is not None and math.isfinite(float(value)):
                out.append(float(value))
        return out

    def mean(self, metric: str) -> float | None:
        values = self.values(metric)
        return float(np.mean(values)) if values else None

    def spread(self, metric: str) -> float | None:
        values = self.values(metric)
        return float(np.std(values, ddof=1)) if len(values) > 1 else None


def group_entries(records: Sequence[tuple[Any, Any, dict]], eval_name: str) -> list[Entry]:
    """``(SweepRun, Config, record)`` triples -> entries in the sweep's order."""
    entries: dict[str, Entry] = {}
    for run, config, record in records:
        entry = entries.get(run.group)
        if entry is None:
            entry = entries[run.group] = Entry(
                name=run.group,
                label=config.loss_label,
                loss=str(config.loss.get("name")),
                weight=config.loss.get("weight"),
                fine_tuned=bool(config.model.init),
                options={k: v for k, v in config.loss.items() if k not in ("name", "weight")},
            )
        entry.seeds.append(run.seed)
        entry.eval_dirs.append(Path(config.output) / eval_name)
        entry.records.append(record)
    labels = [e.label for e in entries.values()]
    for entry in entries.values():
        if labels.count(entry.label) > 1:
            entry.label = f"{entry.label} [{entry.name}]"
    return list(entries.values())


def entry_rows(entries: Sequence[Entry], metrics: Sequence[str]) -> list[dict[str, Any]]:
    """One table row per entry: the mean over its seeds, the seeds, the spread per metric."""
    rows = []
    for entry in entries:
        first = entry.records[0]["row"]
        row = {
            "label": entry.label,
            "run": entry.name,
            "loss": entry.loss,
            "weight": entry.weight,
            "seeds": entry.seeds,
            "step": first.get("step"),
            "loss_weights": first.get("loss_weights"),
            **{m: entry.mean(m) for m in metrics},
        }
        spreads = {m: entry.spread(m) for m in metrics}
        if any(v is not None for v in spreads.values()):
            row["std_over_seeds"] = spreads
        rows.append(row)
    return rows


def differences(
    entries: Sequence[Entry],
    reference: str,
    metrics: Sequence[str],
    n_boot: int = N_BOOT,
    n_boot_set: int | None = None,
) -> dict[str, dict[str, Any]]:
    """Every entry against the reference entry: ``{entry: {metric: MetricComparison.to_json()}}``."""
    by_name = {e.name: e for e in entries}
    if reference not in by_name:
        known = ", ".join(by_name)
        raise ValueError(f"the reference entry {reference!r} is not a run of this sweep (runs: {known})")
    ref = by_name[reference]
    out: dict[str, dict[str, Any]] = {}
    for entry in entries:
        if entry.name == reference:
            continue
        common = [s for s in entry.seeds if s in ref.seeds]
        if not common:
            # Entries of different seeds: pair each entry's first seed (the images are shared).
            pairs_a, pairs_b = [ref.eval_dirs[0]], [entry.eval_dirs[0]]
        else:
            pairs_a = [ref.eval_dirs[ref.seeds.index(s)] for s in common]
            pairs_b = [entry.eval_dirs[entry.seeds.index(s)] for s in common]
        comparison = compare_evaluations(pairs_a, pairs_b, metrics=list(metrics), n_boot=n_boot, n_boot_set=n_boot_set)
        out[entry.name] = {m: c.to_json() for m, c in comparison.metrics.items()}
        out[entry.name]["_seeds"] = common or [entry.seeds[0]]
        out[entry.name]["_unavailable"] = dict(comparison.unavailable)
    return out


def difference_table(
    entries: Sequence[Entry], diffs: dict[str, dict[str, Any]], reference: str, metrics: Sequence[str]
) -> str:
    """Markdown: each entry's ``B - A`` against the reference, ``mean [low, high]``, ``*`` when the
    95% interval excludes 0, and the verdict's direction (better/worse) in bold."""
    ref_label = next(e.label for e in entries if e.name == reference)
    shown = [m for m in metrics if any(m in d for d in diffs.values())]
    header = [f"Δ{METRIC_SPECS[m].title} {METRIC_SPECS[m].arrow}" for m in shown]
    lines = [
        f"Difference against **{ref_label}** (row minus reference; paired bootstrap 95% interval over images"
        " and seeds; * = the interval excludes 0, **bold** = better than the reference):",
        "",
        "| loss | seeds | " + " | ".join(header) + " |",
        "|---|---|" + "---|" * len(shown),
    ]
    for entry in entries:
        if entry.name not in diffs:
            continue
        cells = []
        for m in shown:
            d = diffs[entry.name].get(m)
            if d is None:
                cells.append("-")
                continue
            text = format_interval(d["difference"], m, signed=True)
            if d["difference"]["excludes_zero"] and d["verdict"] == "better":
                text = f"**{text}**"
            cells.append(text)
        seeds = ",".join(str(s) for s in diffs[entry.name]["_seeds"])
        lines.append(f"| {entry.label} | {seeds} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def perception_distortion_data(entries: Sequence[Entry]) -> dict[str, Any]:
    """The points of the perception-distortion plot: per curve, its points in weight order.

    A curve is one loss traced over its weight: the fine-tuned entries of one loss name, split by
    the settings that differ among them (the PDL's projections of Table 8 are one curve each:
    ``pdl (projection=rsp, projection_factor=4)``); a from-scratch entry is a point of its own.
    """
    curves: dict[str, list[dict[str, Any]]] = {}
    varying = _varying_options([e for e in entries if e.fine_tuned])
    for entry in entries:
        key = entry.label
        if entry.fine_tuned:
            shown = [f"{k}={entry.options.get(k, 'default')}" for k in varying.get(entry.loss, ())]
            key = f"{entry.loss} ({', '.join(shown)})" if shown else entry.loss
        point = {"entry": entry.name, "label": entry.label, "weight": entry.weight, "seeds": entry.seeds}
        for metric in (PD_DISTORTION, *PD_PERCEPTION):
            point[metric] = entry.mean(metric)
            point[f"{metric}_std"] = entry.spread(metric)
        curves.setdefault(key, []).append(point)
    for points in curves.values():
        points.sort(key=lambda p: (p["weight"] is None, p["weight"] or 0.0))
    return {"x": PD_DISTORTION, "y": list(PD_PERCEPTION), "curves": curves}


def _varying_options(entries: Sequence[Entry]) -> dict[str, list[str]]:
    """Per loss name, the settings (besides the weight) whose values differ among its entries."""
    by_loss: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_loss.setdefault(entry.loss, []).append(entry.options)
    varying = {}
    for loss, options in by_loss.items():
        keys = list(dict.fromkeys(k for o in options for k in o))
        varying[loss] = [k for k in keys if len({repr(o.get(k)) for o in options}) > 1]
    return varying


def use_log_scale(values: Sequence[float | None]) -> bool:
    """True where a perception axis should be logarithmic: all values positive and the largest
    more than :data:`LOG_SCALE_RATIO` times the smallest (a broken run at NIQE 120 beside others
    at 7 would squash them onto one line). KID can be negative (unbiased): then linear."""
    present = [v for v in values if v is not None]
    return bool(present) and min(present) > 0 and max(present) / min(present) > LOG_SCALE_RATIO


def perception_distortion_plot(entries: Sequence[Entry], out_png: Path, title: str = "") -> Path | None:
    """``out_png`` (and the same name ``.json`` with the data): PSNR against NIQE and KID."""
    data = perception_distortion_data(entries)
    out_png.with_suffix(".json").write_text(json.dumps(data, indent=2))
    return plot_perception_distortion_data(data, out_png, title)


def plot_perception_distortion_data(data: dict[str, Any], out_png: Path, title: str = "") -> Path | None:
    """Draw the plot of :func:`perception_distortion_data`'s ``data`` (e.g. read back from the
    ``.json`` beside a plot) into ``out_png``; None (and a note on stderr) when nothing to plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    panels = [m for m in PD_PERCEPTION if any(p.get(m) is not None for ps in data["curves"].values() for p in ps)]
    if not panels or not any(p[PD_DISTORTION] is not None for ps in data["curves"].values() for p in ps):
        print(
            f"perception-distortion plot skipped: no {PD_DISTORTION} with {', '.join(PD_PERCEPTION)}", file=sys.stderr
        )
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.2), squeeze=False)
    for ax, metric in zip(axes[0], panels, strict=True):
        for key, points in data["curves"].items():
            pts = [p for p in points if p.get(PD_DISTORTION) is not None and p.get(metric) is not None]
            if not pts:
                continue
            x = [p[PD_DISTORTION] for p in pts]
            y = [p[metric] for p in pts]
            xerr = [p.get(f"{PD_DISTORTION}_std") or 0.0 for p in pts]
            yerr = [p.get(f"{metric}_std") or 0.0 for p in pts]
            ax.errorbar(x, y, xerr=xerr, yerr=yerr, marker="o" if len(pts) > 1 else "s", capsize=3, label=key)
            for p in pts:
                if p["weight"] is not None and len(pts) > 1:
                    ax.annotate(
                        f"{p['weight']:g}",
                        (p[PD_DISTORTION], p[metric]),
                        fontsize=7,
                        xytext=(3, 3),
                        textcoords="offset points",
                    )
        log_scale = use_log_scale([p.get(metric) for ps in data["curves"].values() for p in ps])
        if log_scale:
            ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(6))
        ax.set_xlabel("PSNR (dB) → better")
        ax.set_ylabel(f"{metric.upper()}{' (log scale)' if log_scale else ''} ← better")
        ax.grid(alpha=0.3, which="both")
    axes[0][-1].legend(fontsize=7, loc="best")
    fig.suptitle(title or "perception-distortion", fontsize=9)
    fig.tight_layout()
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png
