"""Text of numbers and intervals, at the digits the metric registry gives each metric."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pdloss.metrics.registry import METRIC_SPECS, format_number
from pdloss.stats import BootstrapInterval


def _digits(metric: str) -> int:
    return METRIC_SPECS[metric].digits if metric in METRIC_SPECS else 3


def format_interval(result: BootstrapInterval | Any, metric: str, signed: bool = False) -> str:
    """``"-0.21 [-0.35, -0.08]*"``: mean and interval, with a star when it excludes 0.

    ``result`` is a :class:`~pdloss.stats.BootstrapInterval`, anything with an ``interval``
    attribute holding one, or its JSON form (``{"mean", "low", "high", "excludes_zero"}``).
    ``signed``: a ``+`` before non-negative numbers (difference tables).
    """
    interval = getattr(result, "interval", result)
    if isinstance(interval, dict):
        mean, low, high, star = interval["mean"], interval["low"], interval["high"], interval["excludes_zero"]
    else:
        mean, low, high, star = interval.mean, interval.low, interval.high, interval.excludes_zero
    digits = _digits(metric)

    def number(value: float) -> str:
        text = format_number(value, digits)
        return f"+{text}" if signed and not text.startswith("-") else text

    return f"{number(mean)} [{number(low)}, {number(high)}]" + ("*" if star else "")


def difference_header(metrics: Sequence[str]) -> str:
    """The metric columns of a difference table: ``ΔPSNR ↑ | ΔNIQE ↓ ...``."""
    return " | ".join(f"Δ{METRIC_SPECS[m].title} {METRIC_SPECS[m].arrow}" for m in metrics)


def mc_line(records: Sequence[dict[str, Any]], metrics: Sequence[str]) -> str:
    """The largest Monte-Carlo error of the printed bounds, per metric, over ``records``
    (each ``{"metrics": {metric: interval JSON}}``)."""
    worst = {m: max(r["metrics"][m]["mc_error"] for r in records if m in r["metrics"]) for m in metrics}
    return (
        "Monte-Carlo error of the bounds (largest in this table): "
        + ", ".join(f"{METRIC_SPECS[m].title} {worst[m]:.2g}" for m in metrics)
        + "."
    )
