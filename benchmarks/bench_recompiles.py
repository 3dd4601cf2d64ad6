"""How many graphs torch.compile makes when batch and image sizes change (docs/losses.md, "Shapes").

A user's loop: a compiled ``small-unet`` and a compiled PDL, training batches of 8, 8 and 6 crops of
64 px, then validation under ``no_grad`` on four whole images of other sizes (batch 1). Counts
``torch._dynamo.utils.counters["stats"]["unique_graphs"]`` with the ``eager`` backend (the count
does not depend on the backend; inductor only makes each compilation slower), for the default
``dynamic=None`` and for ``dynamic=True``.

Usage: python benchmarks/bench_recompiles.py
"""

from __future__ import annotations

import torch
import torch._dynamo
from torch._dynamo.utils import counters

from pdloss.losses.registry import build_loss
from pdloss.models.registry import build_model

TRAIN_BATCHES = (8, 8, 6)
VALID_SIZES = ((96, 128), (120, 80), (256, 256), (200, 152))


def count_graphs(dynamic: bool | None) -> int:
    torch._dynamo.reset()
    counters.clear()
    model = torch.compile(build_model("small-unet"), backend="eager", dynamic=dynamic)
    loss = torch.compile(build_loss("pdl", weights="random", layers="relu2_2"), backend="eager", dynamic=dynamic)
    for batch in TRAIN_BATCHES:
        x = torch.rand(batch, 3, 64, 64)
        loss(model(x), x).backward()
    with torch.no_grad():
        for height, width in VALID_SIZES:
            x = torch.rand(1, 3, height, width)
            loss(model(x), x)
    return int(counters["stats"]["unique_graphs"])


def main() -> None:
    print("| `torch.compile(...)` | graphs compiled (model + loss) |")
    print("|---|---|")
    for dynamic in (None, True):
        print(f"| dynamic={dynamic} | {count_graphs(dynamic)} |")


if __name__ == "__main__":
    main()
