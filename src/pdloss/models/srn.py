"""SRN: the scale-recurrent network of Tao et al. (CVPR 2018), "Scale-recurrent Network for
Deep Image Deblurring", following the released TensorFlow code (jiangsutx/SRN-Deblur,
``models/model.py``; ``util/util.py``; ``util/BasicConvLSTMCell.py``).

Per scale (coarse to fine, ratio 0.5, three scales, one set of weights for all scales):
input = concat(degraded image at that scale, previous scale's output upsampled, gradient
stopped); encoder 5x5 conv to 32 channels + 3 ResBlocks, stride-2 5x5 conv to 64 + 3 ResBlocks,
stride-2 5x5 conv to 128 + 3 ResBlocks; (optional ConvLSTM, 3x3, 128 features, its state
carried across scales); decoder 3 ResBlocks at 128, 4x4 stride-2 transposed conv to 64 added to
the encoder's 64-channel features, 3 ResBlocks, transposed conv to 32 added to the 32-channel
features, 3 ResBlocks, 5x5 conv to the output channels (no activation, no global residual).
ResBlock = conv5x5-ReLU-conv5x5 plus identity. ReLU after every other conv.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pdloss.errors import InputError
from pdloss.models.layers import Conv2dSame, check_channels, crop_to, pad_to_multiple, xavier_init


class ResBlock(nn.Module):
    """conv-ReLU-conv plus identity, 'same' size; ``(B, C, H, W) -> (B, C, H, W)``."""

    def __init__(self, channels: int, kernel_size: int = 5) -> None:
        super().__init__()
        self.conv1 = Conv2dSame(channels, channels, kernel_size)
        self.conv2 = Conv2dSame(channels, channels, kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(F.relu(self.conv1(x))) + x


class ConvLSTMCell(nn.Module):
    """The reference's BasicConvLSTMCell: one 3x3 conv on concat(input, h) gives the gates
    i, j, f, o (in that order); forget bias 1.0; tanh activation.

    ``forward(x, state) -> (h, state)`` with ``state = concat(c, h)`` of shape (B, 2F, H, W).
    """

    def __init__(self, channels: int = 128, features: int = 128, kernel_size: int = 3,
                 forget_bias: float = 1.0) -> None:
        super().__init__()
        self.features = features
        self.forget_bias = forget_bias
        self.conv = Conv2dSame(channels + features, 4 * features, kernel_size)

    def reset_parameters(self) -> None:
        # Reference: truncated normal (mean 0, std 1e-3) weights, zero bias.
        nn.init.trunc_normal_(self.conv.weight, std=1e-3, a=-2e-3, b=2e-3)
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c, h = state.chunk(2, dim=1)
        i, j, f, o = self.conv(torch.cat([x, h], dim=1)).chunk(4, dim=1)
        new_c = c * torch.sigmoid(f + self.forget_bias) + torch.sigmoid(i) * torch.tanh(j)
        new_h = torch.tanh(new_c) * torch.sigmoid(o)
        return new_h, torch.cat([new_c, new_h], dim=1)


class SRN(nn.Module):
    """Scale-recurrent encoder-decoder.

    Args:
        in_channels: channels of the degraded image (3 for RGB).
        out_channels: channels of the output (the previous scale's output is concatenated to
            the input, so the first conv sees ``in_channels + out_channels`` channels).
        lstm: insert the ConvLSTM at the bottleneck (the paper's full model, ``srn-lstm``).
        n_levels: number of scales (3 in the paper).
        scale: ratio between consecutive scales (0.5).
        stop_gradient: stop the gradient through the upsampled previous output, as the
            reference does (each scale then learns from its own loss term).

    ``forward(x, return_all_scales=False)``: x (B, in_channels, H, W), any H, W (padded by
    reflection to a multiple of :attr:`multiple` and cropped back). Returns (B, out, H, W), or
    with ``return_all_scales`` the list of outputs coarse to fine, the one at ratio ``r``
    cropped to ``ceil(H * r) x ceil(W * r)`` (compare with the target resized to that size).
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 3, lstm: bool = False, n_levels: int = 3,
                 scale: float = 0.5, stop_gradient: bool = True) -> None:
        super().__init__()
        if scale != 0.5:
            raise InputError("SRN supports the reference's scale ratio 0.5 only")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.n_levels, self.scale, self.stop_gradient = n_levels, scale, stop_gradient
        self.multiple = 2 ** (n_levels - 1) * 4  # coarsest scale, then two stride-2 convs
        self.enc1_1 = Conv2dSame(in_channels + out_channels, 32, 5)
        self.enc1 = nn.Sequential(*(ResBlock(32) for _ in range(3)))
        self.enc2_1 = Conv2dSame(32, 64, 5, stride=2)
        self.enc2 = nn.Sequential(*(ResBlock(64) for _ in range(3)))
        self.enc3_1 = Conv2dSame(64, 128, 5, stride=2)
        self.enc3 = nn.Sequential(*(ResBlock(128) for _ in range(3)))
        self.lstm = ConvLSTMCell(128, 128, 3) if lstm else None
        self.dec3 = nn.Sequential(*(ResBlock(128) for _ in range(3)))
        # TF 'SAME' 4x4 stride-2 transposed conv doubles the size: symmetric padding 1.
        self.dec2_4 = nn.ConvTranspose2d(128, 64, 4, stride=2, padding=1)
        self.dec2 = nn.Sequential(*(ResBlock(64) for _ in range(3)))
        self.dec1_4 = nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1)
        self.dec1 = nn.Sequential(*(ResBlock(32) for _ in range(3)))
        self.dec1_0 = Conv2dSame(32, out_channels, 5)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        xavier_init(self)
        if self.lstm is not None:
            self.lstm.reset_parameters()

    def _level(self, inp: torch.Tensor, state: torch.Tensor | None):
        conv1 = self.enc1(F.relu(self.enc1_1(inp)))
        conv2 = self.enc2(F.relu(self.enc2_1(conv1)))
        x = self.enc3(F.relu(self.enc3_1(conv2)))
        if self.lstm is not None:
            x, state = self.lstm(x, state)
        x = self.dec3(x)
        x = self.dec2(F.relu(self.dec2_4(x)) + conv2)
        x = self.dec1(F.relu(self.dec1_4(x)) + conv1)
        return self.dec1_0(x), state

    def forward(self, x: torch.Tensor, return_all_scales: bool = False):
        check_channels(x, "SRN input", self.in_channels)
        xp, size = pad_to_multiple(x, self.multiple)
        hp, wp = xp.shape[-2:]
        outputs, state = [], None
        pred = xp if self.out_channels == self.in_channels else None
        for i in range(self.n_levels):
            r = self.scale ** (self.n_levels - i - 1)
            hi, wi = round(hp * r), round(wp * r)
            # The reference resizes bilinearly (tf.image.resize_images, method 0).
            inp = xp if r == 1 else F.interpolate(xp, size=(hi, wi), mode="bilinear", align_corners=False)
            if pred is None:  # in != out channels: no previous estimate at the coarsest scale
                prev = inp.new_zeros(inp.shape[0], self.out_channels, hi, wi)
            else:
                prev = F.interpolate(pred, size=(hi, wi), mode="bilinear", align_corners=False)
                if self.stop_gradient:
                    prev = prev.detach()
            if self.lstm is not None:
                if state is None:
                    state = inp.new_zeros(inp.shape[0], 2 * self.lstm.features, hi // 4, wi // 4)
                else:
                    state = F.interpolate(state, size=(hi // 4, wi // 4), mode="bilinear",
                                          align_corners=False)
            pred, state = self._level(torch.cat([inp, prev], dim=1), state)
            outputs.append(pred)
        if not return_all_scales:
            return crop_to(outputs[-1], size)
        return [
            crop_to(o, (-(-size[0] * o.shape[-2] // hp), -(-size[1] * o.shape[-1] // wp))) for o in outputs
        ]
