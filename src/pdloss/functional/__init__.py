"""Pure tensor maths of the Projected Distribution Loss and its baselines: the functional API.

Everything here works on plain tensors (no networks, no weights), is differentiable, and imports
nothing of pdloss but :mod:`pdloss.errors` and :mod:`pdloss.validation`. One module per job:

- :mod:`~pdloss.functional.wasserstein`: ``wasserstein_1d``, W_p through the quantile functions;
- :mod:`~pdloss.functional.distribution`: ``projected_distribution_distance`` (the PDL term);
- :mod:`~pdloss.functional.perceptual`: ``perceptual_distance`` and ``pixel_distance``;
- :mod:`~pdloss.functional.contextual`: the contextual loss (CX) and CoBi;
- :mod:`~pdloss.functional.frequency`: the frequency distribution loss (FDL) maths;
- :mod:`~pdloss.functional.sorting`: the sort behind ``wasserstein_1d`` (torch.sort or NumPy);
- :mod:`~pdloss.functional.projections`: the projection matrices (id, r2p, rpp, rsp).

Conventions: empirical distributions carry uniform weights; distances are returned as ``W_p``
(not ``W_p^p``); per-image values are reduced over the batch with ``reduction``.
"""

from __future__ import annotations

from pdloss.functional.contextual import (
    CONTEXTUAL_DISTANCES,
    contextual_bilateral_loss,
    contextual_loss,
    contextual_similarity,
)
from pdloss.functional.distribution import projected_distribution_distance
from pdloss.functional.frequency import frequency_distribution_distance, frequency_distribution_terms
from pdloss.functional.perceptual import perceptual_distance, pixel_distance
from pdloss.functional.projections import PROJECTION_KINDS, build_projection, make_projection
from pdloss.functional.sorting import SORT_BACKENDS, sort_backend
from pdloss.functional.wasserstein import wasserstein_1d

__all__ = [
    "CONTEXTUAL_DISTANCES",
    "PROJECTION_KINDS",
    "SORT_BACKENDS",
    "build_projection",
    "contextual_bilateral_loss",
    "contextual_loss",
    "contextual_similarity",
    "frequency_distribution_distance",
    "frequency_distribution_terms",
    "make_projection",
    "perceptual_distance",
    "pixel_distance",
    "projected_distribution_distance",
    "sort_backend",
    "wasserstein_1d",
]
