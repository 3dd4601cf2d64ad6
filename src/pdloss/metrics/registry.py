"""What every metric is, in one place: name, title, direction, kind and printed digits.

Evaluation, statistics, tables and plots read these facts from :data:`METRIC_SPECS` instead of
keeping their own copies, so a table and the interval beside it always round alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pdloss.errors import InputError


@dataclass(frozen=True)
class MetricSpec:
    """Facts about one metric.

    Attributes:
        name: the key in configs, ``metrics.json`` and results files (``"ms_ssim"``).
        title: the column title (``"MS-SSIM"``).
        higher_is_better: the direction of improvement.
        kind: ``"per_image"`` (a value per image; set means are image means) or ``"set"`` (a value
            for a whole set only: FID and KID, computed from Inception feature rows).
        digits: decimal places in tables and intervals.
    """

    name: str
    title: str
    higher_is_better: bool
    kind: str
    digits: int

    @property
    def arrow(self) -> str:
        return "↑" if self.higher_is_better else "↓"

    @property
    def is_set(self) -> bool:
        return self.kind == "set"


#: The metrics in table order (the paper's Tables 2, 4, 6 and 7, then KID).
METRIC_SPECS: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec("psnr", "PSNR", True, "per_image", 2),
        MetricSpec("ssim", "SSIM", True, "per_image", 3),
        MetricSpec("ms_ssim", "MS-SSIM", True, "per_image", 3),
        MetricSpec("lpips", "LPIPS", False, "per_image", 3),
        MetricSpec("niqe", "NIQE", False, "per_image", 3),
        MetricSpec("fid", "FID", False, "set", 2),
        # KID differences are a few thousandths: 3 digits printed 0.000 [0.000, 0.000].
        MetricSpec("kid", "KID", False, "set", 4),
    )
}


def list_metrics() -> list[str]:
    """Every metric name, in table order."""
    return list(METRIC_SPECS)


def metric_spec(name: str) -> MetricSpec:
    """The :class:`MetricSpec` of ``name`` (``"MS-SSIM"`` and ``"ms-ssim"`` are accepted)."""
    key = str(name).strip().lower().replace("-", "_")
    if key not in METRIC_SPECS:
        raise InputError(f"unknown metric {name!r}; choose from {', '.join(METRIC_SPECS)}")
    return METRIC_SPECS[key]


def set_metrics() -> tuple[str, ...]:
    """The metrics that exist only for a whole set (FID, KID)."""
    return tuple(n for n, s in METRIC_SPECS.items() if s.is_set)


def format_number(value: float, digits: int) -> str:
    """``value`` with ``digits`` decimals, never ``-0.00``."""
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def format_value(metric: str, value: float | None, missing: str = "-") -> str:
    """A table cell: ``value`` at the metric's digits (``missing`` for None, ``inf`` for infinity)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return missing
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    digits = METRIC_SPECS[metric].digits if metric in METRIC_SPECS else 3
    return format_number(float(value), digits)
