"""A resumable, DDP-aware order of training items.

Epoch e visits the items in ``randperm(length, seed + e)``; global batch i is the slice
``[i * B, (i + 1) * B)`` of that order, and rank r of W takes every W-th element of it, so W
processes see exactly the global batch a single process sees. Starting at any step needs no
replay of earlier batches, which makes ``--resume`` exact and instant.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class StepSampler(Sampler[int]):
    def __init__(self, length: int, global_batch: int, seed: int, rank: int = 0, world: int = 1) -> None:
        if global_batch % world:
            raise ValueError(f"the global batch {global_batch} must be divisible by the {world} processes")
        if length < global_batch:
            raise ValueError(f"an epoch of {length} items is smaller than the batch {global_batch}")
        self.length = length
        self.global_batch = global_batch
        self.batches_per_epoch = length // global_batch
        self.seed = seed
        self.rank = rank
        self.world = world
        self.start_step = 0

    def position(self, step: int) -> tuple[int, int]:
        """(epoch, batch index within the epoch) of the 0-based global step."""
        return divmod(step, self.batches_per_epoch)

    def order(self, epoch: int) -> torch.Tensor:
        return torch.randperm(self.length, generator=torch.Generator().manual_seed(self.seed + epoch))

    def iter_from(self, step: int) -> Iterator[tuple[int, list[int]]]:
        """Yield (epoch, this rank's indices) for each global batch from ``step`` on, forever."""
        epoch, batch = self.position(step)
        while True:
            order = self.order(epoch)
            for b in range(batch, self.batches_per_epoch):
                chunk = order[b * self.global_batch : (b + 1) * self.global_batch]
                yield epoch, chunk[self.rank :: self.world].tolist()
            epoch, batch = epoch + 1, 0

    def __iter__(self) -> Iterator[int]:  # a plain Sampler view: one epoch of this rank's items
        for _, indices in self.iter_from(self.start_step):
            yield from indices

    def __len__(self) -> int:
        return self.batches_per_epoch * self.global_batch // self.world
