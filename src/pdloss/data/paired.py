"""Paired (degraded, target) data sets made on the fly from clean photos.

:class:`PairedDataset` (training): item ``i`` of epoch ``e`` is a random crop of image
``i mod N`` with a random flip/rotation, degraded by the task; all of its randomness comes
from one generator seeded by ``(seed, epoch, i)``, so an epoch is reproducible whatever the
number of DataLoader workers, different items (hence different workers) get independent crops,
and ``set_epoch(e)`` changes them. The epoch lives in shared memory, so ``set_epoch`` also
reaches persistent workers.

:class:`ValidationDataset`: centre crops (or whole images trimmed to the task's crop multiple)
with degradation seeds fixed by ``(seed, index)``: identical on every run and machine.

Unreadable or too-small images are skipped with a warning naming them; no usable image is an
error.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import torch

from pdloss.data.sources import resolve_images
from pdloss.degradations.base import Degradation, seeded_generator
from pdloss.degradations.registry import build_degradation
from pdloss.errors import ImageReadError, InputError
from pdloss.imageio import read_image

# Stream tags so that training and validation draws never coincide for equal seeds.
_TRAIN, _VALID = 0, 1


def image_sizes(paths: Sequence[str | Path]) -> list[tuple[int, int] | None]:
    """(height, width) of each image from its header, or None when it cannot be read."""
    from PIL import Image

    sizes: list[tuple[int, int] | None] = []
    for path in paths:
        try:
            with Image.open(path) as im:
                w, h = im.size
            sizes.append((h, w))
        except (OSError, ValueError, SyntaxError):
            sizes.append(None)
    return sizes


def usable_images(paths: Sequence[str | Path], min_size: int, what: str = "data set") -> list[Path]:
    """Keep the images that can be opened and are at least ``min_size`` on both sides.

    Warns once, naming every skipped file and why; raises InputError when none is left.
    """
    if not paths:
        raise InputError(f"the {what} has no images")
    kept, skipped = [], []
    for path, size in zip(paths, image_sizes(paths), strict=True):
        if size is None:
            skipped.append(f"{path} (unreadable)")
        elif min(size) < min_size:
            skipped.append(f"{path} ({size[0]}x{size[1]} px, smaller than {min_size})")
        else:
            kept.append(Path(path))
    if skipped:
        warnings.warn(f"{what}: skipping {len(skipped)} image(s): " + "; ".join(skipped), stacklevel=3)
    if not kept:
        raise InputError(f"the {what} has no usable image (all {len(paths)} skipped; see the warning)")
    return kept


def _as_degradation(task: str | Degradation) -> Degradation:
    return build_degradation(task) if isinstance(task, str) else task


def _as_paths(images: str | Path | Sequence[str | Path]) -> list[Path]:
    if isinstance(images, (str, Path)):
        return resolve_images(images)
    return [Path(p) for p in images]


def _dihedral(image: torch.Tensor, k: int) -> torch.Tensor:
    """One of the 8 flips/rotations of ``(C, H, W)``: k in 0..7 (bit 2: transpose, 0-1: flips)."""
    if k & 4:
        image = image.transpose(-1, -2)
    if k & 1:
        image = image.flip(-1)
    if k & 2:
        image = image.flip(-2)
    return image


class PairedDataset(torch.utils.data.Dataset):
    """Random training crops degraded on the fly: item -> ``(degraded, target)`` tensors.

    Args:
        images: a data source (folder, ``"builtin"``, ``"debian-photos"``) or a list of files.
        task: a task name (paper defaults) or a :class:`Degradation`.
        crop_size: side of the square clean crop (paper: 256); a multiple of the task's
            ``crop_multiple``.
        length: items per epoch (default: the number of images; the paper draws 200,000 crops).
        augment: random flips and 90-degree rotations (the 8 dihedral transforms).
        seed: the base seed of every draw.
        cache: keep decoded images in memory (float32: 4 bytes per value per channel).
    """

    def __init__(
        self,
        images: str | Path | Sequence[str | Path],
        task: str | Degradation,
        crop_size: int = 256,
        length: int | None = None,
        augment: bool = True,
        seed: int = 0,
        cache: bool = False,
    ) -> None:
        self.degradation = _as_degradation(task)
        m = self.degradation.crop_multiple
        if crop_size < 1 or crop_size % m:
            raise InputError(
                f"crop_size must be a positive multiple of {m} for {self.degradation.task}, got {crop_size}"
            )
        self.paths = usable_images(_as_paths(images), crop_size, "training set")
        self.crop_size = int(crop_size)
        self.length = len(self.paths) if length is None else int(length)
        if self.length < 1:
            raise InputError(f"length must be positive, got {length}")
        self.augment = augment
        self.seed = int(seed)
        self.cache = cache
        self._images: dict[int, torch.Tensor] = {}
        self._epoch = torch.zeros((), dtype=torch.int64).share_memory_()

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose crops and degradations the items give (shared with workers)."""
        if epoch < 0:
            raise InputError(f"epoch must be >= 0, got {epoch}")
        self._epoch.fill_(int(epoch))

    @property
    def epoch(self) -> int:
        return int(self._epoch.item())

    def __len__(self) -> int:
        return self.length

    def _load(self, index: int) -> torch.Tensor:
        if index in self._images:
            return self._images[index]
        try:
            image = read_image(self.paths[index], mode="RGB")
        except ImageReadError as exc:
            raise ImageReadError(f"{exc} (it was readable when the data set was made)") from exc
        if self.cache:
            self._images[index] = image
        return image

    def __getitem__(self, index: int | tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        # An (epoch, index) pair names the epoch explicitly: a sampler that runs ahead of the
        # training loop (prefetching workers) then never mixes epochs.
        epoch, index = index if isinstance(index, tuple) else (self.epoch, index)
        if not 0 <= index < self.length:
            raise IndexError(index)
        generator = seeded_generator(self.seed, _TRAIN, epoch, index)
        image = self._load(index % len(self.paths))
        c = self.crop_size
        h, w = image.shape[-2:]
        top = int(torch.randint(h - c + 1, (1,), generator=generator))
        left = int(torch.randint(w - c + 1, (1,), generator=generator))
        crop = image[:, top : top + c, left : left + c]
        if self.augment:
            crop = _dihedral(crop, int(torch.randint(8, (1,), generator=generator)))
        degraded, target = self.degradation.pair(crop.contiguous()[None], generator)
        return degraded[0], target[0]


class ValidationDataset(torch.utils.data.Dataset):
    """A deterministic validation set: item -> ``(degraded, target)``.

    Args:
        images: a data source or a list of files.
        task: a task name or a :class:`Degradation`.
        crop_size: side of the centre crop, or None for whole images (trimmed at the bottom and
            right to the task's ``crop_multiple``; batch them with ``batch_size=1`` when sizes differ).
        seed: fixes every image's degradation.
    """

    def __init__(
        self,
        images: str | Path | Sequence[str | Path],
        task: str | Degradation,
        crop_size: int | None = 256,
        seed: int = 0,
    ) -> None:
        self.degradation = _as_degradation(task)
        m = self.degradation.crop_multiple
        if crop_size is not None and (crop_size < 1 or crop_size % m):
            raise InputError(
                f"crop_size must be a positive multiple of {m} for {self.degradation.task}, got {crop_size}"
            )
        min_size = crop_size if crop_size is not None else max(m, 32)
        self.paths = usable_images(_as_paths(images), min_size, "validation set")
        self.crop_size = crop_size
        self.seed = int(seed)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= index < len(self.paths):
            raise IndexError(index)
        image = read_image(self.paths[index], mode="RGB")
        h, w = image.shape[-2:]
        if self.crop_size is None:
            m = self.degradation.crop_multiple
            crop = image[:, : h - h % m, : w - w % m]
        else:
            c = self.crop_size
            top, left = (h - c) // 2, (w - c) // 2
            crop = image[:, top : top + c, left : left + c]
        generator = seeded_generator(self.seed, _VALID, index)
        degraded, target = self.degradation.pair(crop.contiguous()[None], generator)
        return degraded[0], target[0]
