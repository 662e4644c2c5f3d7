"""Shared by the tests of tests/nn against PyTorch Geometric (``test_*_pyg.py``): the test graphs,
and :func:`compare`, which runs one of our layers and PyG's with the same weights and compares the
outputs and the gradients wrt x, every parameter, and the edge weights / edge features / dense
adjacency where they are inputs, in float64."""

from __future__ import annotations

import pytest
import torch

F64 = torch.float64

#: the marks of every PyG comparison module
PYG_MARKS = [pytest.mark.usefixtures("one_torch_thread"),
             pytest.mark.filterwarnings("ignore:Sparse invariant checks:UserWarning"),
             pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta:UserWarning"),
             pytest.mark.filterwarnings("ignore:Converting sparse tensor to CSR:UserWarning")]  # PyG's own


def graphs():
    g = torch.Generator().manual_seed(0)
    return {
        # directed, with a duplicate edge, a self-loop and isolated nodes 5, 6
        "directed": (torch.tensor([[0, 1, 2, 3, 3, 4, 0, 2, 2], [1, 2, 0, 4, 3, 1, 1, 3, 3]]), 7),
        "random": (torch.randint(0, 30, (2, 120), generator=g), 30),
    }


def simple_graph():
    """Directed, with a self-loop and an isolated node but no duplicate edge (a sparse adjacency
    cannot hold duplicates): 6 nodes, 9 edges."""
    return torch.tensor([[0, 1, 2, 3, 3, 4, 1, 2, 5], [1, 2, 0, 4, 3, 1, 0, 3, 2]]), 7


def compare(ours, theirs, inputs, *grad_inputs, out=lambda y: y):
    """Run ``ours(*inputs)`` and ``theirs(*inputs)`` on separate copies of the tensors in
    ``grad_inputs`` (indices into ``inputs`` whose gradients are compared, besides every
    parameter's), backpropagate one random cotangent and compare everything."""

    def run(module):
        args = list(inputs)
        leaves = []
        for i in grad_inputs:
            args[i] = _leaf(args[i])
            leaves.append(args[i])
        y = out(module(*args))
        return y, leaves

    y1, l1 = run(ours)
    y2, l2 = run(theirs)
    torch.testing.assert_close(y1, y2)
    dy = torch.randn_like(y1)
    p1, p2 = dict(ours.named_parameters()), dict(theirs.named_parameters())
    assert set(p1) <= set(p2), (set(p1), set(p2))
    names = sorted(p1)
    g1 = torch.autograd.grad(y1, _tensors(l1) + [p1[k] for k in names], dy, allow_unused=True)
    g2 = torch.autograd.grad(y2, _tensors(l2) + [p2[k] for k in names], dy, allow_unused=True)
    labels = [f"input {i}" for i in range(len(_tensors(l1)))] + names
    for name, a, b in zip(labels, g1, g2):
        if a is None or b is None:
            assert a is None and b is None or (a if b is None else b).abs().max() == 0, name
            continue
        if a.layout != torch.strided:
            a, b = a.to_dense(), b.to_dense()
        torch.testing.assert_close(a, b, msg=lambda m, name=name: f"gradient wrt {name}: {m}")
    return y1


def _leaf(t):
    if isinstance(t, tuple):
        return tuple(_leaf(u) for u in t)
    if t is None:
        return None
    if t.layout != torch.strided:
        return t.detach().clone().requires_grad_()
    return t.detach().clone().requires_grad_()


def _tensors(leaves):
    out = []
    for t in leaves:
        out += [u for u in t if u is not None] if isinstance(t, tuple) else [t]
    return out


def same_weights(ours, theirs, *inputs):
    """Random bias (and any lazy weight materialised by one forward), then PyG gets our state."""
    if inputs:
        with torch.no_grad():
            ours(*inputs), theirs(*inputs)
    for name, p in ours.named_parameters():
        if name.split(".")[-1] in ("bias", "att_edge"):
            torch.nn.init.normal_(p)
    theirs.load_state_dict(ours.state_dict())
