#!/usr/bin/env python
# ruff: noqa: E501 (the tables below quote source lines)
"""Mutation testing of pdloss's maths, losses, metrics, degradations and checkpoint/resume code.

How much wrong code would the tests catch? For each module this script makes small wrong
versions of it ("mutants": ``<`` for ``<=``, ``+`` for ``-``, a constant changed, an argument
dropped, ...) with mutmut 3, runs the tests that cover the module against each one, and counts
the mutants the tests reject ("killed"). It then applies a list of hand-written mutants
(``NAMED_MUTANTS``) that mutmut cannot make, because it only mutates code inside functions:
module-level constants such as Wang's MS-SSIM weights or NIQE's 96-pixel block, and the
issue's own examples. Results go to ``docs/testing.md`` (a table per module, every survivor
with its diff, equivalent mutants with the reason) and, raw, to ``docs/results/mutation/*.json``
(one file per module, ``named.json`` for the hand-written mutants; ``--render`` rebuilds the
page from them).

Nothing in the working tree is mutated: each module is measured in a copy under
``.mutation/<module>/`` (mutmut writes its mutants to ``.mutation/<module>/mutants/``), and the
hand-written mutants in ``.mutation/named/``. The copy is the working tree as it is when the
run starts (uncommitted edits included); ``docs/testing.md`` records each measured file's
sha256 and whether it equals ``HEAD``.

Long (minutes to an hour per module on 2 cores) and not part of CI. Run it niced, e.g.::

    nice -n 19 .venv/bin/python scripts/mutation.py projections        # one module
    nice -n 19 .venv/bin/python scripts/mutation.py --changed          # modules whose files differ from HEAD
    nice -n 19 .venv/bin/python scripts/mutation.py --all              # everything (hours)
    .venv/bin/python scripts/mutation.py --list                        # modules, files, tests
    nice -n 19 .venv/bin/python scripts/mutation.py --named-only ssim  # only the hand-written mutants

Then look at a survivor with ``cd .mutation/<module> && ../../.venv/bin/mutmut show NAME``.
Requires the ``dev`` extra (mutmut, hypothesis).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import fnmatch
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".mutation"
DOC = ROOT / "docs" / "testing.md"
RESULTS = ROOT / "docs" / "results" / "mutation"  # one JSON file per module, written by this script
BEGIN, END = "<!-- mutation-results:begin (written by scripts/mutation.py) -->", "<!-- mutation-results:end -->"
DATA_RE = re.compile(r"<!-- mutation-data\n(.*?)\n-->", re.S)


@dataclass(frozen=True)
class Target:
    """A module as measured: source files (relative to the repository), the tests that cover
    them, optional mutant-name globs (only those functions), and the score it must reach."""

    files: tuple[str, ...]
    tests: tuple[str, ...]
    target: float
    select: tuple[str, ...] = ()
    note: str = ""

    def __post_init__(self) -> None:
        for name in ("files", "tests", "select"):
            if not isinstance(getattr(self, name), tuple):
                raise TypeError(f"Target.{name} must be a tuple of strings")


_T = "tests/"
# The resume test of test_train.py (its other tests train whole runs, or run subprocesses that
# import the unmutated package; each surviving mutant would rerun them all).
_TRAIN_TESTS = ("tests/test_train.py::test_interrupt_saves_and_resume_is_bit_identical",)
MODULES: dict[str, Target] = {
    "functional": Target(
        ("src/pdloss/functional.py", "src/pdloss/sorting.py"),
        (
            _T + "test_functional.py",
            _T + "test_properties_functional.py",
            _T + "test_bench_sort.py",
            _T + "test_mutation_functional.py",
        ),
        0.90,
    ),
    "projections": Target(
        ("src/pdloss/projections.py",),
        (_T + "test_projections.py", _T + "test_properties_projections.py"),
        0.90,
    ),
    "contextual": Target(
        ("src/pdloss/contextual.py",), (_T + "test_contextual.py", _T + "test_mutation_contextual.py"), 0.90
    ),
    "losses": Target(
        ("src/pdloss/losses/*.py",),
        (
            _T + "test_pdl_loss.py",
            _T + "test_combined.py",
            _T + "test_adversarial.py",
            _T + "test_contextual.py",
            _T + "test_registry.py",
            _T + "test_fdl.py",
            _T + "test_validation_policy.py",
            _T + "test_mutation_losses.py",
        ),
        0.90,
    ),
    "metrics-psnr-ssim": Target(
        ("src/pdloss/metrics/psnr.py", "src/pdloss/metrics/ssim.py", "src/pdloss/metrics/color.py"),
        (_T + "test_metrics_ssim.py", _T + "test_metrics_reference.py"),
        0.90,
    ),
    "metrics-niqe": Target(
        ("src/pdloss/metrics/niqe.py",), (_T + "test_metrics_niqe.py", _T + "test_metrics_reference.py"), 0.90
    ),
    "metrics-lpips": Target(
        ("src/pdloss/metrics/lpips.py",), (_T + "test_metrics_lpips.py", _T + "test_metrics_reference.py"), 0.90
    ),
    "metrics-fid": Target(
        ("src/pdloss/metrics/fid.py",), (_T + "test_metrics_fid.py", _T + "test_mutation_fid.py"), 0.90
    ),
    "metrics-kid": Target(
        ("src/pdloss/metrics/kid.py",), (_T + "test_metrics_kid.py", _T + "test_mutation_kid.py"), 0.90
    ),
    "degradations": Target(
        ("src/pdloss/degradations/*.py",),
        (_T + "test_degradations.py", _T + "test_degradations_reference.py", _T + "test_degradations_checks.py"),
        0.80,
    ),
    "checkpoint": Target(
        ("src/pdloss/train/checkpoint.py", "src/pdloss/train/sampler.py"),
        (_T + "test_train_checkpoint.py", _T + "test_resume_rng.py::test_load_state_restores_the_saved_states_themselves"),
        0.80,
    ),
    "resume": Target(
        ("src/pdloss/train/trainer.py",),
        (*_TRAIN_TESTS, _T + "test_resume_rng.py", _T + "test_train_checkpoint.py", _T + "test_mutation_resume.py"),
        0.80,
        select=(
            "pdloss.train.trainer.xǁTrainerǁstate__mutmut_*",
            "pdloss.train.trainer.xǁTrainerǁload_state__mutmut_*",
            "pdloss.train.trainer.xǁTrainerǁ_prepare_run_dir__mutmut_*",
            "pdloss.train.trainer.xǁ_IndexBatchesǁ__iter____mutmut_*",
        ),
        note="the resume code of trainer.py only: Trainer.state, load_state, _prepare_run_dir, _IndexBatches",
    ),
}


@dataclass(frozen=True)
class Equivalent:
    """A mutant that cannot change behaviour; matched on its diff's removed and added lines."""

    file: str
    removed: str
    added: str
    reason: str
    # True when the mutant differs only on another device (a tensor placed on the CPU instead of
    # the input's device): it cannot change a result on a CPU-only machine, which is where the
    # score is measured, but it is not equivalent on a GPU. Counted apart in the table.
    device_only: bool = False


# Listed, not excluded: docs/testing.md shows each one with its reason, and the score leaves
# them out of the denominator only.
_FOUR_D = "the tensor is (B, C, H, W) here (checked before), so index +2 is index -2"
_BROADCAST = "broadcasting aligns trailing axes: a (C, 1, 1) tensor multiplies (B, C, H, W) as (1, C, 1, 1) does"
_DEVICE = "a tensor made on the CPU instead of the input's device"
_C = "src/pdloss/metrics/color.py"
_P = "src/pdloss/metrics/psnr.py"
_S = "src/pdloss/metrics/ssim.py"
_N = "src/pdloss/metrics/niqe.py"
_L = "src/pdloss/metrics/lpips.py"
_D = "src/pdloss/degradations/"
_SAME_LENGTH = "jump and kick are slices of two arrays of one shape: zip's lengths always agree"
_SQUARE = "the kernels are (N, k, k) squares (checked just before): axes 1, -1 and -2 have one length"
_SQUARE_FIRST = "the square check comes first in the same `or`: for a square kernel every side has one length"
_DIVIDES = "the sides are multiples of the factor (checked before): int(h / factor) is h // factor"
_F = "src/pdloss/metrics/fid.py"
_FUNC = "src/pdloss/functional.py"
_CX = "src/pdloss/contextual.py"
_SORT = "src/pdloss/sorting.py"
_LA = "src/pdloss/losses/adversarial.py"
_LB = "src/pdloss/losses/base.py"
_LC = "src/pdloss/losses/combined.py"
_LF = "src/pdloss/losses/fdl.py"
_PROMOTED = ("diff = mu1 - mu2 is float64 when either is (float32 -> float64 is exact): converting only one of "
             "the two gives the same difference")
_FOUR_D_PATCHES = "extract_patches tiles (B, C, H, W) batches (its callers check the shape): shape[2:] is shape[-2:]"
EQUIVALENTS: list[Equivalent] = [
    # -- metrics: PSNR, SSIM, MS-SSIM, luma
    Equivalent(_C, 'raise InputError(f"crop_border={border} leaves nothing of a {x.shape[-2]}x{x.shape[-1]} image")',
               'raise InputError(f"crop_border={border} leaves nothing of a {x.shape[+2]}x{x.shape[-1]} image")',
               _FOUR_D),
    Equivalent(_C, "w = torch.tensor(_Y_WEIGHTS, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)",
               "w = torch.tensor(_Y_WEIGHTS, dtype=x.dtype, device=x.device).view(3, 1, 1)", _BROADCAST),
    Equivalent(_C, "w = torch.tensor(_Y_WEIGHTS, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)",
               "w = torch.tensor(_Y_WEIGHTS, dtype=x.dtype, device=None).view(1, 3, 1, 1)", _DEVICE, True),
    Equivalent(_C, "w = torch.tensor(_Y_WEIGHTS, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)",
               "w = torch.tensor(_Y_WEIGHTS, dtype=x.dtype, ).view(1, 3, 1, 1)", _DEVICE, True),
    Equivalent(_P, "if min(pred.shape[-2:]) < min_size:", "if min(pred.shape[+2:]) < min_size:", _FOUR_D),
    Equivalent(_P, 'f"images of {pred.shape[-2]}x{pred.shape[-1]} pixels (after cropping) are smaller "',
               'f"images of {pred.shape[+2]}x{pred.shape[-1]} pixels (after cropping) are smaller "', _FOUR_D),
    Equivalent(_S, "h, w = x.shape[-2:]", "h, w = x.shape[+2:]", _FOUR_D),
    Equivalent(_S, "if h % 2 or w % 2:", "if h / 2 or w % 2:",
               "the condition becomes always true, and padding by (0, w % 2, 0, h % 2) = 0 pixels is the identity"),
    Equivalent(_S, "if h % 2 or w % 2:", "if h % 2 or w / 2:",
               "the condition becomes always true, and padding by (0, w % 2, 0, h % 2) = 0 pixels is the identity"),
    Equivalent(_S, "x = F.conv2d(x, g.view(1, 1, k, 1).expand(c, 1, k, 1), groups=c)",
               "x = F.conv2d(x, g.view(1, k, 1).expand(c, 1, k, 1), groups=c)",
               "expand adds the missing leading axis: the same (C, 1, k, 1) kernel"),
    Equivalent(_S, "return F.conv2d(x, g.view(1, 1, 1, k).expand(c, 1, 1, k), groups=c)",
               "return F.conv2d(x, g.view(1, 1, k).expand(c, 1, 1, k), groups=c)",
               "expand adds the missing leading axis: the same (C, 1, 1, k) kernel"),
    Equivalent(_S, "g = gaussian_window(dtype=p.dtype).to(p.device)", "g = gaussian_window(dtype=p.dtype).to(None)",
               _DEVICE, True),
    Equivalent(_S, "w = torch.tensor(weights, dtype=p.dtype, device=p.device)",
               "w = torch.tensor(weights, dtype=p.dtype, device=None)", _DEVICE, True),
    Equivalent(_S, "full, _ = ssim_components(p, t, gaussian_window(dtype=p.dtype).to(p.device))",
               "full, _ = ssim_components(p, t, gaussian_window(dtype=p.dtype).to(None))", _DEVICE, True),
    Equivalent(_S, "return (luminance * cs_map).mean(dim=(-2, -1)), cs_map.mean(dim=(-2, -1))",
               "return (luminance * cs_map).mean(dim=(+2, -1)), cs_map.mean(dim=(-2, -1))", _FOUR_D),
    Equivalent(_S, "return (luminance * cs_map).mean(dim=(-2, -1)), cs_map.mean(dim=(-2, -1))",
               "return (luminance * cs_map).mean(dim=(-2, -1)), cs_map.mean(dim=(+2, -1))", _FOUR_D),
    Equivalent(_C, "if x.shape[-1] <= 2 * border or x.shape[-2] <= 2 * border:",
               "if x.shape[-1] <= 2 * border or x.shape[+2] <= 2 * border:", _FOUR_D),
    Equivalent(_S, "w = torch.tensor(weights, dtype=p.dtype, device=p.device)",
               "w = torch.tensor(weights, dtype=p.dtype, )", _DEVICE, True),
    Equivalent(_S, "if scale < len(weights) - 1:", "if scale <= len(weights) - 1:",
               "one more 2x2 downsampling after the last scale, whose result is never used"),
    Equivalent(_S, "if scale < len(weights) - 1:", "if scale < len(weights) + 1:",
               "one more 2x2 downsampling after the last scale, whose result is never used"),
    # -- metrics: NIQE
    Equivalent(_N, 'with np.errstate(invalid="ignore", divide="ignore"):', 'with np.errstate(invalid="ignore", divide=None):',
               "no division in _aggd has a zero denominator and a non-zero numerator: a block side without "
               "values gives 0/0, the 'invalid' case (checked with warnings as errors)"),
    Equivalent(_N, 'with np.errstate(invalid="ignore", divide="ignore"):', 'with np.errstate(invalid="ignore", ):',
               "no division in _aggd has a zero denominator and a non-zero numerator: a block side without "
               "values gives 0/0, the 'invalid' case (checked with warnings as errors)"),
    Equivalent(_N, "self.params = load_niqe_params()", "self.params = None",
               "niqe() loads the same bundled parameters when given None: the module only caches them"),
    Equivalent(_N, "return niqe(images, self.crop_border, self.params)", "return niqe(images, self.crop_border, None)",
               "niqe() loads the same bundled parameters when given None: the module only caches them"),
    Equivalent(_N, "return niqe(images, self.crop_border, self.params)", "return niqe(images, self.crop_border, )",
               "niqe() loads the same bundled parameters when given None: the module only caches them"),
    Equivalent(_N, "flat = blocks.reshape(blocks.shape[0], -1)", "flat = blocks.reshape(blocks.shape[0], -2)",
               "NumPy 2 reads any negative size in reshape as the one inferred axis"),
    Equivalent(_N, "return img[: nh * size, : nw * size].reshape(nh, size, nw, size).transpose(0, 2, 1, 3)"
               ".reshape(-1, size, size)",
               "return img[: nh * size, : nw * size].reshape(nh, size, nw, size).transpose(0, 2, 1, 3)"
               ".reshape(-2, size, size)",
               "NumPy 2 reads any negative size in reshape as the one inferred axis"),
    Equivalent(_N, "k = window.shape[-1]", "k = window.shape[+1]", "the window is 2-D: axis +1 is axis -1"),
    Equivalent(_N, "k = window.shape[-1]", "k = window.shape[-2]",
               "the model's window is square (7x7, from niqe_pris_params.npz)"),
    Equivalent(_N, "both = torch.cat([padded, padded**2], dim=0)", "both = torch.cat([padded, padded**2], )",
               "dim=0 is torch.cat's default"),
    Equivalent(_N, "moments = F.conv2d(both, window.flip(-1, -2)[None, None])",
               "moments = F.conv2d(both, window.flip(-2)[None, None])",
               "the model's Gaussian window is symmetric along both axes: flips leave it unchanged"),
    Equivalent(_N, "moments = F.conv2d(both, window.flip(-1, -2)[None, None])",
               "moments = F.conv2d(both, window.flip(-1, )[None, None])",
               "the model's Gaussian window is symmetric along both axes: flips leave it unchanged"),
    Equivalent(_N, "moments = F.conv2d(both, window.flip(-1, -2)[None, None])",
               "moments = F.conv2d(both, window.flip(+1, -2)[None, None])",
               "the window is 2-D: axis +1 is axis -1"),
    Equivalent(_N, 'check_image_batch(images, "NIQE input", value_range=(0.0, 1.0), channels=(1, 3))',
               'check_image_batch(images, "NIQE input", channels=(1, 3))', "(0.0, 1.0) is the default value_range"),
    Equivalent(_N, "cov = np.cov(clean, rowvar=False)", "cov = np.cov(clean, rowvar=None)",
               "np.cov tests rowvar for truth: None acts as False"),
    # -- metrics: LPIPS
    Equivalent(_L, 'state = torch.load(path, map_location="cpu", weights_only=True)',
               'state = torch.load(path, map_location="cpu", weights_only=None)',
               "weights_only=True is torch.load's default from torch 2.6 on (constraints.txt pins 2.13)"),
    Equivalent(_L, 'state = torch.load(path, map_location="cpu", weights_only=True)',
               'state = torch.load(path, map_location="cpu", )',
               "weights_only=True is torch.load's default from torch 2.6 on (constraints.txt pins 2.13)"),
    *(
        Equivalent(_L, "for head, channels in zip(heads, CHANNELS, strict=True):",
                   f"for head, channels in zip(heads, CHANNELS, {strict}):",
                   "heads is built by range(len(LAYERS)) two lines above: always as long as CHANNELS")
        for strict in ("strict=None", "", "strict=False")
    ),
    Equivalent(_L, "weighted = ((a - b) ** 2 * head.to(a).view(1, -1, 1, 1)).sum(dim=1)",
               "weighted = ((a - b) ** 2 * head.to(a).view(-1, 1, 1)).sum(dim=1)", _BROADCAST),
    Equivalent(_L, "weighted = ((a - b) ** 2 * head.to(a).view(1, -1, 1, 1)).sum(dim=1)",
               "weighted = ((a - b) ** 2 * head.to(None).view(1, -1, 1, 1)).sum(dim=1)",
               _DEVICE + " (float32 heads times float32 or float64 features: the same values)", True),
    Equivalent(_L, 'self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1))',
               'self.register_buffer("shift", torch.tensor(SHIFT).view(3, 1, 1))',
               _BROADCAST + " (only the buffer's shape in a state dict differs)"),
    Equivalent(_L, 'self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1))',
               'self.register_buffer("scale", torch.tensor(SCALE).view(3, 1, 1))',
               _BROADCAST + " (only the buffer's shape in a state dict differs)"),
    Equivalent(_L, "def train(self, mode: bool = True) -> LPIPS:", "def train(self, mode: bool = False) -> LPIPS:",
               "train() ignores its argument: LPIPS always stays in eval mode"),
    Equivalent(_L, 'check_image_batch(pred, "prediction", channels=3, min_size=16)',
               'check_image_batch(pred, "prediction", min_size=16)', "channels=3 is check_image_batch's default"),
    Equivalent(_L, 'check_image_batch(target, "target", channels=3, min_size=16)',
               'check_image_batch(target, "target", min_size=16)', "channels=3 is check_image_batch's default"),
    # -- functional core and its sort
    Equivalent(_SORT, 'value = os.environ.get("PDLOSS_SORT", "auto").strip().lower() or "auto"',
               'value = os.environ.get("PDLOSS_SORT", "AUTO").strip().lower() or "auto"', "the value is lower-cased"),
    Equivalent(_FUNC, "cost = diff.mean(-1) if p == 1 else diff.pow(p).mean(-1)",
               "cost = diff.mean(-1) if (p == 1) and False else diff.pow(p).mean(-1)",
               "diff.pow(1) is diff (values and gradient): the p == 1 branch only skips a pass"),
    Equivalent(_FUNC, "cost = (diff if p == 1 else diff.pow(p)).mul(weights.to(diff.dtype)).sum(-1)",
               "cost = (diff if (p == 1) and False else diff.pow(p)).mul(weights.to(diff.dtype)).sum(-1)",
               "diff.pow(1) is diff (values and gradient): the p == 1 branch only skips a pass"),
    Equivalent(_FUNC, "index_x, index_y, weights = (t.to(xs.device) for t in _quantile_grid_cpu(n, m))",
               "index_x, index_y, weights = (t.to(None) for t in _quantile_grid_cpu(n, m))", _DEVICE, True),
    *(
        Equivalent(_SORT, removed, added, "the rows are a 2-D (R, N) array: axis +1 is axis -1, NumPy's default")
        for removed, added in (
            ("order = np.argsort(rows[lo:hi], axis=-1)", "order = np.argsort(rows[lo:hi], )"),
            ("order = np.argsort(rows[lo:hi], axis=-1)", "order = np.argsort(rows[lo:hi], axis=+1)"),
            ("values[lo:hi] = np.take_along_axis(rows[lo:hi], order, axis=-1)",
             "values[lo:hi] = np.take_along_axis(rows[lo:hi], order, )"),
            ("values[lo:hi] = np.take_along_axis(rows[lo:hi], order, axis=-1)",
             "values[lo:hi] = np.take_along_axis(rows[lo:hi], order, axis=+1)"),
            ("values[lo:hi] = np.sort(rows[lo:hi], axis=-1)", "values[lo:hi] = np.sort(rows[lo:hi], )"),
            ("values[lo:hi] = np.sort(rows[lo:hi], axis=-1)", "values[lo:hi] = np.sort(rows[lo:hi], axis=+1)"),
        )
    ),
    Equivalent(_SORT, "work(0, rows.shape[0])", "work(None, rows.shape[0])", "rows[None:hi] is rows[0:hi]"),
    Equivalent(_SORT, "work(0, rows.shape[0])", "work(0, None)", "rows[0:None] is rows[0:R], all R rows"),
    *(
        Equivalent(_SORT, "futures = [_get_pool().submit(work, lo, min(lo + step, rows.shape[0])) for lo in range(0, rows.shape[0], step)]",
                   added, "every block then sorts a wider slice that covers its own rows and writes the same sorted "
                   "values into the same places as the neighbouring blocks: the result is the same, only the work grows")
        for added in (
            "futures = [_get_pool().submit(work, None, min(lo + step, rows.shape[0])) for lo in range(0, rows.shape[0], step)]",
            "futures = [_get_pool().submit(work, lo, None) for lo in range(0, rows.shape[0], step)]",
        )
    ),
    Equivalent(_SORT, "return torch.sort(x, dim=-1).values", "return torch.sort(x, ).values", "torch.sort's default dim is -1"),
    Equivalent(_FUNC, "per_image = wasserstein_1d(u, v, p).mean(-1)", "per_image = wasserstein_1d(u, v, p).mean(+1)",
               "the distances are (B, K): axis +1 is axis -1"),
    Equivalent(_FUNC, "per_image = (diff if p == 1 else diff.pow(p)).flatten(1).mean(1)",
               "per_image = (diff if (p == 1) and False else diff.pow(p)).flatten(1).mean(1)",
               "diff.pow(1) is diff (values and gradient): the p == 1 branch only skips a pass"),
    *(
        Equivalent(_FUNC, "weights = projection.to(device=u.device, dtype=u.dtype)", added, _DEVICE, True)
        for added in ("weights = projection.to(device=None, dtype=u.dtype)", "weights = projection.to(dtype=u.dtype)")
    ),
    # -- contextual maths
    *(
        Equivalent(_CX, 'device = generator.device if generator is not None else torch.device("cpu")', added, _DEVICE, True)
        for added in ("device = None",
                      'device = generator.device if (generator is not None) and False else torch.device("cpu")')
    ),
    *(
        Equivalent(_CX, f"{name} = torch.arange({size}, device=device, dtype=dtype) / {size}",
                   f"{name} = torch.arange({size}, {arg}dtype=dtype) / {size}", _DEVICE, True)
        for name, size in (("rows", "height"), ("cols", "width"))
        for arg in ("device=None, ", "")
    ),
    *(
        Equivalent(_CX, 'grid = torch.stack(torch.meshgrid(rows, cols, indexing="ij"), dim=-1)',
                   f"grid = torch.stack(torch.meshgrid(rows, cols, {arg}), dim=-1)",
                   "torch.meshgrid's default indexing is 'ij' (it only warns that the default may change)")
        for arg in ("indexing=None", "")
    ),
    Equivalent(_CX, "if batch <= chunk:", "if batch < chunk:",
               "a batch of exactly one chunk then runs the loop once over the whole batch: the same _chunk_loss "
               "(checkpointed, which recomputes it in the backward pass), the same value and gradient"),
    Equivalent(_CX, "cx = torch.lerp(cx, spatial.to(cx.dtype).expand_as(cx), spatial_weight)",
               "cx = torch.lerp(cx, spatial.to(None).expand_as(cx), spatial_weight)",
               "spatial is computed from coordinates in `dtype`, the dtype of cx: the conversion is a no-op"),
    *(
        Equivalent(_CX, f"{name}n = F.normalize({name}, dim=1)", f"{name}n = F.normalize({name}, )",
                   "F.normalize's default dim is 1")
        for name in ("u", "v")
    ),
    *(
        Equivalent(_CX, "logits = torch.addcmul(d.new_tensor(1.0 / bandwidth), d, scale, value=-1.0)",
                   f"logits = torch.addcmul(d.new_tensor({constant}), d, scale, value=-1.0)",
                   "the softmax over the target axis is invariant to adding one constant to every logit")
        for constant in ("1.0 * bandwidth", "2.0 / bandwidth")
    ),
    Equivalent(_CX, "u = fu.flatten(2).to(dtype)", "u = fu.flatten(2).to(None)",
               "u's first use subtracts the target's mean, which is in `dtype` (float32 or float64): type promotion "
               "converts u there, exactly (every float dtype converts exactly to float32 or float64)"),
    Equivalent(_CX, "if spatial_weight > 0:", "if spatial_weight >= 0:",
               "with spatial_weight 0 the spatial term is computed and mixed in with torch.lerp(cx, spatial, 0), "
               "which is cx exactly"),
    *(
        Equivalent(_CX, removed, added, _DEVICE, True)
        for removed, added in (
            ("index_u = index_v = sample_positions(n, max_positions, generator).to(u.device)",
             "index_u = index_v = sample_positions(n, max_positions, generator).to(None)"),
            ("index_u = sample_positions(n, max_positions, generator).to(u.device)",
             "index_u = sample_positions(n, max_positions, generator).to(None)"),
            ("index_v = sample_positions(m, max_positions, generator).to(u.device)",
             "index_v = sample_positions(m, max_positions, generator).to(None)"),
            ("coords_u = position_coordinates(fu.shape[2], fu.shape[3], u.device, dtype)",
             "coords_u = position_coordinates(fu.shape[2], fu.shape[3], None, dtype)"),
            ("coords_v = position_coordinates(fv.shape[2], fv.shape[3], u.device, dtype)",
             "coords_v = position_coordinates(fv.shape[2], fv.shape[3], None, dtype)"),
            ("return torch.randperm(n, generator=generator, device=device)[:max_positions]",
             "return torch.randperm(n, generator=generator, device=None)[:max_positions]"),
            ("return torch.randperm(n, generator=generator, device=device)[:max_positions]",
             "return torch.randperm(n, generator=generator, )[:max_positions]"),
        )
    ),
    # -- metrics: FID
    *(
        Equivalent(_F, "mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))",
                   added, _PROMOTED)
        for added in (
            "mu1, mu2 = np.atleast_1d(np.asarray(mu1, None)), np.atleast_1d(np.asarray(mu2, np.float64))",
            "mu1, mu2 = np.atleast_1d(np.asarray(mu1, )), np.atleast_1d(np.asarray(mu2, np.float64))",
            "mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, None))",
            "mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, ))",
        )
    ),
    *(
        Equivalent(_F, "mu2, sigma2 = np.asarray(mu2, np.float64), np.asarray(sigma2, np.float64)", added,
                   "mu2 is only used in diff = mu1 - mu2 with mu1 the float64 mean of f1 (float32 -> float64 is "
                   "exact): the same float64 difference")
        for added in (
            "mu2, sigma2 = np.asarray(mu2, None), np.asarray(sigma2, np.float64)",
            "mu2, sigma2 = np.asarray(mu2, ), np.asarray(sigma2, np.float64)",
        )
    ),
    *(
        Equivalent(_F, f"self.{attr} = np.zeros({shape}, dtype=np.float64)", f"self.{attr} = np.zeros({shape}, {arg})",
                   "np.zeros makes float64 arrays by default")
        for attr, shape in (("_sum", "dim"), ("_outer", "(dim, dim)"))
        for arg in ("dtype=None", "")
    ),
    Equivalent(_F, "f = np.asarray(f, dtype=np.float64).reshape(-1, self.dim)",
               "f = np.asarray(f, dtype=np.float64).reshape(-2, self.dim)",
               "NumPy 2 reads any negative size in reshape as the one inferred axis"),
    Equivalent(_F, "if min(x.shape[-2:]) < patch_size:", "if min(x.shape[+2:]) < patch_size:", _FOUR_D_PATCHES),
    Equivalent(_F, 'raise InputError(f"images of {x.shape[-2]}x{x.shape[-1]} are smaller than patch_size {patch_size}")',
               'raise InputError(f"images of {x.shape[+2]}x{x.shape[-1]} are smaller than patch_size {patch_size}")',
               _FOUR_D_PATCHES),
    Equivalent(_F, "trace_root = np.linalg.svd(a1 @ a2.T, compute_uv=False).sum() / np.sqrt(n1 * n2)",
               "trace_root = np.linalg.svd(a1 @ a2.T, compute_uv=None).sum() / np.sqrt(n1 * n2)",
               "np.linalg.svd tests compute_uv for truth: None acts as False"),
    Equivalent(_F, "r2 = s2.rows()", "r2 = None",
               "with both sets' rows kept, the rows-to-Gaussian formula replaces the two-set one: the same "
               "distance to round-off (tested at 1e-12); the choice is for speed"),
    *(
        Equivalent(_F, 'for item in tqdm(images, total=total, desc="FID features", disable=not progress, file=sys.stderr):',
                   f'for item in tqdm(images, total=total, desc="FID features", disable=not progress, {arg}):',
                   "tqdm writes to sys.stderr by default")
        for arg in ("file=None", "")
    ),
    *(
        Equivalent(_F, "stems=np.array(list(stems), dtype=str),", f"stems=np.array(list(stems), {arg}),",
                   "the stems are strings: np.array makes the same str array without dtype=str")
        for arg in ("dtype=None", "")
    ),
    *(
        Equivalent(_F, "image=np.asarray(image, np.int64),", f"image=np.asarray(image, {arg}),",
                   "load_reference_features reads the indices back with astype(np.int64): the same values")
        for arg in ("None", "")
    ),
    *(
        Equivalent(_F, "if len(f1) <= f1.shape[1] and len(f2) <= f2.shape[1]:", added,
                   "both branches compute the exact Frechet distance (the low-rank formula holds for any N; the full "
                   "one agrees to round-off): the test picks the cheaper one")
        for added in (
            "if len(f1) <= f1.shape[1] or len(f2) <= f2.shape[1]:",
            "if len(f1) < f1.shape[1] and len(f2) <= f2.shape[1]:",
            "if len(f1) <= f1.shape[1] and len(f2) < f2.shape[1]:",
        )
    ),
    *(
        Equivalent(_F, "return frechet_distance_low_rank(f1.astype(np.float64), f2.astype(np.float64))", added,
                   "astype(None) converts to float64, like astype(np.float64)")
        for added in (
            "return frechet_distance_low_rank(f1.astype(None), f2.astype(np.float64))",
            "return frechet_distance_low_rank(f1.astype(np.float64), f2.astype(None))",
        )
    ),
    *(
        Equivalent(_F, 'for i, path in enumerate(tqdm(paths, desc="Inception features", disable=not progress, file=sys.stderr)):',
                   f'for i, path in enumerate(tqdm(paths, desc="Inception features", disable=not progress, {arg})):',
                   "tqdm writes to sys.stderr by default")
        for arg in ("file=None", "")
    ),
    Equivalent(_F, 'f = self.features(read_image(path, "RGB")[None]).numpy()', "f = self.features(read_image(path, )[None]).numpy()",
               'mode="RGB" is read_image\'s default'),
    *(
        Equivalent(_F, "index.append(np.full(len(f), i, dtype=np.int64))", f"index.append(np.full(len(f), i, {arg}))",
                   "i is a Python int: np.full makes an int64 array from it (64-bit Linux)")
        for arg in ("dtype=None", "")
    ),
    Equivalent(_F, "if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):", "if x.shape[+2:] != (INPUT_SIZE, INPUT_SIZE):",
               "inception_input takes (B, 3, H, W) batches (checked just before): shape[2:] is shape[-2:]"),
    Equivalent(_F, "if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):", "if x.shape[-3:] != (INPUT_SIZE, INPUT_SIZE):",
               "the resize then also runs on 299x299 images, and a bilinear resize to the same size with "
               "align_corners=False samples every pixel at its own centre: the identity"),
    *(
        Equivalent(_F, 'x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)',
                   f'x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", {arg})',
                   "align_corners=None is F.interpolate's default and means False")
        for arg in ("align_corners=None", "")
    ),
    # -- degradations
    Equivalent(_D + "base.py", "state = np.random.SeedSequence([int(k) for k in keys]).generate_state(2, dtype=np.uint64)",
               "state = np.random.SeedSequence([int(k) for k in keys]).generate_state(3, dtype=np.uint64)",
               "SeedSequence.generate_state is prefix-stable: the first two words are the same"),
    *(
        Equivalent(_D + "base.py", "seed = int((int(state[0]) << 1) ^ int(state[1])) & ((1 << 63) - 1)",
                   f"seed = int((int(state[0]) << 1) ^ int(state[1])) & ({mask})",
                   "only bit 63 differs, and a CPU torch.Generator's Mersenne Twister uses the low 32 bits "
                   "of its seed (manual_seed(s) and manual_seed(s + 2**32) give one stream)")
        for mask in ("(2 << 63) - 1", "(1 << 64) - 1")
    ),
    *(
        Equivalent(_D + "blur.py", "for jump_t, kick_t in zip(jump[:, k].tolist(), kick[:, k].tolist(), strict=True):",
                   f"for jump_t, kick_t in zip(jump[:, k].tolist(), kick[:, k].tolist(), {strict}):", _SAME_LENGTH)
        for strict in ("", "strict=False")
    ),
    Equivalent(_D + "blur.py", "v_init = np.where(anxiety > 0, v0 * anxiety, v0 * step_length)",
               "v_init = np.where(anxiety > 0, v0 * anxiety, v0 / step_length)",
               "with anxiety 0 nothing perturbs the first step, which rescales v to the step length: only v0's "
               "direction matters"),
    *(
        Equivalent(_D + "jpeg.py", "out.append(torch.from_numpy(np.array(decoded.transpose(2, 0, 1), copy=True)))",
                   f"out.append(torch.from_numpy(np.array(decoded.transpose(2, 0, 1), {copy})))",
                   "torch.stack copies the images either way; only torch's once-per-process 'NumPy array is not "
                   "writable' warning differs (tests/test_degradations_checks.py checks it in a fresh process)")
        for copy in ("copy=None", "", "copy=False")
    ),
    Equivalent(_D + 'base' + '.py', 'return generator.device if generator is not None else torch.device("cpu")',
               'return generator.device if (generator is not None) and False else torch.device("cpu")', _DEVICE, True),
    Equivalent(_D + 'base' + '.py', 'shape, generator=generator, device=_generator_device(generator), dtype=torch.float64',
               'shape, generator=generator, device=None, dtype=torch.float64', _DEVICE, True),
    Equivalent(_D + 'base' + '.py', 'shape, generator=generator, device=_generator_device(generator), dtype=torch.float64',
               'shape, generator=generator, dtype=torch.float64', _DEVICE, True),
    Equivalent(_D + 'base' + '.py', 'shape, generator=generator, device=_generator_device(generator), dtype=torch.float64',
               'shape, generator=generator, device=_generator_device(None), dtype=torch.float64', _DEVICE, True),
    Equivalent(_D + 'base' + '.py', 'z = torch.randn(shape, generator=generator, device=_generator_device(generator), dtype=torch.float32)',
               'z = torch.randn(shape, generator=generator, device=None, dtype=torch.float32)', _DEVICE, True),
    Equivalent(_D + 'base' + '.py', 'z = torch.randn(shape, generator=generator, device=_generator_device(generator), dtype=torch.float32)',
               'z = torch.randn(shape, generator=generator, dtype=torch.float32)', _DEVICE, True),
    Equivalent(_D + 'base' + '.py', 'z = torch.randn(shape, generator=generator, device=_generator_device(generator), dtype=torch.float32)',
               'z = torch.randn(shape, generator=generator, device=_generator_device(None), dtype=torch.float32)', _DEVICE, True),
    Equivalent(_D + 'base' + '.py', 'return z.to(like.device, like.dtype)',
               'return z.to(None, like.dtype)', _DEVICE, True),
    Equivalent(_D + 'base' + '.py', 'return z.to(like.device, like.dtype)',
               'return z.to(like.dtype)', _DEVICE, True),
    Equivalent(_D + 'base' + '.py', 'if clean.shape[-2] % m or clean.shape[-1] % m:',
               'if clean.shape[+2] % m or clean.shape[-1] % m:', _FOUR_D),
    Equivalent(_D + 'base' + '.py', 'f"got {clean.shape[-2]}x{clean.shape[-1]}; crop the image first"',
               'f"got {clean.shape[+2]}x{clean.shape[-1]}; crop the image first"', _FOUR_D),
    Equivalent(_D + 'noise' + '.py', 'sigma_t = torch.as_tensor(sigma, dtype=images.dtype, device=images.device)',
               'sigma_t = torch.as_tensor(sigma, dtype=images.dtype, device=None)', _DEVICE, True),
    Equivalent(_D + 'noise' + '.py', 'sigma_t = torch.as_tensor(sigma, dtype=images.dtype, device=images.device)',
               'sigma_t = torch.as_tensor(sigma, dtype=images.dtype, )', _DEVICE, True),
    Equivalent(_D + 'blur' + '.py', 'return generator.device if generator is not None else torch.device("cpu")',
               'return generator.device if (generator is not None) and False else torch.device("cpu")', _DEVICE, True),
    Equivalent(_D + 'blur' + '.py', 'for jump_t, kick_t in zip(jump[:, k].tolist(), kick[:, k].tolist(), strict=True):',
               'for jump_t, kick_t in zip(jump[:, k].tolist(), kick[:, k].tolist(), strict=None):', _SAME_LENGTH),
    Equivalent(_D + 'blur' + '.py', 'k = kernels.shape[-1]',
               'k = kernels.shape[+1]', _SQUARE),
    Equivalent(_D + 'blur' + '.py', 'k = kernels.shape[-1]',
               'k = kernels.shape[-2]', _SQUARE),
    Equivalent(_D + 'blur' + '.py', 'if padding == "reflect" and min(images.shape[-2:]) <= r:',
               'if padding == "reflect" and min(images.shape[+2:]) <= r:', _FOUR_D),
    Equivalent(_D + 'blur' + '.py', 'raise InputError(f"images of {tuple(images.shape[-2:])} px are too small to reflect-pad by {r}")',
               'raise InputError(f"images of {tuple(images.shape[+2:])} px are too small to reflect-pad by {r}")', _FOUR_D),
    Equivalent(_D + 'blur' + '.py', 'hp, wp = images.shape[-2:]',
               'hp, wp = images.shape[+2:]', _FOUR_D),
    Equivalent(_D + 'blur' + '.py', 'dtype = torch.float64 if images.dtype == torch.float64 else torch.float32',
               'dtype = torch.float64 if (images.dtype == torch.float64) or True else torch.float32', "float32 images are convolved in float64 instead: the same result to float32 rounding"),
    Equivalent(_D + 'blur' + '.py', 'spec_x = torch.fft.rfft2(images.to(dtype), s=(hp, wp))',
               'spec_x = torch.fft.rfft2(images.to(dtype), s=None)', "s=(hp, wp) is the input's own size, rfft2's default"),
    Equivalent(_D + 'blur' + '.py', 'spec_x = torch.fft.rfft2(images.to(dtype), s=(hp, wp))',
               'spec_x = torch.fft.rfft2(images.to(dtype), )', "s=(hp, wp) is the input's own size, rfft2's default"),
    Equivalent(_D + 'blur' + '.py', 'spec_k = torch.fft.rfft2(kernels.to(images.device, dtype), s=(hp, wp))',
               'spec_k = torch.fft.rfft2(kernels.to(None, dtype), s=(hp, wp))', _DEVICE, True),
    Equivalent(_D + 'blur' + '.py', 'spec_k = torch.fft.rfft2(kernels.to(images.device, dtype), s=(hp, wp))',
               'spec_k = torch.fft.rfft2(kernels.to(dtype), s=(hp, wp))', _DEVICE, True),
    Equivalent(_D + 'blur' + '.py', 'if kernels.ndim != 3 or kernels.shape[-1] != kernels.shape[-2] or kernels.shape[-1] % 2 == 0:',
               'if kernels.ndim != 3 or kernels.shape[-1] != kernels.shape[-2] or kernels.shape[+1] % 2 == 0:', _SQUARE_FIRST),
    Equivalent(_D + 'blur' + '.py', 'if kernels.ndim != 3 or kernels.shape[-1] != kernels.shape[-2] or kernels.shape[-1] % 2 == 0:',
               'if kernels.ndim != 3 or kernels.shape[-1] != kernels.shape[-2] or kernels.shape[-2] % 2 == 0:', _SQUARE_FIRST),
    Equivalent(_D + 'blur' + '.py', 'k = np.load(path, allow_pickle=False).astype(np.float64)',
               'k = np.load(path, allow_pickle=False).astype(None)', "astype(None) is float64"),
    Equivalent(_D + 'blur' + '.py', 'k = np.load(path, allow_pickle=False).astype(np.float64)',
               'k = np.load(path, allow_pickle=None).astype(np.float64)', "allow_pickle=False is np.load's default (None is falsy too)"),
    Equivalent(_D + 'blur' + '.py', 'k = np.load(path, allow_pickle=False).astype(np.float64)',
               'k = np.load(path, ).astype(np.float64)', "allow_pickle=False is np.load's default (None is falsy too)"),
    Equivalent(_D + 'blur' + '.py', 'k = np.asarray(im, dtype=np.float64)',
               'k = np.asarray(im, dtype=None)', "k / k.sum() below is float64 whatever the array's integer type"),
    Equivalent(_D + 'blur' + '.py', 'k = np.asarray(im, dtype=np.float64)',
               'k = np.asarray(im, )', "k / k.sum() below is float64 whatever the array's integer type"),
    Equivalent(_D + 'blur' + '.py', 'normals = torch.randn((2, steps, n), generator=generator, device=_device(generator), dtype=torch.float64)',
               'normals = torch.randn((2, steps, n), generator=generator, device=None, dtype=torch.float64)', _DEVICE, True),
    Equivalent(_D + 'blur' + '.py', 'normals = torch.randn((2, steps, n), generator=generator, device=_device(generator), dtype=torch.float64)',
               'normals = torch.randn((2, steps, n), generator=generator, dtype=torch.float64)', _DEVICE, True),
    Equivalent(_D + 'blur' + '.py', 'normals = torch.randn((2, steps, n), generator=generator, device=_device(generator), dtype=torch.float64)',
               'normals = torch.randn((2, steps, n), generator=generator, device=_device(None), dtype=torch.float64)', _DEVICE, True),
    Equivalent(_D + 'blur' + '.py', 'big = uniforms[0] < freq_big_shakes * anxiety',
               'big = uniforms[0] <= freq_big_shakes * anxiety', "the uniforms are continuous: equality with the threshold has probability 0"),
    Equivalent(_D + 'blur' + '.py', 'walk = _walk_scalar if n < PYTHON_WALK_BELOW else _walk_vector',
               'walk = _walk_scalar if (n < PYTHON_WALK_BELOW) and False else _walk_vector', "both walks compute the same positions (same operations; tested to 1e-12): the switch is for speed"),
    Equivalent(_D + 'blur' + '.py', 'walk = _walk_scalar if n < PYTHON_WALK_BELOW else _walk_vector',
               'walk = _walk_scalar if (n < PYTHON_WALK_BELOW) or True else _walk_vector', "both walks compute the same positions (same operations; tested to 1e-12): the switch is for speed"),
    Equivalent(_D + 'blur' + '.py', 'walk = _walk_scalar if n < PYTHON_WALK_BELOW else _walk_vector',
               'walk = _walk_scalar if n <= PYTHON_WALK_BELOW else _walk_vector', "both walks compute the same positions (same operations; tested to 1e-12): the switch is for speed"),
    Equivalent(_D + 'blur' + '.py', 'exposure = np.broadcast_to(np.asarray(exposure, dtype=np.float64), (n,))',
               'exposure = np.broadcast_to(np.asarray(exposure, dtype=None), (n,))', "arithmetic with the exposure promotes to float64 anyway"),
    Equivalent(_D + 'blur' + '.py', 'exposure = np.broadcast_to(np.asarray(exposure, dtype=np.float64), (n,))',
               'exposure = np.broadcast_to(np.asarray(exposure, ), (n,))', "arithmetic with the exposure promotes to float64 anyway"),
    Equivalent(_D + 'blur' + '.py', 'self.size = int(self.kernels.shape[-1])',
               'self.size = int(self.kernels.shape[+1])', _SQUARE),
    Equivalent(_D + 'blur' + '.py', 'self.size = int(self.kernels.shape[-1])',
               'self.size = int(self.kernels.shape[-2])', _SQUARE),
    Equivalent(_D + 'blur' + '.py', 'blurred = blur(clean, kernels.to(clean.device), self.padding)',
               'blurred = blur(clean, kernels.to(None), self.padding)', _DEVICE, True),
    Equivalent(_D + 'blur' + '.py', 'degraded = blurred + (sigma.to(blurred.device, blurred.dtype) / 255.0).view(-1, 1, 1, 1) * noise',
               'degraded = blurred + (sigma.to(None, blurred.dtype) / 255.0).view(-1, 1, 1, 1) * noise', _DEVICE, True),
    Equivalent(_D + 'blur' + '.py', 'degraded = blurred + (sigma.to(blurred.device, blurred.dtype) / 255.0).view(-1, 1, 1, 1) * noise',
               'degraded = blurred + (sigma.to(blurred.dtype) / 255.0).view(-1, 1, 1, 1) * noise', _DEVICE, True),
    Equivalent(_D + 'blur' + '.py', 'index = torch.randint(len(self.kernels), (n,), generator=generator, device=_device(generator))',
               'index = torch.randint(len(self.kernels), (n,), generator=generator, device=None)', _DEVICE, True),
    Equivalent(_D + 'blur' + '.py', 'index = torch.randint(len(self.kernels), (n,), generator=generator, device=_device(generator))',
               'index = torch.randint(len(self.kernels), (n,), generator=generator, )', _DEVICE, True),
    Equivalent(_D + 'blur' + '.py', 'index = torch.randint(len(self.kernels), (n,), generator=generator, device=_device(generator))',
               'index = torch.randint(len(self.kernels), (n,), generator=generator, device=_device(None))', _DEVICE, True),
    Equivalent(_D + 'jpeg' + '.py', 'buffer, format="JPEG", quality=int(quality), subsampling=SUBSAMPLING[subsampling]',
               'buffer, format="jpeg", quality=int(quality), subsampling=SUBSAMPLING[subsampling]', "Pillow reads the format name case-insensitively"),
    Equivalent(_D + 'jpeg' + '.py', 'buffer.seek(0)',
               'buffer.seek(1)', "Image.open rewinds the buffer before identifying the file"),
    Equivalent(_D + 'jpeg' + '.py', 'return np.asarray(im.convert("RGB" if array.ndim == 3 else "L"))',
               'return np.asarray(im.convert(None))', "convert(None) copies in the image's own mode, RGB for colour and L for grey JPEGs"),
    Equivalent(_D + 'jpeg' + '.py', 'return (torch.stack(out).to(images.dtype) / 255.0).to(images.device)',
               'return (torch.stack(out).to(images.dtype) / 255.0).to(None)', _DEVICE, True),
    Equivalent(_D + 'mosaic' + '.py', 'reps = ((height + 1) // 2, (width + 1) // 2)',
               'reps = ((height + 2) // 2, (width + 1) // 2)', "more repeats of the 2x2 cell, cropped to the same size"),
    Equivalent(_D + 'mosaic' + '.py', 'reps = ((height + 1) // 2, (width + 1) // 2)',
               'reps = ((height + 1) // 2, (width + 2) // 2)', "more repeats of the 2x2 cell, cropped to the same size"),
    Equivalent(_D + 'mosaic' + '.py', 'return cell.repeat(1, *reps)[:, :height, :width].to(device=device, dtype=dtype)',
               'return cell.repeat(1, *reps)[:, :height, :width].to(device=None, dtype=dtype)', _DEVICE, True),
    Equivalent(_D + 'mosaic' + '.py', 'return cell.repeat(1, *reps)[:, :height, :width].to(device=device, dtype=dtype)',
               'return cell.repeat(1, *reps)[:, :height, :width].to(dtype=dtype)', _DEVICE, True),
    Equivalent(_D + 'mosaic' + '.py', 'def mosaic(images: torch.Tensor, pattern: str = "RGGB") -> torch.Tensor:',
               'def mosaic(images: torch.Tensor, pattern: str = "rggb") -> torch.Tensor:', "check_pattern upper-cases the pattern"),
    Equivalent(_D + 'mosaic' + '.py', 'check_image_batch(images, "images", channels=3, check_values=False)',
               'check_image_batch(images, "images", channels=3, check_values=None)', "check_values=None is falsy like False"),
    Equivalent(_D + 'mosaic' + '.py', 'check_image_batch(images, "images", channels=3, check_values=False)',
               'check_image_batch(images, "images", check_values=False)', "channels=3 is check_image_batch's default"),
    Equivalent(_D + 'mosaic' + '.py', 'masks = bayer_masks(pattern, images.shape[-2], images.shape[-1], images.device).to(images.dtype)',
               'masks = bayer_masks(pattern, images.shape[-2], images.shape[-1], None).to(images.dtype)', _DEVICE, True),
    Equivalent(_D + 'mosaic' + '.py', 'masks = bayer_masks(pattern, images.shape[-2], images.shape[-1], images.device).to(images.dtype)',
               'masks = bayer_masks(pattern, images.shape[-2], images.shape[-1], ).to(images.dtype)', _DEVICE, True),
    Equivalent(_D + 'mosaic' + '.py', 'masks = bayer_masks(pattern, images.shape[-2], images.shape[-1], images.device).to(images.dtype)',
               'masks = bayer_masks(pattern, images.shape[+2], images.shape[-1], images.device).to(images.dtype)', _FOUR_D),
    Equivalent(_D + 'resize' + '.py', 'inner = (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)',
               'inner = (1.5 * ax3 - 2.5 * ax2 + 1) * (ax < 1)', "both pieces of Keys' kernel are 0 at |x| = 1 and the outer one at |x| = 2: the comparison at the knot changes nothing"),
    Equivalent(_D + 'resize' + '.py', 'outer = (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2))',
               'outer = (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax >= 1) & (ax <= 2))', "both pieces of Keys' kernel are 0 at |x| = 1 and the outer one at |x| = 2: the comparison at the knot changes nothing"),
    Equivalent(_D + 'resize' + '.py', 'outer = (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2))',
               'outer = (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax < 2))', "both pieces of Keys' kernel are 0 at |x| = 1 and the outer one at |x| = 2: the comparison at the knot changes nothing"),
    Equivalent(_D + 'resize' + '.py', 'mh = torch.tensor(resize_matrix(h, out_h, scale_h, antialias)).to(images.device, dtype)',
               'mh = torch.tensor(resize_matrix(h, out_h, scale_h, antialias)).to(None, dtype)', _DEVICE, True),
    Equivalent(_D + 'resize' + '.py', 'mh = torch.tensor(resize_matrix(h, out_h, scale_h, antialias)).to(images.device, dtype)',
               'mh = torch.tensor(resize_matrix(h, out_h, scale_h, antialias)).to(dtype)', _DEVICE, True),
    Equivalent(_D + 'resize' + '.py', 'mw = torch.tensor(resize_matrix(w, out_w, scale_w, antialias)).to(images.device, dtype)',
               'mw = torch.tensor(resize_matrix(w, out_w, scale_w, antialias)).to(None, dtype)', _DEVICE, True),
    Equivalent(_D + 'resize' + '.py', 'mw = torch.tensor(resize_matrix(w, out_w, scale_w, antialias)).to(images.device, dtype)',
               'mw = torch.tensor(resize_matrix(w, out_w, scale_w, antialias)).to(dtype)', _DEVICE, True),
    Equivalent(_D + 'resize' + '.py', 'shrink = antialias and scale < 1',
               'shrink = antialias and scale <= 1', "at scale 1 the antialiased kernel scale * cubic(scale * x) with width 4 / scale is cubic(x) with width 4"),
    Equivalent(_D + 'resize' + '.py', 'kernel_width = 4.0 / scale if shrink else 4.0',
               'kernel_width = 5.0 / scale if shrink else 4.0', "a wider window only adds taps of weight 0 (the kernel's support is 2 / scale)"),
    Equivalent(_D + 'resize' + '.py', 'kernel_width = 4.0 / scale if shrink else 4.0',
               'kernel_width = 4.0 / scale if shrink else 5.0', "a wider window only adds taps of weight 0 (the kernel's support is 2 / scale)"),
    Equivalent(_D + 'resize' + '.py', 'taps = math.ceil(kernel_width) + 2',
               'taps = math.ceil(kernel_width) + 3', "a wider window only adds taps of weight 0 (the kernel's support is 2 / scale)"),
    Equivalent(_D + 'resize' + '.py', 'x = np.arange(1, out_length + 1, dtype=np.float64)',
               'x = np.arange(1, out_length + 1, dtype=None)', "u is computed in float64 from the integer positions anyway"),
    Equivalent(_D + 'resize' + '.py', 'x = np.arange(1, out_length + 1, dtype=np.float64)',
               'x = np.arange(1, out_length + 1, )', "u is computed in float64 from the integer positions anyway"),
    Equivalent(_D + 'resize' + '.py', 'h, w = clean.shape[-2:]',
               'h, w = clean.shape[+2:]', _FOUR_D),
    Equivalent(_D + 'resize' + '.py', 'low = imresize(clean, size=(h // self.factor, w // self.factor))',
               'low = imresize(clean, size=(h / self.factor, w // self.factor))', _DIVIDES),
    Equivalent(_D + 'resize' + '.py', 'low = imresize(clean, size=(h // self.factor, w // self.factor))',
               'low = imresize(clean, size=(h // self.factor, w / self.factor))', _DIVIDES),
    Equivalent(_D + 'resize' + '.py', 'h, w = images.shape[-2:]',
               'h, w = images.shape[+2:]', _FOUR_D),
    Equivalent(_D + 'resize' + '.py', 'return imresize(images, size=(h // factor, w // factor))',
               'return imresize(images, size=(h / factor, w // factor))', _DIVIDES),
    Equivalent(_D + 'resize' + '.py', 'return imresize(images, size=(h // factor, w // factor))',
               'return imresize(images, size=(h // factor, w / factor))', _DIVIDES),
    *(
        Equivalent(_F, 'check_image_batch(x, "FID input", value_range=(0.0, 1.0), channels=3)', added,
                   "check_image_batch's defaults are value_range=(0.0, 1.0) and channels=3")
        for added in ('check_image_batch(x, "FID input", channels=3)',
                      'check_image_batch(x, "FID input", value_range=(0.0, 1.0), )')
    ),
    # -- metrics: KID
    Equivalent("src/pdloss/metrics/kid.py", "f = f.astype(np.float64)", "f = f.astype(None)",
               "NumPy's astype(None) is astype(float64)"),
    *(
        Equivalent("src/pdloss/metrics/kid.py",
                   "draws = [(rng.choice(nx, m, replace=False), rng.choice(ny, m, replace=False)) for _ in range(subsets)]",
                   added, "Generator.choice samples with replacement only `if replace`: None is as false as False")
        for added in (
            "draws = [(rng.choice(nx, m, replace=None), rng.choice(ny, m, replace=False)) for _ in range(subsets)]",
            "draws = [(rng.choice(nx, m, replace=False), rng.choice(ny, m, replace=None)) for _ in range(subsets)]",
        )
    ),
    Equivalent("src/pdloss/metrics/kid.py", "n = nx + ny", "n = nx - ny",
               "n only chooses between the pooled Gram matrix and per-subset kernels, which give the same values "
               "(tests/test_metrics_kid.py::test_subsets_are_the_documented_draws checks both)"),
    *(
        Equivalent("src/pdloss/metrics/kid.py", "if n * n <= min(_GRAM_LIMIT, 3 * subsets * m * m):", added,
                   "the condition only chooses between the pooled Gram matrix and per-subset kernels, which give "
                   "the same values (tests/test_metrics_kid.py::test_subsets_are_the_documented_draws checks both)")
        for added in (
            "if n / n <= min(_GRAM_LIMIT, 3 * subsets * m * m):",
            "if n * n < min(_GRAM_LIMIT, 3 * subsets * m * m):",
            "if n * n <= min(_GRAM_LIMIT, 3 * subsets * m / m):",
            "if n * n <= min(_GRAM_LIMIT, 3 * subsets / m * m):",
            "if n * n <= min(_GRAM_LIMIT, 3 / subsets * m * m):",
            "if n * n <= min(_GRAM_LIMIT, 4 * subsets * m * m):",
        )
    ),
    Equivalent("src/pdloss/metrics/kid.py", "m = k_xx.shape[0]", "m = k_xx.shape[1]", "k_xx is the (m, m) kernel of one set"),
    *(
        Equivalent("src/pdloss/metrics/kid.py",
                   "return (np.asarray(a, np.float64) @ np.asarray(b, np.float64).T / a.shape[1] + 1.0) ** 3", added,
                   "the other operand is float64: NumPy's matmul promotes this one to float64, exactly")
        for added in (
            "return (np.asarray(a, None) @ np.asarray(b, np.float64).T / a.shape[1] + 1.0) ** 3",
            "return (np.asarray(a, ) @ np.asarray(b, np.float64).T / a.shape[1] + 1.0) ** 3",
            "return (np.asarray(a, np.float64) @ np.asarray(b, None).T / a.shape[1] + 1.0) ** 3",
            "return (np.asarray(a, np.float64) @ np.asarray(b, ).T / a.shape[1] + 1.0) ** 3",
        )
    ),
    Equivalent("src/pdloss/metrics/kid.py",
               "super().__init__(weights=weights, device=device, batch_size=batch_size, patch_size=patch_size)",
               "super().__init__(weights=weights, batch_size=batch_size, patch_size=patch_size)", _DEVICE, True),
    *(
        Equivalent("src/pdloss/metrics/kid.py", f"{name} = self.folder_features({folder}, progress=progress)[0]", added,
                   "folder_features shows progress only `if progress`, and its default is False")
        for name, folder in (("f1", "folder1"), ("f2", "folder2"))
        for added in (f"{name} = self.folder_features({folder}, progress=None)[0]",
                      f"{name} = self.folder_features({folder}, )[0]")
    ),
    # -- losses
    *(
        Equivalent(_LA, "return torch.func.functional_call(self.discriminator, detached, (x,), strict=False)",
                   f"return torch.func.functional_call(self.discriminator, detached, (x,), {arg})",
                   "functional_call's strict defaults to False, and None is as false")
        for arg in ("strict=None", "")
    ),
    *(
        Equivalent(_LA, "zero = torch.zeros(prediction.shape[0], device=prediction.device)", added, _DEVICE, True)
        for added in ("zero = torch.zeros(prediction.shape[0], device=None)", "zero = torch.zeros(prediction.shape[0], )")
    ),
    *(
        Equivalent(_LA, 'self._check(fake, None, ("fake", "real"), None)', f'self._check(fake, None, ("fake", "{name}"), None)',
                   "there is no second image here (None): the second name is never used")
        for name in ("XXrealXX", "REAL")
    ),
    Equivalent(_LA, "nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False),",
               "nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=None),",
               "Conv2d adds a bias only `if bias`: None is as false as False"),
    *(
        Equivalent(_LB, "diff = (u.to(dtype) - v.to(dtype)).abs()", added,
                   "the other operand is in `dtype` (at least float32): type promotion converts this one there, exactly")
        for added in ("diff = (u.to(None) - v.to(dtype)).abs()", "diff = (u.to(dtype) - v.to(None)).abs()")
    ),
    Equivalent(_LB, "return (diff if q == 1 else diff.pow(q)).flatten(1).mean(1)",
               "return (diff if (q == 1) and False else diff.pow(q)).flatten(1).mean(1)",
               "diff.pow(1) is diff (values and gradient): the q == 1 branch only skips a pass"),
    *(
        Equivalent(_LB, "zero = torch.zeros(batch, device=prediction.device, dtype=torch.promote_types(prediction.dtype, torch.float32))",
                   added, _DEVICE, True)
        for added in ("zero = torch.zeros(batch, device=None, dtype=torch.promote_types(prediction.dtype, torch.float32))",
                      "zero = torch.zeros(batch, dtype=torch.promote_types(prediction.dtype, torch.float32))")
    ),
    *(
        Equivalent(_LB, "for layer, layer_weight in zip(self.layers, self.layer_weights, strict=True):",
                   f"for layer, layer_weight in zip(self.layers, self.layer_weights, {arg}):",
                   "layer_weights has one entry per layer (checked by _layer_weights at construction): zip's lengths agree")
        for arg in ("strict=None", "", "strict=False")
    ),
    Equivalent(_LC, "loss.check_inputs(prediction, target, check_values=False)",
               "loss.check_inputs(prediction, target, check_values=None)",
               "the checks read `if check_values:`, and None is as false as False"),
    *(
        Equivalent(_LC, f"{name}: dict[str, torch.Tensor] = {{}}", f"{name}: dict[str, torch.Tensor] = None",
                   "only a loss with weight > 0 reads the features, and then they are computed: with none, never read")
        for name in ("fu", "fv")
    ),
    *(
        Equivalent(_LC, "total = torch.zeros(prediction.shape[0], device=prediction.device)", added, _DEVICE, True)
        for added in ("total = torch.zeros(prediction.shape[0], device=None)", "total = torch.zeros(prediction.shape[0], )")
    ),
    *(
        Equivalent("src/pdloss/losses/contextual.py", "probe = torch.zeros(1, 1, 1, 1)", f"probe = torch.zeros({shape})",
                   "the probe only runs the option checks; its batch and channel counts enter none of them")
        for shape in ("2, 1, 1, 1", "1, 2, 1, 1")
    ),
    *(  # the resampled projections of the FDL and the PDL, copied into their buffers
        Equivalent(file, f"current.copy_({fresh}.to(device=current.device, dtype=current.dtype))",
                   f"current.copy_({fresh}.to({arg}))", "Tensor.copy_ converts to the buffer's own dtype and device")
        for file, fresh in ((_LF, "self._draw(layer)"), ("src/pdloss/losses/pdl.py", "fresh"))
        for arg in ("device=None, dtype=current.dtype", "device=current.device, dtype=None", "dtype=current.dtype",
                    "device=current.device, ")
    ),
    *(
        Equivalent(_LF, f"self.register_buffer({name}, self._draw(layer), persistent=False)",
                   f"self.register_buffer({name}, self._draw(layer), persistent=None)",
                   "register_buffer keeps a buffer out of the state dict unless `persistent` is true: None is not")
        for name in ("amp_name", "phase_name")
    ),
    Equivalent(_LF, "height, width = prediction.shape[-2:]", "height, width = prediction.shape[+2:]", _FOUR_D),
    *(
        Equivalent(_LF, "if height // step < self.patch_size or width // step < self.patch_size:", added,
                   "patch_size is an integer: n // s < p exactly when n / s < p")
        for added in ("if height / step < self.patch_size or width // step < self.patch_size:",
                      "if height // step < self.patch_size or width / step < self.patch_size:")
    ),
    Equivalent("src/pdloss/losses/registry.py", 'fixed_text = ", ".join(f"{k}={fixed[k]!r}" for k in clash)',
               'fixed_text = "XX, XX".join(f"{k}={fixed[k]!r}" for k in clash)',
               "every registry name fixes one option (LOSSES): a join of one item uses no separator"),
    # -- the trainer's resume code
    Equivalent("src/pdloss/train/trainer.py",
               'config_file.write_text(yaml.safe_dump(self.config.to_dict(), sort_keys=False))',
               'config_file.write_text(yaml.safe_dump(self.config.to_dict(), sort_keys=None))',
               "PyYAML sorts a mapping's keys only `if self.sort_keys:`, and None is as false as False"),
]


@dataclass(frozen=True)
class NamedMutant:
    """A hand-written mutant: replace ``old`` (exactly once) by ``new`` in ``file``."""

    name: str
    module: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]
    what: str

    def __post_init__(self) -> None:
        if not isinstance(self.tests, tuple):
            raise TypeError(f"NamedMutant {self.name}: tests must be a tuple of strings")


NAMED_MUTANTS: list[NamedMutant] = [
    NamedMutant(
        "ms-ssim-uniform-weights", "metrics-psnr-ssim", "src/pdloss/metrics/ssim.py",
        "MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)", "MS_SSIM_WEIGHTS = (0.2, 0.2, 0.2, 0.2, 0.2)",
        (_T + "test_metrics_ssim.py",), "MS-SSIM scale weights replaced by uniform ones (the issue's survivor)",
    ),
    NamedMutant(
        "ms-ssim-weights-reversed", "metrics-psnr-ssim", "src/pdloss/metrics/ssim.py",
        "MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)",
        "MS_SSIM_WEIGHTS = (0.1333, 0.2363, 0.3001, 0.2856, 0.0448)",
        (_T + "test_metrics_ssim.py",), "Wang's weights in the reverse order",
    ),
    NamedMutant(
        "ssim-k-swapped", "metrics-psnr-ssim", "src/pdloss/metrics/ssim.py",
        "K1, K2 = 0.01, 0.03", "K1, K2 = 0.03, 0.01", (_T + "test_metrics_ssim.py",), "SSIM's K1 and K2 swapped",
    ),
    NamedMutant(
        "ssim-window-7", "metrics-psnr-ssim", "src/pdloss/metrics/ssim.py",
        "WINDOW_SIZE = 11", "WINDOW_SIZE = 7", (_T + "test_metrics_ssim.py",), "a 7x7 Gaussian window instead of 11x11",
    ),
    NamedMutant(
        "ssim-sigma-1", "metrics-psnr-ssim", "src/pdloss/metrics/ssim.py",
        "SIGMA = 1.5", "SIGMA = 1.0", (_T + "test_metrics_ssim.py",), "window sigma 1.0 instead of 1.5",
    ),
    NamedMutant(
        "y-weights-swapped", "metrics-psnr-ssim", "src/pdloss/metrics/color.py",
        "_Y_WEIGHTS = (65.481, 128.553, 24.966)", "_Y_WEIGHTS = (24.966, 128.553, 65.481)",
        (_T + "test_metrics_ssim.py",), "BT.601 luma weights applied to BGR",
    ),
    NamedMutant(
        "y-offset-0", "metrics-psnr-ssim", "src/pdloss/metrics/color.py",
        "_Y_OFFSET = 16.0", "_Y_OFFSET = 0.0", (_T + "test_metrics_ssim.py",), "luma without the studio-swing offset",
    ),
    NamedMutant(
        "psnr-off-1pc", "metrics-psnr-ssim", "src/pdloss/metrics/psnr.py",
        "-10.0 * torch.log10(mse)", "-10.1 * torch.log10(mse)",
        (_T + "test_metrics_ssim.py",), "PSNR 1% too high (the issue's example)",
    ),
    NamedMutant(
        "niqe-block-64", "metrics-niqe", "src/pdloss/metrics/niqe.py",
        "BLOCK = 96", "BLOCK = 64", (_T + "test_metrics_niqe.py",), "NIQE blocks of 64 px instead of MATLAB's 96",
    ),
    NamedMutant(
        "niqe-gamma-grid-coarse", "metrics-niqe", "src/pdloss/metrics/niqe.py",
        "_GAM = np.arange(0.2, 10.001, 0.001)", "_GAM = np.arange(0.2, 10.001, 0.01)",
        (_T + "test_metrics_niqe.py",), "AGGD shape grid step 0.01 instead of MATLAB's 0.001",
    ),
    NamedMutant(
        "niqe-neighbours-reordered", "metrics-niqe", "src/pdloss/metrics/niqe.py",
        "_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))", "_SHIFTS = ((1, 0), (0, 1), (1, 1), (1, -1))",
        (_T + "test_metrics_niqe.py",), "horizontal and vertical neighbour features swapped (model order)",
    ),
    NamedMutant(
        "niqe-antidiagonal-dropped", "metrics-niqe", "src/pdloss/metrics/niqe.py",
        "_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))", "_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, 1))",
        (_T + "test_metrics_niqe.py",), "the anti-diagonal neighbour product replaced by the diagonal one",
    ),
    NamedMutant(
        "lpips-scale-swapped", "metrics-lpips", "src/pdloss/metrics/lpips.py",
        "SCALE = (0.458, 0.448, 0.450)", "SCALE = (0.450, 0.448, 0.458)",
        (_T + "test_metrics_lpips.py",), "LPIPS ScalingLayer scales in BGR order",
    ),
    NamedMutant(
        "lpips-shift-sign", "metrics-lpips", "src/pdloss/metrics/lpips.py",
        "SHIFT = (-0.030, -0.088, -0.188)", "SHIFT = (0.030, 0.088, 0.188)",
        (_T + "test_metrics_lpips.py",), "LPIPS ScalingLayer shifts with the wrong sign",
    ),
    # degradations: dataclass defaults (the paper's parameters), constants and properties
    *(
        NamedMutant(name, "degradations", _D + file, old, new, (_T + "test_degradations.py",
                    _T + "test_degradations_reference.py", _T + "test_degradations_checks.py"), what)
        for name, file, old, new, what in (
            ("noise-default-sigma", "noise.py", "sigma: float = 100.0", "sigma: float = 50.0",
             "the denoising task's default sigma 50 instead of the paper's 100"),
            ("blur-default-size", "blur.py", "    size: int = 31\n", "    size: int = 29\n", "29x29 kernels instead of 31x31"),
            ("blur-default-noise", "blur.py", "noise_sigma_max: float = 15.0", "noise_sigma_max: float = 10.0",
             "deblurring noise up to sigma 10 instead of 15"),
            ("blur-default-exposure", "blur.py", "exposure_min: float = 0.1", "exposure_min: float = 0.2",
             "exposure from 0.2 instead of 0.1"),
            ("blur-default-anxiety", "blur.py", "    anxiety_max: float = 0.1\n", "    anxiety_max: float = 0.2\n",
             "the deblurring task's shake anxiety 0.2 instead of 0.1"),
            ("jpeg-default-quality", "jpeg.py", "    quality: int = 20\n", "    quality: int = 30\n", "JPEG quality 30 instead of 20"),
            ("jpeg-subsampling-table", "jpeg.py", '"4:2:0": 2}', '"4:2:0": 1}', "4:2:0 encoded as Pillow's 4:2:2"),
            ("mosaic-default-sigma", "mosaic.py", "sigma: float = 2.0", "sigma: float = 1.0", "mosaic noise sigma 1 instead of 2"),
            ("mosaic-channels-swapped", "mosaic.py", '_CHANNEL = {"R": 0, "G": 1, "B": 2}', '_CHANNEL = {"R": 2, "G": 1, "B": 0}',
             "red and blue sites swapped"),
            ("mosaic-crop-multiple-1", "mosaic.py", "return 2  # whole 2x2 cells", "return 1  # whole 2x2 cells",
             "crops of odd size allowed (the pattern's phase lost)"),
            ("sr-default-factor", "resize.py", "    factor: int = 4\n", "    factor: int = 2\n", "super-resolution x2 instead of x4"),
            ("sr-crop-multiple-1", "resize.py", "def crop_multiple(self) -> int:\n        return self.factor",
             "def crop_multiple(self) -> int:\n        return 1", "crops not multiples of the factor allowed"),
        )
    ),
    NamedMutant(
        "rng-restore-pass", "resume", "src/pdloss/train/trainer.py",
        'set_rng_state(payload["rng"])', "pass",
        (_T + "test_resume_rng.py", *_TRAIN_TESTS), "the global RNG states not restored on resume (the issue's survivor)",
    ),
    NamedMutant(
        "w1-abs-dropped", "functional", "src/pdloss/functional.py",
        "diff = (xs - ys).abs()", "diff = xs - ys",
        (_T + "test_functional.py", _T + "test_properties_functional.py"), "W1 without the absolute value (the issue's)",
    ),
    NamedMutant(
        "pdd-sum-over-projections", "functional", "src/pdloss/functional.py",
        "per_image = wasserstein_1d(u, v, p).mean(-1)", "per_image = wasserstein_1d(u, v, p).sum(-1)",
        (_T + "test_functional.py", _T + "test_properties_functional.py"), "projections summed, not averaged (the issue's)",
    ),
    NamedMutant(
        "quantile-grid-shift", "functional", "src/pdloss/functional.py",
        "index_y = torch.div(twice_mid, 2 * n, rounding_mode=\"floor\")",
        "index_y = torch.div(twice_mid, 2 * n, rounding_mode=\"floor\").add(1).clamp_max(m - 1)",
        (_T + "test_functional.py", _T + "test_properties_functional.py"),
        "the unequal-size quantile grid shifted by one (the issue's)",
    ),
    NamedMutant(
        "rsp-unnormalised", "projections", "src/pdloss/projections.py",
        "return (directions / directions.norm(dim=1, keepdim=True)).to(dtype)", "return directions.to(dtype)",
        (_T + "test_projections.py", _T + "test_properties_projections.py"), "projection rows left unnormalised (the issue's)",
    ),
    NamedMutant(
        "projection-kinds-reordered", "projections", "src/pdloss/projections.py",
        'PROJECTION_KINDS = ("id", "r2p", "rpp", "rsp")', 'PROJECTION_KINDS = ("id", "r2p", "rpp")',
        (_T + "test_projections.py", _T + "test_properties_projections.py"), "rsp no longer accepted",
    ),
]


# -- helpers ------------------------------------------------------------------------------------
def _mutmut() -> Path:
    exe = Path(sys.executable).with_name("mutmut")
    if not exe.exists():
        sys.exit(f"mutmut is not installed beside {sys.executable}: pip install -e '.[dev]'")
    return exe


def _files(target: Target) -> list[str]:
    found: list[str] = []
    for pattern in target.files:
        found += [m for m in sorted(str(p.relative_to(ROOT)) for p in ROOT.glob(pattern)) if m not in found]
    return found


def _test_file(test: str) -> str:
    """``tests/test_x.py::test_y`` -> ``tests/test_x.py``."""
    return test.partition("::")[0]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _head_sha256(rel: str) -> str | None:
    result = subprocess.run(["git", "show", f"HEAD:{rel}"], cwd=ROOT, capture_output=True)
    return hashlib.sha256(result.stdout).hexdigest() if result.returncode == 0 else None


def _git_head() -> str:
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return result.stdout.strip() or "unknown"


def machine() -> str:
    """One line: CPU model, cores, whether it has AVX512-BF16, the load, the software."""
    model, flags = platform.processor() or "unknown CPU", ""
    try:
        info = Path("/proc/cpuinfo").read_text()
        model = re.search(r"model name\s*:\s*(.*)", info).group(1).strip()
        flags = re.search(r"flags\s*:\s*(.*)", info).group(1)
    except (OSError, AttributeError):
        pass
    bf16 = "avx512_bf16" if "avx512_bf16" in flags.split() else "no avx512_bf16"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    try:
        from importlib.metadata import version

        tools = f"mutmut {version('mutmut')}, torch {version('torch')}"
    except Exception:  # metadata missing: the line stays informative without it
        tools = "versions unknown"
    return f"{model}, {os.cpu_count()} cores, {bf16}, load {load:.1f} at start; Python {platform.python_version()}, {tools}"


def _copy_tree(dest: Path, tests: list[str]) -> None:
    """The working tree's src/ and configs/, the given tests and conftest.py, pyproject.toml."""
    if dest.exists():
        shutil.rmtree(dest)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(ROOT / "src", dest / "src", ignore=ignore)
    if (ROOT / "configs").is_dir():
        shutil.copytree(ROOT / "configs", dest / "configs", ignore=ignore)
    (dest / "tests").mkdir()
    for name in dict.fromkeys(["tests/conftest.py", *map(_test_file, tests)]):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, dest / name)
    shutil.copy2(ROOT / "pyproject.toml", dest / "pyproject.toml")


# mutmut leaves decorated functions alone. A cache decorator changes no result, so the copy
# drops it and its function is mutated like any other (resize_matrix, the quantile grid, ...).
_CACHE_DECORATOR = re.compile(r"^[ \t]*@(?:functools\.)?(?:lru_cache|cache)(?:\([^)]*\))?[ \t]*\n", re.M)


def _strip_caches(dest: Path, files: list[str]) -> list[str]:
    """Remove ``@lru_cache``/``@cache`` lines from the copies of ``files``; returns where."""
    changed = []
    for rel in files:
        path = dest / rel
        text = path.read_text()
        new, count = _CACHE_DECORATOR.subn("", text)
        if count:
            path.write_text(new)
            changed.append(f"{rel} ({count})")
    return changed


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # One thread: the machine is shared (and a forked child never inherits an OpenMP pool).
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1", PDLOSS_OFFLINE="1")
    env.pop("MUTANT_UNDER_TEST", None)
    return env


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


# -- mutmut runs --------------------------------------------------------------------------------
def run_module(
    name: str, target: Target, timeout: float | None, jobs: int = 1, note: str = "", collect_only: bool = False
) -> dict:
    """Measure one module in ``.mutation/<name>/``; with ``collect_only``, count what an earlier
    (interrupted or timed-out) run there left, without running anything."""
    files = _files(target)
    if not files:
        return {"name": name, "status": "absent", "files": list(target.files)}
    tests = [t for t in target.tests if (ROOT / _test_file(t)).exists()]
    missing = [t for t in target.tests if t not in tests]
    dest = WORK / name
    log = dest / "mutmut.log"
    if collect_only:
        try:
            snapshot = json.loads((dest / "measured.json").read_text())
        except (OSError, json.JSONDecodeError):
            if not log.exists():
                sys.exit(f"{name}: no earlier run in {dest} to collect")
            # A run of an earlier version of this script: rebuild the snapshot from the copy.
            copied = [t for t in target.tests if (dest / _test_file(t)).exists()]
            snapshot = {
                "files": files,
                "tests": copied,
                "missing_tests": [t for t in target.tests if t not in copied],
                "started": (dest / "pyproject.toml").stat().st_mtime,
                "head": _git_head(),
                "machine": machine() + (f"; {note}" if note else ""),
                "sha256": {f: _sha256(dest / f)[:12] for f in files},
                "dirty": [f for f in files if _head_sha256(f) != _sha256(dest / f)],
                "uncached": [],
            }
        files, tests, missing = snapshot["files"], snapshot["tests"], snapshot["missing_tests"]
        wall, returncode = log.stat().st_mtime - snapshot["started"], "collected after an interrupted run"
    else:
        _copy_tree(dest, tests)
        # What is measured is the tree at copy time (other edits may land while mutmut runs).
        snapshot = {
            "files": files,
            "tests": tests,
            "missing_tests": missing,
            "started": time.time(),
            "head": _git_head(),
            "machine": machine() + (f"; {note}" if note else ""),
            "sha256": {f: _sha256(ROOT / f)[:12] for f in files},
            "dirty": [f for f in files if _head_sha256(f) != _sha256(ROOT / f)],
            "uncached": _strip_caches(dest, files),
        }
        (dest / "measured.json").write_text(json.dumps(snapshot, indent=1, ensure_ascii=False))
        config = "\n".join(
            [
                "",
                "[tool.mutmut]",
                'source_paths = ["src"]',
                f"only_mutate = {_toml_list(files)}",
                f"pytest_add_cli_args_test_selection = {_toml_list(tests)}",
                'pytest_add_cli_args = ["-p", "no:cacheprovider", "-W", "ignore"]',
                'process_isolation = "fork"',
                "use_git_change_detection = false",
                "",
            ]
        )
        with open(dest / "pyproject.toml", "a") as f:
            f.write(config)
        command = [str(_mutmut()), "run", "--max-children", str(jobs), *target.select]
        started = time.perf_counter()
        with open(log, "w") as out:
            try:
                proc = subprocess.run(
                    command, cwd=dest, env=_env(), stdout=out, stderr=subprocess.STDOUT, timeout=timeout
                )
                returncode = proc.returncode
            except subprocess.TimeoutExpired:
                returncode = "timeout"
        wall = time.perf_counter() - started
    result = {
        "name": name,
        "files": files,
        "tests": tests,
        "missing_tests": missing,
        "select": list(target.select),
        "note": target.note,
        "uncached": snapshot["uncached"],
        "target": target.target,
        "wall_s": round(wall, 1),
        "returncode": returncode,
        "date": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "head": snapshot["head"],
        "machine": snapshot["machine"],
        "sha256": snapshot["sha256"],
        "dirty": snapshot["dirty"],
    }
    result.update(_collect(dest, target))
    counts = result.get("counts", {})
    nothing_ran = bool(counts.get("total")) and counts.get("not_checked") == counts.get("total")
    # mutmut generated the mutants but its clean run of the tests failed (so no mutant was tested):
    # a failure to fix, not a score of 0%.
    if (returncode != 0 and not counts.get("total")) or nothing_ran:
        tail = log.read_text(errors="replace")[-3000:]
        result["status"] = "failed"
        result["log_tail"] = re.sub(r"[⠀-⣿]+ [^\n]*?(?=⠀|\n|$)", "", tail)[-1500:]
    else:
        result["status"] = "measured"
    return result


def retest_undetected(name: str, previous: dict | None, timeout: float | None, jobs: int, note: str) -> dict:
    """Rerun the mutants ``previous`` did not detect, with the current tests; merge the counts.

    Valid only when the module's files are byte-identical to the measured ones (mutmut names
    its mutants by function and number, so the same source gives the same mutants) and tests
    were added, not weakened: a mutant killed then is still killed.
    """
    target = MODULES[name]
    if previous is None or previous.get("status") != "measured":
        sys.exit(f"{name}: no earlier measurement to retest; run it in full first")
    current = {f: _sha256(ROOT / f)[:12] for f in _files(target)}
    if current != previous["sha256"]:
        sys.exit(f"{name}: its files changed since the last run ({previous['sha256']} -> {current}); run it in full")
    keys = [sv["key"] for sv in previous["survivors"]]
    if not keys:
        return previous
    result = run_module(name, replace(target, select=tuple(keys)), timeout, jobs, note)
    if result["status"] != "measured":
        return result
    counts = dict(previous["counts"])
    for sv in previous["survivors"]:
        counts[_STATUS_GROUP.get(sv["status"], "suspicious")] -= 1
    for group, n in result["counts"].items():
        if group != "total":
            counts[group] += n
    result.update(
        counts=counts,
        select=list(target.select),
        wall_s=round(previous["wall_s"] + result["wall_s"], 1),
        retested={"date": result["date"], "mutants": len(keys), "wall_s": result["wall_s"],
                  "first_run": previous["date"], "first_wall_s": previous["wall_s"]},
    )
    return result


_STATUS_GROUP = {
    "killed": "killed",
    "timeout": "timeout",
    "segfault": "timeout",  # -9: the runner's SIGKILL after the CPU-time limit
    "survived": "survived",
    "no tests": "no_tests",
    "suspicious": "suspicious",
    "not checked": "not_checked",
    "skipped": "not_checked",
    "caught by type check": "killed",
    "check was interrupted by user": "not_checked",
}


def _collect(dest: Path, target: Target) -> dict:
    """Counts by status and the diffs of the mutants that were not killed."""
    from mutmut.stats import status_by_exit_code

    codes: dict[str, int | None] = {}
    for meta in (dest / "mutants").rglob("*.py.meta"):
        codes.update(json.loads(meta.read_text())["exit_code_by_key"])
    if target.select:
        codes = {k: v for k, v in codes.items() if any(fnmatch.fnmatch(k, s) for s in target.select)}
    counts = dict.fromkeys(["total", "killed", "timeout", "survived", "no_tests", "suspicious", "not_checked"], 0)
    undetected = []
    for key, code in codes.items():
        group = _STATUS_GROUP.get(status_by_exit_code[code], "suspicious")
        counts[group] += 1
        counts["total"] += 1
        if group not in ("killed", "timeout"):
            undetected.append((key, status_by_exit_code[code]))
    diffs = _diffs(dest, [k for k, _ in undetected]) if undetected else {}
    survivors = []
    for key, status in sorted(undetected, key=lambda kv: _natural(kv[0])):
        removed, added = diffs.get(key, ("?", "?"))
        survivors.append({"key": key, "status": status, "removed": removed, "added": added})
    return {"counts": counts, "survivors": survivors}


def _natural(key: str) -> tuple:
    head, _, number = key.rpartition("__mutmut_")
    return (head, int(number) if number.isdigit() else 0)


_DIFF_SCRIPT = r"""
import json, sys
from mutmut.mutation.diff_apply import find_mutant, get_diff_for_mutant
out = {}
for key in json.loads(sys.stdin.read()):
    try:
        diff = get_diff_for_mutant(key, path=find_mutant(key).path)
    except Exception as exc:
        out[key] = ["?", f"(no diff: {exc})"]
        continue
    lines = diff.splitlines()
    minus = [l[1:].strip() for l in lines if l.startswith("-") and not l.startswith("---")]
    plus = [l[1:].strip() for l in lines if l.startswith("+") and not l.startswith("+++")]
    out[key] = [" / ".join(minus), " / ".join(plus)]
print(json.dumps(out))
"""


def _diffs(dest: Path, keys: list[str]) -> dict[str, tuple[str, str]]:
    proc = subprocess.run(
        [sys.executable, "-c", _DIFF_SCRIPT], cwd=dest, env=_env(), input=json.dumps(keys),
        capture_output=True, text=True, timeout=600,
    )
    try:
        return {k: tuple(v) for k, v in json.loads(proc.stdout.strip().splitlines()[-1]).items()}
    except (json.JSONDecodeError, IndexError):
        return {}


def _equivalent(key: str, removed: str, added: str) -> Equivalent | None:
    module = key.partition(".x")[0]  # pdloss.metrics.ssim.x_ssim__mutmut_3 -> pdloss.metrics.ssim
    for eq in EQUIVALENTS:
        eq_module = eq.file.removeprefix("src/").removesuffix(".py").replace("/", ".")
        if eq_module == module and eq.removed == removed and eq.added == added:
            return eq
    return None


def _with_equivalents(result: dict) -> dict:
    """Counts with the equivalent mutants of the current ``EQUIVALENTS`` list (matched when the
    page is written, so editing the list needs no new run)."""
    counts = dict(result["counts"])
    matches = [_equivalent(s["key"], s["removed"], s["added"]) for s in result.get("survivors", [])]
    counts["equivalent"] = sum(1 for m in matches if m is not None)
    counts["device_only"] = sum(1 for m in matches if m is not None and m.device_only)
    return counts


# -- hand-written mutants -----------------------------------------------------------------------
def run_named(selected: list[NamedMutant], timeout: float, work: Path | None = None) -> list[dict]:
    results = []
    dest = work or WORK / "named"
    tests = sorted({t for m in selected for t in m.tests if (ROOT / _test_file(t)).exists()})
    _copy_tree(dest, tests)
    env = _env()
    env["PYTHONPATH"] = str(dest / "src")  # ahead of the editable install's path entry
    pytest = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-W", "ignore"]
    baseline: dict[tuple[str, ...], int] = {}
    for mutant in selected:
        path = dest / mutant.file
        tests = tuple(t for t in mutant.tests if (ROOT / _test_file(t)).exists())
        row = {"name": mutant.name, "module": mutant.module, "file": mutant.file, "what": mutant.what,
               "old": mutant.old, "new": mutant.new, "tests": list(tests)}
        text = path.read_text() if path.exists() else ""
        if text.count(mutant.old) != 1 or not tests:
            row["status"] = "stale" if tests else "no tests"
            row["detail"] = f"the text occurs {text.count(mutant.old)} times in {mutant.file}" if tests else ""
            results.append(row)
            continue
        if tests not in baseline:
            proc = subprocess.run([*pytest, *tests], cwd=dest, env=env, capture_output=True, timeout=timeout)
            baseline[tests] = proc.returncode
        if baseline[tests] != 0:
            row["status"] = "baseline fails"
            results.append(row)
            continue
        path.write_text(text.replace(mutant.old, mutant.new))
        started = time.perf_counter()
        try:
            proc = subprocess.run([*pytest, *tests], cwd=dest, env=env, capture_output=True, text=True, timeout=timeout)
            row["status"] = "killed" if proc.returncode != 0 else "survived"
            failed = re.findall(r"^FAILED (\S+)", proc.stdout, re.M) or re.findall(r"^ERROR (\S+)", proc.stdout, re.M)
            row["detail"] = failed[0] if failed else ""
        except subprocess.TimeoutExpired:
            row["status"], row["detail"] = "timeout", f"> {timeout:.0f} s"
        finally:
            path.write_text(text)
        row["wall_s"] = round(time.perf_counter() - started, 1)
        results.append(row)
        print(f"  named {mutant.name}: {row['status']} {row.get('detail', '')}", flush=True)
    return results


# -- docs/testing.md ----------------------------------------------------------------------------
def _score(counts: dict, device_only_as_survivors: bool = False) -> float | None:
    detected = counts["killed"] + counts["timeout"]
    excluded = counts["equivalent"] - (counts.get("device_only", 0) if device_only_as_survivors else 0)
    denominator = counts["total"] - excluded
    return detected / denominator if denominator else None


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'")


def render(data: dict) -> str:
    modules = data.get("modules", {})
    lines = [BEGIN, "", "### Scores", ""]
    lines += [
        "| module | mutants | killed | timed out | survived | no tests | equivalent | score | target | "
        "score with device-only as survivors | wall | measured |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in MODULES:
        r = modules.get(name)
        if r is None or r.get("status") != "measured":
            why = "not measured yet" if r is None else r.get("status", "?")
            lines.append(f"| {name} | {why} | | | | | | | {MODULES[name].target:.0%} | | | |")
            continue
        c = _with_equivalents(r)
        score, strict = _score(c), _score(c, device_only_as_survivors=True)
        mark = "" if score is None or score >= r["target"] else " (below)"
        if c["not_checked"]:  # an interrupted run: the score so far counts the unrun mutants as survivors
            run = c["total"] - c["not_checked"]
            ran = dict(c, total=run, not_checked=0)
            partial = _score(ran)
            mark += (
                f"; INCOMPLETE: {c['not_checked']} of {c['total']} mutants not run, "
                f"{'-' if partial is None else f'{partial:.1%}'} of the {run} run"
            )
        undetected = c["survived"] + c["suspicious"] + c["not_checked"] + c["no_tests"] - c["equivalent"]
        equivalent = f"{c['equivalent']}" + (f" ({c['device_only']} device-only)" if c["device_only"] else "")
        lines.append(
            f"| {name} | {c['total']} | {c['killed']} | {c['timeout']} | {undetected} | {c['no_tests']} | "
            f"{equivalent} | {'-' if score is None else f'{score:.1%}'}{mark} | {r['target']:.0%} | "
            f"{'-' if strict is None else f'{strict:.1%}'} | {r['wall_s'] / 60:.1f} min | {r['date']} |"
        )
    lines += [
        "",
        "Score = (killed + timed out) / (mutants - equivalent). \"survived\" counts every mutant not killed "
        "and not equivalent, those without tests included. \"device-only\" mutants place a tensor on the CPU "
        "instead of the input's device: no test on a CPU-only machine can tell them apart, so they are listed "
        "with the equivalent ones, and the next-to-last column counts them as survivors instead.",
        "",
    ]
    named = data.get("named", [])
    if named:
        lines += ["### Hand-written mutants (module-level constants and the issue's examples)", ""]
        lines += ["| mutant | module | what | result | first failing test |", "|---|---|---|---|---|"]
        for row in named:
            lines.append(
                f"| {row['name']} | {row['module']} | {_md(row['what'])} | {row['status']} | "
                f"{_md(row.get('detail', ''))} |"
            )
        lines += ["", f"Measured {data.get('named_date', '?')} with `{data.get('named_command', '')}`.", ""]
    lines += ["### Per module", ""]
    for name in MODULES:
        r = modules.get(name)
        if r is None or r.get("status") != "measured":
            continue
        lines += [f"#### {name}", ""]
        dirty = ", ".join(r["dirty"]) or "none"
        files = ", ".join(f"`{f}` ({r['sha256'][f]})" for f in r["files"])
        tests = ", ".join(f"`{t}`" for t in r["tests"])
        absent = ", ".join(r.get("missing_tests", []))
        lines += [
            f"- files: {files}; differing from HEAD {r['head']}: {dirty}",
            f"- tests: {tests}" + (f" (absent then: {absent})" if absent else ""),
        ]
        if r.get("note"):
            lines.append(f"- scope: {r['note']}")
        if r.get("uncached"):
            uncached = ", ".join(r["uncached"])
            lines.append(f"- cache decorators removed in the copy (so mutmut mutates those functions): {uncached}")
        if r.get("retested"):
            rt = r["retested"]
            lines.append(
                f"- measured in two steps: all mutants on {rt['first_run']} ({rt['first_wall_s'] / 60:.1f} min), then "
                f"the {rt['mutants']} undetected ones again on {rt['date']} after tests were added "
                f"(`--retest-undetected`, {rt['wall_s'] / 60:.1f} min); the plain command measures all at once"
            )
        lines += [
            f"- command: `nice -n 19 .venv/bin/python scripts/mutation.py {name}` "
            f"(mutmut in `.mutation/{name}/`, {r['wall_s'] / 60:.1f} min wall)",
            f"- machine: {r['machine']}",
            f"- raw results (counts, every undetected mutant's diff): `docs/results/mutation/{name}.json`",
            "",
        ]
        survivors = [sv for sv in r.get("survivors", []) if sv["status"] != "not checked"]
        unrun = len(r.get("survivors", [])) - len(survivors)
        if unrun:
            lines += [f"- {unrun} mutants were not run (the run was interrupted); their names are in the JSON file", ""]
        if survivors:
            lines += ["| mutant | status | original | mutated | equivalent because |", "|---|---|---|---|---|"]
            for sv in survivors:
                short = sv["key"].rpartition(".")[2]
                eq = _equivalent(sv["key"], sv["removed"], sv["added"])
                why = "" if eq is None else ("device-only: " if eq.device_only else "") + eq.reason
                lines.append(
                    f"| {_md(short)} | {sv['status']} | `{_md(sv['removed'])[:160]}` | "
                    f"`{_md(sv['added'])[:160]}` | {_md(why)} |"
                )
            lines.append("")
    lines.append(END)
    return "\n".join(lines)


def _result_path(name: str) -> Path:
    return RESULTS / f"{name}.json"


def write_doc(data: dict) -> None:
    """The tables into ``docs/testing.md`` (between its markers), the raw results (every
    surviving mutant's diff, counts, hashes) into ``docs/results/mutation/<module>.json``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    for name, result in data.get("modules", {}).items():
        _result_path(name).write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    if data.get("named"):
        named = {"date": data.get("named_date"), "command": data.get("named_command"), "rows": data["named"]}
        _result_path("named").write_text(json.dumps(named, indent=1, ensure_ascii=False) + "\n")
    text = DOC.read_text() if DOC.exists() else f"# Testing\n\n{BEGIN}\n{END}\n"
    text = DATA_RE.sub("", text).rstrip() + "\n"  # results once embedded here now live in RESULTS
    block = render(data)
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOC.write_text(text)


def read_data() -> dict:
    data: dict = {"modules": {}, "named": []}
    if DOC.exists():  # results embedded by earlier versions of this script
        found = DATA_RE.search(DOC.read_text())
        if found:
            data.update(json.loads(found.group(1).replace("- -", "--")))
    for name in MODULES:
        if _result_path(name).exists():
            data["modules"][name] = json.loads(_result_path(name).read_text())
    if _result_path("named").exists():
        named = json.loads(_result_path("named").read_text())
        data.update(named=named["rows"], named_date=named["date"], named_command=named["command"])
    return data


# -- command line -------------------------------------------------------------------------------
def _changed_modules() -> list[str]:
    result = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True)
    changed = {line[3:].strip() for line in result.stdout.splitlines()}
    return [n for n, t in MODULES.items() if any(f in changed for f in _files(t))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help=f"modules to measure: {', '.join(MODULES)}")
    parser.add_argument("--all", action="store_true", help="measure every module")
    parser.add_argument("--changed", action="store_true", help="modules with files that differ from HEAD")
    parser.add_argument("--list", action="store_true", help="print the modules, their files and tests")
    parser.add_argument("--named-only", action="store_true", help="only the hand-written mutants of the modules")
    parser.add_argument("--no-named", action="store_true", help="skip the hand-written mutants")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per module (default: none)")
    parser.add_argument("--jobs", type=int, default=1, help="mutants tested at once (default 1)")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/testing.md")
    parser.add_argument("--machine-note", default="", help="added to the machine line (e.g. what else ran)")
    parser.add_argument(
        "--collect", action="store_true",
        help="count what an interrupted run left in .mutation/<module>/ (unrun mutants count as not checked)",
    )
    parser.add_argument(
        "--retest-undetected", action="store_true",
        help="rerun only the mutants the last run did not detect (after adding tests; the module's files must be "
        "unchanged since that run, and its killed mutants stay killed since tests were only added)",
    )
    parser.add_argument("--render", action="store_true", help="only rewrite docs/testing.md from its stored results")
    args = parser.parse_args(argv)

    if args.list:
        for name, target in MODULES.items():
            print(f"{name}: {' '.join(_files(target)) or '(absent)'}\n    tests: {' '.join(target.tests)}")
        return 0
    if args.render:
        write_doc(read_data())
        return 0
    names = list(MODULES) if args.all else (_changed_modules() if args.changed else args.modules)
    unknown = [n for n in names if n not in MODULES]
    if unknown or not names:
        parser.error(f"name modules from: {', '.join(MODULES)}" + (f" (unknown: {unknown})" if unknown else ""))
    data = read_data()
    WORK.mkdir(exist_ok=True)
    if not args.named_only:
        for name in names:
            print(f"mutmut: {name} ...", flush=True)
            if args.retest_undetected:
                result = retest_undetected(name, data["modules"].get(name), args.timeout, args.jobs, args.machine_note)
            else:
                result = run_module(name, MODULES[name], args.timeout, args.jobs, args.machine_note, args.collect)
            data["modules"][name] = result
            if result["status"] == "measured":
                c = _with_equivalents(result)
                score = _score(c)
                shown = "-" if score is None else f"{score:.1%}"
                print(f"  {c['total']} mutants, {c['killed']} killed, {c['timeout']} timed out, "
                      f"{c['survived']} survived, {c['no_tests']} without tests: score {shown} "
                      f"({result['wall_s'] / 60:.1f} min)", flush=True)
            else:
                print(f"  {result['status']}: {result.get('log_tail', '')}", flush=True)
            if not args.no_doc:
                # Read again before writing: another run of this script may have measured another module.
                fresh = read_data()
                fresh["modules"][name] = result
                write_doc(fresh)
    if not args.no_named:
        selected = [m for m in NAMED_MUTANTS if m.module in names]
        if selected:
            print(f"hand-written mutants: {len(selected)} ...", flush=True)
            rows = run_named(selected, timeout=args.timeout or 900, work=WORK / "named" / "-".join(names))
            data = read_data()
            kept = [r for r in data.get("named", []) if r["name"] not in {m.name for m in selected}]
            order = {m.name: i for i, m in enumerate(NAMED_MUTANTS)}
            data["named"] = sorted(kept + rows, key=lambda r: order.get(r["name"], len(order)))
            data["named_date"] = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
            data["named_command"] = "nice -n 19 .venv/bin/python scripts/mutation.py " + " ".join(
                (["--named-only"] if args.named_only else []) + names
            )
            if not args.no_doc:
                write_doc(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
