"""JPEG compression artifacts (paper: quality 20) through libjpeg, as Pillow encodes and decodes.

Chroma is subsampled 4:2:0, as standard encoders do. The codec runs per image on the CPU; the
result returns to the input's device.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from pdloss.degradations.base import Degradation, Degraded
from pdloss.errors import InputError
from pdloss.imageio import to_uint8
from pdloss.validation import check_image_batch

SUBSAMPLING = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}


def jpeg_roundtrip_uint8(array: np.ndarray, quality: int, subsampling: str = "4:2:0") -> np.ndarray:
    """Encode an 8-bit ``(H, W, 3)`` or ``(H, W)`` array as JPEG in memory and decode it back."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(
        buffer, format="JPEG", quality=int(quality), subsampling=SUBSAMPLING[subsampling]
    )
    buffer.seek(0)
    with Image.open(buffer) as im:
        return np.asarray(im.convert("RGB" if array.ndim == 3 else "L"))


def jpeg_compress(images: torch.Tensor, quality: int = 20, subsampling: str = "4:2:0") -> torch.Tensor:
    """JPEG encode/decode each image of ``(B, C, H, W)`` in [0, 1] (C = 1 or 3) at ``quality``.

    Inputs are rounded to 8 bits first (JPEG is an 8-bit format); outputs are on the 8-bit grid.
    """
    check_image_batch(images, "images", channels=(1, 3))
    if not 1 <= int(quality) <= 100:
        raise InputError(f"JPEG quality must be in 1..100, got {quality}")
    if subsampling not in SUBSAMPLING:
        raise InputError(f"subsampling must be one of {sorted(SUBSAMPLING)}, got {subsampling!r}")
    out = []
    for image in images:
        decoded = jpeg_roundtrip_uint8(to_uint8(image), quality, subsampling)
        decoded = decoded[..., None] if decoded.ndim == 2 else decoded
        out.append(torch.from_numpy(np.array(decoded.transpose(2, 0, 1), copy=True)))
    return (torch.stack(out).to(images.dtype) / 255.0).to(images.device)


@dataclass
class JpegCompression(Degradation):
    """JPEG artifact removal: encode/decode at ``quality`` (paper: 20) with 4:2:0 chroma.

    extras: ``quality``.
    """

    task: ClassVar[str] = "jpeg"
    quality: int = 20
    subsampling: str = "4:2:0"

    def __post_init__(self) -> None:
        if int(self.quality) != self.quality or not 1 <= self.quality <= 100:
            raise InputError(f"JPEG quality must be an integer in 1..100, got {self.quality}")
        self.quality = int(self.quality)
        if self.subsampling not in SUBSAMPLING:
            raise InputError(f"subsampling must be one of {sorted(SUBSAMPLING)}, got {self.subsampling!r}")

    def _apply(self, clean: torch.Tensor, generator: torch.Generator | None) -> Degraded:
        return Degraded(
            jpeg_compress(clean, self.quality, self.subsampling), clean, {"quality": self.quality}
        )
