"""Markdown tables of the benchmark results (the JSON is the suites' dicts as they are)."""

from __future__ import annotations

import re
from pathlib import Path

from pdloss.bench.suites import PAPER_TABLE1

# Done-when thresholds of the project's benchmark issue, printed beside the measured values.
TARGETS = {
    "pdl_vs_l1_steps_per_s": ("PDL steps/s over L1-perceptual steps/s", ">= 0.95", lambda v: v >= 0.95),
    "pdl_loss_overhead_over_vgg": ("PDL loss-only overhead over the VGG pass", "< 10%", lambda v: v < 0.10),
    "pdl_speedup_over_channel_loop": ("PDL-Id speed-up over the per-channel loop", ">= 3x", lambda v: v >= 3),
    "pdl_rsp_speedup_over_published_sliced": (
        "PDL-RSP speed-up over the published sliced loss (same K)", ">= 1x", lambda v: v >= 1,
    ),
}


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1e3:.1f}"


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def format_machine(machine: dict) -> str:
    parts = [
        f"device: {machine['device_name']}",
        f"torch {machine['torch']}",
        f"numpy {machine['numpy']}",
        f"Python {machine['python']}",
        f"{machine['cpu_count']} CPU cores, {machine['torch_threads']} torch threads",
    ]
    if machine.get("cuda"):
        parts.append(f"CUDA {machine['cuda']}")
    if machine.get("load_average") is not None:
        parts.append(f"load average at start {', '.join(str(v) for v in machine['load_average'])}")
    parts.append(f"measured {machine['time_utc']}")
    return "; ".join(parts)


# Why a --quick run is not held to the targets: they are for the full run's batch, crop and repeats.
QUICK_VERDICT = (
    "not judged: --quick times one step of a 2 x 32 px batch with random weights, where fixed costs dominate; "
    "the target is for `pdloss bench` at its defaults (docs/benchmarks.md)"
)


def format_checks(checks: dict, judged: bool = True) -> list[str]:
    """One line per measured target; ``judged=False`` (a --quick run) says so instead of met / NOT met."""
    lines = []
    for key, value in checks.items():
        if value is None or key not in TARGETS:
            continue
        label, target, ok = TARGETS[key]
        shown = f"{100 * value:.1f}%" if key.endswith("overhead_over_vgg") else f"{value:.2f}"
        verdict = ("met" if ok(value) else "NOT met") if judged else QUICK_VERDICT
        lines.append(f"- {label}: **{shown}** (target {target}: {verdict})")
    return lines


def format_table1(result: dict, config: dict) -> str:
    """The paper's Table 1 layout: one column per loss, relative steps/s first."""
    rows = result["rows"]
    names = list(rows)
    header = "| | " + " | ".join(names) + " |"
    rule = "|---|" + "---|" * len(names)

    def line(label, cell):
        return f"| {label} | " + " | ".join(cell(rows[n], n) for n in names) + " |"

    def rel(row, _):
        r = row["relative_steps_per_s"]
        return "-" if not r or r["median"] is None else f"**{r['median']:.2f}**"

    def spread(row, _):
        r = row["relative_steps_per_s"]
        return "-" if not r or r["median"] is None else f"{r['q1']:.2f}-{r['q3']:.2f}"

    def sps(row, _):
        return "-" if row["steps_per_s"] is None else f"{row['steps_per_s']:.2f}"

    def paper(_, name):
        return f"{PAPER_TABLE1[name]:.2f}" if name in PAPER_TABLE1 else "-"

    def failed(row, _):
        return row["step"]["error"] or row["loss_only"]["error"] or ""

    lines = [
        f"Training steps of `{result['model']}` (Adam) on {config['batch']} x {config['size']}x{config['size']} "
        f"denoising crops, VGG16 `{config['layer']}` ({result['weights']}), {result['precision']}"
        f"{' autocast, channels_last' if result['precision'] == 'bf16' else ''}; median of {config['repeats']} "
        f"interleaved rounds after {config['warmup']} warm-up.",
        "",
        header,
        rule,
        line("steps/sec (relative)", rel),
        line("relative, interquartile range", spread),
        line("steps/sec", sps),
        line("loss forward+backward (ms)", lambda r, _: _ms(r["loss_only"]["median_s"])),
        line("loss peak memory (MiB)", lambda r, _: _mib(r["loss_only"]["peak_mib"])),
        line("paper, Table 1 (GPU)", paper),
    ]
    if any(failed(rows[n], n) for n in names):
        lines.append(line("error", failed))
    vgg = result["vgg_pass"]
    lines += ["", f"VGG pass alone (prediction with graph + target, backward): {_ms(vgg['median_s'])} ms, "
              f"peak {_mib(vgg['peak_mib'])} MiB.", ""]
    lines += format_checks(result["checks"], judged=not config.get("quick"))
    return "\n".join(lines)


def format_terms(result: dict, config: dict) -> str:
    lines = [
        f"Feature terms alone, forward + backward into the prediction's features `{tuple(result['features'])}` "
        f"(VGG16 `{config['layer']}` of {config['batch']} x {config['size']}x{config['size']} crops), "
        f"K = {result['projections']} projections for the sliced rows; POT: {result['pot'] or 'not installed'}.",
        "",
        "| implementation | forward+backward (ms) | interquartile (ms) | peak memory (MiB) | max rel. diff of values |",
        "|---|---|---|---|---|",
    ]
    for name, row in result["rows"].items():
        if row["error"]:
            lines.append(f"| {name} | {row['error']} | | | |")
            continue
        diff = "-" if row["max_rel_diff"] is None else f"{row['max_rel_diff']:.1e}"
        if row.get("note"):
            diff += f" ({row['note']})"
        lines.append(f"| {name} | {_ms(row['median_s'])} | {_ms(row['q1_s'])}-{_ms(row['q3_s'])} | "
                     f"{_mib(row['peak_mib'])} | {diff} |")
    lines += ["", *format_checks(result["checks"], judged=not config.get("quick"))]
    return "\n".join(lines)


def _timing_grid(caption: str, axis: str, entries: list[dict], label) -> str:
    """A markdown grid: one row per entry (``label(entry)``), one column per candidate, cells
    "median ms / peak MiB" or the candidate's error (why it was skipped)."""
    names = list(entries[0]["candidates"]) if entries else []
    lines = [caption, "", f"| {axis} | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for entry in entries:
        cells = []
        for name in names:
            row = entry["candidates"][name]
            cells.append(row["error"] if row["error"] else f"{_ms(row['median_s'])} / {_mib(row['peak_mib'])}")
        lines.append(f"| {label(entry)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_scaling(result: dict) -> str:
    caption = (
        f"One image, synthetic relu4_3-like features ({result['channels']} channels, crop/8 x crop/8 positions), "
        f"forward + backward; contextual runs skipped above an estimated {result['memory_cap_gib']:g} GiB. "
        "Cells: median ms / peak MiB."
    )
    return _timing_grid(caption, "crop (positions)", result["crops"], lambda e: f"{e['crop']} ({e['positions']})")


def format_projections(result: dict) -> str:
    caption = (
        f"One image, synthetic relu4_3-like features of a {result['crop']} px crop ({result['positions']} positions, "
        f"{result['channels']} channels), K = factor x {result['channels']} random unit directions (the same for "
        "every implementation), forward + backward. Cells: median ms / peak MiB."
    )
    return _timing_grid(caption, "factor (K)", result["factors"], lambda e: f"{e['factor']}x ({e['projections']})")


def format_report(report: dict) -> str:
    """All suites of one ``pdloss bench`` run as markdown."""
    config = report["config"]
    parts = [f"Machine: {format_machine(report['machine'])}.", ""]
    for result in report.get("table1", []):
        parts += [f"### Table 1, {result['precision']}", "", format_table1(result, config), ""]
    if "terms" in report:
        parts += ["### Distribution terms against peers", "", format_terms(report["terms"], config), ""]
    if "scaling" in report:
        parts += ["### Scaling with the crop", "", format_scaling(report["scaling"]), ""]
    if "projections" in report:
        parts += ["### Scaling with the number of projections", "", format_projections(report["projections"]), ""]
    return "\n".join(parts).rstrip() + "\n"


def update_document(path: str | Path, section: str, markdown: str) -> None:
    """Replace the text between ``<!-- bench:SECTION:start -->`` and ``<!-- bench:SECTION:end -->`` in
    ``path`` with ``markdown`` (appending a marked section when absent). Written atomically."""
    path = Path(path)
    start, end = f"<!-- bench:{section}:start -->", f"<!-- bench:{section}:end -->"
    block = f"{start}\n{markdown.rstrip()}\n{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = (text.rstrip() + "\n\n" if text else "") + block + "\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
