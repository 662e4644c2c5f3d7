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

__all__ = ["Benchmark", "Published", "PUBLICATIONS", "BENCHMARKS", "BENCHMARK_NAMES", "MORE_BENCHMARKS",
           "MORE_BENCHMARK_NAMES", "ALL_BENCHMARKS",
           "ARCHIVE_URL", "ARCHIVES"]


#: the papers :class:`Published` figures come from: short name -> citation, table and protocol.  Their folds and
#: protocols are their own (Xu et al.: the 10-fold validation accuracy at the epoch best on average, optimistic;
#: Errica et al.: hyperparameters chosen inside each of 10 outer folds, test accuracy), so they sit beside ours,
#: not in our columns
PUBLICATIONS = {
    "Xu et al. 2019": "K. Xu, W. Hu, J. Leskovec, S. Jegelka, \"How Powerful are Graph Neural Networks?\", ICLR 2019, "
                      "Table 1 (WL subtree and GIN-0; 10-fold validation accuracy at the epoch best on average; the WL "
                      "row also in the matrix-decoupling paper's accuracy table)",
    "Errica et al. 2020": "F. Errica, M. Podda, D. Bacciu, A. Micheli, \"A Fair Comparison of Graph Neural Networks "
                          "for Graph Classification\", ICLR 2020, Tables 3 and 4 (GIN; model selection inside each of "
                          "10 outer folds; the social sets with node degrees as features)",
}


@dataclass(frozen=True)
class Published:
    """A published 10-fold accuracy of another method on a benchmark: ``method`` (``"WL subtree"``, ``"GIN"``),
    ``mean`` and ``std`` in percent, ``source`` (a key of :data:`PUBLICATIONS`)."""

    method: str
    mean: float
    std: float
    source: str


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
        archive_sha256: the SHA-256 of ``{name}.zip`` at :data:`ARCHIVE_URL`, the archive
            ``fastgnn.datasets.load`` downloads (GIN text and the papers' 10 folds); a download
            with other bytes is refused.
        published: other methods' published accuracies (:class:`Published`), which ``fastgnn reproduce``
            sets beside its own (the sets beyond the GNTK paper, and COLLAB and PTC; each figure checked against
            at least two papers that quote it, and the WL subtree row against the matrix-decoupling paper).
    """

    name: str
    tu_name: str
    features: str
    aliases: tuple[str, ...]
    gntk_accuracy: tuple[float, float] | None
    archive_sha256: str | None = None
    published: tuple[Published, ...] = ()


#: where ``fastgnn.datasets.load`` downloads a named dataset (when no ``url`` is given): ``{name}.zip``, the GIN
#: text file and the papers' ``10fold_idx`` (the files of Xu et al.'s powerful-gnns and Du et al.'s GNTK code;
#: the seven of the GNTK paper byte for byte those of ``../shared/datasets/tu``), from yeweiysh/IHGNN at a pinned
#: commit, each checked against its row's ``archive_sha256``
ARCHIVE_URL = "https://raw.githubusercontent.com/yeweiysh/IHGNN/dcb2c23cdc06f3ed8cc1dd0f0dced9ddd9156bad/data/{name}.zip"

#: the benchmarks, in the order of the GNTK paper's Table 1
BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark("MUTAG", "MUTAG", "tags", (), (90.0, 8.5),
              "545905a7f0782cba6d3f96cb40af67c90e54f26932341999103e1eb94bbbee52"),
    Benchmark("PTC", "PTC_MR", "tags", ("PTC_MR",), (67.9, 6.9),
              "2451966c2cc84663b0cf0021fce8cb6f2b5fccfb471544c2f75ac7c27d21c013",
              (Published("WL subtree", 59.9, 4.3, "Xu et al. 2019"), Published("GIN-0", 64.6, 7.0, "Xu et al. 2019"))),
    Benchmark("NCI1", "NCI1", "tags", (), (84.2, 1.5),
              "8cd032542f59df715c5983b05bb2b5396ab501c3b41d4ecbd941b88dc40c8c59"),
    Benchmark("PROTEINS", "PROTEINS", "tags", (), (75.6, 4.2),
              "d28f022559a1fe3f3c0cfd49c96a68a8cb8a1d1e31d5506fb7d93e438eab6f52"),
    Benchmark("COLLAB", "COLLAB", "degree", (), (83.6, 1.0),
              "9ecf84c958ac765b9e0f878f4bd002fec20926e0c3d037cb753ab251f59b41f3",
              (Published("WL subtree", 78.9, 1.9, "Xu et al. 2019"), Published("GIN-0", 80.2, 1.9, "Xu et al. 2019"),
               Published("GIN", 75.6, 2.3, "Errica et al. 2020"))),
    Benchmark("IMDBBINARY", "IMDB-BINARY", "degree", ("IMDB-BINARY", "IMDB_BINARY"), (76.9, 3.6),
              "0424af4414007a76bd0d7d9f8e7ba845f595745d142894cf42b505b30f5ff7d8"),
    Benchmark("IMDBMULTI", "IMDB-MULTI", "degree", ("IMDB-MULTI", "IMDB_MULTI"), (52.8, 4.6),
              "20caee26511d0e5ed130bcb1054b2697b91cc8bb846c72cf0f37a92f99bfc67b"),
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
    Benchmark("REDDIT-BINARY", "REDDIT-BINARY", "constant", ("REDDITBINARY", "REDDIT_BINARY"), None,
              "c45536bdd84db7a4913fd6a45ae7616a12a02bf1f444a4effbce903524d62121",
              (Published("WL subtree", 81.0, 3.1, "Xu et al. 2019"), Published("GIN-0", 92.4, 2.5, "Xu et al. 2019"),
               Published("GIN", 89.9, 1.9, "Errica et al. 2020"))),
    Benchmark("DD", "DD", "tags", (), None,
              "0ce3eca1f096ce77ff6fb2287b2b45d0d6991ca1f15734fc873a1003ac79c34d",
              (Published("GIN", 75.3, 2.9, "Errica et al. 2020"),)),
    Benchmark("ENZYMES", "ENZYMES", "tags", (), None,
              "158c4149a28346ea83b420eb7275b93f94e122b08243199cdd42418725c91dbf",
              (Published("GIN", 59.6, 4.5, "Errica et al. 2020"),)),
)
MORE_BENCHMARK_NAMES: tuple[str, ...] = tuple(b.name for b in MORE_BENCHMARKS)
#: both tables: every graph-classification set known by name
ALL_BENCHMARKS: tuple[Benchmark, ...] = BENCHMARKS + MORE_BENCHMARKS
#: name -> the SHA-256 of its archive at :data:`ARCHIVE_URL` (from the rows)
ARCHIVES: dict[str, str] = {b.name: b.archive_sha256 for b in ALL_BENCHMARKS if b.archive_sha256}
