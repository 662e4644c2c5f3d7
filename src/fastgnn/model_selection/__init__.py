"""Model selection for precomputed kernels: solvers along a grid, and the protocols that use them.

* :mod:`.path` -- the C-SVM (libsvm's problem) solved along a whole C grid, warm-started.
"""

from fastgnn.model_selection.path import DEFAULT_TOL, SvmPath, svm_path, svm_path_accuracy

__all__ = ["DEFAULT_TOL", "SvmPath", "svm_path", "svm_path_accuracy"]
