"""Deprecated alias of :mod:`fastgnn.complexity.sweeps`, kept for one release (issue 20).

The sweeps that lived here are one module per subject in :mod:`fastgnn.complexity.sweeps`
(``reference``, ``gcn``, ``attention``, ``training``, ``gntk``, and ``common`` for the shared
helpers); the reused A' and :func:`clear_cache` are :mod:`fastgnn.complexity.cache`'s.  They are
registered by ``import fastgnn.complexity``, so importing this module is no longer needed for
that.  Each name below still resolves here, with a ``DeprecationWarning`` naming its new home.
"""

from __future__ import annotations

from fastgnn.deprecation import moved

__all__ = ["random_edges", "random_graph"]  # noqa: F822  (resolved by __getattr__)

#: new home of each name this module had
_HOMES = {
    "fastgnn.complexity.sweeps.common": ("random_edges", "random_graph", "F32", "F64"),
    "fastgnn.complexity.cache": ("clear_cache",),
    "fastgnn.complexity.sweeps.gcn": ("FWD_SUM", "BWD_SUM", "BWD_36", "SP_SPACE"),
    "fastgnn.complexity.sweeps.gntk": ("NUM_LAYERS", "NUM_MLP_LAYERS", "KRON", "KRON_NNZ", "DEC", "SKETCH"),
    "fastgnn.complexity.registry": ("Cost", "Sweep", "register"),
}

__getattr__ = moved(__name__, {name: f"{home}:{name}" for home, names in _HOMES.items() for name in names})
