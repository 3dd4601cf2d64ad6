"""Losses by name, and the input conventions and errors every loss shares with the PDL."""

from __future__ import annotations

import pytest
import torch

from helpers import assert_close, gradcheck, rand_image, small_loss
from pdloss.errors import InputError
from pdloss.features import FeatureExtractor
from pdloss.losses.adversarial import AdversarialLoss
from pdloss.losses.contextual import ContextualLoss
from pdloss.losses.pdl import ProjectedDistributionLoss
from pdloss.losses.perceptual import PerceptualLoss
from pdloss.losses.registry import PixelLoss, build_loss, list_losses
from pdloss.validation import PredictionRangeWarning

FEATURE_OPTIONS = {"weights": "random", "layers": "relu2_2"}
SMALL_DISCRIMINATOR = {"base_channels": 4, "hidden": 8, "pool_size": 2}


def build(name: str, **kwargs):
    return small_loss(name, FEATURE_OPTIONS["layers"], SMALL_DISCRIMINATOR, **kwargs)


def test_names_are_the_papers():
    assert list_losses() == ["l1", "perceptual-l1", "perceptual-l2", "ctx-dp", "ctx-l2", "pdl", "adversarial", "fdl"]


@pytest.mark.parametrize(
    ("name", "cls", "attribute", "value"),
    [
        ("l1", PixelLoss, "q", 1),
        ("perceptual-l1", PerceptualLoss, "p", 1),
        ("perceptual-l2", PerceptualLoss, "p", 2),
        ("ctx-dp", ContextualLoss, "distance", "cosine"),
        ("ctx-l2", ContextualLoss, "distance", "l2"),
        ("pdl", ProjectedDistributionLoss, "projection", "id"),
        ("adversarial", AdversarialLoss, "weight", 1e-3),
    ],
)
def test_build_loss_gives_the_named_loss(name, cls, attribute, value):
    loss = build(name)
    assert type(loss) is cls
    assert getattr(loss, attribute) == value


def test_keyword_arguments_reach_the_loss():
    loss = build_loss("CTX_L2", weight=0.25, bandwidth=0.2, max_positions=None, spatial_weight=0.1, **FEATURE_OPTIONS)
    assert (loss.weight, loss.bandwidth, loss.max_positions, loss.spatial_weight) == (0.25, 0.2, None, 0.1)
    assert build_loss("pdl", projection="rsp", projection_factor=2, **FEATURE_OPTIONS).projection_matrix(
        "relu2_2"
    ).shape == (256, 128)
    assert build_loss("l1", reduction="sum").reduction == "sum"


def test_registry_errors():
    with pytest.raises(InputError, match="unknown loss 'lpips'; choose one of l1, perceptual-l1"):
        build_loss("lpips")
    with pytest.raises(InputError, match="fixes p=1"):
        build_loss("perceptual-l1", p=2, **FEATURE_OPTIONS)
    with pytest.raises(InputError, match="fixes distance='cosine'"):
        build_loss("ctx-dp", distance="l2", **FEATURE_OPTIONS)
    with pytest.raises(InputError, match=r"loss 'pdl': .*unexpected keyword argument 'bandwidth'"):
        build_loss("pdl", bandwidth=0.5, **FEATURE_OPTIONS)
    with pytest.raises(InputError, match="must be a string"):
        build_loss(3)


def test_pixel_loss_values():
    x, y = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    torch.testing.assert_close(build_loss("l1")(x, y), (x - y).abs().mean())
    torch.testing.assert_close(PixelLoss(q=2, reduction="none")(x, y), ((x - y) ** 2).mean(dim=(1, 2, 3)))
    value, terms = build_loss("l1")(x, y, return_terms=True)
    torch.testing.assert_close(terms["pixel"], value)


@pytest.mark.parametrize("name", list_losses())
def test_gradcheck_float64(name, device):
    extractor = _extractor64()
    size = 16 if name == "adversarial" else 12
    if name == "adversarial":
        loss = build_loss(name, **SMALL_DISCRIMINATOR, weight=0.5).double().eval()
    elif name == "l1":
        loss = build_loss(name)
    else:
        loss = build_loss(name, layers="relu2_2", extractor=extractor, weight=0.5)
    loss = loss.to(device)
    x = torch.rand(1, 3, size, size, dtype=torch.float64, requires_grad=True, device=device)
    y = torch.rand(1, 3, size, size, dtype=torch.float64, device=device)
    assert gradcheck(lambda a: loss(a, y), (x,), fast_mode=True)


@pytest.mark.parametrize("name", list_losses())
def test_the_value_on_the_device_is_the_cpu_value(name, device):
    loss = build(name).eval()
    x, y = rand_image(2, 3, 16, 16, seed=1), rand_image(2, 3, 16, 16, seed=2)
    expected = loss(x, y, return_terms=True)
    moved = loss.to(device)
    value, terms = moved(x.to(device), y.to(device), return_terms=True)
    assert value.device.type == torch.device(device).type
    assert_close(value.cpu(), expected[0], low_tolerance=True)
    for key, term in expected[1].items():
        assert_close(terms[key].cpu(), term, low_tolerance=True)


_EXTRACTOR64: list[FeatureExtractor] = []


def _extractor64() -> FeatureExtractor:
    if not _EXTRACTOR64:  # private: .double() must not touch the shared float32 extractor
        _EXTRACTOR64.append(FeatureExtractor("vgg16", "random", "relu2_2").double())
    return _EXTRACTOR64[0]


def _bad_inputs():
    # Fixed values: the messages quote the offending range, so they must match the PDL's exactly.
    g = torch.Generator().manual_seed(0)
    good = torch.rand(1, 3, 16, 16, generator=g)
    nan = good.clone()
    nan[0, 1, 2, 3] = float("nan")
    inf = good.clone()
    inf[0, 0, 0, 0] = float("inf")
    return {
        "channels": (good[:, :1], good[:, :1]),
        "channels last": (good.permute(0, 2, 3, 1), good.permute(0, 2, 3, 1)),
        "no batch axis": (good[0], good[0]),
        "integer dtype": ((good * 255).to(torch.uint8), good),
        "nan": (nan, good),
        "inf": (good, inf),
        # A target in 0-255 is an error for every loss; a prediction there only warns (the validation
        # policy, tests/test_validation_policy.py).
        "0-255 target": (good, good * 255),
        "numpy": (good.numpy(), good),
        "empty batch": (good[:0], good[:0]),
        "shape mismatch": (good, torch.zeros(1, 3, 16, 20)),
    }


@pytest.fixture(scope="module")
def pdl_errors():
    pdl = ProjectedDistributionLoss(**FEATURE_OPTIONS)
    messages = {}
    for case, (x, y) in _bad_inputs().items():
        with pytest.raises(InputError) as info:
            pdl(x, y)
        messages[case] = str(info.value)
    return messages


@pytest.mark.parametrize("name", list_losses())
def test_same_errors_as_the_pdl(name, pdl_errors):
    loss = build(name)
    for case, (x, y) in _bad_inputs().items():
        with pytest.raises(InputError) as info:
            loss(x, y)
        assert str(info.value) == pdl_errors[case], case


@pytest.mark.parametrize("name", list_losses())
def test_too_small_is_a_clear_error(name):
    loss = build(name)
    tiny = torch.rand(1, 3, 0, 0) if name == "l1" else torch.rand(1, 3, 1, 1)
    with pytest.raises(InputError, match="smaller than the minimum"):
        loss(tiny, tiny.clone())


@pytest.mark.parametrize("name", list_losses())
def test_input_range_convention(name):
    x, y = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    signed = build(name, input_range=(-1.0, 1.0))
    value = signed(x * 2 - 1, y * 2 - 1)
    assert value.shape == () and torch.isfinite(value)
    with pytest.raises(InputError, match=r"target has values .* far outside the declared range"):
        build(name)(x, y * 2 - 1.6)  # a target in [-1.6, 0.4] fed to a [0, 1] loss
    with pytest.warns(PredictionRangeWarning, match=r"prediction has values .* far outside the declared range"):
        build(name)(x * 2 - 1.6, y)  # a prediction there: computed, with a warning
    assert build(name, reduction="none")(x, y).shape == (2,)
    unchecked = build(name, validate=False)
    assert torch.isfinite(unchecked(x, y))
