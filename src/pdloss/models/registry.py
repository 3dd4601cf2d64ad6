"""The model registry: names used by configs, the command line and result tables.

Paper models: ``srn``, ``srn-lstm`` (denoise, jpeg, demosaic), ``edsr-baseline``, ``edsr``
(sr4x), ``pssnsc`` (deblur). Not from the paper: ``small-unet`` (all tasks, CPU presets).
Every model can be built for every task (see :mod:`pdloss.models.wrapper`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from pdloss._deprecation import module_getattr
from pdloss.errors import InputError
from pdloss.models.edsr import EDSR
from pdloss.models.layers import count_parameters
from pdloss.models.pssnsc import PSSNSC
from pdloss.models.small_unet import SmallUNet
from pdloss.models.srn import SRN
from pdloss.models.wrapper import SR_SCALE, RestorationModel, check_task


@dataclass(frozen=True)
class ModelSpec:
    name: str
    task: str  # the task the paper uses it for first (the default)
    tasks: tuple[str, ...]  # the paper's tasks for this network ("all" for small-unet)
    from_paper: bool
    description: str
    native_sr: bool  # upsamples by itself (pixel shuffle) for sr4x
    factory: Callable[..., nn.Module]  # factory(scale, **kwargs) -> core network


_EDSR_BASELINE = {"n_resblocks": 16, "n_feats": 64, "res_scale": 1.0}
_EDSR_FULL = {"n_resblocks": 32, "n_feats": 256, "res_scale": 0.1}

MODEL_SPECS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("srn", "denoise", ("denoise", "jpeg", "demosaic"), True,
                  "SRN (Tao et al. 2018), 3 scales, no ConvLSTM", False,
                  lambda scale, **kw: SRN(3, 3, lstm=False, **kw)),
        ModelSpec("srn-lstm", "denoise", ("denoise", "jpeg", "demosaic"), True,
                  "SRN (Tao et al. 2018), 3 scales, with the ConvLSTM", False,
                  lambda scale, **kw: SRN(3, 3, lstm=True, **kw)),
        ModelSpec("edsr-baseline", "sr4x", ("sr4x",), True,
                  "EDSR baseline (Lim et al. 2017): 16 blocks, 64 features", True,
                  lambda scale, **kw: EDSR(scale, **{**_EDSR_BASELINE, **kw})),
        ModelSpec("edsr", "sr4x", ("sr4x",), True,
                  "EDSR (Lim et al. 2017): 32 blocks, 256 features, residual scaling 0.1", True,
                  lambda scale, **kw: EDSR(scale, **{**_EDSR_FULL, **kw})),
        ModelSpec("pssnsc", "deblur", ("deblur",), True,
                  "PSS-NSC / DsDeblur (Gao et al. 2019), one-channel net applied per colour channel", False,
                  lambda scale, **kw: PSSNSC(1, **kw)),
        ModelSpec("small-unet", "denoise", ("denoise", "jpeg", "deblur", "demosaic", "sr4x"), False,
                  "small residual U-Net for CPU runs (not from the paper)", True,
                  lambda scale, **kw: SmallUNet(3, 3, scale=scale, **kw)),
    )
}


def get_spec(name: str) -> ModelSpec:
    if name not in MODEL_SPECS:
        raise InputError(f"unknown model {name!r}; available: {', '.join(MODEL_SPECS)}")
    return MODEL_SPECS[name]


def build_model(name: str, task: str | None = None, pattern: str = "rggb", **kwargs) -> RestorationModel:
    """Build model ``name`` adapted to ``task`` (default: the model's paper task).

    Extra keyword arguments go to the core network (e.g. ``stop_gradient=False`` for SRN,
    ``rgb_range=255`` for EDSR, ``widths=(16, 32, 48)`` for small-unet).
    """
    spec = get_spec(name)
    task = check_task(task or spec.task)
    native = SR_SCALE if (task == "sr4x" and spec.native_sr) else 1
    try:
        net = spec.factory(native, **kwargs)
    except TypeError as exc:
        raise InputError(f"bad option for model {name!r}: {exc}") from exc
    return RestorationModel(net, task, name=name, native_scale=native, pattern=pattern)


def parameter_count(name: str, task: str | None = None, **kwargs) -> int:
    """Trainable parameters of ``build_model(name, task, **kwargs)``, counted on the meta
    device (no memory, no initialisation cost: fast even for EDSR's 43 M)."""
    with torch.device("meta"):
        model = build_model(name, task, **kwargs)
    return count_parameters(model)


def list_models() -> dict[str, dict]:
    """``{name: {"task", "parameters", "tasks", "from_paper", "description"}}`` (default task)."""
    return {
        name: {
            "task": spec.task,
            "parameters": parameter_count(name),
            "tasks": list(spec.tasks),
            "from_paper": spec.from_paper,
            "description": spec.description,
        }
        for name, spec in MODEL_SPECS.items()
    }


# Old name, for one release (list_models() is the listing; MODEL_SPECS the specs).
__getattr__ = module_getattr(__name__, {"MODELS": ("pdloss.models.MODEL_SPECS", lambda: MODEL_SPECS)})
