"""The adversarial loss of SRGAN (Ledig et al., CVPR 2017), the paper's super-resolution baseline.

:class:`SRGANDiscriminator` is the SRGAN discriminator; :class:`AdversarialLoss` holds one and
gives the generator's and the discriminator's loss terms (binary cross-entropy on logits).

A training step with it::

    adv = AdversarialLoss(weight=1e-3)                     # the SRGAN weight of the GAN term
    d_opt = torch.optim.Adam(adv.discriminator.parameters(), lr=1e-4)
    fake = generator(low_res)
    g_loss = content_loss(fake, high_res) + adv.generator_loss(fake)
    g_opt.zero_grad(); g_loss.backward(); g_opt.step()     # no gradient reaches the discriminator
    d_loss = adv.discriminator_loss(high_res, fake)        # fake is detached inside
    d_opt.zero_grad(); d_loss.backward(); d_opt.step()
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pdloss.errors import InputError
from pdloss.functional import pixel_distance
from pdloss.validation import LossInputChecks, check_loss_weights, check_reduction, reduce, validation_mode

# Four stride-2 convolutions: a 16 x 16 input leaves a 1 x 1 map.
MIN_SIZE = 16


class SRGANDiscriminator(nn.Module):
    """The SRGAN discriminator (Ledig et al. 2017, Fig. 4), size-agnostic.

    conv3x3(64) + LeakyReLU(0.2), then seven conv3x3 + BatchNorm + LeakyReLU(0.2) blocks with
    (channels, stride) = (64, 2), (128, 1), (128, 2), (256, 1), (256, 2), (512, 1), (512, 2); then
    dense(1024) + LeakyReLU(0.2) + dense(1), giving one logit per image (the paper's final sigmoid
    is folded into the loss, BCE-with-logits, for numerical stability).

    Deviation from the paper, to accept any input size: an adaptive average pooling to
    ``pool_size x pool_size`` before the dense layers. With the default ``pool_size=6`` and the
    paper's 96 x 96 crops the pooling is the identity and the network is exactly SRGAN's.

    Args:
        base_channels: channels of the first block (64 in SRGAN; the others scale with it).
        hidden: width of the first dense layer (1024 in SRGAN).
        pool_size: side of the pooled map fed to the dense layers.
        input_range: value range of the images; they are mapped to [-1, 1] (SRGAN's HR scaling).

    Input ``(B, 3, H, W)`` with H, W >= 16; output logits ``(B,)``.
    """

    def __init__(
        self,
        base_channels: int = 64,
        hidden: int = 1024,
        pool_size: int = 6,
        input_range: tuple[float, float] = (0.0, 1.0),
    ) -> None:
        super().__init__()
        for name, value in (("base_channels", base_channels), ("hidden", hidden), ("pool_size", pool_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InputError(f"{name} must be a positive integer, got {value!r}")
        low, high = float(input_range[0]), float(input_range[1])
        if not high > low:
            raise InputError(f"input_range must be (low, high) with high > low, got {input_range}")
        self.input_range = (low, high)
        c = base_channels
        layers: list[nn.Module] = [nn.Conv2d(3, c, 3, 1, 1), nn.LeakyReLU(0.2)]
        in_channels = c
        for out_channels, stride in ((c, 2), (2 * c, 1), (2 * c, 2), (4 * c, 1), (4 * c, 2), (8 * c, 1), (8 * c, 2)):
            # No conv bias before BatchNorm: the norm's shift makes it redundant.
            layers += [
                nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False),
                nn.BatchNorm2d(out_channels),
                nn.LeakyReLU(0.2),
            ]
            in_channels = out_channels
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(pool_size)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(in_channels * pool_size * pool_size, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low, high = self.input_range
        x = (x - low) * (2.0 / (high - low)) - 1.0
        return self.classifier(self.pool(self.features(x))).squeeze(1)


class AdversarialLoss(nn.Module):
    """SRGAN's adversarial loss terms around a :class:`SRGANDiscriminator`.

    - :meth:`generator_loss` ``(fake)``: ``weight * mean BCE(D(fake), real)``, i.e.
      ``-weight * log D(G(x))`` (the non-saturating form SRGAN uses).
    - :meth:`discriminator_loss` ``(real, fake)``: ``BCE(D(real), real) + BCE(D(fake), fake)``
      (unweighted; ``fake`` is detached).
    - ``forward(prediction, target)``: ``pixel_weight * ||u - v||_q + weight * BCE(D(u), real)``,
      the same form as the other losses (use ``pixel_weight=0`` for the GAN term alone).

    The discriminator's parameters are trainable and belong to this module's state dict; the
    generator terms do not accumulate gradients in them.

    Args:
        weight: weight of the generator's adversarial term (SRGAN: 1e-3).
        pixel_weight: weight of the pixel term in ``forward``.
        q: pixel term order (1 or 2).
        reduction: ``"none"``, ``"mean"`` or ``"sum"`` over the batch.
        input_range: value range of the images.
        validate: the value checks, as for every loss (:class:`pdloss.validation.LossInputChecks`):
            True / ``"warn"`` (NaN/Inf and a real/target image far outside ``input_range`` are errors,
            a fake/prediction there a one-time warning), ``"strict"``, False / ``"off"``.
        discriminator: an existing discriminator (default: a new :class:`SRGANDiscriminator`).
        **discriminator_kwargs: options of a new :class:`SRGANDiscriminator` (base_channels,
            hidden, pool_size).
    """

    def __init__(
        self,
        weight: float = 1e-3,
        pixel_weight: float = 1.0,
        q: float = 1,
        reduction: str = "mean",
        input_range: tuple[float, float] = (0.0, 1.0),
        validate: bool | str = True,
        discriminator: nn.Module | None = None,
        **discriminator_kwargs,
    ) -> None:
        super().__init__()
        check_loss_weights(weight=weight, pixel_weight=pixel_weight)
        if q not in (1, 2):
            raise InputError(f"q (pixel term order) must be 1 or 2, got {q!r}")
        if discriminator is not None and discriminator_kwargs:
            raise InputError(f"pass either a discriminator or its options, not both: {sorted(discriminator_kwargs)}")
        self.weight = float(weight)
        self.pixel_weight = float(pixel_weight)
        self.q = q
        self.reduction = check_reduction(reduction)
        self.input_range = (float(input_range[0]), float(input_range[1]))
        validation_mode(validate)
        self.validate = validate
        self._input_checks = LossInputChecks(type(self).__name__)
        self.discriminator = discriminator or SRGANDiscriminator(input_range=self.input_range, **discriminator_kwargs)

    def _check(
        self, prediction: torch.Tensor, target: torch.Tensor | None, names: tuple[str, str], pairing: str | None
    ) -> None:
        self._input_checks(
            prediction,
            target,
            value_range=self.input_range,
            validate=self.validate,
            min_size=MIN_SIZE,
            pairing=pairing,
            names=names,
        )

    def _logits_frozen(self, x: torch.Tensor) -> torch.Tensor:
        """Discriminator logits with the gradient flowing to ``x`` only, not to the parameters.

        The parameters enter as detached copies (``torch.func.functional_call``) rather than by
        toggling ``requires_grad``, which ``torch.compile`` cannot trace; buffers (BatchNorm
        statistics) are the module's own, updated as in a plain call.
        """
        detached = {name: p.detach() for name, p in self.discriminator.named_parameters()}
        return torch.func.functional_call(self.discriminator, detached, (x,), strict=False)

    def generator_term(self, fake: torch.Tensor) -> torch.Tensor:
        """Per image ``-log sigmoid(D(fake))`` ``(B,)``, unweighted."""
        self._check(fake, None, ("fake", "real"), None)
        return self._generator_term(fake)

    def _generator_term(self, fake: torch.Tensor) -> torch.Tensor:
        logits = self._logits_frozen(fake).float()
        return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits), reduction="none")

    def generator_loss(self, fake: torch.Tensor) -> torch.Tensor:
        """``weight`` times the generator term, reduced over the batch."""
        return self.weight * reduce(self.generator_term(fake), self.reduction)

    def discriminator_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """``BCE(D(real), 1) + BCE(D(fake), 0)`` per image, reduced; ``fake`` is detached."""
        self._check(fake, real, ("fake", "real"), "batch")
        real_logits = self.discriminator(real).float()
        fake_logits = self.discriminator(fake.detach()).float()
        per_image = F.binary_cross_entropy_with_logits(
            real_logits, torch.ones_like(real_logits), reduction="none"
        ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits), reduction="none")
        return reduce(per_image, self.reduction)

    def forward(
        self, prediction: torch.Tensor, target: torch.Tensor, return_terms: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``pixel_weight * ||u - v||_q + weight * generator term``, reduced; with ``return_terms``
        also ``{"pixel", "adversarial"}`` (reduced, detached)."""
        self._check(prediction, target, ("prediction", "target"), "shape")
        zero = torch.zeros(prediction.shape[0], device=prediction.device)
        low, high = self.input_range  # the pixel term on the [0, 1] scale, as in the other losses
        pixel = pixel_distance(prediction, target, self.q) / (high - low) ** self.q if self.pixel_weight > 0 else zero
        adversarial = self._generator_term(prediction) if self.weight > 0 else zero
        loss = reduce(self.pixel_weight * pixel + self.weight * adversarial, self.reduction)
        if return_terms:
            terms = {"pixel": pixel, "adversarial": adversarial}
            return loss, {k: reduce(t.detach(), self.reduction) for k, t in terms.items()}
        return loss

    def extra_repr(self) -> str:
        return f"weight={self.weight}, pixel_weight={self.pixel_weight}, q={self.q}, reduction={self.reduction!r}"
