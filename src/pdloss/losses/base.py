"""What every reference-based feature loss shares: input checks, the pixel term, the shared
feature extractor, layers and their weights, and the batch reduction.

A loss is ``pixel_weight * ||u - v||_q + weight * sum_l layer_weight_l * D(phi_l(u), phi_l(v))``
per image, where subclasses define the feature distance ``D`` (:meth:`feature_distance`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from pdloss.errors import InputError
from pdloss.features import FeatureExtractor, build_extractor, layer_channels
from pdloss.functional.perceptual import pixel_distance
from pdloss.validation import LossInputChecks, check_loss_weights, check_reduction, reduce, validation_mode


class FeatureLoss(nn.Module):
    """Base of the feature losses (PDL, perceptual, contextual).

    The pixel term is on by default (``pixel_weight=1.0``): the loss is the paper's pixel L1 plus
    lambda times the feature distance, as every table of the paper trains it. A training loop that
    adds its own L1 term counts the pixel distance twice: pass ``pixel_weight=0`` there.

    Args:
        weight: lambda, the weight of the feature term.
        pixel_weight: weight of the pixel fidelity term (default 1.0: included; 0 disables it, and
            then prediction and target may differ in height and width).
        backbone: ``"vgg16"`` or ``"vgg19"``.
        layers: VGG layer names (``"relu4_3"`` is the paper's VGG16 conv4).
        layer_weights: one weight per layer (default 1 each) or a mapping layer -> weight.
        weights: weight source name (``"vgg16-imagenet"``, ``"vgg16-hed"``, ``"vgg19-imagenet"``,
            ``"random"``...) or a file path; ``"default"`` takes the first installed of
            vgg16-imagenet, vgg16-hed (vgg19: vgg19-imagenet, vgg19-torchvision), or what
            ``$PDLOSS_WEIGHTS`` names (docs/weights.md).
        preprocessing: ``"torchvision"`` or ``"caffe"``, for a weights file that does not say
            which it needs (:func:`pdloss.weights.resolve_weights`); named weights carry their own.
        q: pixel term order (1 or 2).
        reduction: ``"none"`` (per image, ``(B,)``), ``"mean"`` or ``"sum"`` over the batch.
        input_range: the value range of the images, e.g. (0, 1), (-1, 1) or (0, 255). Both terms
            are measured on the [0, 1] scale whatever the range: the features see the images
            mapped to the network's input, and the pixel term is divided by ``(high - low) ** q``,
            so lambda means the same for every range.
        validate: the value checks (one device sync per call; see
            :class:`pdloss.validation.LossInputChecks`): True / ``"warn"`` (default: NaN/Inf is an
            error; a target far outside ``input_range`` is an error, a prediction there a one-time
            warning), ``"strict"`` (the prediction's range is an error too), False / ``"off"``
            (no value checks, no sync). Shapes, dtypes and channels are always checked.
        extractor: an existing :class:`FeatureExtractor` to use instead of the shared one.

    Inputs of :meth:`forward`: prediction and target RGB ``(B, 3, H, W)`` in ``input_range``, float32,
    float64, float16 or bfloat16. The feature pass runs in float64 for float64 inputs (on a float64
    copy of the network), in float32 for the others (float16 and bfloat16 are cast up), and as
    autocast decides under autocast. Casting or moving the loss (``.double()``, ``.to(device)``)
    changes its own buffers only: the shared network is never cast or moved, the loss uses its
    copy for the inputs' device and dtype.
    """

    def __init__(
        self,
        weight: float = 1.0,
        pixel_weight: float = 1.0,
        backbone: str = "vgg16",
        layers: Sequence[str] | str = ("relu4_3",),
        layer_weights: Sequence[float] | Mapping[str, float] | None = None,
        weights: str | os.PathLike = "default",
        preprocessing: str | None = None,
        q: float = 1,
        reduction: str = "mean",
        input_range: tuple[float, float] = (0.0, 1.0),
        validate: bool | str = True,
        extractor: FeatureExtractor | None = None,
    ) -> None:
        super().__init__()
        self.layers = (layers,) if isinstance(layers, str) else tuple(layers)
        if not self.layers:
            raise InputError("layers must name at least one VGG layer")
        if len(set(self.layers)) != len(self.layers):
            raise InputError(f"layers repeat a name: {self.layers}")
        self.layer_weights = self._layer_weights(layer_weights)
        if q not in (1, 2):
            raise InputError(f"q (pixel term order) must be 1 or 2, got {q!r}")
        term_weights = check_loss_weights(weight=weight, pixel_weight=pixel_weight)
        self.weight, self.pixel_weight = term_weights["weight"], term_weights["pixel_weight"]
        self.q = q
        self.reduction = check_reduction(reduction)
        self.input_range = (float(input_range[0]), float(input_range[1]))
        # The pixel term on the [0, 1] scale (1.0 for the default range: the values are unchanged).
        self._pixel_scale = (self.input_range[1] - self.input_range[0]) ** q
        validation_mode(validate)  # a bad value fails here, not at the first step
        self.validate = validate
        self._input_checks = LossInputChecks(type(self).__name__)
        # The extractor is a shared, frozen instrument, not a submodule: it stays out of this loss's
        # state dict, and .double() / .half() / .to() on this loss never change another loss's
        # network (the forward picks the extractor's copy for the inputs' device and dtype).
        self.__dict__["extractor"] = extractor or build_extractor(
            backbone, weights, self.layers, self.input_range, preprocessing
        )
        self.backbone = self.extractor.backbone
        self.channels = {layer: layer_channels(self.backbone, layer) for layer in self.layers}
        # State dicts saved before the generator's state was in them load as they are.
        self.register_load_state_dict_post_hook(_tolerate_missing_extra_state)

    def _layer_weights(self, layer_weights) -> tuple[float, ...]:
        if layer_weights is None:
            return (1.0,) * len(self.layers)
        if isinstance(layer_weights, Mapping):
            unknown = set(layer_weights) - set(self.layers)
            if unknown:
                raise InputError(f"layer_weights name layers not in layers: {sorted(unknown)}")
            return tuple(float(layer_weights.get(layer, 1.0)) for layer in self.layers)
        values = tuple(float(w) for w in layer_weights)
        if len(values) != len(self.layers):
            raise InputError(f"{len(values)} layer_weights for {len(self.layers)} layers")
        return values

    # -- the random draws' state travels with the state dict ------------------------------------
    def get_extra_state(self) -> dict:
        """The state of the loss's own generator (the PDL's and FDL's resampled projections, the
        contextual loss's position sampling), so that a reloaded loss draws what the saved one would."""
        generator = getattr(self, "_generator", None)
        return {"generator": generator.get_state()} if isinstance(generator, torch.Generator) else {}

    def set_extra_state(self, state: dict) -> None:
        generator = getattr(self, "_generator", None)
        if state and "generator" in state and isinstance(generator, torch.Generator):
            generator.set_state(state["generator"])

    def _apply(self, fn, recurse=True):
        module = super()._apply(fn, recurse)
        # Make the shared extractor's copy for the device this loss moves to now: a compiled forward
        # then finds it ready (making it inside the traced graph would break the graph).
        self.extractor.variant(fn(torch.zeros(1)).device, torch.float32)
        return module

    @property
    def weights_label(self) -> str:
        """Which weights the features come from (name and sha256 prefix)."""
        return self.extractor.weights_label

    # -- subclasses -------------------------------------------------------------------------
    def feature_distance(self, fu: torch.Tensor, fv: torch.Tensor, layer: str) -> torch.Tensor:
        """Per image distance ``(B,)`` between features ``(B, C, h, w)`` of one layer."""
        raise NotImplementedError

    def before_forward(self) -> None:
        """Called once per loss evaluation before the feature pass (also by CombinedLoss):
        losses with per-call state (the PDL's resampled projections) update it here."""

    # -- shared machinery -------------------------------------------------------------------
    def check_inputs(self, prediction: torch.Tensor, target: torch.Tensor, check_values: bool = True) -> None:
        """The losses' validation policy (:class:`pdloss.validation.LossInputChecks`); with
        ``check_values=False`` only what needs no device sync (shapes, dtypes, channels, sizes)."""
        self._input_checks(
            prediction,
            target,
            value_range=self.input_range,
            validate=self.validate,
            min_size=self.extractor.min_size,
            pairing="shape" if self.pixel_weight > 0 else "batch",
            check_values=check_values,
        )

    def features(self, prediction: torch.Tensor, target: torch.Tensor) -> tuple[dict, dict]:
        """Features of both images; the target's without a graph unless it requires grad.

        The feature pass runs in float64 for float64 images, in float32 for float32, float16 and
        bfloat16 ones, and as autocast decides under autocast (:func:`pdloss.features.extractor.feature_dtype`).
        """
        return extract_pair(self.extractor, prediction, target, self.layers)

    def terms_from_features(
        self,
        prediction: torch.Tensor,
        target: torch.Tensor,
        fu: Mapping[str, torch.Tensor],
        fv: Mapping[str, torch.Tensor],
    ) -> dict[str, torch.Tensor]:
        """Per image terms ``(B,)``: ``pixel``, ``feature`` (weighted over layers) and ``total``."""
        batch = prediction.shape[0]
        zero = torch.zeros(batch, device=prediction.device, dtype=torch.promote_types(prediction.dtype, torch.float32))
        pixel = pixel_distance(prediction, target, self.q) / self._pixel_scale if self.pixel_weight > 0 else zero
        feature = zero
        if self.weight > 0:
            for layer, layer_weight in zip(self.layers, self.layer_weights, strict=True):
                feature = feature + layer_weight * self.feature_distance(fu[layer], fv[layer], layer)
        total = self.pixel_weight * pixel + self.weight * feature
        return {"pixel": pixel, "feature": feature, "total": total}

    def forward(
        self, prediction: torch.Tensor, target: torch.Tensor, return_terms: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The loss, reduced over the batch; with ``return_terms`` also the reduced terms
        ``{"pixel", "feature"}`` (detached) for logging."""
        self.check_inputs(prediction, target)
        self.before_forward()
        if self.weight > 0:
            fu, fv = self.features(prediction, target)
        else:
            fu, fv = {}, {}
        terms = self.terms_from_features(prediction, target, fu, fv)
        loss = reduce(terms["total"], self.reduction)
        if return_terms:
            return loss, {k: reduce(terms[k].detach(), self.reduction) for k in ("pixel", "feature")}
        return loss

    def extra_repr(self) -> str:
        return (
            f"weight={self.weight}, pixel_weight={self.pixel_weight}, layers={self.layers}, "
            f"layer_weights={self.layer_weights}, q={self.q}, reduction={self.reduction!r}, "
            f"weights={self.weights_label!r}"
        )


def _tolerate_missing_extra_state(module, incompatible_keys) -> None:
    missing = incompatible_keys.missing_keys
    missing[:] = [key for key in missing if not key.endswith("_extra_state")]


def extract_pair(
    extractor: FeatureExtractor, prediction: torch.Tensor, target: torch.Tensor, layers: Sequence[str]
) -> tuple[dict, dict]:
    """``extractor``'s features of both images on their device, in the feature pass's dtype; the
    target's without a graph unless it requires grad."""
    network, dtype = extractor.for_inputs(prediction, target)
    if dtype is not None:
        prediction, target = prediction.to(dtype), target.to(dtype)
    fu = network(prediction, layers)
    if target.requires_grad:
        return fu, network(target, layers)
    with torch.no_grad():
        return fu, network(target, layers)
