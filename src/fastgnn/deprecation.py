"""Deprecation aliases: an old import path that keeps working for one release, with a warning.

A module whose names moved ends with ``__getattr__ = moved(__name__, {"old": "new.module:name"})``
(PEP 562): ``from old.module import old`` then imports the name from its new place and emits a
``DeprecationWarning`` that names it.  Nothing is imported until an old name is asked for, so an
alias never creates an import cycle.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable

__all__ = ["moved", "warn_moved"]


def moved(module: str, names: dict[str, str]) -> Callable[[str], object]:
    """A module-level ``__getattr__`` for ``module``: each old name of ``names`` resolves to its new
    place ``"package.module:attribute"``, with a ``DeprecationWarning``; other names raise
    ``AttributeError`` as usual."""

    def __getattr__(name: str):
        try:
            target = names[name]
        except KeyError:
            raise AttributeError(f"module {module!r} has no attribute {name!r}") from None
        where, _, attribute = target.partition(":")
        warn_moved(f"{module}.{name}", f"{where}.{attribute}", stacklevel=3)
        return getattr(importlib.import_module(where), attribute)

    return __getattr__


def warn_moved(old: str, new: str, *, stacklevel: int = 2) -> None:
    """``DeprecationWarning``: ``old`` is deprecated, use ``new`` (removed in the next release)."""
    warnings.warn(f"{old} is deprecated and will be removed in the next release; use {new}", DeprecationWarning,
                  stacklevel=stacklevel + 1)
