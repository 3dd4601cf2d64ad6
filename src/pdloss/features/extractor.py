"""Feature extractors: preprocessing + a frozen VGG, shared between losses.

Losses never build their own network: they ask :func:`get_extractor`, which returns one module
per (backbone, weights, depth), so two losses on the same backbone hold one copy of it.

A loss does not register the shared extractor as a submodule: ``loss.double()``, ``.half()`` or
``.to(device)`` on one loss must never change what another loss computes. Instead the loss asks
:meth:`FeatureExtractor.variant` for a copy on its inputs' device and in the feature pass's dtype
(:func:`feature_dtype`); copies are kept per (device, dtype) and shared too.
"""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Iterable, Sequence

import torch
from torch import nn

from pdloss._deprecation import deprecated
from pdloss.errors import InputError, WeightsError
from pdloss.features.preprocessing import Preprocess
from pdloss.features.vgg import VGG, layer_index, layer_names, layer_stride
from pdloss.weights import LoadedWeights, resolve_weights
from pdloss.weights.resolver import default_weights


class FeatureExtractor(nn.Module):
    """Images ``(B, 3, H, W)`` in ``input_range`` -> ``{layer: features (B, C, h, w)}``.

    The network is frozen and stays in eval mode; gradients flow to the input only.

    Attributes:
        weights_label: which weights are in use (name and sha256 prefix), for result tables.
        min_size: the smallest input side that gives at least one feature pixel at the deepest
            layer.
    """

    def __init__(
        self,
        backbone: str = "vgg16",
        weights: str | os.PathLike = "default",
        max_layer: str = "relu4_3",
        input_range: tuple[float, float] = (0.0, 1.0),
        preprocessing: str | None = None,
        loaded: LoadedWeights | None = None,
    ) -> None:
        super().__init__()
        layer_index(backbone, max_layer)  # validates both names
        spec = default_weights(backbone) if weights == "default" else weights
        loaded = loaded or resolve_weights(spec, backbone, preprocessing)
        allowed = layer_names(backbone)
        if loaded.max_layer in allowed and layer_index(backbone, max_layer) > layer_index(backbone, loaded.max_layer):
            raise WeightsError(
                f"weights '{loaded.name}' are meant for layers up to {loaded.max_layer} only "
                f"({loaded.description}); {max_layer} is deeper. Choose a shallower layer or other weights."
            )
        self.backbone = backbone
        self.weights_name = loaded.name
        self.weights_label = loaded.label()
        self.weights_description = loaded.description
        self.preprocess = Preprocess(loaded.preprocessing, input_range)
        self.net = VGG(backbone, max_layer)
        self.net.load_features_state_dict(loaded.state_dict, loaded.name)
        self.max_layer = max_layer
        self.min_size = layer_stride(backbone, max_layer)
        # Copies of this extractor on other devices / in other dtypes: a plain dict, not submodules.
        self._variants: dict[str, FeatureExtractor] = {}

    def train(self, mode: bool = True) -> FeatureExtractor:
        return super().train(False)

    def variant(self, device: torch.device, dtype: torch.dtype) -> FeatureExtractor:
        """This extractor with its network on ``device`` in ``dtype``: itself when it already is,
        else a copy made once and kept (the original is never moved or cast)."""
        weight = self.net.features[0].weight
        if weight.device == device and weight.dtype == dtype:
            return self
        key = f"{device}|{dtype}"  # strings: plain dict keys that torch.compile traces
        found = self._variants.get(key)
        if found is None:
            with _LOCK:
                found = self._variants.get(key)
                if found is None:
                    variants, self._variants = self._variants, {}
                    try:
                        found = copy.deepcopy(self).to(device=device, dtype=dtype)
                    finally:
                        self._variants = variants
                    self._variants[key] = found
        return found

    def for_inputs(self, *inputs: torch.Tensor) -> tuple[FeatureExtractor, torch.dtype | None]:
        """The variant for these inputs and the dtype to cast them to (None: leave them as they are)."""
        dtype = feature_dtype(*inputs)
        return self.variant(inputs[0].device, dtype or torch.float32), dtype

    def forward(self, x: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:
        return self.net(self.preprocess(x), layers)


def feature_dtype(*inputs: torch.Tensor) -> torch.dtype | None:
    """The dtype of the feature pass for these images (docs/losses.md, "Input dtypes").

    - Under autocast: None; the images pass as they are to the float32 network, whose
      convolutions autocast runs in its lower precision.
    - Otherwise float64 when any image is float64 (``torch.from_numpy(img / 255.)`` gives it):
      the features are computed in float64 on a float64 copy of the network;
    - float32 for everything else: float16 and bfloat16 images are cast up, since VGG's
      activations overflow float16 and lose too many digits in bfloat16.
    """
    if torch.is_autocast_enabled(inputs[0].device.type):
        return None
    return torch.float64 if any(x.dtype == torch.float64 for x in inputs) else torch.float32


_SHARED: dict[tuple, FeatureExtractor] = {}
_LOCK = threading.RLock()


def build_extractor(
    backbone: str = "vgg16",
    weights: str | os.PathLike = "default",
    layers: Sequence[str] = ("relu4_3",),
    input_range: tuple[float, float] = (0.0, 1.0),
    preprocessing: str | None = None,
) -> FeatureExtractor:
    """The shared extractor computing ``layers`` of ``backbone`` with ``weights``.

    The network is truncated after the deepest of ``layers``. Extractors are cached per
    (backbone, weights, deepest layer, input range, preprocessing) for the life of the process.
    """
    if not layers:
        raise InputError("at least one feature layer is needed")
    deepest = max(layers, key=lambda name: layer_index(backbone, name))
    if weights == "default":  # resolved now: what is installed may change during the process
        layer_index(backbone, deepest)  # an unknown backbone fails here, with its own message
        weights = default_weights(backbone)
    weights_key = os.fspath(weights)
    if os.path.exists(weights_key):
        stat = os.stat(weights_key)  # a changed file is a different set of weights
        weights_key = (os.path.abspath(weights_key), stat.st_size, stat.st_mtime_ns)
    key = (backbone, weights_key, deepest, tuple(float(v) for v in input_range), preprocessing)
    with _LOCK:
        extractor = _SHARED.get(key)
        if extractor is None:
            extractor = FeatureExtractor(backbone, weights, deepest, input_range, preprocessing)
            _SHARED[key] = extractor
    return extractor


def clear_shared_extractors() -> None:
    """Forget the shared extractors (tests use it after rewriting weight files)."""
    with _LOCK:
        _SHARED.clear()


# Old name, for one release.
get_extractor = deprecated(build_extractor, "pdloss.features.get_extractor", "pdloss.features.build_extractor")
