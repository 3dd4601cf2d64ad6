"""PyTorch's own distributed engine, as torchrun sets it up (no home-made launcher).

``torchrun --nproc_per_node N -m pdloss train CONFIG`` sets RANK, WORLD_SIZE and LOCAL_RANK;
:func:`setup` then joins the process group (NCCL on GPUs, gloo on CPUs).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

from pdloss.devices import resolve_device


@dataclass
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


def setup(device: str | None = None) -> DistInfo:
    """Join the process group when launched by torchrun; choose the device for this rank."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    # "cuda" (no index) is this rank's GPU; a device the machine lacks is an InputError here.
    dev = resolve_device(device, default_index=local_rank)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return DistInfo(rank, world, local_rank, dev)


def is_main_process() -> bool:
    """Rank 0 (or no torchrun), known from the environment before :func:`setup` joins the group."""
    return int(os.environ.get("RANK", "0")) == 0


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def all_reduce_sum(tensor: torch.Tensor, info: DistInfo) -> torch.Tensor:
    if info.enabled:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def teardown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
