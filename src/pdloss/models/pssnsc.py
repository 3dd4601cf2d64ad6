"""PSS-NSC (DsDeblur): Gao, Tao, Shen and Jia (CVPR 2019), "Dynamic Scene Deblurring with
Parameter Selective Sharing and Nested Skip Connections", following the released TensorFlow
code (firenxygao/deblur, ``model.py``).

Three scales (ratio 0.5), like SRN, with 3x3 convolutions and these choices of the release:

- Selective sharing: the feature-transform layers at each scale's entry and exit (the first
  conv, the two stride-2 convs, the two transposed convs, the output conv) have their own
  weights per scale; the nested-skip blocks are shared across scales.
- Nested skip connections: a block of four conv-ReLU-conv units f1..f4 returns
  ``x + n1 + n2 + n3 + n4`` with ``n1 = f1(x)``, ``n2 = f2(x + n1)``, ``n3 = f3(x + n1 + n2)``,
  ``n4 = f4(x + n1 + n2 + n3)``.
- Each stage applies one block twice (the release reuses the variable scope: ``enc1_2`` serves
  both conv1_2 and conv1_3), so there are six distinct blocks: enc1_2 (32), enc2_2 (64),
  enc3_2 (128), dec3_2 (128), dec2_2 (64), dec1_2 (32).
- Residual output: each scale returns its prediction plus the degraded input at that scale.
- Single-channel: the released network takes one channel and deblurs colour images as a batch
  of three grey images (its test code feeds (3, H, W, 1)). :class:`PSSNSC` does the same: the
  colour channels of (B, C, H, W) are folded into the batch and unfolded afterwards.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pdloss.models.layers import Conv2dSame, check_channels, crop_to, pad_to_multiple, xavier_init


class _Unit(nn.Module):
    """conv3x3-ReLU-conv3x3 without identity (the release's ``ResnetBlock`` in model.py)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = Conv2dSame(channels, channels, 3)
        self.conv2 = Conv2dSame(channels, channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(F.relu(self.conv1(x)))


class NestedSkipBlock(nn.Module):
    """Four units with nested skip connections (the release's ``DenseBlock``)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.d1, self.d2, self.d3, self.d4 = (_Unit(channels) for _ in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        acc = x + self.d1(x)
        acc = acc + self.d2(acc)
        acc = acc + self.d3(acc)
        return acc + self.d4(acc)


class _ScaleLayers(nn.Module):
    """The per-scale (unshared) layers of one scale."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.enc1_1 = Conv2dSame(2 * channels, 32, 3)
        self.enc2_1 = Conv2dSame(32, 64, 3, stride=2)
        self.enc3_1 = Conv2dSame(64, 128, 3, stride=2)
        self.dec2_3 = nn.ConvTranspose2d(128, 64, 4, stride=2, padding=1)
        self.dec1_3 = nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1)
        self.dec1_0 = Conv2dSame(32, channels, 3)


class PSSNSC(nn.Module):
    """The DsDeblur network.

    Args:
        channels: channels of the network itself (1 in the release; any input channel count is
            processed channel by channel when ``channels == 1``).
        n_levels: number of scales (3).
        stop_gradient: stop the gradient through the upsampled previous estimate (as released).
            Then the private layers of the coarser scales learn only from their own loss term:
            train with a multi-scale loss (``return_all_scales=True``) as the paper does.

    ``forward(x, return_all_scales=False)``: x (B, C, H, W), any H, W (reflect-padded to a
    multiple of 16 and cropped back); returns (B, C, H, W) or the list coarse to fine (the one at
    ratio r cropped to ``ceil(H r) x ceil(W r)``).
    """

    def __init__(self, channels: int = 1, n_levels: int = 3, stop_gradient: bool = True) -> None:
        super().__init__()
        self.channels, self.n_levels, self.stop_gradient = channels, n_levels, stop_gradient
        self.in_channels = self.out_channels = None if channels == 1 else channels
        self.multiple = 2 ** (n_levels - 1) * 4
        self.scales = nn.ModuleList(_ScaleLayers(channels) for _ in range(n_levels))
        self.enc1_2 = NestedSkipBlock(32)
        self.enc2_2 = NestedSkipBlock(64)
        self.enc3_2 = NestedSkipBlock(128)
        self.dec3_2 = NestedSkipBlock(128)
        self.dec2_2 = NestedSkipBlock(64)
        self.dec1_2 = NestedSkipBlock(32)
        xavier_init(self)

    def _level(self, s: _ScaleLayers, inp: torch.Tensor) -> torch.Tensor:
        conv1 = self.enc1_2(self.enc1_2(F.relu(s.enc1_1(inp))))
        conv2 = self.enc2_2(self.enc2_2(F.relu(s.enc2_1(conv1))))
        x = self.enc3_2(self.enc3_2(F.relu(s.enc3_1(conv2))))
        x = self.dec3_2(self.dec3_2(x))
        x = self.dec2_2(self.dec2_2(F.relu(s.dec2_3(x)) + conv2))
        x = self.dec1_2(self.dec1_2(F.relu(s.dec1_3(x)) + conv1))
        return s.dec1_0(x)

    def forward(self, x: torch.Tensor, return_all_scales: bool = False):
        check_channels(x, "PSS-NSC input", None if self.channels == 1 else self.channels)
        b, c = x.shape[:2]
        if self.channels == 1:
            x = x.reshape(b * c, 1, *x.shape[-2:])
        xp, size = pad_to_multiple(x, self.multiple)
        hp, wp = xp.shape[-2:]
        outputs, pred = [], xp
        for i in range(self.n_levels):
            r = 0.5 ** (self.n_levels - i - 1)
            hi, wi = round(hp * r), round(wp * r)
            inp = xp if r == 1 else F.interpolate(xp, size=(hi, wi), mode="bilinear", align_corners=False)
            prev = F.interpolate(pred, size=(hi, wi), mode="bilinear", align_corners=False)
            if self.stop_gradient:
                prev = prev.detach()
            pred = self._level(self.scales[i], torch.cat([inp, prev], dim=1)) + inp
            outputs.append(pred)
        outputs = [
            crop_to(o, (-(-size[0] * o.shape[-2] // hp), -(-size[1] * o.shape[-1] // wp))) for o in outputs
        ]
        if self.channels == 1:
            outputs = [o.reshape(b, c, *o.shape[-2:]) for o in outputs]
        return outputs if return_all_scales else outputs[-1]
