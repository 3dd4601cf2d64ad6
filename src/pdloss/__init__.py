"""pdloss: the Projected Distribution Loss and the experimental system around it.

Public entry points::

    from pdloss import ProjectedDistributionLoss
    from pdloss.functional import wasserstein_1d, projected_distribution_distance
    from pdloss.functional.projections import make_projection

    dtype = pdloss.autocast_dtype(device)   # bf16/fp16 where the device computes it natively, else None
    pdloss.restore(run_or_checkpoint, inputs, output)   # a trained model applied to a folder of images
"""

__version__ = "0.1.0"

# Public name -> the module that defines it. Loaded on first use (PEP 562), so that `import pdloss`
# (and the CLI) do not pay for torch.nn set-up until needed.
_LAZY = {
    "AdversarialLoss": "pdloss.losses",
    "CombinedLoss": "pdloss.losses",
    "ContextualLoss": "pdloss.losses",
    "FrequencyDistributionLoss": "pdloss.losses",
    "PerceptualLoss": "pdloss.losses",
    "PixelLoss": "pdloss.losses",
    "ProjectedDistributionLoss": "pdloss.losses",
    "SRGANDiscriminator": "pdloss.losses",
    "autocast_dtype": "pdloss.amp",
    "build_loss": "pdloss.losses",
    "list_losses": "pdloss.losses",
    # The function of pdloss.restoration (no submodule is named `restore`, so none shadows it).
    "restore": "pdloss.restoration",
}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later lookups skip __getattr__
        return value
    raise AttributeError(f"module 'pdloss' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
