"""A sweep's gather step: the evaluation records of its runs into one table, crop grid and plots."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from pdloss.evaluation.run import write_results
from pdloss.report.figures import crop_grid, feature_cdf_plot
from pdloss.report.summary import (
    difference_table,
    differences,
    entry_rows,
    group_entries,
    perception_distortion_plot,
)
from pdloss.runs.layout import eval_folder_name


def _pass_metrics(config, source: str | None) -> list[str]:
    """The metrics of one evaluation pass: ``evaluate.valid_metrics`` (when set) on the validation
    set, where lambda is chosen; ``evaluate.metrics`` on ``--images``, where results are reported."""
    if source is None and config.evaluate.valid_metrics is not None:
        return list(config.evaluate.valid_metrics)
    return list(config.evaluate.metrics)


_PER_RUN_NOTES = ("Inception features written to", "FID reference statistics and features read from")


def gather(
    root: Path,
    raw: dict,
    records: list,
    metrics: Sequence[str],
    tag: str | None = None,
    reference: str | None = None,
) -> None:
    """The sweep's table (``results[-TAG].md|csv|json``: one row per entry, the mean over its
    seeds, and the paired intervals against the ``reference`` entry), crop grid, feature CDFs and
    perception-distortion plot, from each run's evaluation record. ``metrics``: the table's columns
    (the pass's, :func:`_pass_metrics`)."""
    first = records[0][1]
    metrics = list(metrics)
    weights, unavailable, notes = {}, {}, []
    for _, _, record in records:
        weights.update(record["weights"])
        unavailable.update(record["unavailable"])
        # Per-run file locations belong to each run's own table, not to the sweep's.
        notes += [n for n in record["notes"] if n not in notes and not n.startswith(_PER_RUN_NOTES)]
    suffix = f"-{tag}" if tag else ""
    eval_name = eval_folder_name(tag)
    entries = group_entries(records, eval_name)
    rows = entry_rows(entries, metrics)
    if any(len(e.seeds) > 1 for e in entries):
        notes.append("Rows with several seeds show the mean over their seeds (results.json: seeds, std_over_seeds).")
    source = records[0][2].get("images_source", "")
    crop = records[0][2].get("crop")
    described = f"{source}" + (f", centre {crop} px" if crop else ", whole images")
    notes.append(f"Evaluated on {described}, degradation seed {records[0][2].get('degradation_seed')}.")
    extra = records[0][2]["extra_rows"]
    title = f"{first.task}: {raw['name']}" + (f" on {source}" if source else "")
    paths = write_results(
        root, [*extra, *rows], metrics, weights, unavailable, notes, title=title, name=f"results{suffix}"
    )
    reference = reference or first.evaluate.reference
    if reference:
        diffs = differences(entries, reference, metrics)
        with paths["md"].open("a") as md:
            md.write("\n" + difference_table(entries, diffs, reference, metrics))
        payload = json.loads(paths["json"].read_text())
        payload["reference"] = reference
        payload["differences"] = diffs
        paths["json"].write_text(json.dumps(payload, indent=2))
    perception_distortion_plot(entries, root / f"perception_distortion{suffix}.png", title=title)
    # Pictures: the first seed of each entry.
    run_dirs = [e.eval_dirs[0].parent for e in entries]
    labels = [e.label for e in entries]
    crop_grid(
        run_dirs,
        labels,
        root / f"crops{suffix}.png",
        crop=first.evaluate.grid_crop,
        eval_name=eval_name,
        zoom=first.evaluate.grid_zoom,
        windows=first.evaluate.grid_windows,
    )
    loss_weights = [str(r["loss_weights"]).split(" ")[0] for r in rows if r.get("loss_weights")]
    cdf_weights = first.evaluate.cdf_weights or (loss_weights[0] if loss_weights else "vgg16-hed")
    try:
        feature_cdf_plot(
            run_dirs,
            labels,
            root / f"feature_cdf{suffix}.png",
            cdf_weights,
            first.evaluate.cdf_layer,
            first.evaluate.cdf_channels,
            eval_name=eval_name,
        )
    except Exception as exc:  # the plot needs VGG weights; the table stands without it
        print(f"feature CDF plot skipped: {exc}", file=sys.stderr)
