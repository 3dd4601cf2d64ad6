"""The layer layouts of VGG16 and VGG19 (torchvision's ``features`` stack), as plain data.

The weight converters fill these layouts and :mod:`pdloss.features.vgg` builds its networks from
them; the layouts live here, below both, so that ``weights`` never imports ``features``.
"""

from __future__ import annotations

from pdloss.errors import InputError

__all__ = ["VGG_CONFIGS", "conv_indices", "layer_channels", "layer_index", "layer_names", "layer_stride", "vgg_config"]

# Channels per conv, "M" for a 2x2 max pool: the configurations "D" (VGG16) and "E" (VGG19).
VGG_CONFIGS: dict[str, list[int | str]] = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


def layer_names(arch: str) -> list[str]:
    """Names of the layers of ``features`` in order: index i of the list is ``features.i``."""
    config = vgg_config(arch)
    names: list[str] = []
    block, conv = 1, 1
    for item in config:
        if item == "M":
            names.append(f"pool{block}")
            block, conv = block + 1, 1
        else:
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
            conv += 1
    return names


def conv_indices(arch: str) -> list[int]:
    """Indices in ``features`` of the convolutions, in order."""
    return [i for i, name in enumerate(layer_names(arch)) if name.startswith("conv")]


def layer_channels(arch: str, layer: str) -> int:
    """Number of channels a named layer outputs."""
    names = layer_names(arch)
    index = layer_index(arch, layer)
    channels = 3
    convs = iter(c for c in vgg_config(arch) if c != "M")
    for name in names[: index + 1]:
        if name.startswith("conv"):
            channels = next(convs)
    return int(channels)


def layer_stride(arch: str, layer: str) -> int:
    """Downsampling factor of a named layer relative to the input (2 per pool before it)."""
    names = layer_names(arch)
    return 2 ** sum(1 for name in names[: layer_index(arch, layer) + 1] if name.startswith("pool"))


def layer_index(arch: str, layer: str) -> int:
    names = layer_names(arch)
    try:
        return names.index(layer)
    except ValueError:
        raise InputError(
            f"unknown layer {layer!r} for {arch}; layers are named conv1_1 ... {names[-2]}, "
            f"relu1_1 ..., pool1 ... pool5 (e.g. 'relu4_3' for the paper's VGG16 conv4)"
        ) from None


def vgg_config(arch: str) -> list[int | str]:
    try:
        return VGG_CONFIGS[arch]
    except KeyError:
        raise InputError(f"unknown backbone {arch!r}; choose one of {sorted(VGG_CONFIGS)}") from None
