"""fastgnn: fast graph learning.

The Graph Neural Tangent Kernel (Du et al. 2019) computed by each algorithm of
"Graph Neural Network Acceleration via Matrix Dimension Reduction" (Kronecker,
decoupled, sketched) and by a batched engine; kernel-SVM evaluation as in the
papers; graphs and the benchmark datasets.
"""

from fastgnn.graph import Graph, GraphDataset, from_networkx, from_numpy, from_pyg, from_scipy, to_networkx

try:  # one place for the version: pyproject.toml, read from the installed metadata
    from importlib.metadata import PackageNotFoundError, version

    __version__ = version("fastgnn")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["Graph", "GraphDataset", "GNTK", "from_networkx", "from_numpy", "from_pyg", "from_scipy", "to_networkx",
           "__version__"]


def __getattr__(name):
    # GNTK is imported lazily so `import fastgnn` stays light.
    if name == "GNTK":
        from fastgnn.gntk import GNTK

        return GNTK
    raise AttributeError(f"module 'fastgnn' has no attribute {name!r}")
