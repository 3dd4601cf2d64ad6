"""Input preprocessing that belongs to a set of VGG weights.

- ``"torchvision"``: RGB in [0, 1], minus ImageNet mean, divided by std (torchvision models).
- ``"caffe"``: BGR in [0, 255] minus the Caffe mean pixel (the original VGG release, Keras).

Both are per-channel affine maps after an optional channel flip, applied as one fused op.
"""

from __future__ import annotations

import torch
from torch import nn

from pdloss.errors import InputError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
PREPROCESSINGS = ("torchvision", "caffe")


class Preprocess(nn.Module):
    """Map images ``(B, 3, H, W)`` in ``input_range`` (RGB) to a VGG's expected input."""

    def __init__(self, kind: str = "torchvision", input_range: tuple[float, float] = (0.0, 1.0)) -> None:
        super().__init__()
        if kind not in PREPROCESSINGS:
            raise InputError(f"preprocessing must be one of {PREPROCESSINGS}, got {kind!r}")
        low, high = (float(v) for v in input_range)
        if not high > low:
            raise InputError(f"input_range must be (low, high) with high > low, got {input_range}")
        self.kind = kind
        self.input_range = (low, high)
        # x01 = (x - low) / (high - low); out = x01 * scale + shift, per output channel.
        if kind == "torchvision":
            scale = torch.tensor([1.0 / s for s in IMAGENET_STD])
            shift = torch.tensor([-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD, strict=True)])
            self.flip = False
        else:
            scale = torch.full((3,), 255.0)
            shift = -torch.tensor(CAFFE_MEAN_BGR)
            self.flip = True
        scale_x = scale / (high - low)
        shift_x = shift - scale * low / (high - low)
        self.register_buffer("scale", scale_x.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("shift", shift_x.view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.flip:
            x = x.flip(1)  # RGB -> BGR
        return torch.addcmul(self.shift.to(x.dtype), x, self.scale.to(x.dtype))

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, input_range={self.input_range}"
