"""Losses by the names of the paper's tables, for configs and the command line.

=================  ==========================================================================
name               loss
=================  ==========================================================================
``l1``             :class:`PixelLoss` (q=1): the "no-perceptual" baseline, pixel L1 only
``perceptual-l1``  :class:`~pdloss.losses.perceptual.PerceptualLoss` with p=1 (tables: "L1")
``perceptual-l2``  :class:`~pdloss.losses.perceptual.PerceptualLoss` with p=2 (tables: "L2")
``ctx-dp``         :class:`~pdloss.losses.contextual.ContextualLoss`, distance="cosine" (CTXDP)
``ctx-l2``         :class:`~pdloss.losses.contextual.ContextualLoss`, distance="l2" (CTXL2)
``pdl``            :class:`~pdloss.losses.pdl.ProjectedDistributionLoss` (PDL)
``adversarial``    :class:`~pdloss.losses.adversarial.AdversarialLoss` (SRGAN)
``fdl``            :class:`~pdloss.losses.fdl.FrequencyDistributionLoss` (FDL, Ni et al. 2024)
=================  ==========================================================================

``build_loss(name, **kwargs)`` passes ``kwargs`` to the class. Common to the feature losses
(perceptual, ctx, pdl, fdl): ``weight`` (lambda), ``pixel_weight``, ``backbone``, ``layers``,
``layer_weights``, ``weights`` (e.g. ``"vgg16-hed"``), ``q``, ``reduction``, ``input_range``,
``validate``, ``extractor``. Specific ones: perceptual: none (``p`` is fixed by the name);
ctx: ``bandwidth``, ``max_positions``, ``spatial_weight`` (CoBi), ``seed`` (``distance`` is fixed
by the name); pdl: ``projection``, ``projection_factor``, ``seed``, ``resample``, ``p``;
fdl (VGG19 and pixel_weight=0 by default): ``num_proj``, ``patch_size``, ``stride``, ``phase_weight``,
``seed``, ``resample``, ``separate_phase_projections``, ``chunk_size``, ``small_maps``, ``phase_eps``,
``fft_norm``;
adversarial: ``weight``, ``pixel_weight``, ``q``, ``reduction``, ``input_range``, ``validate``,
``discriminator`` or ``base_channels``/``hidden``/``pool_size``; l1: ``reduction``,
``input_range``, ``validate``. Names are matched case-insensitively, with ``_`` read as ``-``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from torch import nn

from pdloss.errors import InputError
from pdloss.losses.pixel import PixelLoss

__all__ = ["LOSSES", "LOSS_NAMES", "PixelLoss", "build_loss"]


def _build_fixed(factory: Callable[..., nn.Module], name: str, fixed: dict, **kwargs) -> nn.Module:
    clash = sorted(set(fixed) & set(kwargs))
    if clash:
        fixed_text = ", ".join(f"{k}={fixed[k]!r}" for k in clash)
        raise InputError(f"loss {name!r} fixes {fixed_text}; do not pass {clash}")
    return factory(**fixed, **kwargs)


def _fixed(factory: Callable[..., nn.Module], name: str, **fixed) -> Callable[..., nn.Module]:
    # A partial of a module-level function rather than a closure: the check then runs (and can be
    # measured by mutation testing) when a loss is built, not once when LOSSES is made at import.
    return functools.partial(_build_fixed, factory, name, fixed)


def _pixel(**kwargs) -> nn.Module:
    return PixelLoss(**kwargs)


def _perceptual(**kwargs) -> nn.Module:
    from pdloss.losses.perceptual import PerceptualLoss

    return PerceptualLoss(**kwargs)


def _contextual(**kwargs) -> nn.Module:
    from pdloss.losses.contextual import ContextualLoss

    return ContextualLoss(**kwargs)


def _pdl(**kwargs) -> nn.Module:
    from pdloss.losses.pdl import ProjectedDistributionLoss

    return ProjectedDistributionLoss(**kwargs)


def _fdl(**kwargs) -> nn.Module:
    from pdloss.losses.fdl import FrequencyDistributionLoss

    return FrequencyDistributionLoss(**kwargs)


def _adversarial(**kwargs) -> nn.Module:
    from pdloss.losses.adversarial import AdversarialLoss

    return AdversarialLoss(**kwargs)


LOSSES: dict[str, Callable[..., nn.Module]] = {
    "l1": _fixed(_pixel, "l1", q=1),
    "perceptual-l1": _fixed(_perceptual, "perceptual-l1", p=1),
    "perceptual-l2": _fixed(_perceptual, "perceptual-l2", p=2),
    "ctx-dp": _fixed(_contextual, "ctx-dp", distance="cosine"),
    "ctx-l2": _fixed(_contextual, "ctx-l2", distance="l2"),
    "pdl": _pdl,
    "adversarial": _adversarial,
    "fdl": _fdl,
}
LOSS_NAMES: tuple[str, ...] = tuple(LOSSES)


def build_loss(name: str, **kwargs) -> nn.Module:
    """A new loss module by name (see the module docstring for names and keyword arguments)."""
    if not isinstance(name, str):
        raise InputError(f"loss name must be a string, got {type(name).__name__}")
    key = name.strip().lower().replace("_", "-")
    try:
        factory = LOSSES[key]
    except KeyError:
        raise InputError(f"unknown loss {name!r}; choose one of {', '.join(LOSS_NAMES)}") from None
    try:
        return factory(**kwargs)
    except TypeError as error:  # an unknown keyword: say which loss and what it accepts
        raise InputError(f"loss {key!r}: {error}; see pdloss.losses.registry for its options") from None
