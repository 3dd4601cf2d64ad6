"""What a loss carries and says: the random draws' state in the state dict, options checked at
construction, and warnings that name the caller's line."""

from __future__ import annotations

import sys
import warnings

import pytest
import torch

from pdloss.errors import InputError
from pdloss.losses.combined import CombinedLoss
from pdloss.losses.contextual import ContextualLoss
from pdloss.losses.fdl import FrequencyDistributionLoss
from pdloss.losses.pdl import ProjectedDistributionLoss
from pdloss.losses.perceptual import PerceptualLoss
from pdloss.validation import PredictionRangeWarning

FEATURES = {"weights": "random", "layers": "relu1_2"}


def images():
    g = torch.Generator().manual_seed(11)
    return torch.rand(2, 3, 16, 16, generator=g), torch.rand(2, 3, 16, 16, generator=g)


@pytest.mark.parametrize(
    "make",
    [
        lambda: ProjectedDistributionLoss(projection="rsp", resample=True, seed=3, **FEATURES),
        lambda: FrequencyDistributionLoss(num_proj=4, patch_size=3, resample=True, seed=3, **FEATURES),
        lambda: ContextualLoss(max_positions=16, seed=3, **FEATURES),
    ],
)
def test_a_reloaded_loss_draws_what_the_saved_one_would(make):
    u, v = images()
    saved = make()
    for _ in range(3):  # advance the generator past its seed
        saved(u, v)
    state = saved.state_dict()
    expected = [saved(u, v).item() for _ in range(2)]
    reloaded = make()
    reloaded.load_state_dict(state)
    assert [reloaded(u, v).item() for _ in range(2)] == expected
    fresh = make()  # without the state: the draws from the seed, which differ
    assert [fresh(u, v).item() for _ in range(2)] != expected


def test_state_dicts_without_the_generator_still_load():
    loss = ProjectedDistributionLoss(projection="rsp", resample=True, **FEATURES)
    old = {k: v for k, v in loss.state_dict().items() if not k.endswith("_extra_state")}
    assert loss.load_state_dict(old).missing_keys == []
    combined = CombinedLoss({"pdl": loss})
    old = {k: v for k, v in combined.state_dict().items() if not k.endswith("_extra_state")}
    assert combined.load_state_dict(old).missing_keys == []


@pytest.mark.parametrize("p", [0, 0.5, -1, True, "1"])
def test_pdl_order_is_checked_at_construction(p):
    with pytest.raises(InputError, match=r"p \(Wasserstein order\) must be a number >= 1"):
        ProjectedDistributionLoss(p=p, **FEATURES)


@pytest.mark.parametrize(
    "make",
    [
        lambda: ProjectedDistributionLoss(**FEATURES),
        lambda: PerceptualLoss(**FEATURES),  # overrides check_inputs: one frame deeper
        lambda: CombinedLoss({"pdl": ProjectedDistributionLoss(**FEATURES)}),
    ],
)
def test_the_range_warning_names_the_callers_line(make):
    loss = make()
    u, v = images()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loss(u * 4, v)
        line = sys._getframe().f_lineno - 1  # the call above
    found = [w for w in caught if issubclass(w.category, PredictionRangeWarning)]
    assert len(found) == 1
    assert (found[0].filename, found[0].lineno) == (__file__, line)
