"""Old public names kept for one release: each warns once (DeprecationWarning), then works as before.

``deprecated(func, "old", "new")`` wraps a function; :func:`module_getattr` serves renamed module
constants through a module's ``__getattr__`` (PEP 562), so that the old name stays importable.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["deprecated", "module_getattr", "warn_once"]

F = TypeVar("F", bound=Callable[..., Any])
_warned: set[str] = set()


def warn_once(old: str, new: str, stacklevel: int = 3) -> None:
    """One DeprecationWarning per old name per process."""
    if old in _warned:
        return
    _warned.add(old)
    warnings.warn(f"{old} is deprecated, use {new}; the old name goes in the next release", DeprecationWarning,
                  stacklevel=stacklevel)


def deprecated(func: F, old: str, new: str) -> F:
    """``func`` under its old name ``old``: the same call, with a one-time warning naming ``new``."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        warn_once(old, new)
        return func(*args, **kwargs)

    wrapper.__doc__ = f"Deprecated alias of :func:`{new}` (goes in the next release)."
    return wrapper  # type: ignore[return-value]


def module_getattr(module: str, renamed: dict[str, tuple[str, Callable[[], Any]]]) -> Callable[[str], Any]:
    """A module ``__getattr__`` serving ``renamed``: old name -> (new name, getter of the value)."""

    def __getattr__(name: str) -> Any:
        if name in renamed:
            new, get = renamed[name]
            warn_once(f"{module}.{name}", new)
            return get()
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
