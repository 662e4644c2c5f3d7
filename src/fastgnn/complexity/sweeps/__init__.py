"""The registered sweeps, one module per subject; importing this package registers them all.

* :mod:`~fastgnn.complexity.sweeps.reference`: matmul, memory copy, CSR SpMM (the machine's baselines);
* :mod:`~fastgnn.complexity.sweeps.gcn`: the GCN layer, sparse (random and banded graphs) and dense,
  forward and backward;
* :mod:`~fastgnn.complexity.sweeps.attention`: dense self-attention and edge-wise attention (GAT);
* :mod:`~fastgnn.complexity.sweeps.training`: a full-batch GD step against a sampled SGD step;
* :mod:`~fastgnn.complexity.sweeps.gntk`: the GNTK's aggregations, pairs and datasets;
* :mod:`~fastgnn.complexity.sweeps.common`: what they share (random inputs, the timed call).

Each subject module only declares its ``SWEEPS``; this package adds them to
:data:`fastgnn.complexity.registry.REGISTRY`, in the order of :data:`SUBJECTS` (the order
``fastgnn complexity --list`` shows).  Every entry says what is timed, along which variable, and
what the complexity note (``gcn-complexity``: Blakely, Lanchantin, Qi) or the GNTK paper
(matrix dimension reduction) predicts.  Symbols: N nodes, E edges (directed, self-loops not
counted), F features (F_in = F_out = F), L layers, H heads, B SGD batch size, b sketch size,
n graphs, p edge density.

Forward passes are timed under ``torch.no_grad()``; a backward is timed on its own: the forward
runs once in the builder and the timed call is ``torch.autograd.grad(out, [x, *params], g,
retain_graph=True)``, the gradients of the inputs and of the weights (the note's eqs. 28-29).
The layers are :mod:`fastgnn.nn`'s, imported when a sweep is built; the report names what is
timed (column ``impl``).
"""

from fastgnn.complexity.registry import register
from fastgnn.complexity.sweeps import attention, gcn, gntk, reference, training
from fastgnn.complexity.sweeps.common import random_edges, random_graph

__all__ = ["SUBJECTS", "random_edges", "random_graph"]

#: the subject modules, in the registry's order
SUBJECTS = (reference, gcn, attention, training, gntk)

for _subject in SUBJECTS:
    for _sweep in _subject.SWEEPS:
        register(_sweep)
