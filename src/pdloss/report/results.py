"""A committed results folder (written by :mod:`pdloss.report.export`) read back, and every number of
its tables computed from it: means over seeds, set metrics from the Inception rows, and paired
bootstrap intervals that resample seeds and scenes (:mod:`pdloss.stats`)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from pdloss.errors import InputError
from pdloss.metrics.kid import set_metric_from_features
from pdloss.metrics.registry import METRIC_SPECS
from pdloss.metrics.resampled import weighted_set_metric
from pdloss.report.export import FEATURES_FILE, PER_IMAGE_FILE, PROVENANCE_FILE, STUDY_FILE
from pdloss.stats import N_BOOT, BootstrapInterval, FeatureRows, paired_bootstrap, paired_set_bootstrap

#: The seed of every interval the reports print (the same draws for the same table).
BOOT_SEED = 0


@dataclass
class Study:
    """One results folder: its description, per-image values and Inception rows."""

    folder: Path
    meta: dict[str, Any]
    provenance: dict[str, Any]
    # (entry, seed) -> metric -> (n_images,) values (NaN where missing)
    values: dict[tuple[str, int], dict[str, np.ndarray]] = field(default_factory=dict)
    _set_cache: dict[tuple[str, str], float] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.meta["study"])

    @property
    def entries(self) -> dict[str, dict[str, Any]]:
        return self.meta["entries"]

    @property
    def metrics(self) -> list[str]:
        return list(self.meta["metrics"])

    @property
    def images(self) -> list[str]:
        return list(self.meta["images"])

    def seeds(self, entry: str) -> list[int]:
        return [int(s) for s in self.entries[self._known(entry)]["seeds"]]

    def label(self, entry: str) -> str:
        return str(self.entries[self._known(entry)]["label"])

    def _known(self, entry: str) -> str:
        if entry not in self.entries:
            raise InputError(f"{self.folder}: no entry {entry!r} (entries: {', '.join(self.entries)})")
        return entry

    @cached_property
    def _features(self) -> dict[str, np.ndarray]:
        file = self.folder / FEATURES_FILE
        if not file.is_file():
            return {}
        with np.load(file, allow_pickle=False) as z:
            return {k: np.asarray(z[k]) for k in z.files}

    def feature_rows(self, entry: str, seed: int) -> tuple[FeatureRows, FeatureRows]:
        """(prediction rows, reference rows) of one run, as float64."""
        run = self.entries[self._known(entry)]["runs"][str(seed)]
        f = self._features
        if f"pred/{run}" not in f:
            raise InputError(f"{self.folder / FEATURES_FILE}: no Inception rows of {run}")
        pred = FeatureRows(f[f"pred/{run}"].astype(np.float64), f[f"pred_image/{run}"].astype(np.int64))
        ref = FeatureRows(f["ref"].astype(np.float64), f["ref_image"].astype(np.int64))
        return pred, ref

    def set_value(self, metric: str, entry: str, seed: int) -> float:
        """FID or KID of one run on the whole set, from the committed rows."""
        key = (metric, self.entries[entry]["runs"][str(seed)])
        if key not in self._set_cache:
            pred, ref = self.feature_rows(entry, seed)
            self._set_cache[key] = float(set_metric_from_features(metric, pred.features, ref.features))
        return self._set_cache[key]

    def run_values(self, entry: str, seed: int, metric: str) -> float | None:
        """One run's value of ``metric``: the image mean, or the set metric."""
        if METRIC_SPECS[metric].is_set:
            return self.set_value(metric, entry, seed) if self._features else None
        values = self.values[(entry, seed)][metric]
        values = values[~np.isnan(values)]
        return float(values.mean()) if values.size else None

    def mean(self, entry: str, metric: str) -> float | None:
        """The mean over the entry's seeds of its runs' values."""
        values = [v for s in self.seeds(entry) if (v := self.run_values(entry, s, metric)) is not None]
        return float(np.mean(values)) if values else None

    def spread(self, entry: str, metric: str) -> float | None:
        """The standard deviation over seeds (None for one seed)."""
        values = [v for s in self.seeds(entry) if (v := self.run_values(entry, s, metric)) is not None]
        return float(np.std(values, ddof=1)) if len(values) > 1 else None

    def compare(
        self, a: str, b: str, metric: str, n_boot: int = N_BOOT, seed: int = BOOT_SEED
    ) -> tuple[BootstrapInterval, list[int]]:
        """``B - A`` with its paired interval over the seeds both entries have (resampling seeds and
        scenes), and those seeds."""
        common = [s for s in self.seeds(a) if s in self.seeds(b)]
        if not common:
            raise InputError(f"{self.folder}: entries {a} and {b} share no seed")
        scenes = self.meta["scenes"]
        if METRIC_SPECS[metric].is_set:
            sets_a = [self.feature_rows(a, s) for s in common]
            sets_b = [self.feature_rows(b, s) for s in common]

            def value(pred: np.ndarray, ref: np.ndarray) -> float:
                return float(set_metric_from_features(metric, pred, ref))

            def fast(pred: np.ndarray, ref: np.ndarray):
                return weighted_set_metric(metric, pred, ref)

            interval, _, _ = paired_set_bootstrap(
                sets_a, sets_b, len(self.images), value, n_boot=n_boot, seed=seed, clusters=scenes, weighted=fast
            )
            return interval, common
        diffs = np.stack([self.values[(b, s)][metric] - self.values[(a, s)][metric] for s in common])
        return paired_bootstrap(diffs, n_boot=n_boot, seed=seed, clusters=scenes), common


    def compare_metrics(
        self, a: str, b: str, metrics: list[str] | tuple[str, ...], n_boot: int = N_BOOT
    ) -> tuple[dict[str, BootstrapInterval], list[int]]:
        """:meth:`compare` for each of ``metrics`` (the same draws): ``({metric: interval}, seeds)``."""
        out, seeds = {}, []
        for metric in metrics:
            out[metric], seeds = self.compare(a, b, metric, n_boot=n_boot)
        return out, seeds


def _number(text: str) -> float:
    return float(text) if text not in ("", "None") else math.nan


def load_study(folder: str | Path) -> Study:
    """Read a results folder written by :func:`pdloss.report.export.export_study`."""
    folder = Path(folder)
    meta_file = folder / STUDY_FILE
    if not meta_file.is_file():
        raise InputError(f"{folder}: no {STUDY_FILE} (not an exported results folder)")
    meta = json.loads(meta_file.read_text())
    provenance_file = folder / PROVENANCE_FILE
    provenance = json.loads(provenance_file.read_text()) if provenance_file.is_file() else {}
    study = Study(folder, meta, provenance)
    index = {stem: i for i, stem in enumerate(meta["images"])}
    per_image = [m for m in meta["metrics"] if not METRIC_SPECS[m].is_set]
    with gzip.open(folder / PER_IMAGE_FILE, "rt") as f:
        reader = csv.DictReader(io.StringIO(f.read()))
        for row in reader:
            key = (row["entry"], int(row["seed"]))
            table = study.values.setdefault(key, {m: np.full(len(index), np.nan) for m in per_image})
            for m in per_image:
                table[m][index[row["image"]]] = _number(row[m])
    return study
