"""Experiment configuration: a YAML file, validated on load, with ``key.sub=value`` overrides.

A config has these sections (all keys optional but ``task``; see ``configs/`` for examples)::

    name: denoise-small          # run name (default: the file's stem)
    task: denoise                # denoise | sr4x | deblur | jpeg | demosaic
    task_options: {sigma: 100}   # degradation parameters (pdloss.degradations)
    seed: 0
    output: runs/denoise-small   # run folder (relative to the working directory)
    data:  {train, valid, crop, batch, workers, length, valid_crop, valid_limit, cache}
    model: {name, options, init}  # init: RUN_OR_CHECKPOINT to fine-tune from
    loss:  {name, weight, pixel_weight, weights, layers, projection, ...}  # the loss's constructor options
    optim: {name, lr, betas, weight_decay, schedule, milestones, gamma, warmup, grad_clip, d_lr}
    train: {iterations, log_every, valid_every, checkpoint_every, amp, channels_last, keep_checkpoints}
    evaluate: {metrics, valid_metrics, crop, limit, fid_patch_size, grid_crop, cdf_layer, cdf_channels, cdf_weights,
               steps}
    sweep: [[loss=l1], [loss=pdl, loss.weight=0.05]]   # runs of `pdloss sweep` (overrides each)

Every error names the offending key and what it accepts.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import yaml

from pdloss.errors import PdlossError


class ConfigError(PdlossError, ValueError):
    """A configuration file or override is invalid; the message names the key."""


@dataclass
class DataConfig:
    train: str = "builtin"  # folder, "builtin" or "debian-photos"
    valid: str | None = None  # default: the training source
    crop: int = 256  # paper: 256x256 crops
    batch: int = 8  # global batch (split over DDP ranks); paper: 8
    workers: int = 0
    length: int | None = None  # training items per epoch (default: max(images, 16 * batch))
    valid_crop: int | None = 256  # centre crop of validation images; None: whole images
    valid_limit: int | None = None  # use at most this many validation images
    cache: bool = True  # keep decoded training images in memory


@dataclass
class ModelConfig:
    name: str = "small-unet"
    options: dict[str, Any] = field(default_factory=dict)
    # Start from another run's model weights (a run folder or a .pt checkpoint), with a fresh
    # optimiser and schedule; in a sweep, ``@ENTRY`` names another run of the same sweep.
    init: str | None = None


# A run's loss: ``{"name": NAME, OPTION: VALUE, ...}``, a name of :data:`pdloss.losses.registry.LOSSES`
# and keyword arguments of its constructor. The options each name accepts are read from that
# constructor's signature (:func:`loss_keys`), so a new option of a loss needs no edit here.
LossConfig: TypeAlias = dict[str, Any]

# Constructor arguments a training config cannot set: the trainer needs one scalar per batch
# (reduction "mean") of images in [0, 1] (input_range).
TRAINER_FIXED_LOSS_ARGUMENTS = frozenset({"reduction", "input_range"})

# The options of the feature losses' VGG network (FeatureLoss), meaningless to a loss without one.
FEATURE_NETWORK_OPTIONS = ("backbone", "layers", "layer_weights", "weights")


def _loss_key(name: Any) -> str:
    return str(name).strip().lower().replace("_", "-")


def loss_keys(name: str) -> tuple[str, ...]:
    """The keys (besides ``name``) a config's ``loss:`` section accepts for loss ``name``: its
    constructor's keyword arguments (:func:`pdloss.losses.registry.loss_options`) less those the
    trainer fixes (:data:`TRAINER_FIXED_LOSS_ARGUMENTS`), sorted."""
    # Lazy: parsing a config (pdloss config, sweep plans, run snapshots) stays free of torch's start-up.
    from pdloss.losses.registry import loss_options

    return tuple(k for k in loss_options(name) if k not in TRAINER_FIXED_LOSS_ARGUMENTS)


def ignored_loss_keys(name: str) -> frozenset[str]:
    """Keys loss ``name`` leaves out instead of refusing: a sweep's base ``loss:`` section sets the
    feature losses' options for all its rows, and the rows of a loss without a feature network
    share it. The pixel-only ``l1`` ignores every other loss's options (but those its name fixes);
    the adversarial loss ignores the VGG network's (:data:`FEATURE_NETWORK_OPTIONS`)."""
    # Lazy: parsing a config (pdloss config, sweep plans, run snapshots) stays free of torch's start-up.
    from pdloss.losses.registry import LOSSES, fixed_options

    key = _loss_key(name)
    own = set(loss_keys(key)) | set(fixed_options(key))
    if key == "l1":
        return frozenset(k for other in LOSSES if other != key for k in loss_keys(other)) - own
    if key == "adversarial":
        return frozenset(FEATURE_NETWORK_OPTIONS) - own
    return frozenset()


def loss_arguments(loss: LossConfig) -> dict[str, Any]:
    """The keyword arguments a config's ``loss:`` section gives its loss: all keys but ``name`` and
    the ones the loss ignores (:func:`ignored_loss_keys`)."""
    ignored = ignored_loss_keys(loss["name"])
    return {k: v for k, v in loss.items() if k != "name" and k not in ignored}


def _check_loss_keys(loss: LossConfig) -> None:
    """Refuse, by name, a ``loss:`` key its loss does not accept (naming the losses that do)."""
    # Lazy: parsing a config (pdloss config, sweep plans, run snapshots) stays free of torch's start-up.
    from pdloss.losses.registry import LOSSES, fixed_options

    name = _loss_key(loss["name"])
    accepted = loss_keys(name)
    fixed = fixed_options(name)
    ignored = ignored_loss_keys(name)
    for key in sorted(k for k in loss if k != "name"):
        if key in accepted or key in ignored:
            continue
        if key in fixed:
            raise ConfigError(f"loss.{key}: loss {name!r} fixes {key}={fixed[key]!r}; leave it out")
        owners = [other for other in LOSSES if key in loss_keys(other)]
        where = f" (an option of {', '.join(owners)})" if owners else ""
        raise ConfigError(
            f"unknown key loss.{key} for loss {name!r}{where}; {name} accepts: name, {', '.join(accepted)}"
        )


@dataclass
class OptimConfig:
    name: str = "adam"  # adam | adamw
    lr: float = 1e-4
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    weight_decay: float = 0.0
    schedule: str = "constant"  # constant | cosine | step
    milestones: list[int] = field(default_factory=list)  # for "step"
    gamma: float = 0.5  # for "step"
    warmup: int = 0  # linear warm-up steps
    grad_clip: float | None = None
    d_lr: float | None = None  # discriminator learning rate (adversarial); default lr


@dataclass
class TrainConfig:
    iterations: int = 1000
    log_every: int = 10
    valid_every: int = 500
    checkpoint_every: int = 500
    amp: str = "auto"  # auto | bf16 | fp16 | none
    channels_last: bool | None = None  # None: on when amp is on
    keep_checkpoints: int = 2


@dataclass
class EvaluateConfig:
    metrics: list[str] = field(default_factory=lambda: ["psnr", "ms_ssim", "lpips", "niqe", "fid"])
    # A sweep's pass over data.valid (where lambda is chosen) measures these instead, when given:
    # the selection needs PSNR and NIQE, and FID/KID's Inception pass is most of an evaluation's cost.
    valid_metrics: list[str] | None = None
    crop: int | None = None  # None: whole validation images (as the paper); an int: centre crops
    limit: int | None = None
    fid_patch_size: int | None = 64  # FID on 64x64 tiles (small sets); None: whole images
    grid_crop: int = 96
    cdf_layer: str = "relu4_3"
    cdf_channels: list[int] = field(default_factory=lambda: [0, 1, 2, 3])
    cdf_weights: str | None = None  # weights for the CDF plot (default: the loss's, else vgg16-hed)
    grid_zoom: int = 1  # crop grids: nearest-neighbour zoom of each crop (2: the 2x zoom of texture figures)
    grid_windows: str = "textured"  # textured (the windows of most reference detail) | centre
    seed: int | None = None  # degradation seed of evaluated images (None: the run's seed); fix it to pair seeds
    reference: str | None = None  # sweep tables: the entry every row is compared with (paired 95% intervals)
    # Earlier checkpoints a sweep evaluates too (the points of a training-length curve); steps at or
    # past a run's train.iterations are its last checkpoint, already evaluated, and are passed over.
    steps: list[int] = field(default_factory=list)


@dataclass
class Config:
    """One run's settings, a section per field (see the module docstring). ``loss`` is a
    :data:`LossConfig`: ``{"name": "pdl", "weight": 0.01, ...}``, its keys checked against the
    named loss's constructor (:func:`loss_keys`) when the config is validated."""

    task: str
    name: str = "run"
    task_options: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    output: str = "runs/run"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=lambda: {"name": "l1"})  # see LossConfig, loss_keys
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    # For `pdloss sweep`: each entry is one run's overrides, e.g. ["loss=pdl", "loss.weight=0.05"].
    sweep: list[list[str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def loss_label(self) -> str:
        """The loss as the paper's tables name it, with its weight: ``pdl (0.01)``."""
        name = self.loss.get("name", "l1")
        return name if name == "l1" or "weight" not in self.loss else f"{name} ({self.loss['weight']:g})"


_SECTIONS = {
    "data": DataConfig,
    "model": ModelConfig,
    "optim": OptimConfig,
    "train": TrainConfig,
    "evaluate": EvaluateConfig,
}


def _type_ok(value: Any, annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if annotation is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is list:
        (item,) = typing.get_args(annotation)
        return isinstance(value, list) and all(_type_ok(v, item) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    return isinstance(value, annotation)


def _describe(annotation: Any) -> str:
    return str(annotation).replace("typing.", "").replace("<class '", "").replace("'>", "")


def _build(cls: type, values: dict[str, Any], where: str):
    if not isinstance(values, dict):
        raise ConfigError(f"{where} must be a mapping, got {type(values).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown key {where}.{unknown[0]}; {where} accepts: {', '.join(sorted(known))}")
    kwargs = {}
    for key, value in values.items():
        annotation = hints[key]
        if key in _SECTIONS and where == "config":
            kwargs[key] = _build(_SECTIONS[key], value or {}, key)
            continue
        if isinstance(value, int) and not isinstance(value, bool) and annotation in (float, float | None):
            value = float(value)
        if not _type_ok(value, annotation):
            raise ConfigError(f"{where}.{key} must be {_describe(annotation)}, got {value!r}")
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def validate(config: Config) -> Config:
    """Check the values that types alone do not (ranges, names); raise ConfigError naming the key."""
    # Lazy: parsing a config (pdloss config, sweep plans, run snapshots) stays free of torch's start-up.
    from pdloss.degradations import build_degradation, list_tasks
    from pdloss.losses.registry import LOSSES
    from pdloss.models.registry import MODEL_SPECS as MODELS

    if config.task not in list_tasks():
        raise ConfigError(f"task must be one of {', '.join(list_tasks())}, got {config.task!r}")
    try:
        build_degradation(config.task, **config.task_options)
    except PdlossError as exc:
        raise ConfigError(f"task_options: {exc}") from None
    if config.model.name not in MODELS:
        raise ConfigError(f"model.name must be one of {', '.join(MODELS)}, got {config.model.name!r}")
    loss = config.loss
    if not isinstance(loss, dict) or "name" not in loss:
        raise ConfigError("loss must be a mapping with a name, e.g. {name: pdl, weight: 0.01}")
    if _loss_key(loss["name"]) not in LOSSES:
        raise ConfigError(f"loss.name must be one of {', '.join(LOSSES)}, got {loss['name']!r}")
    _check_loss_keys(loss)
    for key, value in loss.items():
        if key in ("weight", "pixel_weight") and (not isinstance(value, (int, float)) or value < 0):
            raise ConfigError(f"loss.{key} must be a non-negative number, got {value!r}")
    positive = {
        "data.crop": config.data.crop,
        "data.batch": config.data.batch,
        "train.iterations": config.train.iterations,
        "train.log_every": config.train.log_every,
        "train.valid_every": config.train.valid_every,
        "train.checkpoint_every": config.train.checkpoint_every,
        "optim.lr": config.optim.lr,
    }
    for key, value in positive.items():
        if value <= 0:
            raise ConfigError(f"{key} must be positive, got {value}")
    if config.data.workers < 0:
        raise ConfigError(f"data.workers must be >= 0, got {config.data.workers}")
    choices = {
        "optim.name": (config.optim.name, ("adam", "adamw")),
        "optim.schedule": (config.optim.schedule, ("constant", "cosine", "step")),
        "train.amp": (config.train.amp, ("auto", "bf16", "fp16", "none")),
    }
    for key, (value, allowed) in choices.items():
        if value not in allowed:
            raise ConfigError(f"{key} must be one of {', '.join(allowed)}, got {value!r}")
    from pdloss.metrics.evaluate import METRICS  # lazy, as above

    # Exact names, not pdloss.metrics.parse_metrics (which lower-cases and maps "-" to "_"): a
    # config's names are used verbatim as record keys and table columns, so "MS-SSIM" must not pass.
    lists = {"evaluate.metrics": config.evaluate.metrics, "evaluate.valid_metrics": config.evaluate.valid_metrics}
    for key, names in lists.items():
        if names is None:
            continue
        if not names:
            raise ConfigError(f"{key} must name at least one metric")
        unknown = [name for name in names if name not in METRICS]
        if unknown:
            raise ConfigError(f"{key}: unknown metric {unknown[0]!r}; known: {', '.join(METRICS)}")
    _check_evaluated_steps(config)
    if len(config.optim.betas) != 2 or not all(0 <= b < 1 for b in config.optim.betas):
        raise ConfigError(f"optim.betas must be two numbers in [0, 1), got {config.optim.betas}")
    return config


def _check_evaluated_steps(config: Config) -> None:
    """``evaluate.steps`` before the last step must be checkpoints the run writes and still keeps."""
    every, last, keep = config.train.checkpoint_every, config.train.iterations, config.train.keep_checkpoints
    for step in config.evaluate.steps:
        if not isinstance(step, int) or isinstance(step, bool) or step <= 0:
            raise ConfigError(f"evaluate.steps must be positive step counts, got {step!r}")
        if step >= last:
            continue
        if step % every:
            raise ConfigError(f"evaluate.steps: {step} is not a multiple of train.checkpoint_every ({every})")
        # Checkpoints written from this step on (the last step's too); older ones are deleted.
        written = len(set(range(step, last + 1, every)) | {last})
        if written > keep:
            raise ConfigError(
                f"evaluate.steps: the checkpoint of step {step} is deleted before the run ends "
                f"(train.keep_checkpoints={keep}; keep at least {written})"
            )


def _parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key.sub=value (e.g. loss.weight=0.01)")
    key, raw = text.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ConfigError(f"override {text!r} has no key")
    if raw.strip().startswith("@"):  # model.init=@RUN (a sweep reference); YAML reserves "@"
        return parts, raw.strip()
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {text!r}: cannot parse the value ({exc})") from None
    return parts, value


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """``["loss.weight=0.01", "data.crop=64", "loss=pdl"]`` applied to a raw config dict.

    ``loss=NAME`` (a bare name) sets ``loss.name``. Values are parsed as YAML (numbers, lists...).
    """
    raw = copy.deepcopy(raw)
    for text in overrides:
        parts, value = _parse_override(text)
        if parts == ["loss"] and isinstance(value, str):
            parts = ["loss", "name"]
        node = raw
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override {text!r}: {part} is not a section")
            node = child
        node[parts[-1]] = value
    return raw


def load_raw(path: str | os.PathLike) -> dict[str, Any]:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must hold a mapping of keys, got {type(raw).__name__}")
    raw.setdefault("name", path.stem)
    raw.setdefault("output", f"runs/{raw['name']}")
    return raw


def config_from_dict(raw: dict[str, Any]) -> Config:
    if "task" not in raw:
        raise ConfigError("missing key task (one of denoise, sr4x, deblur, jpeg, demosaic)")
    return validate(_build(Config, raw, "config"))


def load_config(path: str | os.PathLike, overrides: list[str] | None = None) -> Config:
    """Read, override and validate a config file."""
    return config_from_dict(apply_overrides(load_raw(path), overrides or []))
