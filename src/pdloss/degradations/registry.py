"""The task registry: task name -> degradation class with the paper's parameters as defaults."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from pdloss.degradations.base import Degradation
from pdloss.degradations.blur import CameraShakeBlur
from pdloss.degradations.jpeg import JpegCompression
from pdloss.degradations.mosaic import BayerMosaic
from pdloss.degradations.noise import GaussianNoise
from pdloss.degradations.resize import BicubicDownsample
from pdloss.errors import InputError

TASKS: dict[str, type[Degradation]] = {
    "denoise": GaussianNoise,
    "sr4x": BicubicDownsample,
    "deblur": CameraShakeBlur,
    "jpeg": JpegCompression,
    "demosaic": BayerMosaic,
}


def task_names() -> list[str]:
    return list(TASKS)


def make_degradation(task: str, **overrides: Any) -> Degradation:
    """The degradation of ``task`` with the paper's defaults, some overridden by keyword.

    ``make_degradation("denoise", sigma=50)``; unknown tasks or parameters raise InputError
    listing the valid ones. Overrides whose value is None are ignored (convenient for CLIs).
    """
    if task not in TASKS:
        raise InputError(f"unknown task {task!r}; known tasks: {', '.join(TASKS)}")
    cls = TASKS[task]
    known = {f.name for f in fields(cls)}
    given = {k: v for k, v in overrides.items() if v is not None}
    unknown = sorted(set(given) - known)
    if unknown:
        raise InputError(
            f"task {task!r} has no parameter {', '.join(unknown)}; its parameters: {', '.join(sorted(known))}"
        )
    return cls(**given)
