"""The layers' constructors and forwards take PyTorch Geometric's positional arguments, in its order,
with its names and defaults. Skipped where torch_geometric is not installed."""

from __future__ import annotations

import pytest

pyg_nn = pytest.importorskip("torch_geometric.nn")

from pyg_compare import PYG_MARKS  # noqa: E402

from fastgnn.nn import DenseGCNConv, GATConv, GCNConv  # noqa: E402

pytestmark = PYG_MARKS


@pytest.mark.parametrize("name", ["GCNConv", "GATConv", "DenseGCNConv"])
def test_constructor_and_forward_signatures_are_pygs(name):
    """Same positional order, names and defaults as PyG (``GCNConv(F, 16, True)`` is
    ``improved=True``, ``DenseGCNConv(16, 16, False)`` keeps its bias); fastgnn's extras are
    keyword-only."""
    import inspect

    ours, theirs = {"GCNConv": GCNConv, "GATConv": GATConv, "DenseGCNConv": DenseGCNConv}[name], getattr(pyg_nn, name)
    for method in ("__init__", "forward"):
        p1 = [p for p in inspect.signature(getattr(ours, method)).parameters.values() if p.kind != p.KEYWORD_ONLY]
        p2 = [p for p in inspect.signature(getattr(theirs, method)).parameters.values() if p.kind != p.VAR_KEYWORD]
        assert [(p.name, p.default) for p in p1] == [(p.name, p.default) for p in p2], method


def test_positional_arguments_mean_what_they_mean_in_pyg():
    assert GCNConv(5, 4, True).improved and GCNConv(5, 4, True).bias is not None
    dense = DenseGCNConv(16, 16, False)
    assert not dense.improved and dense.bias is not None
    gat = GATConv(5, 4, 2, False, 0.1, 0.0, False, 3, 0.5, False, True)
    assert (gat.heads, gat.concat, gat.negative_slope, gat.add_self_loops, gat.edge_dim, gat.fill_value,
            gat.bias, gat.res is not None) == (2, False, 0.1, False, 3, 0.5, None, True)
