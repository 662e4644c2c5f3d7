"""Model selection for precomputed kernels: Gram in, cross-validated accuracy out.

One room per concept, each used by :func:`fastgnn.evaluate.svm_cv` / ``krr_cv`` and the grid
search (:func:`fastgnn.search.gntk_search`) alike:

* :mod:`.path` -- the C-SVM (libsvm's problem) solved along a whole C grid, warm-started;
* :mod:`.solvers` -- the solvers by name (:data:`SOLVERS`: the path, libsvm fit by fit) and
  kernel ridge regression, each ``solver(k_train, y_train, k_test, y_test, grid) -> accuracies``;
* :mod:`.protocols` -- the protocols (:data:`PROTOCOLS`: paper, nested; and fully nested) as
  selections from accuracy curves, and the one driver that makes them
  (:func:`~.protocols.cross_validate`);
* :mod:`.runner` -- :class:`Runner`, the tasks on threads or on a registered executor (Dask).

The Gram transforms the protocols compare (scaled, cosine-normalised) are :mod:`fastgnn.gram`'s.
"""

from fastgnn.model_selection.path import DEFAULT_TOL, SvmPath, svm_path, svm_path_accuracy
from fastgnn.model_selection.protocols import PROTOCOLS, Curves, cross_validate, grid_curves
from fastgnn.model_selection.runner import Runner
from fastgnn.model_selection.solvers import SOLVERS, LibsvmFits, PathSolver, krr_accuracy, svm_solver

__all__ = ["DEFAULT_TOL", "SvmPath", "svm_path", "svm_path_accuracy", "PROTOCOLS", "Curves", "cross_validate",
           "grid_curves", "Runner", "SOLVERS", "LibsvmFits", "PathSolver", "krr_accuracy", "svm_solver"]
