"""The GNTK's ``set_output``: scikit-learn's, refusing at once a container whose library is missing.

scikit-learn's ``set_output(transform="pandas")`` (or ``"polars"``) records the choice and fails only
when ``transform`` returns, with "Setting output container to 'pandas' requires pandas to be
installed": after the whole kernel was computed.  pandas and polars are not fastgnn dependencies, so
:func:`checked_set_output` (the estimator's ``set_output``) says so when the choice is made.
"""

from __future__ import annotations

import importlib

from sklearn.base import TransformerMixin

__all__ = ["checked_set_output", "CONTAINERS"]

#: the ``set_output(transform=...)`` values that need a library fastgnn does not depend on
CONTAINERS = ("pandas", "polars")


def checked_set_output(self, *, transform=None):
    """``set_output`` of scikit-learn (``"default"``, ``"pandas"``, ``"polars"``, ``None``); ``ImportError``
    now, naming the package to install, when the chosen container's library is not installed."""
    if transform in CONTAINERS:
        try:
            importlib.import_module(transform)
        except ImportError:
            raise ImportError(f"{type(self).__name__}.set_output(transform={transform!r}) needs {transform}, which "
                              f"fastgnn does not depend on: pip install {transform} (or keep the default numpy "
                              "output)") from None
    return TransformerMixin.set_output(self, transform=transform)
