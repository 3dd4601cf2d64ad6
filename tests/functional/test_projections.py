"""Each projection kind has its defining property."""

from __future__ import annotations

import pytest
import torch

from pdloss.functional.projections import make_projection


def test_identity_is_exact():
    assert torch.equal(make_projection("id", 7), torch.eye(7))
    with pytest.raises(ValueError):
        make_projection("id", 7, factor=2)


@pytest.mark.parametrize("factor", [1, 4])
def test_rsp_rows_are_unit_vectors_spread_over_the_sphere(factor):
    w = make_projection("rsp", 64, factor, torch.Generator().manual_seed(1))
    assert w.shape == (64 * factor, 64)
    torch.testing.assert_close(w.norm(dim=1), torch.ones(64 * factor))
    # Uniform on the sphere: mean direction near 0, E[w_i^2] = 1/C per coordinate.
    assert w.mean(0).abs().max() < 4 / (64 * factor) ** 0.5
    assert (w.pow(2).mean() * 64).item() == pytest.approx(1.0, rel=1e-5)


def test_r2p_rows_have_two_distinct_nonzeros_and_unit_norm():
    w = make_projection("r2p", 32, 8, torch.Generator().manual_seed(2))
    assert w.shape == (256, 32)
    assert ((w != 0).sum(1) == 2).all()
    torch.testing.assert_close(w.norm(dim=1), torch.ones(256))
    assert (w != 0).any(0).all()  # with 256 rows every channel is picked somewhere


def test_rpp_is_close_to_identity():
    w = make_projection("rpp", 50, 2, torch.Generator().manual_seed(3), perturbation=0.01)
    assert w.shape == (100, 50)
    eye = torch.eye(50).repeat(2, 1)
    assert (w - eye).abs().max() < 0.06
    assert not torch.equal(w, eye)
    torch.testing.assert_close(w.norm(dim=1), torch.ones(100))


def test_seeded_generators_reproduce_and_differ():
    a = make_projection("rsp", 16, 1, torch.Generator().manual_seed(5))
    b = make_projection("rsp", 16, 1, torch.Generator().manual_seed(5))
    c = make_projection("rsp", 16, 1, torch.Generator().manual_seed(6))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("args", [("xyz", 4), ("rsp", 0), ("rsp", 4, 0), ("r2p", 1)])
def test_bad_arguments(args):
    with pytest.raises(ValueError):
        make_projection(*args)
