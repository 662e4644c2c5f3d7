"""What the sweeps share: random inputs, the timed forward or backward call, derived sizes.

Symbols (as in every sweep): N nodes, E edges (directed, self-loops not counted), F features,
p edge density.  :func:`random_edges` draws E uniform endpoints (O(E)); :func:`random_graph` an
Erdős–Rényi G(N, p) (O(N²) to draw); :func:`timed` turns a forward into the call a sweep times:
the forward itself under ``torch.no_grad()``, or its backward alone through a retained graph.
"""

from __future__ import annotations

import torch

from fastgnn.graph import Graph

__all__ = ["F32", "F64", "random_edges", "random_graph", "timed", "with_edges"]

#: bytes of one float32 and of one float64 entry (the sweeps' byte counts)
F32, F64 = 4, 8


def random_edges(n: int, e: int, gen: torch.Generator, device="cpu") -> torch.Tensor:
    """``[2, e]`` int64 edges with uniformly random endpoints (a sparse random graph)."""
    return torch.randint(0, n, (2, e), generator=gen).to(device)


def random_graph(n: int, p: float, gen: torch.Generator, num_tags: int = 4) -> Graph:
    """Erdős–Rényi G(n, p) (symmetric, no self-loops) as a :class:`fastgnn.graph.Graph` with
    one-hot random tags (float64)."""
    upper = torch.triu(torch.rand(n, n, generator=gen) < p, diagonal=1)
    src, dst = upper.nonzero(as_tuple=True)
    edge_index = torch.stack([torch.cat([src, dst]), torch.cat([dst, src])])
    tags = torch.randint(0, num_tags, (n,), generator=gen)
    x = torch.nn.functional.one_hot(tags, num_tags).to(torch.float64)
    return Graph(edge_index=edge_index, num_nodes=n, x=x)


def timed(forward, leaves, kind: str):
    """The timed call of a layer sweep: ``forward()`` without grad (``kind="fwd"``), or (``"bwd"``)
    ``torch.autograd.grad`` of a forward run once here, through its retained graph, for the
    ``leaves`` that require grad (the input and the weights: the note's eqs. 28-29)."""
    if kind == "fwd":
        def fn():
            with torch.no_grad():
                return forward()

        return fn
    out = forward()
    grad = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=out.dtype).to(out.device)
    leaves = [t for t in leaves if t.requires_grad]

    def fn():
        return torch.autograd.grad(out, leaves, grad, retain_graph=True)

    return fn


def with_edges(p: dict) -> dict:
    """A sweep's ``derive``: ``E = N·deg`` where the point does not fix E itself."""
    if "E" not in p:
        p["E"] = int(p["N"] * p["deg"])
    return p
