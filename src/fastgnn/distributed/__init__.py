"""fastgnn beyond one process: the Gram's tiles on a Dask cluster, and Grams larger than memory.

* :mod:`.client` -- the active ``distributed.Client`` (the joblib convention), and a client for
  one command (``--workers N`` starts a local cluster, ``--scheduler ADDRESS`` joins one).
* :mod:`.tiles` -- :class:`DaskTiles`, the engine's executor on Dask (what ``GNTK(executor="dask")``
  runs), and :func:`worker_budget`, the tile budget of the smallest worker.
* :mod:`.outofcore` -- :func:`fit_transform_to_disk`: the Gram and the per-depth readouts written
  straight into ``.npy`` memory maps, never whole in RAM.
* :mod:`.selection` -- :class:`DaskRun`, the model selection's (normalisation, fold) C-path tasks on
  the same client (the ``run`` of :func:`fastgnn.model_selection.protocols.svm_curves`).

Needs the optional dependency ``dask[distributed]`` (``pip install "fastgnn[dask]"``); importing
this package does not, only using it.
"""

from fastgnn.distributed.client import INSTALL, active_client, cluster_client, require_distributed
from fastgnn.distributed.outofcore import DiskGram, fit_transform_to_disk, gram_bytes
from fastgnn.distributed.selection import DaskRun
from fastgnn.distributed.tiles import DaskTiles, worker_budget

__all__ = ["INSTALL", "active_client", "cluster_client", "require_distributed", "DaskTiles", "worker_budget",
           "DiskGram", "fit_transform_to_disk", "gram_bytes", "DaskRun"]
