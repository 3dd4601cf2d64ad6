"""The benchmark suites behind ``pdloss bench`` (see docs/benchmarks.md).

- :func:`table1`: relative training steps/s of one restoration model for each loss (the paper's
  Table 1), loss-only forward+backward time and peak memory, and the VGG pass alone.
- :func:`distribution_terms`: the feature terms alone (features given) against the peers of
  :mod:`pdloss.bench.peers`, with the values' agreement.
- :func:`scaling`: time and peak memory of PDL and the contextual loss as the crop grows.
- :func:`projections`: PDL-RSP against the published sliced loss (and POT) as K grows.

Every suite returns a JSON-able dict; :mod:`pdloss.bench.report` turns them into markdown.
"""

from __future__ import annotations

import contextlib
import statistics
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

import torch

from pdloss.bench import peers
from pdloss.bench.measure import Samples, interleaved
from pdloss.errors import InputError
from pdloss.features import build_extractor
from pdloss.functional import perceptual_distance, projected_distribution_distance, sort_backend, wasserstein_1d
from pdloss.functional.contextual import contextual_loss
from pdloss.functional.projections import make_projection
from pdloss.losses.registry import build_loss
from pdloss.models import build_model

PRECISIONS = ("fp32", "bf16")
# The paper's Table 1 (GPU, relative global steps/s) for comparison in the report.
PAPER_TABLE1 = {"No-perceptual": 1.00, "L1": 0.57, "L2": 0.54, "CTXDP": 0.54, "CTXL2": 0.53, "PDL": 0.57}
# Loss columns: name -> (registry name, extra options).
TABLE1_LOSSES: dict[str, tuple[str, dict]] = {
    "No-perceptual": ("l1", {}),
    "L1": ("perceptual-l1", {}),
    "L2": ("perceptual-l2", {}),
    "CTXDP": ("ctx-dp", {}),
    "CTXL2": ("ctx-l2", {}),
    "PDL": ("pdl", {}),
    "PDL-RSP x1": ("pdl", {"projection": "rsp", "projection_factor": 1}),
    "PDL-RSP x4": ("pdl", {"projection": "rsp", "projection_factor": 4}),
    # FDL's term (256 5x5 projections of DFT amplitude and phase) on the same layer as the others;
    # "shrink" only matters for --quick's 4x4 maps.
    "FDL": ("fdl", {"small_maps": "shrink"}),
}
VGG_PASS = "VGG pass only"


@dataclass
class BenchConfig:
    """What every suite shares. ``precision``: ``"fp32"`` or ``"bf16"`` (autocast + channels_last)."""

    device: str = "cpu"
    batch: int = 8
    size: int = 128
    model: str = "small-unet"
    weights: str = "vgg16-hed"
    layer: str = "relu4_3"
    repeats: int = 5
    warmup: int = 1
    seed: int = 0
    memory: bool = True
    quick: bool = False  # a smoke run (quick_config): the report does not judge it against the targets
    progress: Callable[[str], None] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for name in ("batch", "size", "repeats"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.warmup, int) or self.warmup < 0:
            raise InputError(f"warmup must be a non-negative integer, got {self.warmup!r}")
        if self.size < 16:
            raise InputError(f"size must be at least 16 px (VGG relu4_3 has stride 8), got {self.size}")

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("progress")
        return data

    def say(self, message: str) -> None:
        if self.progress is not None:
            self.progress(message)


def _check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise InputError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return precision


@contextlib.contextmanager
def _precision(device: torch.device, precision: str) -> Iterator[None]:
    if precision == "bf16":
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
            yield
    else:
        yield


def _memory_format(precision: str) -> torch.memory_format:
    return torch.channels_last if precision == "bf16" else torch.contiguous_format


def _images(config: BenchConfig, batch: int | None = None, size: int | None = None):
    """A clean batch and a noisy copy (sigma 0.1), in [0, 1], on the device: ``(B, 3, S, S)`` each."""
    generator = torch.Generator().manual_seed(config.seed)
    batch, size = batch or config.batch, size or config.size
    clean = torch.rand(batch, 3, size, size, generator=generator)
    # Smooth the noise image a little so that the features look less like pure noise.
    clean = torch.nn.functional.avg_pool2d(clean, 3, stride=1, padding=1)
    noisy = (clean + 0.1 * torch.randn(clean.shape, generator=generator)).clamp(0, 1)
    return clean.to(config.device), noisy.to(config.device)


def _extractor(config: BenchConfig):
    return build_extractor("vgg16", config.weights, (config.layer,)).to(config.device)


def _build_losses(config: BenchConfig, extractor) -> dict[str, torch.nn.Module]:
    losses = {}
    for label, (name, options) in TABLE1_LOSSES.items():
        kwargs = dict(options, validate=False)
        if name != "l1":
            kwargs.update(extractor=extractor, layers=(config.layer,), weights=config.weights)
        losses[label] = build_loss(name, **kwargs).to(config.device)
    return losses


def _relative(baseline: Samples, other: Samples) -> dict:
    """Per-round ratios baseline_time / other_time (relative steps/s): median and quartiles."""
    ratios = [b / o for b, o in zip(baseline.seconds, other.seconds, strict=False)]
    if not ratios:
        return {"median": None, "q1": None, "q3": None}
    if len(ratios) < 2:
        return {"median": ratios[0], "q1": ratios[0], "q3": ratios[0]}
    q = statistics.quantiles(ratios, n=4, method="inclusive")
    return {"median": statistics.median(ratios), "q1": q[0], "q3": q[2]}


def table1(config: BenchConfig, precision: str = "fp32") -> dict:
    """Training steps/s per loss (Adam step of ``config.model`` on a denoising batch), relative to
    the pixel-only loss, plus loss-only forward+backward and the VGG pass alone."""
    _check_precision(precision)
    device = torch.device(config.device)
    torch.manual_seed(config.seed)
    fmt = _memory_format(precision)
    extractor = _extractor(config).to(memory_format=fmt)
    losses = _build_losses(config, extractor)
    model = build_model(config.model, task="denoise").to(device=device, memory_format=fmt)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    clean, noisy = _images(config)
    clean, noisy = clean.contiguous(memory_format=fmt), noisy.contiguous(memory_format=fmt)

    def train_step(loss_fn):
        def run():
            optimizer.zero_grad(set_to_none=True)
            with _precision(device, precision):
                loss = loss_fn(model(noisy), clean)
            loss.backward()
            optimizer.step()

        return run

    def loss_only(loss_fn):
        def run():
            prediction = noisy.detach().clone().requires_grad_(True)
            with _precision(device, precision):
                loss = loss_fn(prediction, clean)
            loss.backward()

        return run

    def vgg_pass():
        prediction = noisy.detach().clone().requires_grad_(True)
        with _precision(device, precision):
            fu = extractor(prediction, (config.layer,))[config.layer]
            with torch.no_grad():
                extractor(clean, (config.layer,))
        fu.float().mean().backward()

    try:
        config.say(f"table 1 ({precision}): training steps")
        steps = interleaved(
            {name: train_step(fn) for name, fn in losses.items()},
            config.repeats, config.warmup, device, config.memory, config.progress,
        )
        config.say(f"table 1 ({precision}): loss only")
        only = interleaved(
            {**{name: loss_only(fn) for name, fn in losses.items()}, VGG_PASS: vgg_pass},
            config.repeats, config.warmup, device, config.memory, config.progress,
        )
    finally:
        extractor.to(memory_format=torch.contiguous_format)  # the extractor is shared: leave it as found

    baseline = steps["No-perceptual"]
    rows = {}
    for name in losses:
        rows[name] = {
            "relative_steps_per_s": _relative(baseline, steps[name]) if steps[name].ok else None,
            "steps_per_s": 1 / steps[name].median if steps[name].ok else None,
            "step": steps[name].to_dict(),
            "loss_only": only[name].to_dict(),
        }
    vgg = only[VGG_PASS]
    checks = {}
    if steps["PDL"].ok and steps["L1"].ok:
        checks["pdl_vs_l1_steps_per_s"] = _relative(steps["PDL"], steps["L1"])["median"] ** -1
    if only["PDL"].ok and vgg.ok:
        checks["pdl_loss_overhead_over_vgg"] = only["PDL"].median / vgg.median - 1
        checks["l1_loss_overhead_over_vgg"] = only["L1"].median / vgg.median - 1 if only["L1"].ok else None
    return {
        "precision": precision,
        "memory_format": "channels_last" if precision == "bf16" else "contiguous",
        "model": config.model,
        "weights": extractor.weights_label,
        "rows": rows,
        "vgg_pass": vgg.to_dict(),
        "checks": checks,
    }


def _features(config: BenchConfig, extractor=None):
    """relu-layer features of the benchmark images: ``fu`` (noisy) and ``fv`` (clean), ``(B, C, h, w)``."""
    clean, noisy = _images(config)
    extractor = extractor or _extractor(config)
    with torch.no_grad():
        fu = extractor(noisy, (config.layer,))[config.layer]
        fv = extractor(clean, (config.layer,))[config.layer]
    return fu.contiguous(), fv.contiguous()


def _directions(channels: int, factor: int, seed: int, device) -> torch.Tensor:
    return make_projection("rsp", channels, factor, torch.Generator().manual_seed(seed)).to(device)


def _term(fn, fu0: torch.Tensor, *rest, context=contextlib.nullcontext):
    """A timed call: forward and backward of ``fn(fu, *rest).mean()`` with gradients into ``fu``."""

    def run():
        with context():
            fu = fu0.detach().clone().requires_grad_(True)
            fn(fu, *rest).mean().backward()

    return run


def _agreement(reference: torch.Tensor, value: torch.Tensor) -> float:
    scale = reference.double().abs().max().clamp_min(1e-30)
    return float((value.double() - reference.double()).abs().max() / scale)


def distribution_terms(config: BenchConfig, factor: int = 1, pot: bool = True) -> dict:
    """The feature terms alone on given features, pdloss against its peers, side by side.

    Each row: forward+backward time (into the prediction's features), peak memory, and the largest
    relative difference of its per-image values from pdloss's value of the same quantity.
    """
    device = torch.device(config.device)
    fu, fv = _features(config)
    channels = fu.shape[1]
    directions = _directions(channels, factor, config.seed, device)
    k = directions.shape[0]
    pot_version = peers.pot_version() if pot else None

    def pdd(a, b, projection=None):
        return projected_distribution_distance(a, b, projection, reduction="none")

    def torch_sort():
        return sort_backend("torch")

    def published_l2_reference(a, b):  # what the published p=2 loss computes, through pdloss
        u = torch.matmul(directions, a.flatten(2))
        v = torch.matmul(directions, b.flatten(2))
        return wasserstein_1d(u, v, p=2).square().mean(-1)

    def ctx(a, b):
        return contextual_loss(a, b, "cosine", max_positions=None, reduction="none")

    rows: dict[str, dict] = {
        "PDL-Id, pdloss": {"fn": _term(pdd, fu, fv), "value": lambda: pdd(fu, fv), "reference": None},
        "PDL-Id, pdloss with torch.sort": {
            "fn": _term(pdd, fu, fv, context=torch_sort), "value": lambda: pdd(fu, fv), "reference": "PDL-Id, pdloss",
        },
        "PDL-Id, per-channel loop": {
            "fn": _term(peers.pdl_channel_loop, fu, fv),
            "value": lambda: peers.pdl_channel_loop(fu, fv), "reference": "PDL-Id, pdloss",
        },
        f"PDL-RSP K={k}, pdloss": {
            "fn": _term(pdd, fu, fv, directions), "value": lambda: pdd(fu, fv, directions), "reference": None,
        },
        f"sliced W1 K={k}, published style": {
            "fn": _term(peers.sliced_published, fu, fv, directions, 1),
            "value": lambda: peers.sliced_published(fu, fv, directions, 1), "reference": f"PDL-RSP K={k}, pdloss",
        },
        f"sliced W2^2 K={k}, published style (as published)": {
            "fn": _term(peers.sliced_published, fu, fv, directions, 2),
            "value": lambda: peers.sliced_published(fu, fv, directions, 2),
            "reference_value": lambda: published_l2_reference(fu, fv),
        },
    }
    if pot_version is not None:
        rows[f"POT {pot_version} sliced_wasserstein_distance K={k}, per image"] = {
            "fn": _term(peers.pot_sliced_per_image, fu, fv, directions, 1),
            "value": lambda: peers.pot_sliced_per_image(fu, fv, directions, 1), "reference": f"PDL-RSP K={k}, pdloss",
        }
    rows["L1 feature term (perceptual)"] = {
        "fn": _term(lambda a, b: perceptual_distance(a, b, reduction="none"), fu, fv), "value": None,
    }
    rows["CTXDP, pdloss (exact)"] = {"fn": _term(ctx, fu, fv), "value": lambda: ctx(fu, fv), "reference": None}
    rows["CTXDP, reference (batch-wide matrix)"] = {
        "fn": _term(peers.contextual_reference, fu, fv),
        "value": lambda: peers.contextual_reference(fu, fv), "reference": "CTXDP, pdloss (exact)",
        "note": "centres on the batch mean (pdloss: per image), so values differ for B > 1",
    }
    fu_cl = fu.to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
    fv_cl = fv.to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
    rows["PDL-Id, pdloss on bf16 channels_last features"] = {
        "fn": _term(pdd, fu_cl, fv_cl), "value": lambda: pdd(fu_cl, fv_cl), "reference": "PDL-Id, pdloss",
    }

    config.say(f"distribution terms: {len(rows)} candidates")
    samples = interleaved(
        {name: row["fn"] for name, row in rows.items()}, config.repeats, config.warmup, device, config.memory,
        config.progress,
    )
    values: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for name, row in rows.items():
            if row.get("value") is not None and samples[name].ok:
                values[name] = row["value"]().detach()
    out_rows = {}
    for name, row in rows.items():
        agreement = None
        if name in values and row.get("reference") in values:
            agreement = _agreement(values[row["reference"]], values[name])
        elif name in values and row.get("reference_value") is not None:
            with torch.no_grad():
                agreement = _agreement(row["reference_value"](), values[name])
        out_rows[name] = {**samples[name].to_dict(), "max_rel_diff": agreement, "note": row.get("note")}
    checks = {}
    pdl, loop = samples["PDL-Id, pdloss"], samples["PDL-Id, per-channel loop"]
    rsp, published = samples[f"PDL-RSP K={k}, pdloss"], samples[f"sliced W1 K={k}, published style"]
    if pdl.ok and loop.ok:
        checks["pdl_speedup_over_channel_loop"] = loop.median / pdl.median
    if rsp.ok and published.ok:
        checks["pdl_rsp_speedup_over_published_sliced"] = published.median / rsp.median
    return {
        "features": list(fu.shape),
        "projections": k,
        "pot": pot_version,
        "rows": out_rows,
        "checks": checks,
    }


def contextual_bytes(positions: int, batch: int = 1) -> int:
    """A rough peak of an exact contextual loss forward+backward: about eight float32 ``N x N``
    matrices per image alive at once (distances, relative distances, similarities and their
    gradients)."""
    return 8 * 4 * batch * positions * positions


def _synthetic_features(batch: int, channels: int, side: int, seed: int, device) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, channels, side, side, generator=generator).relu().to(device)


def scaling(
    config: BenchConfig,
    crops: tuple[int, ...] = (64, 128, 256, 512, 1024),
    channels: int = 512,
    memory_cap_gib: float = 4.0,
) -> dict:
    """Time and peak memory of the distribution terms on one image as the crop grows.

    Features are synthetic relu4_3-like maps (rectified Gaussian, ``channels`` x crop/8 x crop/8:
    the crop's relu4_3 size) so that no VGG pass at 1024 px is needed. Contextual candidates whose
    estimated matrices (:func:`contextual_bytes`) exceed ``memory_cap_gib`` are skipped, not run.
    """
    device = torch.device(config.device)
    cap = memory_cap_gib * 2**30
    results = []
    for crop in crops:
        side = max(1, crop // 8)
        fu = _synthetic_features(1, channels, side, config.seed, device)
        fv = _synthetic_features(1, channels, side, config.seed + 1, device)
        positions = side * side
        estimate = contextual_bytes(positions)

        def pdd(a, b):
            return projected_distribution_distance(a, b)

        def ctx_exact(a, b):
            return contextual_loss(a, b, "cosine", max_positions=None)

        def ctx_sampled(a, b):
            return contextual_loss(a, b, "cosine", max_positions=65 * 65, generator=torch.Generator().manual_seed(0))

        candidates = {
            "PDL-Id, pdloss": _term(pdd, fu, fv),
            "PDL-Id, torch.sort": _term(pdd, fu, fv, context=lambda: sort_backend("torch")),
            "CTXDP, pdloss (65x65 sampling)": _term(ctx_sampled, fu, fv),
        }
        skipped = {}
        if estimate <= cap:
            candidates["CTXDP, pdloss (exact)"] = _term(ctx_exact, fu, fv)
            candidates["CTXDP, reference (batch-wide)"] = _term(peers.contextual_reference, fu, fv)
        else:
            reason = f"skipped: estimated {estimate / 2**30:.1f} GiB > cap {memory_cap_gib:g} GiB"
            skipped = {"CTXDP, pdloss (exact)": reason, "CTXDP, reference (batch-wide)": reason}
        config.say(f"scaling: crop {crop} ({positions} positions)")
        samples = interleaved(candidates, config.repeats, config.warmup, device, config.memory, config.progress)
        row = {name: s.to_dict() for name, s in samples.items()}
        for name, reason in skipped.items():
            row[name] = Samples(error=reason).to_dict()
        results.append({"crop": crop, "positions": positions, "contextual_estimate_gib": estimate / 2**30,
                        "candidates": row})
    return {"channels": channels, "memory_cap_gib": memory_cap_gib, "crops": results}


def projections(
    config: BenchConfig,
    factors: tuple[int, ...] = (1, 2, 4, 8),
    crop: int = 256,
    channels: int = 512,
    pot: bool = True,
) -> dict:
    """PDL-RSP (pdloss) against the published-style sliced loss and POT as K = factor x C grows,
    on one image's synthetic relu4_3-like features of a ``crop`` px crop."""
    device = torch.device(config.device)
    side = max(1, crop // 8)
    fu = _synthetic_features(1, channels, side, config.seed, device)
    fv = _synthetic_features(1, channels, side, config.seed + 1, device)
    pot_version = peers.pot_version() if pot else None
    results = []
    for factor in factors:
        directions = _directions(channels, factor, config.seed, device)
        candidates = {
            "PDL-RSP, pdloss": _term(lambda a, b, d: projected_distribution_distance(a, b, d), fu, fv, directions),
            "sliced W1, published style": _term(peers.sliced_published, fu, fv, directions, 1),
        }
        if pot_version is not None:
            candidates[f"POT {pot_version}, per image"] = _term(peers.pot_sliced_per_image, fu, fv, directions, 1)
        config.say(f"projections: factor {factor} (K={directions.shape[0]})")
        samples = interleaved(candidates, config.repeats, config.warmup, device, config.memory, config.progress)
        results.append({"factor": factor, "projections": directions.shape[0],
                        "candidates": {name: s.to_dict() for name, s in samples.items()}})
    return {"crop": crop, "positions": side * side, "channels": channels, "pot": pot_version, "factors": results}
