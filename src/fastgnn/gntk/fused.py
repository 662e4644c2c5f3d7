"""Deprecated (one release): the compiled tile is :mod:`fastgnn.gntk.compiled_tile`.

Every name of the old module resolves to the new one, with a ``DeprecationWarning``.  The old
module switches still work: reading ``fused.ENABLED`` / ``fused.SKETCHED_TILE`` gives the config's
``enabled`` / ``sketched_tile``, and assigning them sets it (:func:`fastgnn.gntk.compiled_tile.set_config`,
or :func:`~fastgnn.gntk.compiled_tile.config_context` for a block).
"""

from __future__ import annotations

import sys
import types

from fastgnn.deprecation import warn_moved
from fastgnn.gntk import compiled_tile

#: the old module switches -> their key in the compiled tile's config
SWITCHES = {"ENABLED": "enabled", "SKETCHED_TILE": "sketched_tile"}


class _Alias(types.ModuleType):
    """This module: reads and writes of the old names go to :mod:`fastgnn.gntk.compiled_tile`."""

    def __getattr__(self, name: str):
        if name in SWITCHES:
            warn_moved(f"{__name__}.{name}", f"fastgnn.gntk.compiled_tile.get_config()[{SWITCHES[name]!r}]")
            return compiled_tile.get_config()[SWITCHES[name]]
        if name.startswith("__"):
            raise AttributeError(name)
        warn_moved(f"{__name__}.{name}", f"fastgnn.gntk.compiled_tile.{name}")
        return getattr(compiled_tile, name)

    def __setattr__(self, name: str, value) -> None:
        if name in SWITCHES:
            warn_moved(f"{__name__}.{name} = ...", f"fastgnn.gntk.compiled_tile.set_config({SWITCHES[name]}=...)")
            compiled_tile.set_config(**{SWITCHES[name]: value})
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Alias
