"""``small-unet``: a small residual U-Net for CPU runs. NOT a network of the paper.

About 0.46 M parameters (same-size tasks), fast enough to train on a laptop CPU, used by the
small presets. Two downsamplings (3x3 stride-2 convs), widths 32/64/96, one 3x3 ResBlock
(conv-ReLU-conv plus identity) per stage on each side, 2x2 stride-2 transposed convs, additive
skips, and a global residual: the output is the input (bicubically upsampled for ``scale > 1``)
plus the predicted correction; for ``scale > 1`` the last conv predicts ``scale**2`` sub-pixel
planes per channel and a pixel shuffle assembles them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pdloss.errors import InputError
from pdloss.models.layers import check_channels, crop_to, pad_to_multiple


class _ResBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(F.relu(self.conv1(x))) + x


class SmallUNet(nn.Module):
    """Residual U-Net, ``(B, in_channels, H, W) -> (B, out_channels, scale*H, scale*W)``.

    Args:
        in_channels: image channels of the input.
        out_channels: image channels of the output (the global residual needs them equal to
            ``in_channels``; otherwise the network predicts the output directly).
        scale: output/input size ratio (1 for restoration, 4 for ``sr4x``).
        widths: channels at full, half and quarter resolution.

    Any H, W: the input is reflect-padded to a multiple of 4 and the output cropped back.
    """

    multiple = 4

    def __init__(self, in_channels: int = 3, out_channels: int = 3, scale: int = 1,
                 widths: tuple[int, int, int] = (32, 64, 96)) -> None:
        super().__init__()
        if scale < 1:
            raise InputError(f"scale must be a positive integer, got {scale}")
        w1, w2, w3 = widths
        self.in_channels, self.out_channels, self.scale = in_channels, out_channels, scale
        self.head = nn.Conv2d(in_channels, w1, 3, padding=1)
        self.enc1 = _ResBlock(w1)
        self.down1 = nn.Conv2d(w1, w2, 3, stride=2, padding=1)
        self.enc2 = _ResBlock(w2)
        self.down2 = nn.Conv2d(w2, w3, 3, stride=2, padding=1)
        self.mid = _ResBlock(w3)
        self.up2 = nn.ConvTranspose2d(w3, w2, 2, stride=2)
        self.dec2 = _ResBlock(w2)
        self.up1 = nn.ConvTranspose2d(w2, w1, 2, stride=2)
        self.dec1 = _ResBlock(w1)
        self.tail = nn.Conv2d(w1, out_channels * scale * scale, 3, padding=1)
        self.shuffle = nn.PixelShuffle(scale)
        # Start near the identity map: the correction branch begins small.
        nn.init.zeros_(self.tail.bias)
        with torch.no_grad():
            self.tail.weight.mul_(0.1)

    def forward(self, x: torch.Tensor, return_all_scales: bool = False):
        check_channels(x, "small-unet input", self.in_channels)
        xp, size = pad_to_multiple(x, self.multiple)
        f1 = self.enc1(F.relu(self.head(xp)))
        f2 = self.enc2(F.relu(self.down1(f1)))
        f3 = self.mid(F.relu(self.down2(f2)))
        d2 = self.dec2(F.relu(self.up2(f3)) + f2)
        d1 = self.dec1(F.relu(self.up1(d2)) + f1)
        out = crop_to(self.shuffle(self.tail(d1)), (size[0] * self.scale, size[1] * self.scale))
        if self.in_channels == self.out_channels:
            # The residual base comes from the unpadded input, so borders are exact bicubic.
            out = out + (x if self.scale == 1 else F.interpolate(
                x, scale_factor=self.scale, mode="bicubic", align_corners=False))
        return [out] if return_all_scales else out
