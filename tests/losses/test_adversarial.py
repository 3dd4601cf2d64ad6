"""The SRGAN discriminator and adversarial loss terms."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers import gradcheck
from pdloss.errors import InputError
from pdloss.losses.adversarial import AdversarialLoss, SRGANDiscriminator


def small(**kwargs) -> AdversarialLoss:
    return AdversarialLoss(base_channels=4, hidden=16, pool_size=2, **kwargs)


def test_discriminator_is_srgans():
    d = SRGANDiscriminator()
    convs = [m for m in d.features if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256, 512, 512]
    assert [c.stride[0] for c in convs] == [1, 2, 1, 2, 1, 2, 1, 2]
    assert all(c.kernel_size == (3, 3) for c in convs)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d.features) == 7  # all but the first conv
    assert not isinstance(d.features[1], nn.BatchNorm2d)
    relus = [m for m in d.modules() if isinstance(m, nn.LeakyReLU)]
    assert len(relus) == 9 and all(m.negative_slope == 0.2 for m in relus)
    linears = [m for m in d.classifier if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(512 * 6 * 6, 1024), (1024, 1)]
    # At SRGAN's 96 x 96 crops the last map is 6 x 6: the adaptive pooling is the identity.
    x = torch.rand(2, 3, 96, 96)
    feats = d.features(x * 2 - 1)
    assert feats.shape == (2, 512, 6, 6)
    torch.testing.assert_close(d.pool(feats), feats)


@pytest.mark.parametrize("size", [(16, 16), (40, 56), (128, 96)])
def test_discriminator_accepts_any_size(size):
    d = SRGANDiscriminator(base_channels=8, hidden=32)
    assert d(torch.rand(3, 3, *size)).shape == (3,)


def test_input_range_maps_to_minus_one_one():
    d = SRGANDiscriminator(base_channels=4, hidden=8, input_range=(0, 255)).eval()
    d01 = SRGANDiscriminator(base_channels=4, hidden=8).eval()
    d01.load_state_dict(d.state_dict())
    x = torch.rand(2, 3, 16, 16)
    torch.testing.assert_close(d(x * 255), d01(x), rtol=1e-4, atol=1e-5)


def test_loss_terms_are_binary_cross_entropy():
    adv = small(weight=0.5).eval()
    real, fake = torch.rand(3, 3, 16, 16), torch.rand(3, 3, 16, 16)
    with torch.no_grad():
        lr, lf = adv.discriminator(real), adv.discriminator(fake)
    # -log sigmoid(z) = softplus(-z); -log(1 - sigmoid(z)) = softplus(z)
    torch.testing.assert_close(adv.generator_loss(fake), 0.5 * F.softplus(-lf).mean())
    torch.testing.assert_close(adv.discriminator_loss(real, fake), (F.softplus(-lr) + F.softplus(lf)).mean())
    total, terms = adv(fake, real, return_terms=True)
    torch.testing.assert_close(total, (fake - real).abs().mean() + 0.5 * F.softplus(-lf).mean())
    torch.testing.assert_close(terms["adversarial"], F.softplus(-lf).mean())
    summed = small(weight=0.5, reduction="sum").eval()
    summed.load_state_dict(adv.state_dict())
    torch.testing.assert_close(summed.generator_loss(fake), 0.5 * F.softplus(-lf).sum())
    assert small(reduction="none")(fake, real).shape == (3,)


def test_default_weight_is_srgans():
    assert AdversarialLoss().weight == pytest.approx(1e-3)


def test_gradients_go_where_they_belong():
    adv = small()
    fake = torch.rand(2, 3, 16, 16, requires_grad=True)
    real = torch.rand(2, 3, 16, 16)
    adv.generator_loss(fake).backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0
    assert all(p.grad is None for p in adv.discriminator.parameters())  # generator step leaves D alone
    assert all(p.requires_grad for p in adv.discriminator.parameters())  # ... and its flags (never toggled)
    fake.grad = None
    adv.discriminator_loss(real, fake).backward()
    assert fake.grad is None  # fake is detached for the discriminator step
    assert all(p.grad is not None for p in adv.discriminator.parameters())


def test_gradcheck_float64():
    adv = small(weight=0.7, reduction="sum").double().eval()
    fake = torch.rand(2, 3, 16, 16, dtype=torch.float64, requires_grad=True)
    real = torch.rand(2, 3, 16, 16, dtype=torch.float64, requires_grad=True)
    assert gradcheck(adv.generator_loss, (fake,), fast_mode=True)
    assert gradcheck(lambda a: adv(a, real), (fake,), fast_mode=True)
    assert gradcheck(lambda r: adv.discriminator_loss(r, fake), (real,), fast_mode=True)


def test_discriminator_learns_to_separate_smooth_from_noisy():
    """A few Adam steps on the discriminator loss separate flat patches (real) from noise (fake)."""
    torch.manual_seed(0)
    adv = small()
    opt = torch.optim.Adam(adv.discriminator.parameters(), lr=1e-2)

    def batch():
        real = torch.rand(8, 3, 1, 1).expand(8, 3, 16, 16).contiguous()
        return real, torch.rand(8, 3, 16, 16)

    with torch.no_grad():
        first = float(adv.discriminator_loss(*batch()))
    for _ in range(30):
        loss = adv.discriminator_loss(*batch())
        opt.zero_grad()
        loss.backward()
        opt.step()
    real, fake = batch()
    with torch.no_grad():  # train mode (batch statistics), as during training
        assert float(adv.discriminator_loss(real, fake)) < 0.5 * first
        assert float(adv.generator_loss(fake)) > float(adv.generator_loss(real))


def test_bad_options():
    with pytest.raises(InputError, match="weight must be a non-negative"):
        AdversarialLoss(weight=-1)
    with pytest.raises(InputError, match="q"):
        AdversarialLoss(q=3)
    with pytest.raises(InputError, match="base_channels must be a positive integer"):
        AdversarialLoss(base_channels=0)
    with pytest.raises(InputError, match="either a discriminator or its options"):
        AdversarialLoss(discriminator=SRGANDiscriminator(), hidden=8)
    with pytest.raises(InputError, match="reduction"):
        AdversarialLoss(reduction="avg")


def test_too_small_and_bad_inputs():
    adv = small()
    ok = torch.rand(1, 3, 16, 16)
    with pytest.raises(InputError, match="smaller than the minimum 16x16"):
        adv.generator_loss(torch.rand(1, 3, 8, 16))
    with pytest.raises(InputError, match="NaN"):
        adv.discriminator_loss(ok, torch.full((1, 3, 16, 16), float("nan")))
    with pytest.raises(InputError, match="same shape"):
        adv(ok, torch.rand(1, 3, 16, 20))
