"""The validation policy's range margin (pdloss.validation.RANGE_SLACK, half the range's width beyond
each end), on both sides of both ends: a value at the bound or just inside passes, just outside
fails, for the target (InputError), the prediction (a warning; validate="strict": InputError), and
the check that runs inside a compiled graph. Ranges of three widths, so that the margin is a
fraction of the width and not a constant."""

from __future__ import annotations

import warnings

import pytest
import torch

from pdloss.errors import InputError
from pdloss.validation import RANGE_SLACK, LossInputChecks, PredictionRangeWarning

# (range, lowest allowed value, highest allowed value), the bounds written out by hand.
RANGES = [((0.0, 1.0), -0.5, 1.5), ((-1.0, 1.0), -2.0, 2.0), ((0.0, 255.0), -127.5, 382.5)]
STEP = 1e-9  # far below the margin, far above float64 rounding at these magnitudes


def image(value: float, device="cpu") -> torch.Tensor:
    """A (1, 3, 4, 4) float64 image in the middle of [0, 1] with one pixel set to ``value``."""
    x = torch.full((1, 3, 4, 4), 0.5, dtype=torch.float64, device=device)
    x[0, 1, 2, 3] = value
    return x


def test_the_margin_is_half_the_width():
    assert RANGE_SLACK == 0.5
    for (low, high), lowest, highest in RANGES:
        assert (low - RANGE_SLACK * (high - low), high + RANGE_SLACK * (high - low)) == (lowest, highest)


@pytest.mark.parametrize("value_range, lowest, highest", RANGES)
def test_target_inside_passes_and_outside_fails_at_both_ends(value_range, lowest, highest, device):
    checks = LossInputChecks("TestLoss")
    prediction = image(0.5, device)
    for inside in (lowest, lowest + STEP, highest - STEP, highest):
        checks(prediction, image(inside, device), value_range=value_range)
    for outside in (lowest - STEP, highest + STEP):
        with pytest.raises(InputError, match=r"target has values in .* far outside the declared range"):
            checks(prediction, image(outside, device), value_range=value_range)


@pytest.mark.parametrize("value_range, lowest, highest", RANGES)
def test_prediction_inside_is_silent_outside_warns_or_fails_when_strict(value_range, lowest, highest, device):
    target = image(0.5, device)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PredictionRangeWarning)
        for inside in (lowest, lowest + STEP, highest - STEP, highest):
            LossInputChecks("TestLoss")(image(inside, device), target, value_range=value_range, validate="strict")
    for outside in (lowest - STEP, highest + STEP):
        with pytest.warns(PredictionRangeWarning, match="far outside the declared range"):
            LossInputChecks("TestLoss")(image(outside, device), target, value_range=value_range)
        with pytest.raises(InputError, match=r"prediction has values in .*\(validate='strict'\)"):
            LossInputChecks("TestLoss")(image(outside, device), target, value_range=value_range, validate="strict")


@pytest.mark.parametrize("value_range, lowest, highest", RANGES)
def test_the_in_graph_check_has_the_same_bounds(value_range, lowest, highest):
    # The assertion torch.compile runs (torch._assert_async), called eagerly: same margin, same ends.
    check = LossInputChecks._assert_in_graph
    names = ("prediction", "target")
    for inside in (lowest, lowest + STEP, highest - STEP, highest):
        check(image(0.5), image(inside), value_range, "warn", names)
        check(image(inside), image(0.5), value_range, "strict", names)
    for outside in (lowest - STEP, highest + STEP):
        with pytest.raises(RuntimeError, match="target has values far outside"):
            check(image(0.5), image(outside), value_range, "warn", names)
        with pytest.raises(RuntimeError, match="prediction has values far outside"):
            check(image(outside), image(0.5), value_range, "strict", names)
        check(image(outside), image(0.5), value_range, "warn", names)  # the prediction alone: not asserted
