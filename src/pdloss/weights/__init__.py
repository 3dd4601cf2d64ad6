"""VGG weight sources, converters, cache and verification.

See :func:`resolve_weights` (load for a backbone), :func:`install` (prepare the cache),
:func:`status` and :func:`verify`, and :data:`SOURCES` (:func:`list_weights`) for the named sources.
"""

from pdloss.weights.resolver import LoadedWeights, install, resolve_weights, status, verify
from pdloss.weights.sources import DEFAULT_WEIGHTS, SOURCES, WeightSource, list_weights

__all__ = [
    "DEFAULT_WEIGHTS",
    "SOURCES",
    "LoadedWeights",
    "WeightSource",
    "install",
    "list_weights",
    "resolve_weights",
    "status",
    "verify",
]
