"""Shared fixtures: the benchmark data in ``../shared/datasets`` and an isolated cache; ``rel``.

The benchmark files are not in this repository; they sit beside it in
``<repo>/../shared/datasets/tu/NAME/``.  Tests that need them take the
``shared_datasets`` fixture (or call ``load_shared``) and are skipped when
the folder is absent.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_TU = REPO_ROOT.parent / "shared" / "datasets" / "tu"
SHARED_PLANETOID = REPO_ROOT.parent / "shared" / "datasets" / "planetoid"


def rel(a, b) -> float:
    """The largest entry difference of ``a`` from ``b`` over ``b``'s largest entry (the relative error
    the GNTK tests and benchmarks report)."""
    return float(np.abs(a - b).max() / np.abs(b).max())


def shared_dir() -> Path:
    """``<repo>/../shared/datasets/tu``; ``pytest.skip`` when it is absent."""
    if not SHARED_TU.is_dir():
        pytest.skip("../shared/datasets not found: benchmark data absent")
    return SHARED_TU


def shared_planetoid_dir() -> Path:
    """``<repo>/../shared/datasets/planetoid`` (the ``ind.*`` pickles); skips when absent."""
    if not SHARED_PLANETOID.is_dir():
        pytest.skip("../shared/datasets/planetoid not found: Planetoid data absent")
    return SHARED_PLANETOID


@pytest.fixture
def shared_planetoid() -> Path:
    """Path of ``<repo>/../shared/datasets/planetoid``; the test is skipped when it is absent."""
    return shared_planetoid_dir()


@functools.cache
def _load_cached(name: str):
    from fastgnn.datasets import load

    return load(name, root=SHARED_TU, download=False, progress=False)


def load_shared(name: str):
    """A benchmark dataset read from the shared folder (once per session); skips when absent.

    Returns the same object on every call: tests must not modify it.
    """
    shared_dir()
    return _load_cached(name)


@pytest.fixture
def shared_datasets() -> Path:
    """Path of ``<repo>/../shared/datasets/tu``; the test is skipped when it is absent."""
    return shared_dir()


@pytest.fixture(name="load_shared")
def load_shared_fixture():
    """The :func:`load_shared` function, as a fixture."""
    return load_shared


@pytest.fixture
def isolated_data_env(tmp_path, monkeypatch) -> Path:
    """No ``$FASTGNN_DATA`` / ``$FASTGNN_URL``; the user cache is ``tmp_path/cache``.

    Returns the cache folder (not created), so a test cannot read or write the
    real ``~/.cache/fastgnn`` nor reach the network by accident.
    """
    cache = tmp_path / "cache"
    monkeypatch.delenv("FASTGNN_DATA", raising=False)
    monkeypatch.delenv("FASTGNN_URL", raising=False)
    monkeypatch.setenv("FASTGNN_CACHE", str(cache))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return cache


@pytest.fixture(scope="module")
def one_torch_thread():
    """Torch on one thread for a module: its tensors are small and memory-bound, and on a
    busy 2-core machine two threads ran up to 4x slower than one."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tile_switches():
    """:func:`fastgnn.gntk.compiled_tile.set_config` for one test: call it to turn the compiled tile
    (``enabled``) or its sketched kernel (``sketched_tile``) off or on; the switches are restored after."""
    from fastgnn.gntk import compiled_tile

    with compiled_tile.config_context():
        yield compiled_tile.set_config


def assert_moved(module: str, old: str, new) -> None:
    """``module.old`` (a deprecation alias) is ``new``, with a ``DeprecationWarning`` naming it; an
    unknown name is still an ``AttributeError``."""
    import importlib

    mod = importlib.import_module(module)
    with pytest.warns(DeprecationWarning, match=rf"{module}\.{old} is deprecated.*use "):
        assert getattr(mod, old) is new
    with pytest.raises(AttributeError):
        mod.no_such_name  # noqa: B018
