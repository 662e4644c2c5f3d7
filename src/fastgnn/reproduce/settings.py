"""What ``fastgnn reproduce`` runs: the datasets, the grid and each stage's sizes, full or ``--quick``.

One frozen :class:`Settings` per run.  Each stage saves, beside its result, the part of the
settings it depends on (:meth:`Settings.stage_key`); a rerun with other settings recomputes
that stage instead of serving a result made with different ones.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from fastgnn.datasets.benchmarks import BENCHMARK_NAMES
from fastgnn.evaluate import COARSE_C_GRID
from fastgnn.gntk import GNTK
from fastgnn.search import DEFAULT_GRID, kernel_params

__all__ = ["Settings", "ALL_DATASETS", "QUICK_DATASETS", "QUICK_GRID", "FALLBACK_CONFIG", "CONFIG_KEYS",
           "REDUCED_GRIDS", "DATASET_NORMALIZATIONS"]

#: the GNTK paper's datasets, in the order of its Table 1 (the benchmark table's rows)
ALL_DATASETS = BENCHMARK_NAMES
#: ``--quick``: the two small bioinformatics sets
QUICK_DATASETS = ("MUTAG", "PTC")
#: ``--quick``'s grid: 2 configurations, one kernel pass
QUICK_GRID = {"num_layers": (2, 3), "num_mlp_layers": (1,), "scale": ("uniform",), "jk": (True,)}
#: the keys of one GNTK configuration, as the search's grid (and so its rows) name them
CONFIG_KEYS = tuple(DEFAULT_GRID)
#: the configuration the timing stages use when the accuracy stage has not found one
FALLBACK_CONFIG = {"num_layers": 4, "num_mlp_layers": 2, "scale": "uniform", "jk": True}
#: the grid searched on the sets whose whole grid is too slow for 2 cores, in place of the settings' ``grid``:
#: one kernel pass (R = 2, uniform) at L = 6 gives the 10 configurations L = 2..6 × jk, where the whole grid's
#: 6 passes take 2-6 hours each on REDDIT-BINARY (2,000 graphs of up to 3,782 nodes) and DD (1,178 of up to
#: 5,748); the report names the grid each set ran
REDUCED_GRIDS = {
    "REDDIT-BINARY": {"num_mlp_layers": (2,), "scale": ("uniform",)},
    "DD": {"num_mlp_layers": (2,), "scale": ("uniform",)},
}
#: the Gram normalisations the SVM chooses among, where not both: REDDIT-BINARY's raw GNTK Gram spans 12 orders of
#: magnitude (5.3e4 to 1.8e16) and the C path on it did not end in an hour; COLLAB's spans 4e14 at L = 5 (its
#: densest ego-networks' self-kernels), where one fold's raw path did not end in 10 minutes even with SMO capped at
#: 1e6 iterations per C, against ~4 s for its cosine path (``fastgnn.gram.RAW_SPREAD_WARNING``, session 16)
DATASET_NORMALIZATIONS = {"REDDIT-BINARY": ("cosine",), "COLLAB": ("cosine",)}


@dataclass(frozen=True)
class Settings:
    """Sizes of every stage.

    Attributes:
        datasets: names tried, in order (missing ones are skipped with a line).
        grid: the GNTK grid of the search (``None``: :data:`fastgnn.search.DEFAULT_GRID`, 60
            configurations).
        refine_top: configurations evaluated under both protocols after the screen.
        C_grid: values of C of the search and of the sketch stage's SVMs (``None``: the
            authors' 120, :data:`fastgnn.evaluate.DEFAULT_C_GRID`).
        sample_pairs: graph pairs (i <= j, seeded) each per-pair method is timed on.
        pair_seconds: time budget of one per-pair method on one dataset; the sample is cut
            short (at least ``min_pairs`` pairs) when it runs out.
        min_pairs: pairs timed per method whatever the budget.
        pair_repeats: runs of each sampled pair; the fastest counts (the others absorb a busy
            machine's interruptions).
        kron_max_bytes: a Kronecker pair whose operator would exceed this is not run; its time
            is estimated from the pairs that ran (scaled by the operator's entries).
        pair_sketch_sizes: b of the per-pair sketched method in the kernel-time stage.
        sketch_datasets: datasets of the sketch stage (those found).
        sketch_sizes: b of the sketch stage's batched sketched kernels.
        gnn_models, gnn_epochs: the ``--gnn`` stage.
        seed: seeds the pair sample and the sketches.
        fully_nested: the accuracy stage also chooses the configuration inside each training fold.
        quick: the ``--quick`` preset (recorded in the report).
        dataset_grids: dataset name -> the grid searched on it instead of ``grid`` (the whole run:
            :data:`REDUCED_GRIDS`); ``{}`` searches ``grid`` everywhere.
        dataset_normalizations: dataset name -> the normalisations its SVMs choose among instead of
            raw and cosine (the whole run: :data:`DATASET_NORMALIZATIONS`).
    """

    datasets: tuple = ALL_DATASETS
    grid: dict | None = None
    refine_top: int = 5
    C_grid: tuple | None = None
    sample_pairs: int = 200
    pair_seconds: float = 30.0
    min_pairs: int = 3
    pair_repeats: int = 3
    kron_max_bytes: float = 2e9
    pair_sketch_sizes: tuple = (4, 8, 16, 32)
    sketch_datasets: tuple = ("MUTAG", "PTC")
    sketch_sizes: tuple = (4, 8, 16, 32)
    gnn_models: tuple = ("gcn", "gin")
    gnn_epochs: int = 100
    seed: int = 0
    fully_nested: bool = False
    quick: bool = False
    dataset_grids: dict = field(default_factory=dict)
    dataset_normalizations: dict = field(default_factory=dict)

    @classmethod
    def full(cls, **changes) -> Settings:
        """The paper's tables: every dataset, the 60-configuration grid (:data:`REDUCED_GRIDS` on the sets whose
        whole grid is too slow), the top 5 refined."""
        base = cls(dataset_grids=dict(REDUCED_GRIDS), dataset_normalizations=dict(DATASET_NORMALIZATIONS))
        return replace(base, **changes)

    def grid_for(self, dataset: str) -> dict | None:
        """The grid searched on ``dataset`` (a canonical name): its own, else ``grid`` (None: the whole one)."""
        return self.dataset_grids.get(dataset, self.grid)

    def normalizations_for(self, dataset: str) -> tuple | None:
        """The normalisations of ``dataset``'s SVMs: its own, else None (raw and cosine)."""
        found = self.dataset_normalizations.get(dataset)
        return None if found is None else tuple(found)

    @classmethod
    def quick_run(cls, **changes) -> Settings:
        """``--quick``: MUTAG and PTC, 2 configurations screened and the best refined, 25 values of C,
        20 pairs, b in {4, 16} (the sketch stage on MUTAG only), 10 GNN epochs; the sets' own normalisations
        (:data:`DATASET_NORMALIZATIONS`: a matter of conditioning, not of size)."""
        base = cls(datasets=QUICK_DATASETS, grid=QUICK_GRID, refine_top=1, C_grid=_coarse(), sample_pairs=20,
                   pair_seconds=10.0, pair_sketch_sizes=(4, 16), sketch_datasets=("MUTAG",), sketch_sizes=(4, 16),
                   gnn_epochs=10, quick=True, dataset_normalizations=dict(DATASET_NORMALIZATIONS))
        return replace(base, **changes)

    def to_dict(self) -> dict:
        return asdict(self)

    def stage_key(self, stage: str, dataset: str | None = None) -> dict:
        """The settings a stage's result depends on (a saved result with another key is recomputed): the stage's
        sizes and, for the stages that compute the kernel, every GNTK default they do not set
        (:func:`fastgnn.search.kernel_params` of ``GNTK()``), so a library whose defaults changed (the self-loop
        convention, say) does not serve the old results.  ``dataset``: the accuracy stage's grid and
        normalisations are that dataset's (:meth:`grid_for`; the normalisations enter the key only where they
        are its own, so the other sets' keys are those of runs made before they existed)."""
        common = {"seed": self.seed}
        kernel = {"kernel_defaults": kernel_params(GNTK())}
        if stage == "accuracy":
            key = {**kernel, "grid": self.grid if dataset is None else self.grid_for(dataset),
                   "refine_top": self.refine_top, "C_grid": self.C_grid, "fully_nested": self.fully_nested}
            norms = None if dataset is None else self.normalizations_for(dataset)
            if norms is not None:
                key["normalizations"] = list(norms)
            return key
        if stage == "kernel_time":
            return {**common, **kernel, "sample_pairs": self.sample_pairs, "pair_seconds": self.pair_seconds,
                    "min_pairs": self.min_pairs, "pair_repeats": self.pair_repeats,
                    "kron_max_bytes": self.kron_max_bytes, "pair_sketch_sizes": self.pair_sketch_sizes}
        if stage == "sketch":
            return {**common, **kernel, "sketch_sizes": self.sketch_sizes, "C_grid": self.C_grid}
        if stage == "gnn":
            return {**common, "gnn_models": self.gnn_models, "gnn_epochs": self.gnn_epochs}
        raise ValueError(f"unknown stage {stage!r}")


def _coarse() -> tuple:
    return tuple(float(c) for c in COARSE_C_GRID)
