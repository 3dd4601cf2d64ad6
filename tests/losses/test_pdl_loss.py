"""ProjectedDistributionLoss and PerceptualLoss: values, gradients, options and input errors."""

from __future__ import annotations

import pytest
import torch

from helpers import gradcheck
from pdloss import ProjectedDistributionLoss
from pdloss.features import FeatureExtractor, layer_names
from pdloss.functional import perceptual_distance, projected_distribution_distance
from pdloss.losses import PerceptualLoss

SMALL = dict(weights="random", layers=("relu2_2",))


def images(batch=2, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, size, size, generator=g), torch.rand(batch, 3, size, size, generator=g)


def test_loss_equals_pixel_plus_weighted_distribution_terms():
    loss_fn = ProjectedDistributionLoss(
        weight=0.3,
        pixel_weight=0.7,
        layers=("relu1_2", "relu2_2"),
        layer_weights=(1.0, 2.0),
        weights="random",
        reduction="none",
    )
    u, v = images()
    f = loss_fn.extractor(u, ["relu1_2", "relu2_2"])
    g = loss_fn.extractor(v, ["relu1_2", "relu2_2"])
    expected = 0.7 * (u - v).abs().mean((1, 2, 3)) + 0.3 * (
        projected_distribution_distance(f["relu1_2"], g["relu1_2"], reduction="none")
        + 2.0 * projected_distribution_distance(f["relu2_2"], g["relu2_2"], reduction="none")
    )
    torch.testing.assert_close(loss_fn(u, v), expected)


def test_reductions_and_terms():
    u, v = images(batch=3)
    per_image = ProjectedDistributionLoss(**SMALL, reduction="none")(u, v)
    assert per_image.shape == (3,)
    torch.testing.assert_close(ProjectedDistributionLoss(**SMALL, reduction="sum")(u, v), per_image.sum())
    loss, terms = ProjectedDistributionLoss(**SMALL, weight=0.5, q=2)(u, v, return_terms=True)
    torch.testing.assert_close(terms["pixel"], ((u - v) ** 2).mean())
    torch.testing.assert_close(loss, terms["pixel"] + 0.5 * terms["feature"])


def test_shift_is_nearly_free_under_pdl_but_costs_as_much_as_blur_under_l1_features():
    # The paper's premise on a synthetic texture: a shifted copy keeps the feature distribution.
    g = torch.Generator().manual_seed(1)
    texture = torch.rand(1, 3, 48, 48, generator=g)
    reference = texture[..., 8:40, 8:40]
    shifted = texture[..., 4:36, 10:42]
    blurred = torch.nn.functional.avg_pool2d(texture, 5, 1, 2)[..., 8:40, 8:40]
    pdl = ProjectedDistributionLoss(weight=1.0, pixel_weight=0.0, **SMALL)
    l1 = PerceptualLoss(weight=1.0, pixel_weight=0.0, **SMALL)
    # (with random weights the L1 distance does not rank blur first, as ImageNet weights do:
    # tests/test_registry_weights.py checks that on photos)
    assert pdl(shifted, reference) < 0.25 * pdl(blurred, reference)
    assert l1(shifted, reference) > 0.5 * l1(blurred, reference)


@pytest.mark.parametrize("projection,factor", [("id", 1), ("rsp", 2)])
def test_gradcheck_loss_on_small_random_vgg(projection, factor):
    extractor = FeatureExtractor("vgg16", "random", "relu1_2").double()
    loss_fn = ProjectedDistributionLoss(
        weight=0.5,
        layers=("relu1_2",),
        extractor=extractor,
        validate=False,
        projection=projection,
        projection_factor=factor,
    ).double()
    u = torch.rand(1, 3, 5, 4, dtype=torch.float64, requires_grad=True)
    v = torch.rand(1, 3, 5, 4, dtype=torch.float64)
    assert gradcheck(lambda x: loss_fn(x, v), (u,), atol=1e-6)


def test_gradcheck_perceptual_loss():
    extractor = FeatureExtractor("vgg16", "random", "relu1_2").double()
    loss_fn = PerceptualLoss(weight=0.5, p=2, layers=("relu1_2",), extractor=extractor, validate=False).double()
    u = torch.rand(1, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    v = torch.rand(1, 3, 4, 4, dtype=torch.float64)
    assert gradcheck(lambda x: loss_fn(x, v), (u,))


def test_fixed_projections_live_in_buffers_and_are_seeded():
    a = ProjectedDistributionLoss(**SMALL, projection="rsp", projection_factor=2, seed=4)
    b = ProjectedDistributionLoss(**SMALL, projection="rsp", projection_factor=2, seed=4)
    c = ProjectedDistributionLoss(**SMALL, projection="rsp", projection_factor=2, seed=5)
    state = a.state_dict()
    assert list(state) == ["projection_relu2_2", "_extra_state"] and state["projection_relu2_2"].shape == (256, 128)
    assert torch.equal(state["projection_relu2_2"], b.state_dict()["projection_relu2_2"])
    assert not torch.equal(state["projection_relu2_2"], c.state_dict()["projection_relu2_2"])
    c.load_state_dict(state)
    u, v = images()
    torch.testing.assert_close(a(u, v), c(u, v))


def test_resampled_projections_change_each_call():
    loss_fn = ProjectedDistributionLoss(**SMALL, projection="rsp", resample=True)
    u, v = images()
    first = loss_fn.projection_matrix("relu2_2").clone()
    value_1 = loss_fn(u, v)
    second = loss_fn.projection_matrix("relu2_2").clone()
    value_2 = loss_fn(u, v)
    assert not torch.equal(first, second) and value_1 != value_2
    with pytest.raises(ValueError, match="resample"):
        ProjectedDistributionLoss(**SMALL, resample=True)


def test_target_without_grad_gets_no_graph_and_prediction_gets_gradient():
    u, v = images()
    u.requires_grad_(True)
    ProjectedDistributionLoss(**SMALL)(u, v).backward()
    assert u.grad is not None and u.grad.abs().sum() > 0
    assert all(not p.requires_grad for p in ProjectedDistributionLoss(**SMALL).parameters())


def test_without_pixel_term_sizes_may_differ():
    u = torch.rand(2, 3, 16, 16)
    v = torch.rand(2, 3, 24, 20)
    value = ProjectedDistributionLoss(**SMALL, pixel_weight=0.0)(u, v)
    assert torch.isfinite(value)
    with pytest.raises(ValueError, match="same shape"):
        ProjectedDistributionLoss(**SMALL)(u, v)


def test_bf16_autocast_on_cpu_is_close_to_float32():
    u, v = images(size=32)
    loss_fn = ProjectedDistributionLoss(**SMALL, weight=1.0)
    ref = loss_fn(u, v)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = loss_fn(u, v)
    assert low.dtype == torch.float32
    assert low.item() == pytest.approx(ref.item(), rel=0.05)


def test_input_range_minus_one_to_one_matches_zero_one():
    u, v = images()
    a = ProjectedDistributionLoss(**SMALL, pixel_weight=0.0)(u, v)
    b = ProjectedDistributionLoss(**SMALL, pixel_weight=0.0, input_range=(-1, 1))(u * 2 - 1, v * 2 - 1)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_one_extractor_is_shared_between_losses():
    a = ProjectedDistributionLoss(**SMALL)
    b = PerceptualLoss(**SMALL)
    assert a.extractor is b.extractor


def test_truncated_after_deepest_layer():
    loss_fn = ProjectedDistributionLoss(weights="random", layers=("relu1_2", "relu3_1"))
    assert len(loss_fn.extractor.net.features) == layer_names("vgg16").index("relu3_1") + 1
    assert loss_fn.extractor.min_size == 4


def test_perceptual_loss_matches_its_formula():
    u, v = images()
    loss_fn = PerceptualLoss(weight=2.0, p=2, **SMALL, reduction="none")
    f, g = loss_fn.extractor(u, ["relu2_2"])["relu2_2"], loss_fn.extractor(v, ["relu2_2"])["relu2_2"]
    expected = (u - v).abs().mean((1, 2, 3)) + 2.0 * perceptual_distance(f, g, p=2, reduction="none")
    torch.testing.assert_close(loss_fn(u, v), expected)


@pytest.mark.parametrize("loss_cls", [ProjectedDistributionLoss, PerceptualLoss])
@pytest.mark.parametrize(
    "make_inputs,match",
    [
        (lambda: (torch.rand(2, 1, 16, 16), torch.rand(2, 1, 16, 16)), "channels"),
        (lambda: (torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 12)), "same shape"),
        (lambda: (torch.full((2, 3, 16, 16), float("nan")), torch.rand(2, 3, 16, 16)), "NaN"),
        # A target in 0-255 is an error; a prediction there only warns (tests/test_validation_policy.py).
        (lambda: (torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16) * 255), "far outside"),
        (lambda: (torch.randint(0, 255, (2, 3, 16, 16)), torch.rand(2, 3, 16, 16)), "dtype"),
        (lambda: (torch.rand(2, 3, 1, 1), torch.rand(2, 3, 1, 1)), "smaller than the minimum"),
        (lambda: (torch.rand(3, 16, 16), torch.rand(3, 16, 16)), "unsqueeze"),
    ],
)
def test_bad_inputs_raise_value_error_saying_what_to_do(loss_cls, make_inputs, match):
    u, v = make_inputs()
    with pytest.raises(ValueError, match=match):
        loss_cls(**SMALL)(u, v)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(layers=("relu9_9",)),
        dict(backbone="resnet"),
        dict(projection="pca"),
        dict(q=3),
        dict(weight=-1.0),
        dict(layer_weights=(1.0, 2.0)),
        dict(reduction="avg"),
        dict(layers=()),
    ],
)
def test_bad_options_raise_value_error(kwargs):
    options = {**SMALL, **kwargs}
    with pytest.raises(ValueError):
        ProjectedDistributionLoss(**options)
