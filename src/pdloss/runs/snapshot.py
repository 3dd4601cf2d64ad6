"""A run's config snapshot: ``RUN/config.yaml``, the config as run, written when training starts.

It says what a run folder holds, so that resuming it, or a sweep reusing it, with other training
settings is refused (:func:`check_same_training`) instead of mixing two runs under one name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pdloss.config.schema import Config, ConfigError
from pdloss.runs.layout import config_file


def write_snapshot(run_dir: str | Path, config: Config) -> Path:
    """Write ``config`` as ``RUN/config.yaml`` (keys in the dataclasses' order); returns the file."""
    path = config_file(run_dir)
    path.write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    return path


def read_snapshot(run_dir: str | Path) -> dict[str, Any]:
    """The raw dict of ``RUN/config.yaml`` (``{}`` for an empty file).

    Raises:
        ConfigError: the file is missing or not YAML.
    """
    path = config_file(run_dir)
    try:
        return yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{path} cannot be read ({error}); delete {run_dir} to train it again") from None


# Settings that do not change what a run trains: its name and folder, how often it logs, validates
# and checkpoints, its evaluation, the validation set, the loader's workers and cache.
_NOT_TRAINING = (
    "name", "output", "sweep", "evaluate", "train.log_every", "train.valid_every", "train.checkpoint_every",
    "train.keep_checkpoints", "data.workers", "data.cache", "data.valid", "data.valid_crop", "data.valid_limit",
)


def _plain(value: Any) -> Any:
    """Tuples as lists (a YAML round trip makes them lists), recursively."""
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: _plain(value)}


def training_changes(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """What differs between a run folder's saved ``config.yaml`` and the config about to train or
    reuse it, among the settings that decide the trained weights (``_NOT_TRAINING`` aside), as
    ``"key: saved -> current"`` lines. A key present on one side only is not a change: configs
    written by older versions lack the settings added since, which then had their default."""
    old, new = _flatten(saved), _flatten(current)
    skip = lambda key: any(key == p or key.startswith(p + ".") for p in _NOT_TRAINING)  # noqa: E731
    return [f"{k}: {old[k]!r} -> {new[k]!r}" for k in new if k in old and not skip(k) and old[k] != new[k]]


def check_same_training(run_dir: str | Path, config: Config, allow: tuple[str, ...] = ()) -> list[str]:
    """Raise :class:`ConfigError` when ``run_dir`` was trained with other training settings than
    ``config`` (its ``config.yaml``): resuming or reusing it would mix two runs under one name.
    Changes of the keys in ``allow`` are returned (for a warning) instead."""
    saved = read_snapshot(run_dir)
    changes = training_changes(saved, yaml.safe_load(yaml.safe_dump(config.to_dict(), sort_keys=False)))
    allowed = [c for c in changes if c.split(":")[0] in allow]
    changes = [c for c in changes if c not in allowed]
    if changes:
        raise ConfigError(
            f"{run_dir} was trained with other settings than this config ({'; '.join(changes)}): resuming or "
            f"reusing it would mix two runs. Delete {run_dir} (or choose another output) to train it anew"
        )
    return allowed
