"""VGG16 and VGG19 convolutional trunks in torchvision's layout, with named layers.

The module keeps torchvision's attribute path (``features.0``, ``features.1``...), so that a
torchvision state dict loads as it is. Layers are named as in the VGG paper's blocks:
``conv{b}_{j}``, ``relu{b}_{j}``, ``pool{b}``. This file does not import torchvision.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from torch import nn

from pdloss.errors import InputError, WeightsError
from pdloss.weights.layouts import VGG_CONFIGS, conv_indices, layer_channels, layer_index, layer_names, layer_stride
from pdloss.weights.layouts import vgg_config as _config

# The layouts are data of pdloss.weights.layouts (the converters fill them); re-exported here.
__all__ = [
    "VGG",
    "VGG_CONFIGS",
    "build_features",
    "conv_indices",
    "layer_channels",
    "layer_index",
    "layer_names",
    "layer_stride",
]


def build_features(arch: str, depth: int | None = None) -> nn.Sequential:
    """The ``features`` stack of ``arch`` truncated to its first ``depth`` layers."""
    layers: list[nn.Module] = []
    in_channels = 3
    for item in _config(arch):
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(in_channels, int(item), kernel_size=3, padding=1), nn.ReLU(inplace=False)]
            in_channels = int(item)
    return nn.Sequential(*layers[:depth])


class VGG(nn.Module):
    """A frozen VGG trunk truncated after its deepest requested layer.

    ``forward(x, layers)`` takes an already preprocessed batch ``(B, 3, H, W)`` and returns a dict
    ``{layer: (B, C, H / stride, W / stride)}`` computed in one pass.
    """

    def __init__(self, arch: str = "vgg16", max_layer: str = "relu4_3") -> None:
        super().__init__()
        self.arch = arch
        self.max_layer = max_layer
        self.names = layer_names(arch)[: layer_index(arch, max_layer) + 1]
        self.features = build_features(arch, len(self.names))
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VGG:
        # A feature network is a fixed measuring instrument: it stays in eval mode.
        return super().train(False)

    def load_features_state_dict(self, state_dict: Mapping[str, torch.Tensor], source: str) -> None:
        """Load ``features.*`` tensors (a torchvision VGG state dict works); others are ignored."""
        wanted = self.features.state_dict()
        missing = [f"features.{k}" for k in wanted if f"features.{k}" not in state_dict]
        if missing:
            raise WeightsError(
                f"weights {source} lack {', '.join(missing[:4])}... for {self.arch} up to {self.max_layer}"
            )
        tensors = {}
        for key, current in wanted.items():
            tensor = state_dict[f"features.{key}"]
            if tuple(tensor.shape) != tuple(current.shape):
                raise WeightsError(
                    f"weights {source}: features.{key} has shape {tuple(tensor.shape)}, "
                    f"{self.arch} expects {tuple(current.shape)}; is it a {self.arch} file?"
                )
            tensors[key] = tensor.to(current.dtype)
        self.features.load_state_dict(tensors)

    def forward(self, x: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:
        wanted = set(layers)
        unknown = wanted - set(self.names)
        if unknown:
            raise InputError(f"layers {sorted(unknown)} are not computed by this {self.arch} (up to {self.max_layer})")
        last = max(self.names.index(name) for name in wanted)
        out: dict[str, torch.Tensor] = {}
        for index in range(last + 1):
            x = self.features[index](x)
            name = self.names[index]
            if name in wanted:
                out[name] = x
        return out
