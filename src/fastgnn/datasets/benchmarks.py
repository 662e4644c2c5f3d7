"""The benchmark table: the seven graph-classification datasets of the GIN and GNTK papers, one row each.

A row (:class:`Benchmark`) holds every fact the project states about one benchmark: its name in
the GIN / GNTK code, its TU Dortmund name, the node features the papers give it (one-hot node
tags for the bioinformatics sets, one-hot degree for the social ones), the other spellings
:func:`fastgnn.datasets.canonical_name` accepts, and the accuracy the GNTK paper reports for it.
The rows are in the order of the GNTK paper's Table 1.

Everything else that lists the benchmarks is derived from :data:`BENCHMARKS`:
:data:`BENCHMARK_NAMES`, ``fastgnn.datasets.DATASETS`` and ``KNOWN_NAMES``, and
``fastgnn.reproduce``'s ``ALL_DATASETS`` (the table's order) and ``PAPER`` (its accuracies).
A new benchmark is one new row.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Benchmark", "BENCHMARKS", "BENCHMARK_NAMES"]


@dataclass(frozen=True)
class Benchmark:
    """One benchmark dataset.

    Attributes:
        name: the name in the GIN and GNTK code (``"IMDBBINARY"``), the canonical name.
        tu_name: the TU Dortmund name (``"IMDB-BINARY"``): its zip and its ``TUNAME_A.txt`` files.
        features: the papers' node features, ``"tags"`` (one-hot node labels) or ``"degree"``
            (one-hot degree).
        aliases: other spellings accepted for ``name`` (upper case).
        gntk_accuracy: the GNTK paper's 10-fold accuracy, ``(mean, std)`` in percent (Du et al.
            2019, "Graph Neural Tangent Kernel: Fusing Graph Neural Networks with Graph Kernels",
            Table 1).
    """

    name: str
    tu_name: str
    features: str
    aliases: tuple[str, ...]
    gntk_accuracy: tuple[float, float]


#: the benchmarks, in the order of the GNTK paper's Table 1
BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark("MUTAG", "MUTAG", "tags", (), (90.0, 8.5)),
    Benchmark("PTC", "PTC_MR", "tags", ("PTC_MR",), (67.9, 6.9)),
    Benchmark("NCI1", "NCI1", "tags", (), (84.2, 1.5)),
    Benchmark("PROTEINS", "PROTEINS", "tags", (), (75.6, 4.2)),
    Benchmark("COLLAB", "COLLAB", "degree", (), (83.6, 1.0)),
    Benchmark("IMDBBINARY", "IMDB-BINARY", "degree", ("IMDB-BINARY", "IMDB_BINARY"), (76.9, 3.6)),
    Benchmark("IMDBMULTI", "IMDB-MULTI", "degree", ("IMDB-MULTI", "IMDB_MULTI"), (52.8, 4.6)),
)
#: the benchmarks' canonical names, in the table's order: the known dataset names (without
#: ``"synthetic"`` and the node datasets; ``fastgnn.datasets.KNOWN_NAMES`` adds ``"synthetic"``)
BENCHMARK_NAMES: tuple[str, ...] = tuple(b.name for b in BENCHMARKS)

