"""Each projection kind keeps its defining property for any channel count and factor (paper §4,
§5.8, Table 8), checked by hypothesis; and a seed always gives the same matrix.

- id: the identity, one row per channel (factor 1 only).
- r2p: every row combines exactly two distinct channels, with unit norm.
- rpp: row i is the unit vector of channel i mod C plus a small perturbation, renormalised.
- rsp: rows are unit vectors drawn uniformly on the sphere (normalised Gaussian vectors).

The seeded construction is written out here from the module's documentation: the matrices of a
run are part of its record (a config names a seed, not a matrix), so the same seed must give
the same directions in every release.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pdloss.errors import InputError
from pdloss.functional.projections import PROJECTION_KINDS, make_projection

SETTINGS = settings(max_examples=30, deadline=None, database=None, derandomize=True)

channels = st.integers(1, 40)
factors = st.integers(1, 5)
seeds = st.integers(0, 2**31 - 1)
random_kinds = st.sampled_from(["r2p", "rpp", "rsp"])
dtypes = st.sampled_from([torch.float32, torch.float64])


def _unit_rows(w: torch.Tensor) -> None:
    torch.testing.assert_close(w.double().norm(dim=1), torch.ones(w.shape[0], dtype=torch.float64))


def test_kinds_are_the_papers_four():
    assert PROJECTION_KINDS == ("id", "r2p", "rpp", "rsp")


@SETTINGS
@given(c=channels, dtype=dtypes)
def test_identity_for_any_channel_count(c, dtype):
    w = make_projection("id", c, dtype=dtype)
    assert w.dtype == dtype
    assert torch.equal(w, torch.eye(c, dtype=dtype))


@SETTINGS
@given(c=channels, factor=st.integers(2, 5))
def test_identity_refuses_factors_above_one(c, factor):
    with pytest.raises(InputError, match=r"^the identity projection has exactly one row per channel: use factor=1$"):
        make_projection("id", c, factor)


@SETTINGS
@given(kind=random_kinds, c=channels, factor=factors, seed=seeds, dtype=dtypes)
def test_shape_dtype_unit_rows_and_no_global_rng(kind, c, factor, seed, dtype):
    if kind == "r2p" and c < 2:
        return
    before = torch.get_rng_state()
    w = make_projection(kind, c, factor, torch.Generator().manual_seed(seed), dtype=dtype)
    # Every draw comes from the generator given: the global stream is left alone.
    assert torch.equal(torch.get_rng_state(), before)
    assert w.shape == (factor * c, c) and w.dtype == dtype
    assert torch.isfinite(w).all()
    _unit_rows(w)


@SETTINGS
@given(c=st.integers(2, 40), factor=factors, seed=seeds)
def test_r2p_rows_combine_exactly_two_distinct_channels(c, factor, seed):
    w = make_projection("r2p", c, factor, torch.Generator().manual_seed(seed))
    assert ((w != 0).sum(dim=1) == 2).all()
    _unit_rows(w)


def test_r2p_reaches_every_offset_between_its_two_channels():
    # The second channel is the first plus an offset uniform in 1..C-1 (mod C): with C = 3 both
    # offsets occur, and with C = 2 the only pair is (0, 1).
    w = make_projection("r2p", 3, 40, torch.Generator().manual_seed(0))
    pairs = {tuple(torch.nonzero(row).flatten().tolist()) for row in w}
    assert pairs == {(0, 1), (0, 2), (1, 2)}
    two = make_projection("r2p", 2, 3, torch.Generator().manual_seed(1))
    assert ((two != 0).sum(dim=1) == 2).all()


@SETTINGS
@given(c=channels, factor=factors, seed=seeds)
def test_rpp_rows_stay_next_to_their_channel(c, factor, seed):
    w = make_projection("rpp", c, factor, torch.Generator().manual_seed(seed))
    eye = torch.eye(c).repeat(factor, 1)
    # The default perturbation is small (sd 0.01): each row stays within 0.1 of its unit vector.
    assert (w - eye).abs().max() < 0.1
    assert torch.equal(w.abs().argmax(dim=1), torch.arange(factor * c) % c)
    if c > 1:
        assert not torch.equal(w, eye)
        # Each copy of the identity gets its own perturbation.
        if factor > 1:
            assert not torch.equal(w[:c], w[c : 2 * c])


@SETTINGS
@given(c=channels, factor=factors, seed=seeds, scale=st.sampled_from([0.0, 0.3]))
def test_rpp_perturbation_sets_the_distance_from_the_identity(c, factor, seed, scale):
    w = make_projection("rpp", c, factor, torch.Generator().manual_seed(seed), perturbation=scale)
    eye = torch.eye(c).repeat(factor, 1)
    if scale == 0:
        assert torch.equal(w, eye)
    elif c > 1:
        assert (w - eye).abs().max() > 0.02


@SETTINGS
@given(c=st.integers(2, 40), factor=factors, seed=seeds)
def test_rsp_rows_are_dense(c, factor, seed):
    w = make_projection("rsp", c, factor, torch.Generator().manual_seed(seed))
    # A Gaussian vector has no zero coordinate (almost surely), unlike r2p's or id's rows.
    assert (w != 0).all()
    _unit_rows(w)


def test_rsp_is_uniform_on_the_sphere():
    # 4000 directions in 3-D: the mean is near 0 and the second moment is isotropic (I/3).
    w = make_projection("rsp", 3, 1333, torch.Generator().manual_seed(9), dtype=torch.float64)
    assert w.mean(0).abs().max() < 0.05
    torch.testing.assert_close(w.T @ w / w.shape[0], torch.eye(3, dtype=torch.float64) / 3, atol=0.03, rtol=0)
    one = make_projection("rsp", 1, 50, torch.Generator().manual_seed(2))
    assert set(one.flatten().tolist()) == {-1.0, 1.0}  # the 0-sphere is {-1, 1}: both signs occur


# -- the seeded construction, written out ----------------------------------------------------------
def _reference(kind: str, c: int, factor: int, seed: int, perturbation: float = 0.01) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    rows = factor * c
    if kind == "rsp":
        d = torch.randn(rows, c, generator=g, dtype=torch.float64)
    elif kind == "rpp":
        d = torch.eye(c, dtype=torch.float64).repeat(factor, 1) + perturbation * torch.randn(
            rows, c, generator=g, dtype=torch.float64
        )
    else:
        first = torch.randint(c, (rows,), generator=g)
        offset = torch.randint(1, c, (rows,), generator=g)
        coefficients = torch.randn(rows, 2, generator=g, dtype=torch.float64)
        d = torch.zeros(rows, c, dtype=torch.float64)
        d[torch.arange(rows), first] = coefficients[:, 0]
        d[torch.arange(rows), (first + offset) % c] = coefficients[:, 1]
    return d / d.norm(dim=1, keepdim=True)


@SETTINGS
@given(kind=random_kinds, c=channels, factor=factors, seed=seeds, dtype=dtypes)
def test_a_seed_gives_the_documented_matrix(kind, c, factor, seed, dtype):
    if kind == "r2p" and c < 2:
        return
    w = make_projection(kind, c, factor, torch.Generator().manual_seed(seed), dtype=dtype)
    torch.testing.assert_close(w, _reference(kind, c, factor, seed).to(dtype), rtol=0, atol=1e-12)


@SETTINGS
@given(kind=random_kinds, c=st.integers(2, 40), factor=factors, seed=seeds)
def test_seeds_reproduce_and_differ(kind, c, factor, seed):
    a = make_projection(kind, c, factor, torch.Generator().manual_seed(seed))
    b = make_projection(kind, c, factor, torch.Generator().manual_seed(seed))
    other = make_projection(kind, c, factor, torch.Generator().manual_seed(seed + 1))
    assert torch.equal(a, b)
    assert not torch.equal(a, other)


@pytest.mark.parametrize(
    "args,match",
    [
        (("xyz", 4), r"projection kind must be one of \('id', 'r2p', 'rpp', 'rsp'\), got 'xyz'"),
        (("rsp", 0), r"channels must be a positive integer, got 0"),
        (("rsp", 2.0), r"channels must be a positive integer, got 2\.0"),
        (("rsp", 4, 0), r"factor must be a positive integer, got 0"),
        (("rsp", 4, 1.5), r"factor must be a positive integer, got 1\.5"),
        (("r2p", 1), r"r2p needs at least two channels"),
    ],
)
def test_bad_arguments_name_the_argument(args, match):
    # The whole message: what is wrong, and the value given.
    with pytest.raises(InputError, match=f"^{match}$"):
        make_projection(*args)


def test_the_smallest_valid_sizes():
    assert torch.equal(make_projection("rsp", 1).abs(), torch.ones(1, 1))
    assert torch.equal(make_projection("rpp", 1, 2, perturbation=0.0), torch.ones(2, 1))
    assert make_projection("r2p", 2).shape == (2, 2)
