"""One shared feature pass for several feature losses."""

from __future__ import annotations

import pytest
import torch

from helpers import gradcheck
from pdloss.errors import InputError
from pdloss.features import FeatureExtractor
from pdloss.losses.combined import CombinedLoss
from pdloss.losses.contextual import ContextualLoss
from pdloss.losses.pdl import ProjectedDistributionLoss
from pdloss.losses.perceptual import PerceptualLoss
from pdloss.losses.registry import PixelLoss


def count_calls(module: torch.nn.Module) -> list[int]:
    calls = [0]

    def hook(*_):
        calls[0] += 1

    module.register_forward_hook(hook)
    return calls


@pytest.fixture(scope="module")
def extractors():
    """Private random-weight VGG16s, truncated at two depths, with hook counters."""
    shallow = FeatureExtractor("vgg16", "random", "relu1_2")
    deep = FeatureExtractor("vgg16", "random", "relu2_2")
    return shallow, deep


def make_losses(shallow, deep):
    return {
        "pdl": ProjectedDistributionLoss(weight=0.5, layers="relu2_2", extractor=deep, projection="rsp", seed=3),
        "perceptual": PerceptualLoss(weight=0.2, pixel_weight=0.0, layers="relu1_2", extractor=shallow, p=2),
        "ctx": ContextualLoss(weight=0.1, pixel_weight=0.5, layers=("relu1_2", "relu2_2"), extractor=deep,
                              max_positions=None, distance="l2"),
    }


def test_same_value_as_separate_losses_with_one_backbone_pass(extractors):
    shallow, deep = extractors
    losses = make_losses(shallow, deep)
    combined = CombinedLoss(losses, coefficients={"ctx": 2.0})
    calls_deep, calls_shallow = count_calls(deep.net), count_calls(shallow.net)
    x = torch.rand(2, 3, 16, 16, requires_grad=True)
    y = torch.rand(2, 3, 16, 16)

    value, terms = combined(x, y, return_terms=True)
    assert calls_deep[0] == 2 and calls_shallow[0] == 0  # once for the prediction, once for the target
    (grad_combined,) = torch.autograd.grad(value, x)

    separate = {name: loss(x, y) for name, loss in losses.items()}
    assert calls_deep[0] + calls_shallow[0] == 2 + 6  # each loss alone: two passes
    expected = separate["pdl"] + separate["perceptual"] + 2.0 * separate["ctx"]
    torch.testing.assert_close(value, expected)
    for name in losses:
        torch.testing.assert_close(terms[name], separate[name].detach())
    (grad_separate,) = torch.autograd.grad(expected, x)
    torch.testing.assert_close(grad_combined, grad_separate)
    assert combined.extractor is deep
    assert set(combined.layers) == {"relu1_2", "relu2_2"}


def test_per_image_and_sum_reductions(extractors):
    shallow, deep = extractors
    losses = make_losses(shallow, deep)
    x, y = torch.rand(3, 3, 16, 16), torch.rand(3, 3, 16, 16)
    per_image = CombinedLoss(losses, reduction="none")(x, y)
    assert per_image.shape == (3,)
    torch.testing.assert_close(CombinedLoss(losses, reduction="sum")(x, y), per_image.sum())


def test_gradcheck_float64():
    extractor = FeatureExtractor("vgg16", "random", "relu2_2").double()
    combined = CombinedLoss({
        "pdl": ProjectedDistributionLoss(weight=0.5, layers="relu2_2", extractor=extractor),
        "ctx": ContextualLoss(weight=0.3, pixel_weight=0.0, layers="relu1_2", extractor=extractor),
    }, reduction="sum")
    x = torch.rand(1, 3, 12, 12, dtype=torch.float64, requires_grad=True)
    y = torch.rand(1, 3, 12, 12, dtype=torch.float64)
    assert gradcheck(lambda a: combined(a, y), (x,), fast_mode=True)


def test_resampled_projections_are_redrawn_each_call(extractors):
    _, deep = extractors
    pdl = ProjectedDistributionLoss(weight=1.0, layers="relu2_2", extractor=deep, projection="rsp", resample=True)
    twin = ProjectedDistributionLoss(weight=1.0, layers="relu2_2", extractor=deep, projection="rsp", resample=True)
    combined = CombinedLoss({"pdl": pdl})
    x, y = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    for _ in range(2):
        before = pdl.projection_matrix("relu2_2").clone()
        torch.testing.assert_close(combined(x, y), twin(x, y))  # same draws as the loss on its own
        assert not torch.equal(before, pdl.projection_matrix("relu2_2"))


def test_state_dict_holds_no_backbone(extractors):
    shallow, deep = extractors
    keys = CombinedLoss(make_losses(shallow, deep)).state_dict().keys()
    assert keys and not any("extractor" in k or "features." in k for k in keys)


def test_input_errors_are_the_losses_own(extractors):
    shallow, deep = extractors
    combined = CombinedLoss(make_losses(shallow, deep))
    with pytest.raises(InputError, match="channels"):
        combined(torch.rand(1, 1, 16, 16), torch.rand(1, 1, 16, 16))
    with pytest.raises(InputError, match="smaller than the minimum"):
        combined(torch.rand(1, 3, 1, 1), torch.rand(1, 3, 1, 1))


def test_rejects_mixed_backbones_and_non_feature_losses(extractors):
    shallow, _ = extractors
    other_range = FeatureExtractor("vgg16", "random", "relu1_2", input_range=(-1.0, 1.0))
    with pytest.raises(InputError, match="shared feature pass needs one backbone"):
        CombinedLoss({
            "a": PerceptualLoss(layers="relu1_2", extractor=shallow),
            "b": PerceptualLoss(layers="relu1_2", extractor=other_range, input_range=(-1.0, 1.0)),
        })
    with pytest.raises(InputError, match="not a feature loss"):
        CombinedLoss({"a": PerceptualLoss(layers="relu1_2", extractor=shallow), "pixel": PixelLoss()})
    with pytest.raises(InputError, match="at least one"):
        CombinedLoss({})
    with pytest.raises(InputError, match="coefficients name losses"):
        CombinedLoss({"a": PerceptualLoss(layers="relu1_2", extractor=shallow)}, coefficients={"b": 1.0})
