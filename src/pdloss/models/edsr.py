"""EDSR (Lim et al., CVPR-W 2017, "Enhanced Deep Residual Networks for Single Image
Super-Resolution"), following the reference PyTorch code (sanghyun-son/EDSR-PyTorch,
``src/model/edsr.py`` and ``src/model/common.py``), with the same module names so that the
reference's state dicts load.

sub_mean -> head (3x3 conv) -> body (n_resblocks ResBlocks conv-ReLU-conv scaled by res_scale,
then a 3x3 conv) + head output -> tail (pixel-shuffle upsampler: per factor 2 a 3x3 conv to
4*n_feats and PixelShuffle(2); for 3 one conv to 9*n_feats and PixelShuffle(3)) -> 3x3 conv ->
add_mean. Baseline: 16 blocks, 64 features, res_scale 1. Full: 32 blocks, 256 features,
res_scale 0.1.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from pdloss.errors import InputError
from pdloss.models.layers import check_channels

DIV2K_RGB_MEAN = (0.4488, 0.4371, 0.4040)


def _conv(cin: int, cout: int, k: int = 3) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, padding=k // 2, bias=True)


class MeanShift(nn.Module):
    """Add or subtract ``rgb_range * mean`` per channel (the reference's fixed 1x1 conv).

    Kept as buffers named ``weight`` and ``bias`` (the reference's frozen conv parameters), so the
    keys match the reference's state dicts and nothing here is trainable.
    """

    def __init__(self, rgb_range: float, rgb_mean=DIV2K_RGB_MEAN, rgb_std=(1.0, 1.0, 1.0), sign: int = -1):
        super().__init__()
        std = torch.tensor(rgb_std, dtype=torch.float32)
        self.register_buffer("weight", torch.eye(3).view(3, 3, 1, 1) / std.view(3, 1, 1, 1))
        self.register_buffer("bias", sign * rgb_range * torch.tensor(rgb_mean, dtype=torch.float32) / std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight, self.bias)


class ResBlock(nn.Module):
    """``body = [conv, ReLU, conv]``; ``out = body(x) * res_scale + x``."""

    def __init__(self, n_feats: int, res_scale: float = 1.0) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv(n_feats, n_feats), nn.ReLU(inplace=True), _conv(n_feats, n_feats))
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).mul(self.res_scale) + x


class Upsampler(nn.Sequential):
    """Pixel-shuffle upsampler for scale 1 (empty), 2^n or 3."""

    def __init__(self, scale: int, n_feats: int) -> None:
        layers: list[nn.Module] = []
        if scale >= 1 and (scale & (scale - 1)) == 0:
            for _ in range(int(math.log2(scale))):
                layers += [_conv(n_feats, 4 * n_feats), nn.PixelShuffle(2)]
        elif scale == 3:
            layers += [_conv(n_feats, 9 * n_feats), nn.PixelShuffle(3)]
        else:
            raise InputError(f"EDSR supports scales 1, 2, 3, 4 (and powers of two), got {scale}")
        super().__init__(*layers)


class EDSR(nn.Module):
    """EDSR super-resolution network.

    Args:
        scale: upsampling factor (1 gives a same-size restoration network).
        n_resblocks: 16 (baseline) or 32 (full).
        n_feats: 64 (baseline) or 256 (full).
        res_scale: 1.0 (baseline) or 0.1 (full).
        rgb_range: the value range the network works in. Inputs and outputs are always [0, 1];
            they are multiplied by ``rgb_range`` on the way in and divided on the way out, so
            ``rgb_range=255`` reproduces the reference's released models (trained on 0-255) and
            the default 1 is the reference run with ``--rgb_range 1``.

    ``forward(x)``: (B, 3, H, W) -> (B, 3, scale*H, scale*W); any H, W.
    """

    multiple = 1

    def __init__(self, scale: int = 4, n_resblocks: int = 16, n_feats: int = 64, res_scale: float = 1.0,
                 rgb_range: float = 1.0, n_colors: int = 3) -> None:
        super().__init__()
        if n_colors != 3:
            raise InputError("EDSR's mean shift is defined for RGB (n_colors=3)")
        self.scale, self.rgb_range = scale, rgb_range
        self.in_channels = self.out_channels = n_colors
        self.sub_mean = MeanShift(rgb_range)
        self.add_mean = MeanShift(rgb_range, sign=1)
        self.head = nn.Sequential(_conv(n_colors, n_feats))
        self.body = nn.Sequential(*(ResBlock(n_feats, res_scale) for _ in range(n_resblocks)),
                                  _conv(n_feats, n_feats))
        self.tail = nn.Sequential(Upsampler(scale, n_feats), _conv(n_feats, n_colors))

    def forward(self, x: torch.Tensor, return_all_scales: bool = False):
        check_channels(x, "EDSR input", 3)
        x = self.sub_mean(x * self.rgb_range)
        x = self.head(x)
        x = self.tail(self.body(x) + x)
        out = self.add_mean(x) / self.rgb_range
        return [out] if return_all_scales else out
