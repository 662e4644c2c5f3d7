"""fastgnn: fast graph learning.

The Graph Neural Tangent Kernel (Du et al. 2019) computed by each algorithm of
"Graph Neural Network Acceleration via Matrix Dimension Reduction" (Kronecker,
decoupled, sketched) and by a batched engine; kernel-SVM evaluation as in the
papers; graphs and the benchmark datasets.

``import fastgnn`` imports nothing heavy: the names below are imported on first use (PEP 562), so
``fastgnn.Graph`` loads torch and ``fastgnn.GNTK`` the kernel (scikit-learn, scipy), while the
command line, the SVM evaluation and the datasets pay only for what they use; matplotlib, numba,
``sklearn.svm`` and Dask are imported by the code that needs them, never by the package.
"""

try:  # one place for the version: pyproject.toml, read from the installed metadata
    from importlib.metadata import PackageNotFoundError, version

    __version__ = version("fastgnn")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

#: the package's names and the module each is imported from on first use
LAZY = {
    "Graph": "fastgnn.graph",
    "GraphDataset": "fastgnn.graph",
    "from_networkx": "fastgnn.graph",
    "from_numpy": "fastgnn.graph",
    "from_pyg": "fastgnn.graph",
    "from_scipy": "fastgnn.graph",
    "to_networkx": "fastgnn.graph",
    "GNTK": "fastgnn.gntk",
    "GCNKernel": "fastgnn.node",
    "GCNGP": "fastgnn.node",
}

__all__ = ["Graph", "GraphDataset", "GNTK", "GCNKernel", "GCNGP", "from_networkx", "from_numpy", "from_pyg",
           "from_scipy", "to_networkx", "__version__"]


def __getattr__(name):
    if name in LAZY:
        import importlib

        value = getattr(importlib.import_module(LAZY[name]), name)
        globals()[name] = value  # once: later look-ups do not come here
        return value
    raise AttributeError(f"module 'fastgnn' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(LAZY))
