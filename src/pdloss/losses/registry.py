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

:func:`loss_options` reads a name's keyword arguments from its constructor's signature (following
``**kwargs`` to the base class's constructor, and the adversarial loss's to its discriminator's), so
a new option of a loss is one edit: its constructor. Training configs check their ``loss:`` keys
against it (:mod:`pdloss.config.schema`).
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable

from torch import nn

from pdloss._deprecation import module_getattr
from pdloss.errors import InputError
from pdloss.losses.pixel import PixelLoss

__all__ = ["INTERNAL_ARGUMENTS", "LOSSES", "PixelLoss", "build_loss", "fixed_options", "list_losses", "loss_options"]


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


class _Lazy:
    """A loss class imported when first built or inspected: importing the registry stays light
    (the feature losses pull in the VGG extractor). ``forwards`` names the class that receives the
    loss's ``**kwargs`` when it is not the base class (the adversarial loss's discriminator)."""

    def __init__(self, module: str, name: str, forwards: str | None = None) -> None:
        self.module, self.name, self.forwards = module, name, forwards

    def resolve(self) -> type[nn.Module]:
        return getattr(importlib.import_module(self.module), self.name)

    def forwarded(self) -> type | None:
        return getattr(importlib.import_module(self.module), self.forwards) if self.forwards else None

    def __call__(self, **kwargs) -> nn.Module:
        return self.resolve()(**kwargs)

    def __repr__(self) -> str:
        return f"{self.module}.{self.name}"


LOSSES: dict[str, Callable[..., nn.Module]] = {
    "l1": _fixed(PixelLoss, "l1", q=1),
    "perceptual-l1": _fixed(_Lazy("pdloss.losses.perceptual", "PerceptualLoss"), "perceptual-l1", p=1),
    "perceptual-l2": _fixed(_Lazy("pdloss.losses.perceptual", "PerceptualLoss"), "perceptual-l2", p=2),
    "ctx-dp": _fixed(_Lazy("pdloss.losses.contextual", "ContextualLoss"), "ctx-dp", distance="cosine"),
    "ctx-l2": _fixed(_Lazy("pdloss.losses.contextual", "ContextualLoss"), "ctx-l2", distance="l2"),
    "pdl": _Lazy("pdloss.losses.pdl", "ProjectedDistributionLoss"),
    "adversarial": _Lazy("pdloss.losses.adversarial", "AdversarialLoss", forwards="SRGANDiscriminator"),
    "fdl": _Lazy("pdloss.losses.fdl", "FrequencyDistributionLoss"),
}


def list_losses() -> list[str]:
    """The registered loss names, in the order of the paper's tables: ``["l1", "perceptual-l1", ...]``."""
    return list(LOSSES)


# Old name, for one release (a tuple, as it was).
__getattr__ = module_getattr(__name__, {"LOSS_NAMES": ("pdloss.losses.list_losses()", lambda: tuple(LOSSES))})


def _factory(name: str) -> tuple[str, Callable[..., nn.Module]]:
    """The registry key of ``name`` (case-insensitive, ``_`` read as ``-``) and its factory."""
    if not isinstance(name, str):
        raise InputError(f"loss name must be a string, got {type(name).__name__}")
    key = name.strip().lower().replace("_", "-")
    try:
        return key, LOSSES[key]
    except KeyError:
        raise InputError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}") from None


# Constructor arguments that take objects built in code (a shared feature extractor, a
# discriminator), not values a config file or the command line can give.
INTERNAL_ARGUMENTS = frozenset({"extractor", "discriminator"})


def _signature_names(target: Callable[..., object], forwards: type | None = None) -> set[str]:
    """Keyword names ``target`` accepts. A class's ``**kwargs`` are followed up its MRO to the next
    constructor (``torch.nn.Module``'s own takes no options), or into ``forwards`` when given."""
    if not isinstance(target, type):
        chain: list[Callable[..., object]] = [target]
    else:
        chain = [k.__init__ for k in target.__mro__ if "__init__" in vars(k) and k not in (nn.Module, object)]
    names: set[str] = set()
    for function in chain:
        parameters = list(inspect.signature(function).parameters.values())
        names.update(
            p.name for p in parameters
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in ("self", "cls")
        )
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            return names
        if forwards is not None:
            return names | _signature_names(forwards)
    return names


def _options(factory: Callable[..., nn.Module]) -> set[str]:
    if isinstance(factory, functools.partial) and factory.func is _build_fixed:
        inner, _, fixed = factory.args
        return _options(inner) - set(fixed)
    if isinstance(factory, _Lazy):
        return _signature_names(factory.resolve(), factory.forwarded())
    return _signature_names(factory)


def loss_options(name: str) -> tuple[str, ...]:
    """The keyword arguments loss ``name`` accepts (sorted), read from its constructor's signature,
    without the options its name fixes (:func:`fixed_options`) and :data:`INTERNAL_ARGUMENTS`.

    Raises:
        InputError: an unknown name.
    """
    _, factory = _factory(name)
    return tuple(sorted(_options(factory) - INTERNAL_ARGUMENTS))


def fixed_options(name: str) -> dict[str, object]:
    """The options loss ``name`` fixes (``perceptual-l2``: ``{"p": 2}``); passing one is an error."""
    _, factory = _factory(name)
    if isinstance(factory, functools.partial) and factory.func is _build_fixed:
        return dict(factory.args[2])
    return {}


def build_loss(name: str, **kwargs) -> nn.Module:
    """A new loss module by name (see the module docstring for names and keyword arguments)."""
    key, factory = _factory(name)
    try:
        return factory(**kwargs)
    except TypeError as error:  # an unknown keyword: say which loss and what it accepts
        raise InputError(f"loss {key!r}: {error}; see pdloss.losses.registry for its options") from None
