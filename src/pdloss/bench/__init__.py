"""Speed and memory benchmarks of the losses (``pdloss bench``, docs/benchmarks.md).

``run_benchmarks(config, suites, precisions)`` runs the chosen suites of
:mod:`pdloss.bench.suites` and returns one JSON-able report; :func:`pdloss.bench.report.format_report`
renders it as markdown in the layout of the paper's Table 1.
"""

from __future__ import annotations

from pdloss.bench.measure import machine_info, track_cpu_memory
from pdloss.bench.report import format_report, update_document
from pdloss.bench.suites import PRECISIONS, BenchConfig, distribution_terms, projections, scaling, table1
from pdloss.errors import InputError

SUITES = ("table1", "terms", "scaling", "projections")

__all__ = [
    "PRECISIONS",
    "SUITES",
    "BenchConfig",
    "format_report",
    "quick_config",
    "run_benchmarks",
    "update_document",
]


def quick_config(**overrides) -> BenchConfig:
    """A seconds-long configuration (random VGG weights, tiny batch) that exercises every suite."""
    options = dict(batch=2, size=32, weights="random", repeats=1, warmup=0, quick=True)
    options.update(overrides)
    return BenchConfig(**options)


def run_benchmarks(
    config: BenchConfig,
    suites: tuple[str, ...] = SUITES,
    precisions: tuple[str, ...] = ("fp32",),
    crops: tuple[int, ...] = (64, 128, 256, 512, 1024),
    factors: tuple[int, ...] = (1, 2, 4, 8),
    memory_cap_gib: float = 4.0,
    pot: bool = True,
) -> dict:
    """Run ``suites`` (names in :data:`SUITES`); ``table1`` once per precision in ``precisions``."""
    unknown = sorted(set(suites) - set(SUITES))
    if unknown:
        raise InputError(f"unknown suites {unknown}; choose from {SUITES}")
    bad = sorted(set(precisions) - set(PRECISIONS))
    if bad:
        raise InputError(f"unknown precisions {bad}; choose from {PRECISIONS}")
    if config.memory and config.device == "cpu":
        config.memory = track_cpu_memory()
    report: dict = {"machine": machine_info(config.device), "config": config.to_dict()}
    if "table1" in suites:
        report["table1"] = [table1(config, precision) for precision in precisions]
    if "terms" in suites:
        report["terms"] = distribution_terms(config, pot=pot)
    if "scaling" in suites:
        report["scaling"] = scaling(config, crops, memory_cap_gib=memory_cap_gib)
    if "projections" in suites:
        report["projections"] = projections(config, factors, pot=pot)
    return report
