"""The benchmark table: the seven graph-classification datasets of the GNTK paper, and the larger ones beyond it.

A row (:class:`Benchmark`) holds every fact the project states about one benchmark: its name in
the GIN / GNTK code, its TU Dortmund name, the node features the papers give it (one-hot node
tags for the bioinformatics sets, one-hot degree for the social ones), the other spellings
:func:`fastgnn.datasets.canonical_name` accepts, and the accuracy the GNTK paper reports for it.
The rows are in the order of the GNTK paper's Table 1.

:data:`MORE_BENCHMARKS` holds the graph-classification sets the GNTK paper did not run, in the same
rows: REDDIT-BINARY, DD and ENZYMES (no GNTK accuracy: ``gntk_accuracy`` is None).

Everything else that lists the benchmarks is derived from these two tables:
:data:`BENCHMARK_NAMES` (the paper's seven), :data:`MORE_BENCHMARK_NAMES`, ``fastgnn.datasets.DATASETS``
and ``KNOWN_NAMES`` (both tables), and ``fastgnn.reproduce``'s ``ALL_DATASETS`` (the paper's seven, in
its order) and ``PAPER`` (their accuracies).  A new benchmark is one new row.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Benchmark", "BENCHMARKS", "BENCHMARK_NAMES", "MORE_BENCHMARKS", "MORE_BENCHMARK_NAMES", "ALL_BENCHMARKS"]


@dataclass(frozen=True)
class Benchmark:
    """One benchmark dataset.

    Attributes:
        name: the name in the GIN and GNTK code (``"IMDBBINARY"``), the canonical name.
        tu_name: the TU Dortmund name (``"IMDB-BINARY"``): its zip and its ``TUNAME_A.txt`` files.
        features: the papers' node features, ``"tags"`` (one-hot node labels), ``"degree"``
            (one-hot degree) or ``"constant"`` (the same for every node: the GIN paper's REDDIT).
        aliases: other spellings accepted for ``name`` (upper case).
        gntk_accuracy: the GNTK paper's 10-fold accuracy, ``(mean, std)`` in percent (Du et al.
            2019, "Graph Neural Tangent Kernel: Fusing Graph Neural Networks with Graph Kernels",
            Table 1); None for a set the paper did not run.
    """

    name: str
    tu_name: str
    features: str
    aliases: tuple[str, ...]
    gntk_accuracy: tuple[float, float] | None


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


#: graph-classification sets beyond the GNTK paper, with the node features of the paper that used them:
#: REDDIT-BINARY's GIN features (Xu et al. 2019, "How Powerful are Graph Neural Networks?", Section 7:
#: "For the REDDIT datasets, we set all node feature vectors to be the same"; ``features="degree"`` gives
#: one-hot degrees, 566 columns), DD's and ENZYMES's node labels (one-hot; ENZYMES's 18 continuous
#: attributes with ``features="attributes"`` from the TU files)
MORE_BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark("REDDIT-BINARY", "REDDIT-BINARY", "constant", ("REDDITBINARY", "REDDIT_BINARY"), None),
    Benchmark("DD", "DD", "tags", (), None),
    Benchmark("ENZYMES", "ENZYMES", "tags", (), None),
)
MORE_BENCHMARK_NAMES: tuple[str, ...] = tuple(b.name for b in MORE_BENCHMARKS)
#: both tables: every graph-classification set known by name
ALL_BENCHMARKS: tuple[Benchmark, ...] = BENCHMARKS + MORE_BENCHMARKS
