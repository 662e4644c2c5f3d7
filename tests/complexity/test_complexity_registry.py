"""complexity/registry.py and complexity/sweeps/: every entry complete, one module per subject in the
registry's order, the sweeps' helpers, select's patterns, the dependency one way (sweeps ->
registry), and the deprecated alias ``fastgnn.complexity.operations``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

from fastgnn.complexity import REGISTRY, cache, predicted_exponent, select, sweeps
from fastgnn.complexity.sweeps import attention, common, gcn, gntk, reference, training

COMPLEXITY = Path(__file__).resolve().parents[2] / "src" / "fastgnn" / "complexity"


def test_registry_entries_are_complete():
    names = [s.name for s in REGISTRY]
    assert len(names) == len(set(names))
    for s in REGISTRY:
        assert s.costs and s.values and s.quick, s.name
        for v in s.values:
            p = s.params(v)
            assert p[s.variable] == v
            rates = {"matmul": 30.0, "spmm": 2.0, "elementwise": 1.0}
            for c in s.costs:
                assert c.evaluate(p, rates) > 0, (s.name, c.label)
            if s.flops:
                assert s.flops(p) > 0
    groups = {s.group for s in REGISTRY}
    assert {"reference", "gcn", "attention", "training", "gntk"} <= groups
    # the sweeps are all there
    for name in ("gcn-sparse-bwd/E", "gcn-sparse-bwd/F@E", "gcn-sparse-bwd/N@E", "gcn-dense-fwd/N",
                 "attention-dense-bwd/N", "gat-edge-fwd/E", "train-gd-step/N", "train-sgd-step/B",
                 "gntk-pair-kron/N", "gntk-aggregate-sketch/b", "gntk-dataset-batched/n"):
        assert name in names


def test_sparse_backward_carries_both_formulas_of_the_note():
    s = select("gcn-sparse-bwd/F@E")[0]
    labels = [c.label for c in s.costs]
    assert labels[:2] == ["LEF + LNF²", "L|E|F² + LN²F"]
    xs = s.values
    summary = predicted_exponent(lambda v: s.costs[0].fn(s.params(v)), xs)
    sec36 = predicted_exponent(lambda v: s.costs[1].fn(s.params(v)), xs)
    assert sec36 - summary > 0.4  # the sweep can tell them apart


def test_select_patterns():
    assert [s.name for s in select("gntk-aggregate-sketch")] == ["gntk-aggregate-sketch/N", "gntk-aggregate-sketch/b"]
    assert all(s.group == "gntk" for s in select("gntk"))
    assert {s.name for s in select("ref-*/N,ref-copy")} == {"ref-matmul/N", "ref-copy/MB"}
    assert len(select(None)) == len(REGISTRY)
    with pytest.raises(ValueError, match="no operation matches"):
        select("nope")


def test_one_module_per_subject_in_the_registry_order():
    """The registry is the subjects' sweeps, in SUBJECTS' order; each module holds one group."""
    assert sweeps.SUBJECTS == (reference, gcn, attention, training, gntk)
    assert [s.name for s in REGISTRY] == [s.name for m in sweeps.SUBJECTS for s in m.SWEEPS]
    for module in sweeps.SUBJECTS:
        assert {s.group for s in module.SWEEPS} == {module.__name__.rsplit(".", 1)[1]}, module.__name__


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            out |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return out


def test_dependencies_run_one_way():
    """registry, cache and profile import no sweep (the sweeps import them); no sweep imports the
    profile or the CLI; no module of the profiler imports an underscore name of another."""
    for name in ("registry.py", "cache.py", "profile.py", "measure.py", "fit.py", "plots.py", "cli.py"):
        bad = {m for m in _imports(COMPLEXITY / name)
               if m.startswith(("fastgnn.complexity.sweeps", "fastgnn.complexity.operations"))}
        assert not bad, (name, bad)
    for path in sorted((COMPLEXITY / "sweeps").glob("*.py")):
        bad = {m for m in _imports(path) if m.startswith(("fastgnn.complexity.profile", "fastgnn.complexity.cli"))}
        assert not bad, (path.name, bad)
    for path in sorted(COMPLEXITY.rglob("*.py")):
        private = {m for m in _imports(path) if m.startswith("fastgnn") and m.rsplit(".", 1)[-1].startswith("_")}
        assert not private, (path.name, private)


def test_random_inputs_are_seeded():
    e1, e2 = (common.random_edges(10, 30, torch.Generator().manual_seed(3)) for _ in range(2))
    assert e1.shape == (2, 30) and torch.equal(e1, e2) and int(e1.max()) < 10
    g = common.random_graph(12, 0.3, torch.Generator().manual_seed(3))
    src, dst = g.edge_index
    assert g.num_nodes == 12 and g.x.shape == (12, 4) and g.x.dtype == torch.float64
    assert not bool((src == dst).any())  # no self-loops
    assert {(int(a), int(b)) for a, b in zip(src, dst)} == {(int(b), int(a)) for a, b in zip(src, dst)}
    assert common.with_edges({"N": 10, "deg": 3}) == {"N": 10, "deg": 3, "E": 30}
    assert common.with_edges({"N": 10, "deg": 3, "E": 7})["E"] == 7


def test_timed_backward_gives_the_gradients_of_the_leaves():
    x = torch.randn(4, 3, requires_grad=True)
    w = torch.randn(3, 2, requires_grad=True)
    frozen = torch.randn(3, 2)
    fwd = common.timed(lambda: x @ w + x @ frozen, [x, w, frozen], "fwd")()
    assert not fwd.requires_grad
    grads = common.timed(lambda: x @ w + x @ frozen, [x, w, frozen], "bwd")()
    assert len(grads) == 2 and grads[0].shape == x.shape and grads[1].shape == w.shape


def test_gcn_adjacency_is_reused_for_the_same_graph():
    from fastgnn.complexity.registry import Context

    def ctx():
        return Context(device=torch.device("cpu"), dtype=torch.float32, generator=torch.Generator().manual_seed(0))

    try:
        a = gcn.gcn_adjacency({"N": 8, "E": 16}, ctx())
        assert gcn.gcn_adjacency({"N": 8, "E": 16}, ctx()) is a and cache.held() is a
        assert gcn.gcn_adjacency({"N": 8, "E": 20}, ctx()) is not a
    finally:
        cache.clear_cache()


def test_operations_is_a_deprecated_alias():
    from fastgnn.complexity import operations

    with pytest.warns(DeprecationWarning, match=r"fastgnn\.complexity\.sweeps\.common\.random_graph"):
        from fastgnn.complexity.operations import random_graph
    assert random_graph is common.random_graph
    with pytest.warns(DeprecationWarning, match=r"fastgnn\.complexity\.cache\.clear_cache"):
        assert operations.clear_cache is cache.clear_cache
    with pytest.warns(DeprecationWarning, match=r"fastgnn\.complexity\.sweeps\.gntk\.KRON"):
        assert operations.KRON is gntk.KRON
    with pytest.raises(AttributeError):
        operations.no_such_name  # noqa: B018
