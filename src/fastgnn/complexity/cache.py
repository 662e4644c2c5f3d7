"""The one built input the sweeps reuse between points, kept only while a profile runs.

Building A' for a graph of millions of edges takes seconds, and a forward sweep and its backward
sweep time the same graphs; so the last input built is kept under its key (sizes, seed, dtype,
device) and handed back when the next point asks for the same key.  One entry only: a new key
drops the old value *before* building the new one, so two such inputs never coexist.
:func:`fastgnn.complexity.profile` calls :func:`clear_cache` when it returns, also when a sweep
raised.

The sweeps (:mod:`fastgnn.complexity.sweeps`) fill it and the profile empties it; neither
imports the other for it.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["reuse", "held", "clear_cache"]

_ENTRY: dict = {}


def reuse(key, build: Callable[[], object]):
    """``build()``, or the value kept from the last call if that had the same ``key``."""
    if _ENTRY.get("key") != key:
        _ENTRY.clear()
        _ENTRY.update(key=key, value=build())
    return _ENTRY["value"]


def held():
    """The value kept now, or None when the cache is empty."""
    return _ENTRY.get("value")


def clear_cache() -> None:
    """Drop the kept input (it can hold millions of edges)."""
    _ENTRY.clear()
