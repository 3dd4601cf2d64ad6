"""LPIPS v0.1 with the VGG16 backbone (Zhang et al. 2018), as ``lpips==0.1.4`` computes it.

Inputs in [0, 1] are mapped to [-1, 1], shifted and scaled by LPIPS's ScalingLayer, passed through
torchvision's ImageNet VGG16 (relu1_2, relu2_2, relu3_3, relu4_3, relu5_3); each feature vector is
unit-normalised over channels (``f / (|f| + 1e-10)``), the squared differences are weighted by the
v0.1 linear heads (1x1 convolutions without bias), averaged over space and summed over layers.
Lower is better.

The heads come from the ``lpips==0.1.4`` package (``lpips/weights/v0.1/vgg.pth``, read as a file,
never imported). The backbone must be torchvision's ImageNet VGG16 (``vgg16-imagenet``, internet
only) or a file in its layout: LPIPS is never computed on another network.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch
from torch import nn

from pdloss.errors import WeightsError
from pdloss.features.vgg import VGG
from pdloss.validation import check_image_batch, check_reduction, check_same_shape, reduce
from pdloss.weights import cache, resolver  # resolver's functions called through it: tests replace them
from pdloss.weights.sources import SOURCES

LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")
CHANNELS = (64, 128, 256, 512, 512)
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
HEADS_PACKAGE = "lpips"
HEADS_PIP = "lpips==0.1.4"
HEADS_PATH = "weights/v0.1/vgg.pth"
HEADS_SHA256 = "a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868"
BACKBONE = "vgg16-imagenet"


def load_heads(path: str | os.PathLike | None = None) -> tuple[list[torch.Tensor], str]:
    """The five linear heads ``(C_l,)`` (non-negative weights) and a label for tables."""
    if path is None:
        found = cache.locate_package_file(HEADS_PACKAGE, HEADS_PATH)
        if found is None:
            raise WeightsError(f"LPIPS needs the v0.1 linear heads of {HEADS_PIP}: pip install --no-deps {HEADS_PIP}")
        cache.check_sha256(found, HEADS_SHA256, f"file of package {HEADS_PIP}")
        path, label = found, f"lpips v0.1 vgg heads ({HEADS_SHA256[:12]})"
    else:
        path = Path(path)
        label = f"{path.name} ({cache.sha256_file(path)[:12]})"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        heads = [state[f"lin{i}.model.1.weight"].reshape(-1).float() for i in range(len(LAYERS))]
    # A file that is not a torch checkpoint (truncated, HTML error page) fails in unpickling.
    except (OSError, KeyError, RuntimeError, EOFError, pickle.UnpicklingError) as exc:
        raise WeightsError(f"cannot read LPIPS heads from {path}: {exc}") from exc
    for head, channels in zip(heads, CHANNELS, strict=True):
        if head.numel() != channels:
            raise WeightsError(f"LPIPS heads {path}: expected {channels} weights, got {head.numel()}")
    return heads, label


def lpips_from_features(
    f0: dict[str, torch.Tensor], f1: dict[str, torch.Tensor], heads: list[torch.Tensor]
) -> torch.Tensor:
    """LPIPS per image ``(B,)`` from the two images' VGG feature dicts."""
    total = 0
    for name, head in zip(LAYERS, heads, strict=True):
        a = f0[name] / (f0[name].pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10)
        b = f1[name] / (f1[name].pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10)
        weighted = ((a - b) ** 2 * head.to(a).view(1, -1, 1, 1)).sum(dim=1)
        total = total + weighted.mean(dim=(-2, -1))
    return total


class LPIPS(nn.Module):
    """LPIPS v0.1 (VGG). ``forward(pred, target)``: ``(B, 3, H, W)`` in [0, 1] -> per-image or reduced.

    Args:
        backbone: ``"vgg16-imagenet"`` (torchvision's file from the cache or torch's hub folder)
            or the path of a torchvision-layout VGG16 state dict.
        heads: None (the lpips package's file) or a path to a file of the same layout.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Raises WeightsError, saying what to install, when the backbone or heads are missing.
    """

    higher_is_better = False

    def __init__(
        self,
        backbone: str | os.PathLike = BACKBONE,
        heads: str | os.PathLike | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__()

        self.reduction = check_reduction(reduction)
        spec = os.fspath(backbone)
        if spec in SOURCES and spec != BACKBONE:
            raise WeightsError(f"LPIPS is defined on torchvision's ImageNet VGG16 ('{BACKBONE}'), not '{spec}'")
        # A bare file: as torchvision made it.
        loaded = resolver.resolve_weights(spec, "vgg16", preprocessing="torchvision")
        if loaded.preprocessing != "torchvision":
            raise WeightsError(f"LPIPS needs a torchvision-layout VGG16, got {loaded.preprocessing} weights {spec}")
        heads_list, heads_label = load_heads(heads)
        self.vgg = VGG("vgg16", "relu5_3")
        self.vgg.load_features_state_dict(loaded.state_dict, loaded.label())
        for i, head in enumerate(heads_list):
            self.register_buffer(f"head{i}", head)
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1))
        self.weights_label = f"backbone {loaded.label()}, heads {heads_label}"

    def train(self, mode: bool = True) -> LPIPS:
        return super().train(False)

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.vgg((2 * x - 1 - self.shift) / self.scale, LAYERS)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_image_batch(pred, "prediction", channels=3, min_size=16)
        check_image_batch(target, "target", channels=3, min_size=16)
        check_same_shape(pred, target)
        both = self.features(torch.cat([pred, target]))
        f0 = {k: v[: pred.shape[0]] for k, v in both.items()}
        f1 = {k: v[pred.shape[0] :] for k, v in both.items()}
        heads = [getattr(self, f"head{i}") for i in range(len(LAYERS))]
        return reduce(lpips_from_features(f0, f1, heads), self.reduction)


def lpips_status(backbone: str | os.PathLike = BACKBONE) -> tuple[bool, str]:
    """Whether LPIPS can run here, and why not (without loading the backbone)."""
    if cache.locate_package_file(HEADS_PACKAGE, HEADS_PATH) is None:
        return False, f"the LPIPS heads are missing: pip install --no-deps {HEADS_PIP}"
    spec = os.fspath(backbone)
    if spec != BACKBONE:
        return (Path(spec).is_file(), f"backbone file {spec} does not exist")
    info = resolver.status(BACKBONE)
    if info.get("state") != "present":
        return False, (
            f"LPIPS needs torchvision's ImageNet VGG16 backbone, which is not installed: download "
            f"{info.get('url')} into {cache.weights_dir()} (or torch's hub folder), or run "
            f"`pdloss weights install {BACKBONE}` with internet. It is never replaced by other weights."
        )
    return True, ""
