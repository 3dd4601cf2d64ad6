"""torch.compile and mixed precision.

- Every loss traces into one graph, 0 graph breaks (``torch._dynamo.explain``), in float32 and
  under CPU bf16 autocast; the NumPy sort stays in the graph as the ``pdloss::numpy_sort`` op.
- Compiled values and input gradients equal eager ones: with the ``aot_eager`` backend (the
  graph capture and autograd of torch.compile, without code generation; fast) for every loss, and
  with the default inductor backend (C++ code generation) for the PDL, marked slow. Tolerances:
  float32 rtol 1e-5 / atol 1e-6 relative to eager; under bf16 autocast rtol 2e-2 / atol 1e-3 (the
  compiler may round bf16 intermediates differently).
- Inside a compiled graph, NaN and an out-of-range target still stop the call.
- ``pdloss.autocast_dtype``: native mixed precision or None; the emulated-bf16 warning does not
  break the graph.

Inputs are tiny (2 x 3 x 16 x 16, one VGG block of random weights): compiling is slow.
"""

from __future__ import annotations

import contextlib
import shutil

import pytest
import torch
from torch import nn

import pdloss
import pdloss.amp as amp
from pdloss.functional.sorting import sort_backend
from pdloss.losses.pixel import PixelLoss
from pdloss.losses.registry import build_loss

FEATURES = {"weights": "random", "layers": "relu1_1"}

CASES = {
    "l1": lambda: PixelLoss(),
    "perceptual-l1": lambda: build_loss("perceptual-l1", **FEATURES),
    "perceptual-l2": lambda: build_loss("perceptual-l2", **FEATURES),
    "ctx-dp": lambda: build_loss("ctx-dp", **FEATURES),
    "ctx-l2": lambda: build_loss("ctx-l2", **FEATURES),
    "pdl-id": lambda: build_loss("pdl", **FEATURES),
    "pdl-r2p": lambda: build_loss("pdl", projection="r2p", **FEATURES),
    "pdl-rpp": lambda: build_loss("pdl", projection="rpp", **FEATURES),
    "pdl-rsp": lambda: build_loss("pdl", projection="rsp", **FEATURES),
    # The generator's adversarial term alone (pixel_weight=0), through forward.
    "adversarial": lambda: build_loss("adversarial", pixel_weight=0.0, base_channels=2, hidden=4, pool_size=1),
    # FDL (a baseline, not in the list): 4 projections of 3x3 patches, the FFT in the graph.
    "fdl": lambda: build_loss("fdl", num_proj=4, patch_size=3, **FEATURES),
}
PRECISIONS = ("fp32", "bf16")

needs_dynamo = pytest.mark.skipif(
    not torch._dynamo.is_dynamo_supported(), reason="torch.compile (dynamo) is not supported on this Python/platform"
)
needs_cxx = pytest.mark.skipif(
    not any(shutil.which(c) for c in ("g++", "c++", "clang++")),
    reason="the inductor backend of torch.compile needs a C++ compiler (g++/clang++), none found",
)


@pytest.fixture(autouse=True)
def _fresh_compiler():
    # Compiled code is cached per code object (FeatureLoss.forward is shared by several losses):
    # start every test from an empty cache so none hits the recompile limit or reuses a graph.
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def precision(name: str):
    return torch.autocast("cpu", dtype=torch.bfloat16) if name == "bf16" else contextlib.nullcontext()


def inputs() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    return torch.rand(2, 3, 16, 16, generator=g), torch.rand(2, 3, 16, 16, generator=g)


def value_and_grad(fn, u: torch.Tensor, v: torch.Tensor, precision_name: str):
    x = u.clone().requires_grad_(True)
    with precision(precision_name):
        value = fn(x, v)
    value.backward()
    return value.detach(), x.grad


def tolerance(precision_name: str) -> dict:
    return dict(rtol=2e-2, atol=1e-3) if precision_name == "bf16" else dict(rtol=1e-5, atol=1e-6)


@needs_dynamo
@pytest.mark.parametrize("precision_name", PRECISIONS)
@pytest.mark.parametrize("case", list(CASES))
def test_every_loss_compiles_without_graph_breaks(case, precision_name):
    loss = CASES[case]()
    u, v = inputs()
    with precision(precision_name):
        explanation = torch._dynamo.explain(loss)(u.requires_grad_(True), v)
    reasons = [str(b.reason).splitlines()[0] for b in explanation.break_reasons]
    assert explanation.graph_break_count == 0, reasons
    assert explanation.graph_count == 1
    if case == "pdl-id":  # 256 positions with a gradient: the default ("auto") sorts with NumPy, in the graph
        assert "pdloss.numpy_sort" in explanation.graphs[0].code


def small_discriminator() -> nn.Module:
    # For the value test of the generator term: the same kinds of layers as SRGANDiscriminator (its 23
    # layers take dynamo tens of seconds to trace; the graph-break tests above trace the real one).
    return nn.Sequential(nn.Conv2d(3, 4, 3, stride=4), nn.BatchNorm2d(4), nn.LeakyReLU(0.2), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(4, 1), nn.Flatten(0))


VALUE_CASES = {**CASES, "adversarial": lambda: build_loss("adversarial", pixel_weight=0.0,
                                                         discriminator=small_discriminator())}


@needs_dynamo
@pytest.mark.parametrize("case", list(VALUE_CASES))
def test_compiled_value_and_gradient_equal_eager(case):
    loss = VALUE_CASES[case]()
    u, v = inputs()
    expected = value_and_grad(loss, u, v, "fp32")
    # fullgraph=True: any graph break would be an error here too.
    got = value_and_grad(torch.compile(loss, backend="aot_eager", fullgraph=True), u, v, "fp32")
    torch.testing.assert_close(got, expected, **tolerance("fp32"))
    if case == "adversarial":  # the generator term leaves the discriminator's parameters alone, compiled too
        assert all(p.grad is None and p.requires_grad for p in loss.discriminator.parameters())


@needs_dynamo
@pytest.mark.parametrize("case", ["pdl-rsp", "ctx-dp"])
def test_compiled_value_and_gradient_equal_eager_under_bf16_autocast(case):
    loss = CASES[case]()
    u, v = inputs()
    expected = value_and_grad(loss, u, v, "bf16")
    got = value_and_grad(torch.compile(loss, backend="aot_eager", fullgraph=True), u, v, "bf16")
    torch.testing.assert_close(got, expected, **tolerance("bf16"))


@needs_dynamo
def test_contextual_sampling_compiles_without_graph_breaks():
    # 256 positions > max_positions: sampled, from torch's global generator while compiling (a
    # torch.Generator object cannot be traced).
    loss = build_loss("ctx-dp", max_positions=64, **FEATURES)
    u, v = inputs()
    explanation = torch._dynamo.explain(loss)(u.requires_grad_(True), v)
    assert explanation.graph_break_count == 0 and explanation.graph_count == 1
    assert "randperm" in explanation.graphs[0].code


@needs_dynamo
def test_the_sort_chosen_at_trace_time_is_in_the_graph():
    loss = CASES["pdl-id"]()
    u, v = inputs()
    with sort_backend("torch"):
        explanation = torch._dynamo.explain(loss)(u.requires_grad_(True), v)
    code = explanation.graphs[0].code
    assert explanation.graph_break_count == 0
    assert "pdloss.numpy_sort" not in code and "torch.sort" in code


@needs_dynamo
@needs_cxx
@pytest.mark.slow
def test_inductor_pdl_equals_eager_and_keeps_the_value_checks():
    # The real backend: C++ kernels around the NumPy sort op, and the checks as in-graph asserts.
    loss = CASES["pdl-id"]()
    u, v = inputs()
    compiled = torch.compile(loss, fullgraph=True)
    for precision_name in PRECISIONS:
        torch.testing.assert_close(
            value_and_grad(compiled, u, v, precision_name),
            value_and_grad(loss, u, v, precision_name),
            **tolerance(precision_name),
        )
    with pytest.raises(RuntimeError, match="prediction contains NaN or Inf"):
        compiled(torch.full_like(u, float("nan")), v)
    with pytest.raises(RuntimeError, match="target has values far outside the declared range"):
        compiled(u, v * 255)
    assert torch.isfinite(compiled(u * 4, v))  # the prediction's range is not an error


@needs_dynamo
def test_emulated_bf16_warning_is_given_while_tracing_without_a_graph_break(monkeypatch):
    monkeypatch.setattr(amp, "_warned_emulated_bf16", False)
    monkeypatch.setattr(amp, "cpu_supports_bf16", lambda: False)
    u, v = inputs()
    with pytest.warns(amp.EmulatedBF16Warning, match="pdloss.autocast_dtype"), precision("bf16"):
        explanation = torch._dynamo.explain(PixelLoss())(u, v)
    assert explanation.graph_break_count == 0 and explanation.graph_count == 1


# -- mixed precision ---------------------------------------------------------------------------


@pytest.mark.parametrize(("flags", "expected"), [({"avx512_bf16"}, torch.bfloat16), ({"amx_bf16"}, torch.bfloat16),
                                                 ({"avx2", "fma"}, None), (set(), None)])
def test_autocast_dtype_on_cpu_follows_native_bf16(monkeypatch, flags, expected):
    monkeypatch.setattr(amp, "_cpuinfo_flags", lambda: frozenset(flags))
    assert pdloss.autocast_dtype("cpu") is expected
    assert pdloss.autocast_dtype(torch.device("cpu")) is expected
    assert amp.amp_dtype("auto", "cpu") is expected


def test_autocast_dtype_elsewhere_and_the_trainer_modes(monkeypatch):
    assert pdloss.autocast_dtype("meta") is None
    if not torch.cuda.is_available():
        assert pdloss.autocast_dtype("cuda") is None
    assert amp.amp_dtype("none", "cpu") is None
    assert amp.amp_dtype("bf16", "cpu") is torch.bfloat16
    assert amp.amp_dtype("fp16", "cpu") is torch.float16
    from pdloss.train import trainer

    assert trainer.amp_dtype is amp.amp_dtype and trainer.cpu_supports_bf16 is amp.cpu_supports_bf16


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [("ONEDNN_MAX_CPU_ISA", "AVX2", None), ("ONEDNN_MAX_CPU_ISA", "avx512_core", None),
     ("DNNL_MAX_CPU_ISA", "AVX512_CORE_VNNI", None), ("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16", torch.bfloat16),
     ("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_AMX", torch.bfloat16), ("ONEDNN_MAX_CPU_ISA", "ALL", torch.bfloat16),
     ("ONEDNN_MAX_CPU_ISA", "", torch.bfloat16)],
)
def test_autocast_dtype_follows_a_onednn_isa_cap(monkeypatch, variable, value, expected):
    # A CPU with AVX512-BF16 whose oneDNN is capped below bf16 computes bf16 by emulation.
    monkeypatch.setattr(amp, "_cpuinfo_flags", lambda: frozenset({"avx512_bf16"}))
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    monkeypatch.setenv(variable, value)
    assert pdloss.autocast_dtype("cpu") is expected
    assert amp.amp_dtype("auto", "cpu") is expected


def test_cpu_flags_come_from_proc_cpuinfo():
    try:
        with open("/proc/cpuinfo") as f:
            flags = set(f.read().split())
    except OSError:
        pytest.skip("no /proc/cpuinfo on this system")
    assert amp.cpu_supports_bf16() == (bool(flags & {"avx512_bf16", "amx_bf16"}) and amp._onednn_isa_allows_bf16())
