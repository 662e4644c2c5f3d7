"""A dataset's parsed graphs as a few concatenated arrays: what the fast readers make and the binary cache holds.

:class:`Packed` holds G graphs as flat NumPy arrays instead of G objects: the node counts and labels
``[G]``, the node tags ``[N]`` (N the total number of nodes), each graph's edges as local
``(source, target)`` pairs concatenated ``[E]`` with the count per graph ``[G]``, and the node
attributes ``[N, k]`` when the file has them.  Each graph's edges are sorted, deduplicated and
symmetric, as :func:`fastgnn.datasets.raw.symmetrise` makes them.

Ten arrays rather than 5,000 objects are what a binary cache can write and hash in one pass
(:mod:`fastgnn.datasets.cache`); :meth:`Packed.to_raw` turns them into the
:class:`~fastgnn.datasets.raw.RawGraph` list that :func:`~fastgnn.datasets.raw.build_dataset` takes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fastgnn.datasets.raw import RawGraph

__all__ = ["Packed", "index_dtype"]

#: the arrays of a :class:`Packed`, in the order they are written and hashed
FIELDS = ("num_nodes", "labels", "tags", "edge_counts", "src", "dst", "attributes")


@dataclass(eq=False)
class Packed:
    """G graphs as concatenated arrays.

    Attributes:
        num_nodes: ``[G]`` int64, each graph's node count (>= 1).
        labels: ``[G]`` int64, each graph's label as written in the file.
        tags: ``[N]`` int64, the node tags of graph 0, then graph 1, ...
        edge_counts: ``[G]`` int64, each graph's number of directed edges.
        src, dst: ``[E]`` int16, int32 or int64 (:func:`index_dtype`), the edges' local node indices,
            graph after graph.
        attributes: ``[N, k]`` float64 node attributes, or None.
    """

    num_nodes: np.ndarray
    labels: np.ndarray
    tags: np.ndarray
    edge_counts: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    attributes: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.num_nodes)

    def to_raw(self) -> list[RawGraph]:
        """One :class:`~fastgnn.datasets.raw.RawGraph` per graph (each with its own int64 ``edge_index``).

        Cost: O(N + E) copies, one small allocation per graph.
        """
        node_end = np.cumsum(self.num_nodes).tolist()
        edge_end = np.cumsum(self.edge_counts).tolist()
        labels = self.labels.tolist()
        graphs = []
        n0 = e0 = 0
        for k, (n1, e1) in enumerate(zip(node_end, edge_end)):
            edge_index = np.empty((2, e1 - e0), dtype=np.int64)
            edge_index[0] = self.src[e0:e1]
            edge_index[1] = self.dst[e0:e1]
            graphs.append(RawGraph(
                num_nodes=n1 - n0, edge_index=edge_index, tags=self.tags[n0:n1].copy(), label=labels[k],
                attributes=None if self.attributes is None else self.attributes[n0:n1].copy(),
            ))
            n0, e0 = n1, e1
        return graphs

    @classmethod
    def from_raw(cls, graphs: list[RawGraph]) -> Packed:
        """The graphs of a reader that makes :class:`~fastgnn.datasets.raw.RawGraph` objects, packed."""
        num_nodes = np.array([g.num_nodes for g in graphs], dtype=np.int64)
        counts = np.array([g.edge_index.shape[1] for g in graphs], dtype=np.int64)
        index = index_dtype(int(num_nodes.max()) if len(graphs) else 0)
        edges = [g.edge_index for g in graphs]
        with_attributes = bool(graphs) and all(g.attributes is not None for g in graphs)
        return cls(
            num_nodes=num_nodes,
            labels=np.array([g.label for g in graphs], dtype=np.int64),
            tags=_concat([np.asarray(g.tags, dtype=np.int64) for g in graphs], np.int64),
            edge_counts=counts,
            src=_concat([e[0] for e in edges], index),
            dst=_concat([e[1] for e in edges], index),
            attributes=np.concatenate([g.attributes for g in graphs]).astype(np.float64) if with_attributes else None,
        )

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays by name (``attributes`` left out when None), as the binary cache writes them."""
        out = {f: getattr(self, f) for f in FIELDS}
        return {k: v for k, v in out.items() if v is not None}

    @classmethod
    def from_arrays(cls, arrays: dict) -> Packed:
        """The inverse of :meth:`arrays`; ``ValueError`` naming the first inconsistency."""
        missing = [f for f in FIELDS[:-1] if f not in arrays]
        if missing:
            raise ValueError(f"packed graphs lack the arrays {missing}")
        p = cls(**{f: np.asarray(arrays[f]) for f in FIELDS[:-1]}, attributes=arrays.get("attributes"))
        p.check()
        return p

    def check(self) -> None:
        """Raise ``ValueError`` if the arrays do not describe G consistent graphs (sizes and index ranges)."""
        g = len(self.num_nodes)
        if self.labels.shape != (g,) or self.edge_counts.shape != (g,):
            raise ValueError(f"{g} graphs but {self.labels.shape} labels and {self.edge_counts.shape} edge counts")
        if g and (self.num_nodes.min() < 1 or self.edge_counts.min() < 0):
            raise ValueError("a graph has no nodes or a negative edge count")
        n, e = int(self.num_nodes.sum()), int(self.edge_counts.sum())
        if self.tags.shape != (n,) or self.src.shape != (e,) or self.dst.shape != (e,):
            raise ValueError(f"{n} nodes and {e} edges, but tags {self.tags.shape}, src {self.src.shape}, "
                             f"dst {self.dst.shape}")
        if self.attributes is not None and (self.attributes.ndim != 2 or self.attributes.shape[0] != n):
            raise ValueError(f"attributes of shape {self.attributes.shape} for {n} nodes")
        if e:
            nonempty = self.edge_counts > 0
            starts = (np.cumsum(self.edge_counts) - self.edge_counts)[nonempty]
            bound = self.num_nodes[nonempty]
            if min(int(self.src.min()), int(self.dst.min())) < 0 or \
                    (np.maximum.reduceat(self.src, starts) >= bound).any() or \
                    (np.maximum.reduceat(self.dst, starts) >= bound).any():
                raise ValueError("an edge names a node outside its graph")


def index_dtype(max_nodes: int):
    """The smallest integer dtype holding local node indices ``0..max_nodes-1`` (int16 for every benchmark:
    half the bytes of int32 to write, read and hash)."""
    for dtype in (np.int16, np.int32):
        if max_nodes <= np.iinfo(dtype).max:
            return dtype
    return np.int64


def _concat(parts: list, dtype) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)
