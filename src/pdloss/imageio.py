"""Reading and writing images as float tensors.

Images in pdloss are float32 tensors ``(C, H, W)`` (or batched ``(B, C, H, W)``) with values in
[0, 1]. 8-bit files map 0..255 to 0..1, 16-bit files 0..65535 to 0..1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pdloss.errors import ImageReadError, InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def read_image(path: str | Path, mode: str = "RGB") -> torch.Tensor:
    """Read an image file into a float32 tensor ``(C, H, W)`` in [0, 1].

    Args:
        path: the file (``builtin:NAME`` photos: :func:`pdloss.data.builtin.resolve_image_path` first).
        mode: ``"RGB"`` (3 channels; grey files are replicated, alpha is dropped) or ``"L"``
            (one channel, the file's own grey values or ITU-R 601 luma of a colour file).

    Raises:
        ImageReadError: the file is missing, unreadable or not an image.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if mode not in ("RGB", "L"):
        raise InputError(f"mode must be 'RGB' or 'L', got {mode!r}")
    try:
        with Image.open(path) as im:
            im.load()
            array = _pil_to_array(im, mode)
    except FileNotFoundError as exc:
        raise ImageReadError(f"image file not found: {path}") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"cannot read image {path}: {exc}") from exc
    return torch.from_numpy(array)


def _pil_to_array(im, mode: str) -> np.ndarray:
    # 16-bit files (mode I;16 or I) keep their precision; everything else goes through 8 bits.
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(im, dtype=np.float64) / 65535.0
        a = a[None]
        if mode == "RGB":
            a = np.repeat(a, 3, axis=0)
        return np.ascontiguousarray(a, dtype=np.float32)
    if mode == "RGB":
        a = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
        return np.ascontiguousarray(a.transpose(2, 0, 1))
    a = np.asarray(im.convert("L"), dtype=np.float32) / 255.0
    return np.ascontiguousarray(a[None])


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """``(C, H, W)`` float tensor in [0, 1] -> ``(H, W, C)`` (or ``(H, W)`` for C == 1) uint8,
    rounded to nearest after clipping."""
    if image.ndim != 3 or image.shape[0] not in (1, 3):
        raise InputError(f"expected an image tensor (C, H, W) with C in (1, 3), got {tuple(image.shape)}")
    a = image.detach().to("cpu", torch.float32).clamp(0, 1).mul(255).round().to(torch.uint8).numpy()
    a = a.transpose(1, 2, 0)
    return a[..., 0] if a.shape[2] == 1 else a


def write_image(path: str | Path, image: torch.Tensor) -> Path:
    """Write a ``(C, H, W)`` tensor in [0, 1] as an 8-bit file (format from the suffix).

    The file is written to a temporary name first and renamed, so an interrupted write never
    leaves a truncated image behind.
    """
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    array = to_uint8(image)
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
    Image.fromarray(array).save(tmp)
    tmp.replace(path)
    return path


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly inside ``folder`` (recursively), sorted by path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageReadError(f"not a folder: {folder}")
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
