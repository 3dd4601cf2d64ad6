"""Input dtypes, the shared extractor, and the pixel term's scale.

- float64 images compute in float64 (same value as float32 within float32 rounding); float16 and
  bfloat16 images outside autocast compute in float32 (the value of the same images cast up).
- Casting or moving one loss (``.double()``, ``.half()``, ``.to()``) never changes another loss that
  shares the extractor, and the shared extractor is in no loss's state dict.
- The pixel term is on the [0, 1] scale whatever ``input_range``: (0, 255) images give the loss of
  the same images in (0, 1).
"""

from __future__ import annotations

import pytest
import torch

from pdloss.losses.adversarial import AdversarialLoss
from pdloss.losses.combined import CombinedLoss
from pdloss.losses.contextual import ContextualLoss
from pdloss.losses.pdl import ProjectedDistributionLoss
from pdloss.losses.perceptual import PerceptualLoss
from pdloss.losses.pixel import PixelLoss

FEATURES = {"weights": "random", "layers": "relu2_2"}


def images(dtype=torch.float32):
    g = torch.Generator().manual_seed(7)
    u, v = (
        torch.rand(2, 3, 24, 24, generator=g, dtype=torch.float64),
        torch.rand(2, 3, 24, 24, generator=g, dtype=torch.float64),
    )
    return u.to(dtype), v.to(dtype)


@pytest.mark.parametrize(
    "make",
    [
        lambda: ProjectedDistributionLoss(projection="rsp", **FEATURES),
        lambda: PerceptualLoss(**FEATURES),
        lambda: ContextualLoss(**FEATURES),
    ],
)
def test_float64_images_compute_in_float64(make):
    loss = make()
    u64, v64 = images(torch.float64)
    x = u64.clone().requires_grad_(True)
    value = loss(x, v64)
    value.backward()
    assert value.dtype == torch.float64 and x.grad.dtype == torch.float64
    # The float32 value of the same images, within float32 rounding.
    torch.testing.assert_close(value.float(), loss(u64.float(), v64.float()), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_images_compute_in_float32(dtype):
    loss = ProjectedDistributionLoss(**FEATURES)
    u, v = images(dtype)
    value = loss(u, v)
    assert value.dtype == torch.float32
    assert value.item() == loss(u.float(), v.float()).item()  # exactly the images cast up


def test_casting_one_loss_leaves_the_others_alone():
    loss_a = ProjectedDistributionLoss(projection="rpp", **FEATURES)
    loss_b = PerceptualLoss(**FEATURES)
    assert loss_a.extractor is loss_b.extractor  # one shared network
    u, v = images()
    before = loss_b(u, v).item()
    loss_a.double()
    assert loss_b(u, v).item() == before
    assert loss_a(*images(torch.float64)).dtype == torch.float64
    loss_a.half()
    assert loss_b(u, v).item() == before
    loss_a.to(torch.float64)
    assert loss_b(u, v).item() == before
    weight = loss_b.extractor.net.features[0].weight
    assert weight.dtype == torch.float32 and weight.device.type == "cpu"
    assert not any("extractor" in key for key in loss_a.state_dict())
    assert not any("extractor" in name for name, _ in loss_a.named_modules())


def test_combined_loss_follows_the_inputs_dtype():
    combined = CombinedLoss({"pdl": ProjectedDistributionLoss(**FEATURES), "l1": PerceptualLoss(**FEATURES)})
    u, v = images()
    value32 = combined(u, v)
    value64 = combined(*images(torch.float64))
    assert value64.dtype == torch.float64
    torch.testing.assert_close(value64.float(), value32, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "make",
    [
        lambda r: ProjectedDistributionLoss(input_range=r, **FEATURES),
        lambda r: PixelLoss(input_range=r),
        lambda r: PixelLoss(q=2, input_range=r),
        lambda r: PerceptualLoss(input_range=r, q=2, **FEATURES),
        lambda r: AdversarialLoss(input_range=r, base_channels=2, hidden=4, pool_size=1),
    ],
)
def test_the_pixel_term_is_on_the_unit_scale_for_every_input_range(make):
    u, v = images(torch.float64)
    unit = make((0.0, 1.0))
    if isinstance(unit, AdversarialLoss):  # its pixel term; the GAN term has its own discriminator
        unit.weight = 0.0
    scaled = make((0.0, 255.0))
    scaled.load_state_dict(unit.state_dict())
    if isinstance(scaled, AdversarialLoss):
        scaled.weight = 0.0
    torch.testing.assert_close(scaled(u * 255, v * 255), unit(u, v), rtol=1e-9, atol=1e-12)
    signed = make((-1.0, 1.0))
    signed.load_state_dict(unit.state_dict())
    if isinstance(signed, AdversarialLoss):
        signed.weight = 0.0
    torch.testing.assert_close(signed(u * 2 - 1, v * 2 - 1), unit(u, v), rtol=1e-9, atol=1e-12)
