"""The loss modules' plumbing, written out: their defaults, every error's whole message, which
options reach the functional form, which terms a zero weight skips, the dtypes of the terms, and
SRGAN's discriminator counted by hand. The maths itself is checked against independent
references in the tests of each loss (test_pdl_loss.py, test_contextual.py, test_fdl.py, ...).

Networks are random-weight VGGs at relu1_2 (no weight file) on 16-24 px images: a few seconds in all.
"""

from __future__ import annotations

import math
import re
import warnings

import pytest
import torch
import torch.nn.functional as F

from pdloss.errors import InputError
from pdloss.functional import pixel_distance, projected_distribution_distance
from pdloss.functional.frequency import make_patch_projections
from pdloss.functional.projections import make_projection
from pdloss.losses import base as base_module
from pdloss.losses import contextual as contextual_module
from pdloss.losses import fdl as fdl_module
from pdloss.losses import pdl as pdl_module
from pdloss.losses.adversarial import AdversarialLoss, SRGANDiscriminator
from pdloss.losses.base import FeatureLoss
from pdloss.losses.combined import CombinedLoss
from pdloss.losses.contextual import ContextualLoss
from pdloss.losses.fdl import FrequencyDistributionLoss
from pdloss.losses.pdl import ProjectedDistributionLoss
from pdloss.losses.perceptual import PerceptualLoss
from pdloss.losses.pixel import PixelLoss
from pdloss.losses.registry import build_loss

TINY = {"weights": "random", "layers": ["relu1_2"]}


def _images(*shape, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=g, dtype=dtype), torch.rand(*shape, generator=g, dtype=dtype)


def _fdl(**kwargs):
    return FrequencyDistributionLoss(**{"weights": "random", "layers": ["relu1_2"], "num_proj": 4, **kwargs})


# -- defaults, written out ------------------------------------------------------------------------
def test_defaults_of_every_loss():
    assert PixelLoss().q == 1
    pdl = ProjectedDistributionLoss(**TINY)
    assert (pdl.weight, pdl.pixel_weight, pdl.q, pdl.p, pdl.seed) == (0.01, 1.0, 1, 1, 0)
    assert (pdl.projection, pdl.projection_factor, pdl.resample) == ("id", 1, False)
    perceptual = PerceptualLoss(**TINY)
    assert (perceptual.weight, perceptual.p) == (0.01, 1)
    ctx = ContextualLoss(**TINY)
    assert (ctx.weight, ctx.distance, ctx.bandwidth, ctx.max_positions, ctx.spatial_weight, ctx.seed) == (
        0.1, "cosine", 0.5, 4225, 0.0, 0)  # fmt: skip
    assert torch.equal(ctx._generator.get_state(), torch.Generator().manual_seed(0).get_state())
    fdl = _fdl()
    assert (fdl.weight, fdl.pixel_weight, fdl.seed, fdl.separate_phase_projections) == (1.0, 0.0, 0, False)
    adversarial = AdversarialLoss()
    assert (adversarial.weight, adversarial.pixel_weight, adversarial.q) == (1e-3, 1.0, 1)


def test_feature_loss_defaults_reach_the_extractor(monkeypatch):
    seen = {}
    real = base_module.build_extractor

    def spy(backbone, weights, layers, input_range, preprocessing):
        seen.update(backbone=backbone, weights=weights, layers=layers, input_range=input_range,
                    preprocessing=preprocessing)
        return real(backbone, "random", layers, input_range)

    monkeypatch.setattr(base_module, "build_extractor", spy)
    loss = FeatureLoss()
    assert seen == {"backbone": "vgg16", "weights": "default", "layers": ("relu4_3",), "input_range": (0.0, 1.0),
                    "preprocessing": None}
    assert (loss.weight, loss.pixel_weight, loss.q, loss.layer_weights, loss.reduction) == (1.0, 1.0, 1, (1.0,), "mean")


def test_pixel_distance_is_l1_in_float32_by_default():
    u = torch.tensor([[[[0.0, 1.0]]]], dtype=torch.bfloat16)
    v = torch.tensor([[[[0.5, 0.0]]]], dtype=torch.bfloat16)
    out = pixel_distance(u, v)
    assert out.dtype == torch.float32 and out.tolist() == [0.75]  # mean(0.5, 1), not mean(0.25, 1)
    assert pixel_distance(u, v, 2).tolist() == [0.625]


def test_random_projections_follow_the_default_seed():
    pdl = ProjectedDistributionLoss(projection="rsp", **TINY)
    expected = make_projection("rsp", 64, 1, torch.Generator().manual_seed(0))
    torch.testing.assert_close(pdl.projection_matrix("relu1_2"), expected, rtol=0, atol=0)
    fdl = _fdl()
    amp, phase = fdl.projections("relu1_2")
    torch.testing.assert_close(amp, make_patch_projections(4, 64, 5, torch.Generator().manual_seed(0)), rtol=0, atol=0)
    assert phase is None


def test_the_identity_projection_holds_no_matrix():
    pdl = ProjectedDistributionLoss(**TINY)
    assert pdl.projection_matrix("relu1_2") is None
    assert not [k for k in pdl.state_dict() if k.startswith("projection")]


def test_fdl_projections_stay_out_of_the_state_dict_and_default_layers():
    # Neither amplitude nor phase kernels; only the generator's state (the next draws).
    assert list(_fdl(separate_phase_projections=True).state_dict()) == ["_extra_state"]
    vgg16 = FrequencyDistributionLoss(weights="random", backbone="vgg16", num_proj=1)
    assert vgg16.layers == ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")
    vgg19 = FrequencyDistributionLoss(weights="random", num_proj=1)
    assert vgg19.layers == ("relu1_2", "relu2_2", "relu3_4", "relu4_4", "relu5_4")


def test_registry_fixes_what_the_name_says():
    assert build_loss("perceptual-l2", **TINY).p == 2
    assert build_loss("perceptual-l1", **TINY).p == 1
    assert build_loss("ctx-l2", **TINY).distance == "l2"
    assert build_loss("l1").q == 1
    with pytest.raises(InputError, match=r"^loss 'perceptual-l2' fixes p=2; do not pass \['p'\]$"):
        build_loss("perceptual-l2", p=1, **TINY)
    with pytest.raises(InputError, match=r"^loss 'ctx-dp' fixes distance='cosine'; do not pass \['distance'\]$"):
        build_loss("ctx-dp", distance="l2", **TINY)
    with pytest.raises(InputError, match=r"^loss name must be a string, got int$"):
        build_loss(3)


def test_adversarial_loss_builds_its_discriminator_for_its_input_range():
    loss = AdversarialLoss(input_range=(-1.0, 1.0), base_channels=2, hidden=4)
    assert loss.discriminator.input_range == (-1.0, 1.0)


# -- whole messages -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: FeatureLoss(weights="random", layers=[]), "layers must name at least one VGG layer"),
        (lambda: FeatureLoss(weights="random", layers=["relu1_2", "relu1_2"]),
         "layers repeat a name: ('relu1_2', 'relu1_2')"),
        (lambda: FeatureLoss(q=3, **TINY), "q (pixel term order) must be 1 or 2, got 3"),
        (lambda: FeatureLoss(layer_weights={"relu2_2": 1.0}, **TINY),
         "layer_weights name layers not in layers: ['relu2_2']"),
        (lambda: FeatureLoss(layer_weights=[1.0, 2.0], **TINY), "2 layer_weights for 1 layers"),
        (lambda: PixelLoss(q=3), "q (pixel term order) must be 1 or 2, got 3"),
        (lambda: PerceptualLoss(p=3, **TINY), "p must be 1 (L1) or 2 (L2), got 3"),
        (lambda: ProjectedDistributionLoss(projection="pca", **TINY),
         "projection must be one of ('id', 'r2p', 'rpp', 'rsp'), got 'pca'"),
        (lambda: ProjectedDistributionLoss(resample=True, **TINY),
         "resample=True needs a random projection (r2p, rpp or rsp), not 'id'"),
        (lambda: ProjectedDistributionLoss(projection_factor=2, **TINY),
         "the identity projection has exactly one row per channel: use factor=1"),
        (lambda: ProjectedDistributionLoss(projection_factor=0, **TINY), "factor must be a positive integer, got 0"),
        (lambda: ContextualLoss(seed=True, **TINY), "seed must be an integer, got True"),
        (lambda: ContextualLoss(seed=1.5, **TINY), "seed must be an integer, got 1.5"),
        (lambda: AdversarialLoss(pixel_weight=-1.0), "pixel_weight must be a non-negative number, got -1.0"),
        (lambda: SRGANDiscriminator(base_channels=True), "base_channels must be a positive integer, got True"),
        (lambda: SRGANDiscriminator(hidden=0), "hidden must be a positive integer, got 0"),
        (lambda: SRGANDiscriminator(pool_size=0), "pool_size must be a positive integer, got 0"),
        (lambda: SRGANDiscriminator(input_range=(1.0, 1.0)),
         "input_range must be (low, high) with high > low, got (1.0, 1.0)"),
        (lambda: CombinedLoss({}), "CombinedLoss needs at least one loss"),
        (lambda: CombinedLoss({"pix": PixelLoss()}),
         "loss 'pix' is a PixelLoss, not a feature loss (PDL, perceptual, contextual); "
         "add pixel-only or adversarial terms separately"),
    ],
)  # fmt: skip
def test_loss_options_whole_messages(build, message):
    with pytest.raises(InputError, match=f"^{_escaped(message)}$"):
        build()


def _escaped(text: str) -> str:
    return re.escape(text)


def test_combined_loss_needs_one_feature_pass():
    first = ProjectedDistributionLoss(**TINY)
    other = ProjectedDistributionLoss(weights="random", layers=["relu1_2"], input_range=(-1.0, 1.0))
    with pytest.raises(InputError) as caught:
        CombinedLoss({"a": first, "b": other})
    assert str(caught.value).startswith("loss 'b' uses vgg16 with ")
    assert str(caught.value).endswith(
        ": a shared feature pass needs one backbone, weights, preprocessing and input range"
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_proj": 0}, "num_proj must be a positive integer, got 0"),
        ({"num_proj": True}, "num_proj must be a positive integer, got True"),
        ({"patch_size": 0}, "patch_size must be a positive integer, got 0"),
        ({"stride": 0}, "stride must be a positive integer, got 0"),
        ({"stride": True}, "stride must be a positive integer, got True"),
        ({"phase_weight": True}, "phase_weight must be a non-negative number, got True"),
        ({"phase_weight": -0.5}, "phase_weight must be a non-negative number, got -0.5"),
        ({"chunk_size": True}, "chunk_size must be a positive integer, 'auto' or None, got True"),
        ({"chunk_size": 0}, "chunk_size must be a positive integer, 'auto' or None, got 0"),
        ({"small_maps": "crop"}, "small_maps must be one of ('error', 'shrink'), got 'crop'"),
        ({"fft_norm": "unit"}, "fft_norm must be one of ('backward', 'ortho', 'forward'), got 'unit'"),
        ({"phase_eps": False}, "phase_eps must be a number in [0, 1), got False"),
        ({"phase_eps": 1.0}, "phase_eps must be a number in [0, 1), got 1.0"),
    ],
)
def test_fdl_options_whole_messages(kwargs, message):
    with pytest.raises(InputError, match=f"^{_escaped(message)}$"):
        _fdl(**kwargs)


def test_fdl_edge_options_are_accepted():
    assert _fdl(chunk_size=1).chunk_size == 1
    assert _fdl(chunk_size=3).chunk_size == 3
    assert _fdl(phase_weight=0).phase_weight == 0.0
    assert _fdl(phase_eps=0).phase_eps == 0.0


def test_fdl_small_maps_whole_message_and_its_conditions():
    loss = FrequencyDistributionLoss(weights="random", layers=["relu2_2"], num_proj=2)  # stride 2, patch 5
    tall, wide = _images(1, 3, 24, 9), _images(1, 3, 9, 24)
    message = (
        "FDL at relu2_2 (stride 2) turns 24x9 images into 12x4 maps, smaller than the 5x5 patch; use images "
        "of at least 10 px, shallower layers, a smaller patch_size, or small_maps='shrink'"
    )
    with pytest.raises(InputError, match=f"^{_escaped(message)}$"):
        loss(*tall)
    with pytest.raises(InputError, match=r"turns 9x24 images into 4x12 maps"):
        loss(*wide)
    loss(*_images(1, 3, 10, 10))  # 5x5 maps: exactly the patch
    # A zero feature weight computes no features: small images are then no error.
    pixel_only = FrequencyDistributionLoss(weight=0.0, pixel_weight=1.0, weights="random", layers=["relu2_2"])
    u, v = _images(1, 3, 8, 8)
    torch.testing.assert_close(pixel_only(u, v), (u - v).abs().mean(), rtol=1e-6, atol=0)


def test_fdl_structure_checks_without_the_values():
    loss = _fdl()
    u, v = _images(1, 3, 8, 8)
    u[0, 0, 0, 0] = float("nan")
    loss.check_inputs(u, v, False)  # the structure only, positional
    loss.check_inputs(u, v, check_values=False)
    with pytest.raises(InputError, match="prediction contains NaN or Inf values"):
        loss.check_inputs(u, v)


def test_perceptual_shape_message_with_no_pixel_term():
    loss = PerceptualLoss(pixel_weight=0.0, **TINY)
    u, v = _images(1, 3, 8, 8)[0], _images(1, 3, 8, 10)[0]
    message = (
        "the perceptual loss compares features position by position: prediction (1, 3, 8, 8) and target "
        "(1, 3, 8, 10) must have the same shape"
    )
    with pytest.raises(InputError, match=f"^{_escaped(message)}$"):
        loss(u, v)


def test_batch_pairing_without_a_pixel_term():
    loss = ContextualLoss(pixel_weight=0.0, **TINY)
    u, v = _images(2, 3, 8, 8)[0], _images(3, 3, 8, 8)[0]
    with pytest.raises(InputError, match=r"^prediction and target batch sizes differ: 2 and 3$"):
        loss(u, v)
    loss(u, _images(2, 3, 6, 10)[0])  # other sizes are fine without the pixel term


def test_contextual_loss_probe_leaves_the_global_generator_alone():
    before = torch.get_rng_state()
    ContextualLoss(max_positions=1, **TINY)
    assert torch.equal(torch.get_rng_state(), before)


@pytest.mark.parametrize(
    "make, owner",
    [
        (lambda: PixelLoss(), "PixelLoss"),
        (lambda: ProjectedDistributionLoss(**TINY), "ProjectedDistributionLoss"),
        (lambda: AdversarialLoss(base_channels=2, hidden=4), "AdversarialLoss"),
        (lambda: CombinedLoss({"pdl": ProjectedDistributionLoss(**TINY)}), "CombinedLoss"),
    ],
)
def test_the_range_warning_names_the_loss(make, owner):
    loss = make()
    u, v = _images(2, 3, 16, 16)  # two images: the discriminator's BatchNorm needs more than one value
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loss(u * 4.0, v)
    texts = [str(w.message) for w in caught if "far outside" in str(w.message)]
    assert texts and texts[0].startswith(f"{owner}: prediction has values in [")


# -- what reaches the functional form -------------------------------------------------------------
def test_each_loss_passes_its_options_to_the_functional_form(monkeypatch):
    calls = {}

    def recorder(key, real):
        def spy(*args, **kwargs):
            calls[key] = (args, kwargs)
            return real(*args, **kwargs)

        return spy

    monkeypatch.setattr(pdl_module, "projected_distribution_distance",
                        recorder("pdl", pdl_module.projected_distribution_distance))  # fmt: skip
    monkeypatch.setattr(contextual_module, "contextual_loss", recorder("ctx", contextual_module.contextual_loss))
    monkeypatch.setattr(fdl_module, "frequency_distribution_distance",
                        recorder("fdl", fdl_module.frequency_distribution_distance))  # fmt: skip
    u, v = _images(1, 3, 12, 12)
    ProjectedDistributionLoss(p=2, **TINY)(u, v)
    assert calls["pdl"][0][3] == 2 and calls["pdl"][1] == {"reduction": "none"}
    ContextualLoss(spatial_weight=0.25, bandwidth=0.3, max_positions=50, distance="l2", **TINY)(u, v)
    args = calls["ctx"][0]
    assert args[2:6] == ("l2", 0.3, 50, "none") and args[7] == 0.25 and isinstance(args[6], torch.Generator)
    options = {"stride": 2, "chunk_size": 3, "phase_eps": 0.1, "fft_norm": "ortho", "phase_weight": 0.5}
    fdl = _fdl(separate_phase_projections=True, small_maps="shrink", **options)
    fdl(u, v)
    args, kwargs = calls["fdl"]
    amp, phase = fdl.projections("relu1_2")
    assert args[2] is amp and args[3] is phase and phase is not None
    assert kwargs == {"stride": 2, "phase_weight": 0.5, "reduction": "none", "chunk_size": 3, "small_maps": "shrink",
                      "phase_eps": 0.1, "fft_norm": "ortho"}  # fmt: skip


# -- zero weights, target gradients, dtypes -------------------------------------------------------
def test_a_zero_feature_weight_computes_no_features():
    u, v = _images(2, 3, 16, 16)
    for loss in (ProjectedDistributionLoss(weight=0.0, **TINY), PerceptualLoss(weight=0.0, **TINY)):
        calls: list[int] = []
        handle = loss.extractor.register_forward_pre_hook(lambda m, args, calls=calls: calls.append(1))
        try:
            value, terms = loss(u, v, return_terms=True)
        finally:
            handle.remove()
        assert calls == []
        torch.testing.assert_close(value, (u - v).abs().mean(), rtol=1e-6, atol=0)
        assert terms["feature"].item() == 0.0
    u64, v64 = u.double(), v.double()
    per_image = ProjectedDistributionLoss(weight=0.0, **TINY).terms_from_features(u64, v64, {}, {})
    assert per_image["feature"].dtype == torch.float64 and per_image["feature"].shape == (2,)
    members = {"a": PerceptualLoss(weight=0.0, **TINY), "b": ProjectedDistributionLoss(weight=0.0, **TINY)}
    combined = CombinedLoss(members)
    calls = []
    handle = combined.extractor.register_forward_pre_hook(lambda m, args: calls.append(1))
    try:
        torch.testing.assert_close(combined(u, v), 2 * (u - v).abs().mean(), rtol=1e-6, atol=0)
    finally:
        handle.remove()
    assert calls == []


def test_a_target_that_requires_grad_gets_its_gradient():
    u, v = _images(1, 3, 12, 12)
    target = v.clone().requires_grad_(True)
    loss = PerceptualLoss(pixel_weight=0.0, weight=1.0, **TINY)
    loss(u, target).backward()
    assert target.grad is not None and target.grad.abs().sum() > 0
    # The same loss with a detached target passes no gradient; through CombinedLoss the same one.
    assert not PerceptualLoss(pixel_weight=0.0, weight=1.0, **TINY)(u, v).requires_grad
    combined = CombinedLoss({"p": PerceptualLoss(pixel_weight=0.0, weight=1.0, **TINY)})
    target2 = v.clone().requires_grad_(True)
    combined(u, target2).backward()
    torch.testing.assert_close(target2.grad, target.grad, rtol=1e-6, atol=1e-9)


def test_combined_features_of_the_target_are_its_own():
    u, v = _images(1, 3, 12, 12)
    pdl = ProjectedDistributionLoss(pixel_weight=0.0, weight=1.0, **TINY)
    combined = CombinedLoss({"pdl": pdl})
    fu, fv = pdl.extractor(u, pdl.layers)["relu1_2"], pdl.extractor(v, pdl.layers)["relu1_2"]
    expected = projected_distribution_distance(fu, fv)
    torch.testing.assert_close(combined(u, v), expected, rtol=1e-6, atol=0)
    torch.testing.assert_close(combined(u, v.clone().requires_grad_(True)), expected, rtol=1e-6, atol=0)


# -- the adversarial loss -------------------------------------------------------------------------
def _adversarial(**kwargs):
    return AdversarialLoss(**{"base_channels": 2, "hidden": 4, **kwargs})


def test_adversarial_terms_by_hand_and_zero_weights_skip_their_term(monkeypatch):
    u, v = _images(2, 3, 16, 16)
    loss = _adversarial(weight=0.5, pixel_weight=2.0, q=2)
    logits = loss.discriminator(u)
    value, terms = loss(u, v, return_terms=True)
    pixel = (u - v).square().flatten(1).mean(1)
    adversarial = F.softplus(-logits)  # -log sigmoid(D(u))
    torch.testing.assert_close(value, (2.0 * pixel + 0.5 * adversarial).mean(), rtol=1e-5, atol=0)
    assert set(terms) == {"pixel", "adversarial"}
    torch.testing.assert_close(terms["pixel"], pixel.mean(), rtol=1e-6, atol=0)
    torch.testing.assert_close(terms["adversarial"], adversarial.mean(), rtol=1e-5, atol=0)

    calls = []
    monkeypatch.setattr(loss, "_generator_term", lambda x: calls.append(x) or torch.ones(x.shape[0]))
    loss.weight = 0.0
    value, terms = loss(u, v, return_terms=True)
    assert calls == [] and terms["adversarial"].item() == 0.0
    torch.testing.assert_close(value, 2.0 * pixel.mean(), rtol=1e-6, atol=0)
    loss.weight, loss.pixel_weight = 0.5, 0.0
    value, terms = loss(u, v, return_terms=True)
    assert terms["pixel"].item() == 0.0 and len(calls) == 1
    assert value.item() == pytest.approx(0.5)
    per_image = _adversarial(pixel_weight=0.0, reduction="none")
    monkeypatch.setattr(per_image, "_generator_term", lambda x: torch.full((x.shape[0],), 3.0))
    assert per_image(u, v).tolist() == [pytest.approx(3e-3)] * 2


class _MeanTimesTen(torch.nn.Module):
    """A stand-in discriminator with logits known by hand: ten times each image's mean."""

    def forward(self, x):
        return 10.0 * x.mean(dim=(1, 2, 3))


def test_discriminator_loss_per_image_by_hand():
    real = torch.stack([torch.full((3, 16, 16), value) for value in (0.1, 0.5, 0.9)])
    fake = torch.stack([torch.full((3, 16, 16), value) for value in (0.8, 0.2, 0.4)])
    loss = AdversarialLoss(reduction="none", discriminator=_MeanTimesTen())
    # BCE(D(real), 1) + BCE(D(fake), 0) = softplus(-D(real)) + softplus(D(fake)), per image.
    pairs = ((0.1, 0.8), (0.5, 0.2), (0.9, 0.4))
    expected = [math.log1p(math.exp(-10 * r)) + math.log1p(math.exp(10 * f)) for r, f in pairs]
    torch.testing.assert_close(loss.discriminator_loss(real, fake), torch.tensor(expected), rtol=1e-5, atol=0)
    assert loss.generator_term(fake).tolist() == pytest.approx([math.log1p(math.exp(-10 * f)) for f in (0.8, 0.2, 0.4)])
    bad = fake.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(InputError, match=r"^fake contains NaN or Inf values"):
        loss.discriminator_loss(real, bad)
    with pytest.raises(InputError, match=r"^fake contains NaN or Inf values"):
        loss.generator_term(bad)


def test_srgan_discriminator_counted_by_hand():
    d = SRGANDiscriminator()
    c = 64
    blocks = ((c, c), (c, 2 * c), (2 * c, 2 * c), (2 * c, 4 * c), (4 * c, 4 * c), (4 * c, 8 * c), (8 * c, 8 * c))
    # conv3x3(3 -> 64) with bias; seven conv3x3 without bias (BatchNorm follows), each BatchNorm a
    # scale and a shift per channel; dense 512*6*6 -> 1024 and 1024 -> 1, with biases.
    expected = (3 * c * 9 + c) + sum(i * o * 9 + 2 * o for i, o in blocks) + (8 * c * 36 * 1024 + 1024) + (1024 + 1)
    assert sum(p.numel() for p in d.parameters()) == expected
    x = torch.rand(1, 3, 96, 96)
    assert d.features[:2](x).shape == (1, c, 96, 96)  # the first convolution keeps the size
    assert d.features(x).shape == (1, 8 * c, 6, 6)  # 96 / 16: the pooling is the identity at SRGAN's crops


def test_srgan_discriminator_maps_its_input_range_to_minus_one_one():
    d = SRGANDiscriminator(base_channels=2, hidden=4, input_range=(0.2, 0.6)).eval()
    seen = []
    d.features[0].register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    d(torch.tensor([0.2, 0.4, 0.6]).view(1, 3, 1, 1).expand(1, 3, 16, 16))
    torch.testing.assert_close(seen[0][0, :, 0, 0], torch.tensor([-1.0, 0.0, 1.0]), rtol=0, atol=1e-6)
