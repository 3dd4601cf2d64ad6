"""Several feature losses on one backbone with one feature pass per image.

An ablation step such as ``PDL + perceptual`` would run the VGG twice per image if each loss ran
its own pass; :class:`CombinedLoss` runs the extractor once on the prediction and once on the
target, over the union of the losses' layers, and hands each loss its layers.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from pdloss.errors import InputError
from pdloss.features.vgg import layer_index
from pdloss.losses.base import FeatureLoss, extract_pair
from pdloss.validation import LossInputChecks, check_reduction, reduce, validation_mode


class CombinedLoss(nn.Module):
    """``sum_k coefficient_k * loss_k(u, v)`` computed from one shared feature pass.

    Each ``loss_k`` contributes its own total (its pixel term included): the value is exactly the
    sum of the separate losses' values. To count the pixel term once, give it to one loss and set
    ``pixel_weight=0`` on the others.

    Args:
        losses: name -> :class:`~pdloss.losses.base.FeatureLoss`. All must use the same backbone,
            weights, preprocessing and input range (their extractors may be truncated at different
            depths: the deepest one computes every layer).
        coefficients: name -> multiplier of that loss (default 1 each).
        reduction: ``"none"``, ``"mean"`` or ``"sum"`` over the batch (the losses' own reductions
            are not used).

    ``forward(prediction, target, return_terms=False)`` returns the combined loss; with
    ``return_terms`` also ``{name: that loss's value}`` (reduced, detached), for logging.
    """

    def __init__(
        self,
        losses: Mapping[str, FeatureLoss],
        coefficients: Mapping[str, float] | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        if not losses:
            raise InputError("CombinedLoss needs at least one loss")
        for name, loss in losses.items():
            if not isinstance(loss, FeatureLoss):
                raise InputError(
                    f"loss {name!r} is a {type(loss).__name__}, not a feature loss (PDL, perceptual, contextual); "
                    "add pixel-only or adversarial terms separately"
                )
        coefficients = dict(coefficients or {})
        unknown = set(coefficients) - set(losses)
        if unknown:
            raise InputError(f"coefficients name losses that are not given: {sorted(unknown)}")
        self.losses = nn.ModuleDict(dict(losses))
        self.coefficients = {name: float(coefficients.get(name, 1.0)) for name in losses}
        self.reduction = check_reduction(reduction)
        members = list(self.losses.values())
        first = members[0].extractor
        signature = _extractor_signature(first)
        for name, loss in self.losses.items():
            if _extractor_signature(loss.extractor) != signature:
                raise InputError(
                    f"loss {name!r} uses {_describe(loss.extractor)}, another uses {_describe(first)}: "
                    "a shared feature pass needs one backbone, weights, preprocessing and input range"
                )
        backbone = first.backbone
        self.layers = tuple(dict.fromkeys(layer for loss in members for layer in loss.layers))
        deepest = max((loss.extractor for loss in members), key=lambda e: layer_index(backbone, e.max_layer))
        # Not registered as a submodule: the extractor is shared and stays out of state dicts.
        object.__setattr__(self, "_extractor", deepest)
        self._input_checks = LossInputChecks(type(self).__name__)

    @property
    def validate(self) -> str:
        """The strictest of the losses' ``validate`` modes: the inputs' values are checked once for all."""
        modes = {validation_mode(loss.validate) for loss in self.losses.values()}
        return next(mode for mode in ("strict", "warn", "off") if mode in modes)

    @property
    def extractor(self):
        """The shared extractor that computes every layer of every loss."""
        return self._extractor

    def per_image_terms(self, prediction: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per image ``(B,)`` totals of every loss and their weighted sum under ``"total"``."""
        members = list(self.losses.values())
        for loss in members:
            loss.check_inputs(prediction, target, check_values=False)
        # The values once for all losses (one device sync); they share one input range.
        self._input_checks.check_values(prediction, target, value_range=members[0].input_range, validate=self.validate)
        for loss in members:
            loss.before_forward()
        needs_features = any(loss.weight > 0 for loss in self.losses.values())
        fu: dict[str, torch.Tensor] = {}
        fv: dict[str, torch.Tensor] = {}
        if needs_features:
            fu, fv = extract_pair(self._extractor, prediction, target, self.layers)
        terms: dict[str, torch.Tensor] = {}
        total = torch.zeros(prediction.shape[0], device=prediction.device)
        for name, loss in self.losses.items():
            value = loss.terms_from_features(prediction, target, fu, fv)["total"]
            terms[name] = value
            total = total + self.coefficients[name] * value
        terms["total"] = total
        return terms

    def forward(
        self, prediction: torch.Tensor, target: torch.Tensor, return_terms: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
        terms = self.per_image_terms(prediction, target)
        loss = reduce(terms.pop("total"), self.reduction)
        if return_terms:
            return loss, {name: reduce(value.detach(), self.reduction) for name, value in terms.items()}
        return loss

    def extra_repr(self) -> str:
        return f"coefficients={self.coefficients}, layers={self.layers}, reduction={self.reduction!r}"


def _extractor_signature(extractor) -> tuple:
    return (extractor.backbone, extractor.weights_label, extractor.preprocess.kind, extractor.preprocess.input_range)


def _describe(extractor) -> str:
    backbone, weights, kind, input_range = _extractor_signature(extractor)
    return f"{backbone} with {weights} ({kind} preprocessing, input range {input_range})"
