"""The pixel loss: the paper's "no-perceptual" baseline (``l1`` in the registry)."""

from __future__ import annotations

import torch
from torch import nn

from pdloss.errors import InputError
from pdloss.functional import pixel_distance
from pdloss.validation import LossInputChecks, check_reduction, reduce, validation_mode


class PixelLoss(nn.Module):
    """``mean |u - v|^q`` per image (q=1: L1, the paper's "no-perceptual" baseline; q=2: MSE).

    Same input conventions and validation policy as the feature losses
    (:class:`pdloss.validation.LossInputChecks`): RGB ``(B, 3, H, W)`` in ``input_range``, float,
    prediction and target of one shape; NaN/Inf and a target far outside the range are errors, a
    prediction far outside the range a one-time warning (``validate="strict"``: an error,
    False / ``"off"``: no value checks and no device sync).

    The distance is on the [0, 1] scale whatever ``input_range`` (divided by ``(high - low) ** q``),
    as the feature losses' pixel term is: images in (0, 255) give the value of the same images in (0, 1).
    """

    def __init__(
        self,
        q: float = 1,
        reduction: str = "mean",
        input_range: tuple[float, float] = (0.0, 1.0),
        validate: bool | str = True,
    ) -> None:
        super().__init__()
        if q not in (1, 2):
            raise InputError(f"q (pixel term order) must be 1 or 2, got {q!r}")
        validation_mode(validate)
        self.q = q
        self.reduction = check_reduction(reduction)
        self.input_range = (float(input_range[0]), float(input_range[1]))
        self.validate = validate
        self._input_checks = LossInputChecks(type(self).__name__)

    def forward(
        self, prediction: torch.Tensor, target: torch.Tensor, return_terms: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
        self._input_checks(prediction, target, value_range=self.input_range, validate=self.validate)
        low, high = self.input_range
        per_image = pixel_distance(prediction, target, self.q) / (high - low) ** self.q
        loss = reduce(per_image, self.reduction)
        if return_terms:
            return loss, {"pixel": reduce(per_image.detach(), self.reduction)}
        return loss

    def extra_repr(self) -> str:
        return f"q={self.q}, reduction={self.reduction!r}"
