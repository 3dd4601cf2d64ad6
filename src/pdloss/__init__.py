"""pdloss: the Projected Distribution Loss and the experimental system around it.

Public entry points::

    from pdloss import ProjectedDistributionLoss
    from pdloss.functional import wasserstein_1d, projected_distribution_distance
    from pdloss.functional.projections import make_projection

    dtype = pdloss.autocast_dtype(device)   # bf16/fp16 where the device computes it natively, else None
    pdloss.restore(run_or_checkpoint, inputs, output)   # a trained model applied to a folder of images
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["ProjectedDistributionLoss", "__version__", "autocast_dtype", "restore"]


def __getattr__(name: str):
    # Lazy so that `import pdloss` (and the CLI) do not pay for torch.nn set-up until needed.
    if name == "ProjectedDistributionLoss":
        from pdloss.losses import ProjectedDistributionLoss

        return ProjectedDistributionLoss
    if name == "autocast_dtype":
        from pdloss.amp import autocast_dtype

        return autocast_dtype
    if name == "restore":
        # The function of pdloss.restoration (no submodule is named `restore`, so none shadows it).
        from pdloss.restoration import restore

        return restore
    if name in {"PerceptualLoss", "ContextualLoss"}:
        from pdloss import losses

        return getattr(losses, name)
    raise AttributeError(f"module 'pdloss' has no attribute {name!r}")
