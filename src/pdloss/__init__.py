"""pdloss: the Projected Distribution Loss and the experimental system around it.

Public entry points::

    from pdloss import ProjectedDistributionLoss
    from pdloss.functional import wasserstein_1d, projected_distribution_distance
    from pdloss.projections import make_projection
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["ProjectedDistributionLoss", "__version__"]


def __getattr__(name: str):
    # Lazy so that `import pdloss` (and the CLI) do not pay for torch.nn set-up until needed.
    if name == "ProjectedDistributionLoss":
        from pdloss.losses import ProjectedDistributionLoss

        return ProjectedDistributionLoss
    if name in {"PerceptualLoss", "ContextualLoss"}:
        from pdloss import losses

        return getattr(losses, name)
    raise AttributeError(f"module 'pdloss' has no attribute {name!r}")
