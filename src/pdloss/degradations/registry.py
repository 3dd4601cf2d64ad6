"""The task registry: task name -> degradation class with the paper's parameters as defaults."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from pdloss._deprecation import deprecated, module_getattr
from pdloss.degradations.base import Degradation
from pdloss.degradations.blur import CameraShakeBlur
from pdloss.degradations.jpeg import JpegCompression
from pdloss.degradations.mosaic import BayerMosaic
from pdloss.degradations.noise import GaussianNoise
from pdloss.degradations.resize import BicubicDownsample
from pdloss.errors import InputError

__all__ = ["DEGRADATIONS", "build_degradation", "list_tasks", "make_degradation", "task_names"]

# Task name -> its degradation class (models.TASK_IO describes what a model of each task takes).
DEGRADATIONS: dict[str, type[Degradation]] = {
    "denoise": GaussianNoise,
    "sr4x": BicubicDownsample,
    "deblur": CameraShakeBlur,
    "jpeg": JpegCompression,
    "demosaic": BayerMosaic,
}


def list_tasks() -> list[str]:
    """The task names: ``["denoise", "sr4x", "deblur", "jpeg", "demosaic"]``."""
    return list(DEGRADATIONS)


def build_degradation(task: str, **overrides: Any) -> Degradation:
    """The degradation of ``task`` with the paper's defaults, some overridden by keyword.

    ``build_degradation("denoise", sigma=50)``; unknown tasks or parameters raise InputError
    listing the valid ones. Overrides whose value is None are ignored (convenient for CLIs).
    """
    if task not in DEGRADATIONS:
        raise InputError(f"unknown task {task!r}; known tasks: {', '.join(DEGRADATIONS)}")
    cls = DEGRADATIONS[task]
    known = {f.name for f in fields(cls)}
    given = {k: v for k, v in overrides.items() if v is not None}
    unknown = sorted(set(given) - known)
    if unknown:
        raise InputError(
            f"task {task!r} has no parameter {', '.join(unknown)}; its parameters: {', '.join(sorted(known))}"
        )
    return cls(**given)


# Old names, for one release.
_OLD = "pdloss.degradations.registry."
make_degradation = deprecated(build_degradation, _OLD + "make_degradation", "pdloss.degradations.build_degradation")
task_names = deprecated(list_tasks, _OLD + "task_names", "pdloss.degradations.list_tasks")
__getattr__ = module_getattr(__name__, {"TASKS": ("pdloss.degradations.DEGRADATIONS", lambda: DEGRADATIONS)})
