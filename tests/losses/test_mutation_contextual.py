"""The contextual maths on hand-computed cases and with every error's whole message (the loss
itself is checked against a loop implementation in ``tests/test_contextual.py``)."""

from __future__ import annotations

import math

import pytest
import torch

from pdloss.errors import InputError
from pdloss.functional import contextual as cx_module
from pdloss.functional.contextual import (
    CONTEXTUAL_DISTANCES,
    contextual_bilateral_loss,
    contextual_loss,
    contextual_similarity,
    position_coordinates,
    sample_positions,
)


def test_constants_are_the_papers():
    assert CONTEXTUAL_DISTANCES == ("cosine", "l2")
    assert cx_module.EPSILON == 1e-5  # the relative distance's epsilon (paper, reference code)


def test_similarity_by_hand_l2():
    # One channel; prediction (0, 3), target (1, 2): target mean 1.5, centring keeps L2 distances.
    u = torch.tensor([[[0.0, 3.0]]], dtype=torch.float64)
    v = torch.tensor([[[1.0, 2.0]]], dtype=torch.float64)
    cx = contextual_similarity(u, v, "l2", bandwidth=0.5)
    # Row 0: d = (1, 4), min 1 -> d~ = (1, 4) / (1 + 1e-5); logits (1 - d~) / 0.5.
    for row, d in ((0, (1.0, 4.0)), (1, (4.0, 1.0))):
        rel = [x / (min(d) + 1e-5) for x in d]
        e = [math.exp((1 - r) / 0.5) for r in rel]
        expected = [x / sum(e) for x in e]
        torch.testing.assert_close(cx[0, row], torch.tensor(expected, dtype=torch.float64), rtol=1e-13, atol=0)
    assert cx.shape == (1, 2, 2)


def test_similarity_by_hand_cosine():
    # Two channels; after centring on the target mean (0, 0): u = (1, 0), v = (1, 0) and (-1, 0).
    u = torch.tensor([[[1.0], [0.0]]], dtype=torch.float64)  # (1, C=2, N=1)
    v = torch.tensor([[[1.0, -1.0], [0.0, 0.0]]], dtype=torch.float64)  # (1, 2, M=2)
    cx = contextual_similarity(u, v, "cosine", bandwidth=1.0)
    # d = ((1 - 1) / 2, (1 + 1) / 2) = (0, 1); d~ = (0, 1 / 1e-5); logits 1 - d~.
    e = [math.exp(1.0), math.exp(1 - 1 / 1e-5)]
    torch.testing.assert_close(cx[0, 0], torch.tensor([e[0] / sum(e), e[1] / sum(e)], dtype=torch.float64))


def test_loss_by_hand():
    # Identical maps: every target feature has its exact match -> CX_jj close to 1 -> loss ~ 0.
    f = torch.tensor([[[[0.0, 1.0, 3.0]]]], dtype=torch.float64)
    assert contextual_loss(f, f, "l2").item() == pytest.approx(0.0, abs=1e-6)
    # Hand value for prediction (0, 3), target (1, 2), L2, h = 0.5: CX = mean_j max_i CX_ij.
    fu = torch.tensor([[[[0.0, 3.0]]]], dtype=torch.float64)
    fv = torch.tensor([[[[1.0, 2.0]]]], dtype=torch.float64)
    rel = [1 / (1 + 1e-5), 4 / (1 + 1e-5)]
    e = [math.exp((1 - r) / 0.5) for r in rel]
    best = e[0] / sum(e)  # by symmetry each target column's max is this value
    assert contextual_loss(fu, fv, "l2").item() == pytest.approx(-math.log(best), rel=1e-12)
    # The loss lies in [0, log M].
    assert 0 <= contextual_loss(fu, fv).item() <= math.log(2)


def test_bilateral_by_hand_and_its_default_weight():
    fu = torch.tensor([[[[0.0, 3.0]]]], dtype=torch.float64)
    fv = torch.tensor([[[[1.0, 2.0]]]], dtype=torch.float64)
    # Features: the rows of test_loss_by_hand. Positions (0, 0) and (0, 1/2) in both maps.
    rel = [1 / (1 + 1e-5), 4 / (1 + 1e-5)]
    e = [math.exp((1 - r) / 0.5) for r in rel]
    feat = [[e[0] / sum(e), e[1] / sum(e)], [e[1] / sum(e), e[0] / sum(e)]]
    # Spatial squared distances: 0 on the diagonal, 1/4 off it; min 0 -> d~ = d / 1e-5.
    s = [math.exp(1 / 0.5), math.exp((1 - 0.25 / 1e-5) / 0.5)]
    spatial = [[s[0] / sum(s), s[1] / sum(s)], [s[1] / sum(s), s[0] / sum(s)]]
    for weight in (0.1, 0.7):
        mixed = [[(1 - weight) * feat[i][j] + weight * spatial[i][j] for j in range(2)] for i in range(2)]
        score = sum(max(mixed[i][j] for i in range(2)) for j in range(2)) / 2
        got = contextual_bilateral_loss(fu, fv, weight, "l2")
        assert got.item() == pytest.approx(-math.log(score), rel=1e-12), weight
    assert contextual_bilateral_loss(fu, fv, distance="l2").item() == pytest.approx(
        contextual_loss(fu, fv, "l2", spatial_weight=0.1).item(), rel=1e-15
    )
    with pytest.raises(InputError) as info:
        contextual_bilateral_loss(fu, fv, 0)
    assert str(info.value) == "spatial_weight must be > 0 for CoBi; use contextual_loss for the plain loss"


def test_position_coordinates_by_hand():
    coords = position_coordinates(2, 4, dtype=torch.float64)
    expected = [[r / 2, c / 4] for r in range(2) for c in range(4)]
    assert coords.dtype == torch.float64 and coords.tolist() == expected
    assert position_coordinates(1, 1).dtype == torch.float32


def test_sample_positions_is_a_prefix_of_randperm():
    g = torch.Generator().manual_seed(4)
    expected = torch.randperm(10, generator=torch.Generator().manual_seed(4))[:3]
    assert torch.equal(sample_positions(10, 3, g), expected)
    torch.manual_seed(8)
    expected = torch.randperm(10)[:4]
    torch.manual_seed(8)
    assert torch.equal(sample_positions(10, 4), expected)


def test_sampling_draws_each_larger_map_with_the_generator():
    g = torch.Generator().manual_seed(0)
    fu = torch.randn(1, 2, 3, 4, generator=g, dtype=torch.float64)  # 12 positions
    fv = torch.randn(1, 2, 2, 3, generator=g, dtype=torch.float64)  # 6 positions
    # Only the prediction has more than 8 positions: 8 of its positions, all of the target's.
    index = torch.randperm(12, generator=torch.Generator().manual_seed(5))[:8]
    u = fu.flatten(2)[:, :, index].reshape(1, 2, 2, 4)
    got = contextual_loss(fu, fv, "l2", max_positions=8, generator=torch.Generator().manual_seed(5))
    assert got.item() == pytest.approx(contextual_loss(u, fv, "l2").item(), rel=1e-13)
    # Both larger: the prediction's draw first, then the target's, from one generator.
    g = torch.Generator().manual_seed(6)
    iu, iv = torch.randperm(12, generator=g)[:5], torch.randperm(6, generator=g)[:5]
    u, v = fu.flatten(2)[:, :, iu].unsqueeze(2), fv.flatten(2)[:, :, iv].unsqueeze(2)
    got = contextual_loss(fu, fv, "l2", max_positions=5, generator=torch.Generator().manual_seed(6))
    assert got.item() == pytest.approx(contextual_loss(u, v, "l2").item(), rel=1e-13)
    # Bilateral: the coordinates of the sampled positions come along.
    got = contextual_loss(fu, fv, "l2", max_positions=5, generator=torch.Generator().manual_seed(6), spatial_weight=0.5)
    coords_u = position_coordinates(3, 4, dtype=torch.float64)[iu]
    coords_v = position_coordinates(2, 3, dtype=torch.float64)[iv]
    squared = (coords_u[:, None] - coords_v[None]).square().sum(-1)
    feat = contextual_similarity(u.flatten(2), v.flatten(2), "l2")
    spatial = cx_module._similarity_from_distances(squared, 0.5)
    mixed = 0.5 * feat + 0.5 * spatial
    assert got.item() == pytest.approx(-math.log(mixed.max(dim=1).values.mean().item()), rel=1e-12)
    # No sampling when neither map exceeds the bound.
    exact = contextual_loss(fu, fv, "l2")
    assert contextual_loss(fu, fv, "l2", max_positions=12).item() == exact.item()


def test_output_dtype_follows_the_inputs():
    a32, a64 = torch.rand(1, 2, 2, 2), torch.rand(1, 2, 2, 2, dtype=torch.float64)
    assert contextual_loss(a32, a32).dtype == torch.float32
    assert contextual_loss(a32, a64).dtype == torch.float64
    assert contextual_loss(a64, a32).dtype == torch.float64
    assert contextual_loss(a32.half(), a32.half()).dtype == torch.float32


def test_chunks_without_gradients_and_with_them(monkeypatch):
    g = torch.Generator().manual_seed(1)
    fu = torch.randn(5, 3, 2, 2, generator=g, dtype=torch.float64)
    fv = torch.randn(5, 3, 2, 3, generator=g, dtype=torch.float64)
    whole = contextual_loss(fu, fv, reduction="none")
    monkeypatch.setattr(cx_module, "_CHUNK_ELEMENTS", 2 * 4 * 6)  # two images per chunk
    calls = []
    real = cx_module.checkpoint
    monkeypatch.setattr(cx_module, "checkpoint", lambda *a, **k: calls.append(k) or real(*a, **k))
    with torch.no_grad():
        torch.testing.assert_close(contextual_loss(fu, fv, reduction="none"), whole, rtol=0, atol=1e-15)
    torch.testing.assert_close(contextual_loss(fu, fv, reduction="none"), whole, rtol=0, atol=1e-15)
    assert calls == []  # no gradient needed: nothing checkpointed
    x = fu.clone().requires_grad_(True)
    chunked = contextual_loss(x, fv, reduction="sum")
    assert calls == [{"use_reentrant": False}] * 3  # chunks of 2, 2, 1 images
    (grad,) = torch.autograd.grad(chunked, x)
    monkeypatch.setattr(cx_module, "_CHUNK_ELEMENTS", 2**25)
    y = fu.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad(contextual_loss(y, fv, reduction="sum"), y)
    torch.testing.assert_close(grad, expected, rtol=1e-12, atol=1e-15)
    monkeypatch.setattr(cx_module, "_CHUNK_ELEMENTS", 1)  # a matrix larger than a chunk: one image at a time
    torch.testing.assert_close(contextual_loss(fu, fv, reduction="none"), whole, rtol=0, atol=1e-15)
    assert cx_module._CHUNK_ELEMENTS == 1


def test_target_gradients_are_checkpointed_too(monkeypatch):
    fu, fv = torch.rand(3, 2, 2, 2, dtype=torch.float64), torch.rand(3, 2, 2, 2, dtype=torch.float64)
    monkeypatch.setattr(cx_module, "_CHUNK_ELEMENTS", 16)
    calls = []
    real = cx_module.checkpoint
    monkeypatch.setattr(cx_module, "checkpoint", lambda *a, **k: calls.append(1) or real(*a, **k))
    contextual_loss(fu, fv.requires_grad_(True))
    assert len(calls) == 3


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"distance": "dot"}, "distance must be one of ('cosine', 'l2') (CTXDP, CTXL2), got 'dot'"),
        ({"bandwidth": 0}, "bandwidth must be a positive number (paper: 0.5), got 0"),
        ({"bandwidth": True}, "bandwidth must be a positive number (paper: 0.5), got True"),
        ({"bandwidth": "1"}, "bandwidth must be a positive number (paper: 0.5), got '1'"),
        ({"max_positions": 0}, "max_positions must be None (exact) or a positive integer, got 0"),
        ({"max_positions": True}, "max_positions must be None (exact) or a positive integer, got True"),
        ({"max_positions": 2.0}, "max_positions must be None (exact) or a positive integer, got 2.0"),
        ({"spatial_weight": 1.5}, "spatial_weight must be a number in [0, 1] (CoBi: 0.1), got 1.5"),
        ({"spatial_weight": -0.1}, "spatial_weight must be a number in [0, 1] (CoBi: 0.1), got -0.1"),
        ({"spatial_weight": False}, "spatial_weight must be a number in [0, 1] (CoBi: 0.1), got False"),
        ({"spatial_weight": "0"}, "spatial_weight must be a number in [0, 1] (CoBi: 0.1), got '0'"),
        ({"reduction": "avg"}, "reduction must be 'none', 'mean' or 'sum', got 'avg'"),
    ],
)
def test_bad_options_whole_message(kwargs, message):
    f = torch.rand(1, 2, 2, 2)
    with pytest.raises(InputError) as info:
        contextual_loss(f, f, **kwargs)
    assert str(info.value) == message


def test_edge_options_are_accepted():
    f, g = torch.rand(1, 2, 2, 2), torch.rand(1, 2, 2, 2)
    for kwargs in ({"max_positions": 1}, {"spatial_weight": 1}, {"spatial_weight": 0}, {"bandwidth": 1}):
        assert torch.isfinite(contextual_loss(f, g, **kwargs))


@pytest.mark.parametrize(
    "fu,fv,message",
    [
        (torch.zeros(2, 2, 2), None, "fu must be a floating-point tensor (B, C, H, W), got torch.float32 (2, 2, 2)"),
        (None, torch.zeros(1, 2, 2, 2, dtype=torch.int64),
         "fv must be a floating-point tensor (B, C, H, W), got torch.int64 (1, 2, 2, 2)"),
        ("x", None, "fu must be a floating-point tensor (B, C, H, W), got str ()"),
        (torch.zeros(1, 2, 0, 2), None, "fu is empty: shape (1, 2, 0, 2)"),
        (None, torch.zeros(1, 2, 2, 0), "fv is empty: shape (1, 2, 2, 0)"),
        (torch.zeros(0, 2, 2, 2), torch.zeros(0, 2, 2, 2), "fu is empty: shape (0, 2, 2, 2)"),
        (torch.zeros(1, 0, 2, 2), torch.zeros(1, 0, 2, 2), "fu is empty: shape (1, 0, 2, 2)"),
        (None, torch.zeros(1, 3, 2, 2), "fu and fv must share batch and channels, got (1, 2, 2, 2) and (1, 3, 2, 2)"),
        (None, torch.zeros(2, 2, 2, 2), "fu and fv must share batch and channels, got (1, 2, 2, 2) and (2, 2, 2, 2)"),
    ],
)  # fmt: skip
def test_bad_features_whole_message(fu, fv, message):
    good = torch.zeros(1, 2, 2, 2)
    with pytest.raises(InputError) as info:
        contextual_loss(good if fu is None else fu, good if fv is None else fv)
    assert str(info.value) == message


def test_bilateral_passes_sampling_on():
    g = torch.Generator().manual_seed(2)
    fu, fv = (
        torch.randn(1, 2, 3, 4, generator=g, dtype=torch.float64),
        torch.randn(1, 2, 3, 3, generator=g, dtype=torch.float64),
    )
    got = contextual_bilateral_loss(fu, fv, 0.3, "l2", max_positions=5, generator=torch.Generator().manual_seed(7))
    expected = contextual_loss(
        fu, fv, "l2", max_positions=5, generator=torch.Generator().manual_seed(7), spatial_weight=0.3
    )
    assert got.item() == expected.item()
    assert got.item() != contextual_bilateral_loss(fu, fv, 0.3, "l2").item()  # sampling changed the value
    other = contextual_bilateral_loss(fu, fv, 0.3, "l2", max_positions=5, generator=torch.Generator().manual_seed(8))
    assert other.item() != got.item()  # the generator given is the one drawn from


def test_a_map_of_exactly_max_positions_is_not_sampled():
    # Nothing to sample when a map has exactly max_positions positions: the generator is not drawn
    # from (a later draw, and so a resumed run, depends on every earlier one).
    g = torch.Generator().manual_seed(0)
    fu = torch.randn(1, 2, 3, 4, generator=g, dtype=torch.float64)  # 12 positions
    fv = torch.randn(1, 2, 2, 3, generator=g, dtype=torch.float64)  # 6 positions
    cases = ((fu, fu.flip(-1), 12), (fu, fv, 12), (fv, fu, 12), (fu, fv, 6))
    for pred, target, bound in cases[:3]:
        generator = torch.Generator().manual_seed(1)
        before = generator.get_state()
        contextual_loss(pred, target, "l2", max_positions=bound, generator=generator)
        assert torch.equal(generator.get_state(), before), (pred.shape, target.shape, bound)
    # Only the larger map is drawn when the other has exactly max_positions: one draw, of 12.
    pred, target, bound = cases[3]
    generator = torch.Generator().manual_seed(1)
    contextual_loss(pred, target, "l2", max_positions=bound, generator=generator)
    reference = torch.Generator().manual_seed(1)
    torch.randperm(12, generator=reference)
    assert torch.equal(generator.get_state(), reference.get_state())
    generator = torch.Generator().manual_seed(1)
    contextual_loss(target, pred, "l2", max_positions=bound, generator=generator)
    assert torch.equal(generator.get_state(), reference.get_state())


def test_similarity_defaults_to_the_cosine_distance():
    g = torch.Generator().manual_seed(3)
    u = torch.randn(1, 4, 5, generator=g, dtype=torch.float64)
    v = torch.randn(1, 4, 6, generator=g, dtype=torch.float64)
    torch.testing.assert_close(contextual_similarity(u, v), contextual_similarity(u, v, "cosine"), rtol=0, atol=0)
    assert not torch.allclose(contextual_similarity(u, v), contextual_similarity(u, v, "l2"))


def test_sample_positions_draws_from_the_global_generator_under_compilation(monkeypatch):
    # Under torch.compile (is_compiling() true while dynamo traces) the generator is dropped for the
    # global one: dynamo cannot trace a torch.Generator. Checked by faking the flag, so that the test
    # runs under mutmut, whose trampolines dynamo cannot trace; the compiled sampling loss itself is
    # tested in tests/test_compile.py::test_contextual_sampling_compiles_without_graph_breaks.
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
    generator = torch.Generator().manual_seed(0)
    before = generator.get_state()
    torch.manual_seed(2)
    expected = torch.randperm(10)[:4]
    torch.manual_seed(2)
    assert torch.equal(sample_positions(10, 4, generator), expected)
    assert torch.equal(generator.get_state(), before)  # the generator itself is not drawn from
