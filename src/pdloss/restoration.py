"""Apply a trained model to images: ``pdloss restore RUN IN OUT`` and its Python twin.

::

    import pdloss
    result = pdloss.restore("runs/demo-denoise/pdl", "noisy/", "restored/")   # this module's restore()
    result.written, result.skipped                                            # paths, {path: why}

    from pdloss.restoration import Restorer
    restorer = Restorer("runs/demo-denoise/pdl", device="cpu")
    out = restorer(restorer.read("noisy/a.png"))    # (3, sH, sW) float32, not clamped

The run's task decides the input (see :data:`pdloss.models.TASK_IO`): low-resolution RGB for
``sr4x`` (the output is 4x larger), a one-channel Bayer mosaic for ``demosaic`` (as
``pdloss degrade demosaic`` writes it; the run's pattern unless ``pattern`` says otherwise), and
RGB of any size for ``denoise``, ``deblur`` and ``jpeg``. Outputs are 8-bit RGB PNGs with the
input's file stem (and its sub-folder, for a folder searched recursively).

Any size: the networks pad by reflection to their stride themselves (``pad_to_multiple``) and
crop back. Large images are cut into tiles that overlap by ``overlap`` input pixels, with tile
corners on the network's stride grid so every tile sees the pixel grid the whole image would.
Inside each overlap the outer quarter on either side is dropped (the network lacks context
there) and the middle half is blended with linear ramps. Where the overlap's quarter is at least
the network's receptive radius the tiled result equals the whole-image result up to float
rounding (tested to 1e-5); with the default overlap on a larger network it differs by far less
than the 8-bit output step. Tiling starts when the estimated memory of one pass exceeds the
budget (``memory_gb``), or at once with ``tile``.
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from pdloss.degradations.mosaic import check_pattern
from pdloss.devices import resolve_device
from pdloss.errors import ImageReadError, InputError, PdlossError
from pdloss.imageio import IMAGE_SUFFIXES, list_images, read_image, write_image
from pdloss.runs.load import load_run

DEFAULT_OVERLAP = 64  # input pixels; 16 px dropped on each side, 32 px blended
DEFAULT_CPU_MEMORY_GB = 2.0
PROBE_SIZE = 64  # side of the probe pass that estimates memory per pixel
ACTIVATION_FACTOR = 12  # CPU estimate: peak memory / largest activation (calibrated, see bytes_per_pixel)


class RestoreWarning(UserWarning):
    """An input file was skipped (unreadable, or not the input the run's task takes)."""


@dataclass
class RestoreResult:
    """What :func:`restore` did: the files written and the inputs skipped with the reason."""

    written: list[Path] = field(default_factory=list)
    skipped: dict[Path, str] = field(default_factory=dict)


# -- tiling ---------------------------------------------------------------------------------
def tile_spans(length: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    """Tiles ``[(start, end), ...]`` covering ``range(length)`` along one axis.

    Tiles of ``tile`` pixels step by ``tile - overlap`` from 0; the last one ends at ``length``
    (it may be shorter, but is longer than ``overlap``). Only neighbours overlap, by exactly
    ``overlap`` pixels, because ``tile >= 2 * overlap``.
    """
    if length <= tile:
        return [(0, length)]
    if tile < 2 * overlap or overlap < 0:
        raise InputError(f"a tile ({tile} px) must be at least twice the overlap ({overlap} px)")
    step = tile - overlap
    spans, start = [], 0
    while start + tile < length:
        spans.append((start, start + tile))
        start += step
    spans.append((start, length))
    return spans


def _axis_weights(spans: list[tuple[int, int]], scale: int, margin: int) -> list[torch.Tensor]:
    """Per tile, its 1-D blending weights along one axis in output pixels (scale * span).

    In the overlap [b0, a1) of neighbours A and B the weight of B is a linear ramp from 0 at
    b0 + margin to 1 at a1 - margin (A gets 1 minus it): each tile's outer ``margin`` px of an
    overlap carry weight 0. Along the image borders the weight is 1.
    """
    weights = [torch.ones(scale * (end - start)) for start, end in spans]
    for i in range(1, len(spans)):
        b0, a1 = scale * spans[i][0], scale * spans[i - 1][1]
        length, m = a1 - b0, scale * margin
        x = torch.arange(length, dtype=torch.float64) + 0.5
        ramp = ((x - m) / max(length - 2 * m, 1)).clamp(0, 1).float()
        weights[i][:length] *= ramp
        weights[i - 1][-length:] *= 1 - ramp
    return weights


def _stride(model: torch.nn.Module) -> int:
    """Input-pixel shift under which the model's output shifts exactly (tile corners sit on it)."""
    multiple = int(getattr(getattr(model, "net", model), "multiple", 1))
    pre = int(getattr(model, "pre_upsample", 1))
    stride = multiple // math.gcd(multiple, pre)  # the net's grid, seen through the pre-upsampling
    if getattr(model, "task", None) == "demosaic":
        stride = math.lcm(stride, 2)  # the Bayer tile's phase
    return stride


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


@torch.inference_mode()
def restore_tensor(
    model: torch.nn.Module,
    x: torch.Tensor,
    tile: int | None = None,
    overlap: int = DEFAULT_OVERLAP,
    pattern: str | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Run ``model`` on one image, whole or in overlapping tiles.

    Args:
        model: a :class:`pdloss.models.RestorationModel` (in eval mode) on its device.
        x: the task's input ``(1, C, H, W)`` (C = 1 for demosaic, else 3), any float range.
        tile: tile side in input pixels (None: the whole image at once); rounded down to the
            model's stride grid, the overlap up to it.
        overlap: pixels shared by neighbouring tiles (see the module docstring).
        pattern: Bayer pattern for demosaic (default: the model's).

    Returns:
        ``(1, 3, scale*H, scale*W)`` float32 on the CPU, not clamped.
    """
    device = next(model.parameters()).device
    kwargs = {"pattern": pattern} if pattern is not None else {}
    h, w = x.shape[-2:]
    stride = _stride(model)
    if tile is None or (h <= tile and w <= tile):
        return model(x.to(device), **kwargs).float().cpu()
    overlap = _round_up(max(overlap, 0), stride)
    tile = max(tile // stride * stride, stride)
    if tile < 2 * overlap:
        raise InputError(
            f"a tile of {tile} px cannot carry an overlap of {overlap} px (on this model's {stride} px grid); "
            "use a tile at least twice the overlap"
        )
    scale = int(getattr(model, "scale", 1))
    margin = overlap // 4
    rows, cols = tile_spans(h, tile, overlap), tile_spans(w, tile, overlap)
    row_w, col_w = _axis_weights(rows, scale, margin), _axis_weights(cols, scale, margin)
    out = torch.zeros(1, 3, scale * h, scale * w)
    total = torch.zeros(1, 1, scale * h, scale * w)
    bar = tqdm(total=len(rows) * len(cols), desc="tiles", leave=False, file=sys.stderr, disable=not progress)
    for (r0, r1), wr in zip(rows, row_w, strict=True):
        for (c0, c1), wc in zip(cols, col_w, strict=True):
            piece = model(x[..., r0:r1, c0:c1].to(device), **kwargs).float().cpu()
            weight = wr[:, None] * wc[None, :]
            ys, xs = slice(scale * r0, scale * r1), slice(scale * c0, scale * c1)
            out[..., ys, xs] += piece * weight
            total[..., ys, xs] += weight
            bar.update(1)
    bar.close()
    # The weights sum to 1 up to rounding; dividing makes that exact.
    return out / total


# -- memory ---------------------------------------------------------------------------------
@torch.inference_mode()
def bytes_per_pixel(model: torch.nn.Module, pattern: str | None = None) -> float:
    """Estimated peak memory of one inference pass per input pixel, from a probe pass.

    On CUDA the measured peak allocation of a PROBE_SIZE^2 pass (times 1.25). Elsewhere
    ACTIVATION_FACTOR times the largest activation of any layer, plus input and output: against
    the peak resident memory of one pass on this CPU (512^2 or 256^2 inputs) that estimate was
    1.0x (SRN, PSS-NSC), 1.3-1.6x (small-unet: denoise, demosaic, sr4x) and 4.2x (EDSR baseline,
    whose largest map is the short-lived 256-channel upsampler output).
    """
    device = next(model.parameters()).device
    side = _round_up(PROBE_SIZE, _stride(model))
    channels = int(getattr(model, "in_channels", 3))
    probe = torch.rand(1, channels, side, side, device=device)
    kwargs = {"pattern": pattern} if pattern is not None else {}
    pixels = side * side
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        model(probe, **kwargs)
        torch.cuda.synchronize(device)
        return 1.25 * (torch.cuda.max_memory_allocated(device) - base) / pixels
    largest = [0]

    def hook(_module, _inputs, output):
        if isinstance(output, torch.Tensor):
            largest[0] = max(largest[0], output.numel() * output.element_size())

    handles = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]
    try:
        result = model(probe, **kwargs)
    finally:
        for handle in handles:
            handle.remove()
    io = probe.numel() * probe.element_size() + result.numel() * result.element_size()
    return (ACTIVATION_FACTOR * largest[0] + io) / pixels


def default_memory_gb(device: torch.device) -> float:
    """The budget of one pass: half the free memory of a GPU, else DEFAULT_CPU_MEMORY_GB."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return 0.5 * free / 2**30
    return DEFAULT_CPU_MEMORY_GB


# -- the model of a run -----------------------------------------------------------------------
class Restorer:
    """The model of a run, ready to restore images of any size.

    Args:
        run_or_checkpoint: a run folder (its ``checkpoints/last.pt``) or a checkpoint file.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"`` (default: the GPU if there is one, else cpu).
        tile: tile side in input pixels; None tiles only images over the memory budget.
        overlap: pixels shared by neighbouring tiles (default 64).
        memory_gb: the budget of one pass (default: half the GPU's free memory, 2 GiB on CPU).
        pattern: Bayer pattern of the mosaics for demosaic (default: the run's).
    """

    def __init__(
        self,
        run_or_checkpoint: str | os.PathLike,
        device: str | torch.device | None = None,
        tile: int | None = None,
        overlap: int | None = None,
        memory_gb: float | None = None,
        pattern: str | None = None,
    ) -> None:
        self.device = resolve_device(device)  # before the checkpoint: a missing GPU is not an unreadable file
        if tile is not None and tile < 1:
            raise InputError(f"tile must be a positive number of pixels, got {tile}")
        if overlap is not None and overlap < 0:
            raise InputError(f"overlap must be zero or more pixels, got {overlap}")
        if memory_gb is not None and memory_gb <= 0:
            raise InputError(f"the memory budget must be positive, got {memory_gb} GB")
        self.config, self.model, self.run_dir, payload = load_run(run_or_checkpoint, self.device)
        self.step = int(payload["step"])
        self.model.eval()
        self.task = self.config.task
        self.scale = int(getattr(self.model, "scale", 1))
        if pattern is not None:
            if self.task != "demosaic":
                raise InputError(f"a Bayer pattern applies to demosaic runs only; this run's task is {self.task}")
            pattern = check_pattern(pattern)
        self.pattern = pattern or (self.model.pattern if self.task == "demosaic" else None)
        self.stride = _stride(self.model)
        if overlap is None:
            # A small --tile alone keeps working: the default overlap shrinks to half of it.
            overlap = DEFAULT_OVERLAP if tile is None else min(DEFAULT_OVERLAP, tile // 2 // self.stride * self.stride)
        self.tile, self.overlap = tile, _round_up(overlap, self.stride)
        self.memory_gb = memory_gb if memory_gb is not None else default_memory_gb(self.device)
        self._bytes_per_pixel: float | None = None

    def read(self, path: str | os.PathLike) -> torch.Tensor:
        """The task's input from an image file: ``(1, H, W)`` mosaic for demosaic, else ``(3, H, W)``.

        Raises:
            ImageReadError: the file cannot be read. InputError: a colour file for demosaic.
        """
        image = read_image(path, mode="RGB")
        if self.task != "demosaic":
            return image
        # A mosaic file is grey (one channel, or three equal ones); luma of a colour photo is not a mosaic.
        if not (torch.equal(image[0], image[1]) and torch.equal(image[1], image[2])):
            raise InputError(
                f"{path} is a colour image; a demosaic run takes one-channel Bayer mosaics "
                "(as `pdloss degrade demosaic` writes them)"
            )
        if min(image.shape[-2:]) < 2:
            raise InputError(f"{path} is {tuple(image.shape[-2:])} px; a Bayer mosaic needs at least 2x2")
        return image[:1]

    def tile_for(self, height: int, width: int) -> int | None:
        """The tile side used for an input of this size (None: the whole image in one pass)."""
        if self.tile is not None:
            return self.tile
        if self._bytes_per_pixel is None:
            self._bytes_per_pixel = bytes_per_pixel(self.model, self.pattern)
        budget = self.memory_gb * 2**30
        if height * width * self._bytes_per_pixel <= budget:
            return None
        side = int(math.sqrt(budget / self._bytes_per_pixel)) // self.stride * self.stride
        return max(side, 2 * self.overlap, self.stride)

    def __call__(self, image: torch.Tensor, progress: bool = False) -> torch.Tensor:
        """Restore one input ``(C, H, W)`` (or ``(1, C, H, W)``); returns ``(3, sH, sW)`` float32
        on the CPU, not clamped (8-bit files clip to [0, 1] when written)."""
        x = image[None] if image.ndim == 3 else image
        if x.ndim != 4 or x.shape[0] != 1:
            raise InputError(f"expected one image (C, H, W), got shape {tuple(image.shape)}")
        tile = self.tile_for(*x.shape[-2:])
        return restore_tensor(self.model, x.float(), tile, self.overlap, self.pattern, progress)[0]


# -- folders --------------------------------------------------------------------------------
def _plan(inputs: Path, output: Path) -> list[tuple[Path, Path]]:
    """(input file, output file) pairs; the output keeps the stem (and sub-folder), as PNG."""
    if not inputs.exists():
        raise InputError(f"input {inputs} does not exist")
    if inputs.is_file():
        target = output if output.suffix.lower() == ".png" else output / f"{inputs.stem}.png"
        return [(inputs, target)]
    if output.resolve() == inputs.resolve():
        raise InputError(f"the output folder is the input folder ({inputs}); write the restored images elsewhere")
    files = list_images(inputs)
    if not files:
        raise InputError(f"the input folder {inputs} holds no image files ({', '.join(IMAGE_SUFFIXES)})")
    pairs = [(path, output / path.relative_to(inputs).with_suffix(".png")) for path in files]
    seen: dict[Path, Path] = {}
    for path, target in pairs:
        if target in seen:
            raise InputError(f"{seen[target]} and {path} would both be written to {target}; rename one")
        seen[target] = path
    return pairs


def restore(
    run_or_checkpoint: str | os.PathLike,
    inputs: str | os.PathLike,
    output: str | os.PathLike,
    device: str | torch.device | None = None,
    tile: int | None = None,
    overlap: int | None = None,
    overwrite: bool = False,
    memory_gb: float | None = None,
    pattern: str | None = None,
    progress: bool = True,
) -> RestoreResult:
    """Restore every image of ``inputs`` (a folder, searched recursively, or one file) into ``output``.

    Writes ``output/STEM.png`` per input (8-bit RGB, clipped to [0, 1]; sub-folders kept). For one
    input file, ``output`` may name the ``.png`` to write. Options as for :class:`Restorer`.

    Unreadable files, and files that are not the task's input (a colour image for demosaic), are
    skipped with a :class:`RestoreWarning` naming them. Raises InputError before restoring
    anything when the input folder is empty, when outputs would collide, or when an output file
    exists and ``overwrite`` is False; PdlossError when no input could be restored.
    """
    inputs, output = Path(inputs), Path(output)
    pairs = _plan(inputs, output)
    existing = [target for _, target in pairs if target.exists()]
    if existing and not overwrite:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise InputError(f"{existing[0]}{more} already exist(s); use --overwrite (overwrite=True) to replace them")
    restorer = Restorer(run_or_checkpoint, device, tile, overlap, memory_gb, pattern)
    result = RestoreResult()
    bar = tqdm(pairs, desc=f"restore {restorer.task}", unit="image", file=sys.stderr, disable=not progress)
    for source, target in bar:
        try:
            image = restorer.read(source)
        except (ImageReadError, InputError) as exc:
            result.skipped[source] = str(exc)
            warnings.warn(f"skipping {source}: {exc}", RestoreWarning, stacklevel=2)
            continue
        restored = restorer(image, progress=progress)
        result.written.append(write_image(target, restored))
    bar.close()
    if not result.written:
        raise PdlossError(f"none of the {len(pairs)} input file(s) in {inputs} could be restored (see the warnings)")
    return result
