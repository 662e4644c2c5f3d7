"""fastgnn.deprecation: an old import path resolves to the new place, with a warning naming it."""

from __future__ import annotations

import sys
import types

import pytest

from fastgnn.deprecation import moved, warn_moved


def test_moved_resolves_lazily_and_warns(monkeypatch):
    old = types.ModuleType("fastgnn_old_home")
    old.__getattr__ = moved("fastgnn_old_home", {"parse": "fastgnn.budget:parse_memory"})
    monkeypatch.setitem(sys.modules, "fastgnn_old_home", old)
    with pytest.warns(DeprecationWarning, match=r"fastgnn_old_home\.parse is deprecated.*budget\.parse_memory"):
        from fastgnn_old_home import parse
    from fastgnn.budget import parse_memory

    assert parse is parse_memory
    with pytest.raises(AttributeError, match="no attribute 'other'"):
        old.other  # noqa: B018


def test_warn_moved_points_at_the_deprecated_functions_caller():
    def old_function():
        warn_moved("a.b", "c.d")

    with pytest.warns(DeprecationWarning, match="a.b is deprecated and will be removed") as record:
        old_function()
    assert record[0].filename == __file__ and record[0].lineno == old_function.__code__.co_firstlineno + 4
