"""The sweep's time-left estimate: per loss, per loss family, then through the family step costs,
scaled by the pixels a step trains on."""

from __future__ import annotations

import pytest

from pdloss.losses.registry import list_losses
from pdloss.sweep import FAMILY_STEP_COST, LOSS_FAMILY, _Eta

P = 8 * 64 * 64  # a batch of 8 crops of 64 px


def test_every_registered_loss_has_a_family_with_a_cost():
    assert set(LOSS_FAMILY) == set(list_losses())
    assert set(LOSS_FAMILY.values()) <= set(FAMILY_STEP_COST)
    assert FAMILY_STEP_COST["pixel"] == 1.0


def test_nothing_measured_gives_no_estimate_unless_nothing_is_left():
    eta = _Eta()
    assert eta.left([("l1", 100, P)]) is None
    assert eta.left([("l1", 0, P), ("pdl", 0, P)]) == 0.0
    eta.record("l1", 0, 5.0, P)  # a run that trained no step measures nothing
    assert eta.left([("l1", 100, P)]) is None


def test_a_measured_loss_uses_its_own_mean_seconds_per_step():
    eta = _Eta()
    eta.record("l1", 400, 40.0, P)  # 0.1 s a step
    eta.record("l1", 200, 30.0, P)  # 0.15 s a step
    eta.record("pdl", 400, 200.0, P)  # 0.5 s a step
    assert eta.left([("l1", 100, P)]) == pytest.approx(100 * 0.125)
    assert eta.left([("pdl", 10, P), ("l1", 10, P)]) == pytest.approx(10 * 0.5 + 10 * 0.125)


def test_steps_scale_with_the_pixels_they_train_on():
    eta = _Eta()
    eta.record("l1", 200, 34.0, 8 * 64 * 64)  # 0.17 s a step on 64 px crops
    # The same loss on 48 px crops: (48/64)^2 of the time per step.
    assert eta.left([("l1", 100, 8 * 48 * 48)]) == pytest.approx(100 * 0.17 * (48 / 64) ** 2)
    assert eta.left([("l1", 100, 16 * 64 * 64)]) == pytest.approx(100 * 0.17 * 2)


def test_an_unmeasured_loss_of_a_measured_family_uses_the_family():
    eta = _Eta()
    eta.record("pdl", 100, 50.0, P)  # 0.5
    eta.record("perceptual-l1", 100, 70.0, P)  # 0.7
    # ctx-dp is of the VGG family: the mean of that family's measured steps.
    assert eta.left([("ctx-dp", 10, P)]) == pytest.approx(10 * 0.6)


def test_a_pixel_pretraining_predicts_the_feature_losses_through_the_step_costs():
    eta = _Eta()
    eta.record("l1", 2000, 200.0, P)  # 0.1 s a step
    # Before any feature loss has run: 3.3x the pixel step (the measured VGG16 ratio).
    assert eta.left([("pdl", 400, P)]) == pytest.approx(400 * 0.1 * 3.3)
    assert eta.left([("fdl", 400, P)]) == pytest.approx(400 * 0.1 * 40.0)
    eta.record("pdl", 400, 400 * 0.66, P)  # the PDL measured at 0.66 s: pixel-equivalent 0.2 s
    # fdl from both measured families: mean of 0.1 / 1 and 0.66 / 3.3, times 40.
    assert eta.left([("fdl", 10, P)]) == pytest.approx(10 * (0.1 + 0.2) / 2 * 40.0)
    # The VGG family is now measured: the PDL's own rate, not the prior.
    assert eta.left([("perceptual-l2", 10, P)]) == pytest.approx(10 * 0.66)


def test_an_unknown_loss_name_uses_the_mean_of_every_measured_step():
    eta = _Eta()
    eta.record("l1", 100, 10.0, P)
    eta.record("pdl", 100, 50.0, P)
    assert eta.left([("my-loss", 10, P)]) == pytest.approx(10 * 0.3)
