"""The published PDL ports of pdloss.bench.peers (rewritten from their description, not losses of
pdloss) against the paper's PDL: the permutation property that separates them, and each port's
formula on a case computed by hand."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def ports():
    from pdloss.bench import peers

    return peers


def relu_features(seed: int, shape=(2, 16, 6, 5)) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g).relu() + 0.01 * torch.rand(shape, generator=g)


def test_a_spatial_permutation_separates_the_ports(ports):
    fu, fv = relu_features(0), relu_features(1)
    permuted = ports.permute_positions(fu, seed=3)
    assert not torch.equal(permuted, fu)
    assert torch.equal(permuted.flatten(2).sort(-1).values, fu.flatten(2).sort(-1).values)
    directions = ports.position_directions(30, count=50, seed=4)
    # The paper's PDL compares distributions over positions: a permutation leaves it exactly as it is.
    assert torch.equal(ports.paper_pdl(permuted, fv), ports.paper_pdl(fu, fv))
    # So does the W2 port (sorted per channel too; only the order of the Wasserstein distance differs).
    torch.testing.assert_close(ports.erfect_w2(permuted, fv), ports.erfect_w2(fu, fv), rtol=1e-6, atol=0)
    # The cumulative-sum and transposed ports depend on where the values are.
    for fn, extra in ((ports.traiNNer_pd, ()), (ports.kataria_transposed, (directions,))):
        before, after = fn(fu, fv, *extra), fn(permuted, fv, *extra)
        assert ((after - before).abs() > 1e-3 * before.abs()).all(), fn.__name__
    # Against itself: a permuted copy is at distance 0 for the paper's PDL and the W2 port, and
    # far from 0 for the other two (compared with the distance between two different maps).
    assert torch.equal(ports.paper_pdl(permuted, fu), torch.zeros(2))
    assert torch.equal(ports.erfect_w2(permuted, fu), torch.zeros(2))
    for fn, extra in ((ports.traiNNer_pd, ()), (ports.kataria_transposed, (directions,))):
        assert (fn(permuted, fu, *extra) > 0.3 * fn(fu, fv, *extra)).all(), fn.__name__


def test_port_formulas_on_a_hand_computed_case(ports):
    # One image, one channel, four positions in raster order.
    fu = torch.tensor([[[[1.0, 0.0], [0.0, 3.0]]]])
    fv = torch.tensor([[[[0.0, 2.0], [2.0, 0.0]]]])
    # paper PDL: sorted (0, 0, 1, 3) vs (0, 0, 2, 2): mean |diff| = (0 + 0 + 1 + 1) / 4
    torch.testing.assert_close(ports.paper_pdl(fu, fv), torch.tensor([0.5]))
    # W2 port: sqrt(mean(0, 0, 1, 1)) = sqrt(0.5)
    torch.testing.assert_close(ports.erfect_w2(fu, fv), torch.tensor([0.5**0.5]))
    # cumsum port: normalised (0.25, 0, 0, 0.75) vs (0, 0.5, 0.5, 0); cumsums (0.25, 0.25, 0.25, 1)
    # vs (0, 0.5, 1, 1): sum |diff| = 0.25 + 0.25 + 0.75 + 0 = 1.25
    torch.testing.assert_close(ports.traiNNer_pd(fu, fv), torch.tensor([1.25]))
    # transposed port with two channels and the identity "directions": each position's 2 channel
    # values sorted, mean |diff| over channels, summed over the 4 directions.
    gu = torch.cat([fu, 2 * fu], dim=1)  # channels (1, 0, 0, 3) and (2, 0, 0, 6)
    gv = torch.cat([fv, fv.flip(-1)], dim=1)  # (0, 2, 2, 0) and (2, 0, 0, 2)
    # position 0: (1, 2) vs (0, 2) -> 0.5; 1: (0, 0) vs (2, 0) -> sorted (0,0) vs (0,2) -> 1;
    # 2: (0, 0) vs (2, 0) -> 1; 3: (3, 6) vs (0, 2) -> (3 + 4) / 2 = 3.5; total 6
    torch.testing.assert_close(ports.kataria_transposed(gu, gv, torch.eye(4)), torch.tensor([6.0]))
