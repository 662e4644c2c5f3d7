"""The GNTK estimator: a scikit-learn transformer from graphs to kernel values.

:class:`GNTK` subclasses ``sklearn.base.BaseEstimator`` and ``TransformerMixin``: ``get_params``,
``set_params``, ``clone``, ``repr``, ``set_output`` and ``check_is_fitted`` behave as for any
scikit-learn transformer, and a ``Pipeline(GNTK(), SVC(kernel="precomputed"))`` runs in
``GridSearchCV`` over the kernel's parameters and C.  Its parameters are checked at ``fit``
against one table, :data:`fastgnn.gntk.params.PARAMETER_CONSTRAINTS`.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.exceptions import NotFittedError

from fastgnn import budget, executors
from fastgnn.deprecation import moved
from fastgnn.gntk import compiled_tile
from fastgnn.gntk.adjacency import check_loop_weight
from fastgnn.gntk.checkpoints import resumed_work
from fastgnn.gntk.colour_bands import banded_gram, default_num_bands
from fastgnn.gntk.colour_pairs import (
    NODE_ENGINE_SPEEDUP,
    DatasetColours,
    colour_pair_bytes,
    colour_pair_flops,
    colour_pair_gram,
    colour_pair_readouts,
    dataset_colours,
    node_pair_flops,
    uses_compiled_path,
)
from fastgnn.gntk.colour_rectangle import colour_diagonals, rectangle_bytes, rectangle_colours, rectangle_flops
from fastgnn.gntk.colour_shares import default_num_shares, shared_gram
from fastgnn.gntk.engine import gram_readouts
from fastgnn.gntk.finite import check_inputs, check_result
from fastgnn.gntk.outofcore import (
    BAND_BYTES,
    GRAM_FILE,
    READOUTS_FILE,
    DiskGram,
    check_free_space,
    combine_by_bands,
    disk_needs,
    lazy_zeros,
    npy_map,
    write_by_bands,
)
from fastgnn.gntk.output import checked_set_output
from fastgnn.gntk.pairwise import Operand, check_preparation, pair_readouts, prepare_many
from fastgnn.gntk.params import DTYPES, KERNEL_PARAMS, METHODS, PARAMETER_CONSTRAINTS
from fastgnn.gntk.plan import RELU_PAIR_COST, SKETCH_PAYS_BELOW, plan_tile_nodes, sketch_cost_ratio
from fastgnn.gntk.recursion import combine_readouts
from fastgnn.gntk.stack import user_stacklevel
from fastgnn.gram import cosine
from fastgnn.graph import Graph, as_graph_list, check_categories, check_feature_dims

__all__ = ["GNTK", "METHODS", "NotFittedGNTKError"]


class NotFittedGNTKError(NotFittedError, RuntimeError):
    """``transform`` before ``fit``: scikit-learn's ``NotFittedError`` (also a ``RuntimeError``)."""


class GNTK(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Graph Neural Tangent Kernel (Du et al. 2019), computed by any of the paper's algorithms.

    Args:
        num_layers: layers of the GNN, the input layer counted: ``num_layers − 1``
            blocks of (Aggregate, then ``num_mlp_layers`` ReLU layers). An integer >= 2.
        num_mlp_layers: R, ReLU layers per block. An integer >= 1.
        scale: ``"uniform"`` (c_u = 1) or ``"degree"`` (c_u = 1/(deg(u)+1)).
        jk: jumping knowledge: sum the readouts of the input layer and of every block (a bool).
        normalize: return the cosine-normalised kernel ``K(G, H) / sqrt(K(G, G) K(H, H))``, from
            ``fit_transform`` and ``transform`` alike (``transform`` computes the self-kernels
            of the new graphs: one pair each, O(N³)).  Default False: the raw kernel.
        method: how the Aggregate step is computed.

            * ``"batched"`` (default): the whole Gram by tiles of stacked graphs with
              sparse block-diagonal aggregation (see :mod:`fastgnn.gntk.engine`); exact.
            * ``"kron"``: Eq. (1), ``(A_G ⊗ A_H) vec(Σ)``, O(N⁴) per pair; exact.
            * ``"decoupled"``: Fact 4.2, ``C_G A_G Σ A_Hᵀ C_H``, O(N³) per pair; exact.
            * ``"sketch"``: Section 4.3, ``C_G A_G S_Gᵀ S_G Σ S_Hᵀ S_H A_Hᵀ C_H``,
              O(N² b) per pair; randomised.
        sketch_size: b, rows of each graph's sketching matrix (an integer >= 1).  Required by
            ``method="sketch"``; with ``"batched"`` it selects the sketched kernel
            computed the batched way.  A graph with N <= b nodes is aggregated
            exactly: the sketch would cost more than the exact product
            (N² b >= N³) and still add noise (SᵀS ≠ I for every finite b).  So
            b >= max N gives the exact kernel.  Sketching is an approximation that
            pays only on large dense graphs: a sketched graph's Aggregate costs about
            2b multiply-adds per node pair against N (dense) or its average degree
            (sparse, the exact kernel then works on the adjacency's non-zeros), and
            the ReLU maps, the same in both, are not reduced.  On the 150 largest
            COLLAB-sized graphs (283 nodes) the sketched Gram is 2-5x faster than the
            exact one (b = 64 to 16); on small or sparse graphs (MUTAG, PROTEINS,
            IMDB-BINARY) it is no faster or slower, and the exact kernel's colour
            classes (``compress``) do not apply to it.  ``fit`` warns (``UserWarning``)
            when the cost model :func:`fastgnn.gntk.plan.sketch_cost_ratio`
            predicts the sketched kernel will not be faster than the exact one.
        sketch: ``"ams"`` (entries ±1/√b, the paper's) or ``"gaussian"`` (N(0, 1/b)).
        seed: seeds the sketches; each graph's sketch depends on the seed and on
            the graph itself, so ``transform`` and ``fit_transform`` agree.
        device: ``"cpu"``, ``"cuda"`` or a torch.device (``"cuda"`` without a CUDA build or
            device raises ``ValueError`` at ``fit``).
        dtype: ``"float64"`` (default) or ``"float32"`` (or the ``torch.dtype``).
        max_memory: memory budget of the batched engine, bytes (> 0) or a string like
            ``"2GB"``; sets how many nodes a tile stacks (the output readouts and
            the stacked graphs are set aside first).  ``"auto"`` (default) or
            None: a quarter of the available RAM capped at 4 GiB, or half of the
            free GPU memory (:func:`fastgnn.budget.default_max_memory`).
        progress: show a progress bar (default: only for long runs, i.e. when
            more than 20 000 graph pairs are computed).
        checkpoint_dir: batched method only: save each finished tile of the
            Gram under this folder, in a subfolder named by a fingerprint of the
            graphs and of every setting that changes the result, and load the
            tiles a previous (interrupted) run with the same inputs finished;
            the result is bitwise that of an uninterrupted run.  None: no
            checkpoint.
        compress: run the exact kernel on each graph's colour classes (the coarsest
            equitable partition refining the feature classes, :mod:`fastgnn.gntk.colour`)
            instead of its nodes: k_G k_H class pairs instead of N_G N_H node pairs, the
            same kernel (to rounding).  ``"auto"`` (default): graphs with fewer classes
            than nodes, and never for the sketched kernel (its sketch is defined on
            nodes); ``True``: every graph (refused with ``sketch_size``); ``False``: none.
        executor: where the batched engine's tiles run.  ``"local"`` (default): in this
            process.  ``"dask"``: as futures on the active ``distributed.Client`` (the one
            made last, or entered by ``with Client(...):``; see :mod:`fastgnn.distributed`),
            over the same tile plan, so the Gram is bitwise that of the local run with the
            same ``max_memory`` (``"auto"`` plans within the smallest worker's budget:
            :func:`fastgnn.distributed.worker_budget`).  Needs ``pip install "fastgnn[dask]"``.
        colour_pairs: compute the Gram (``fit_transform``, ``readouts``, ``transform``) on the dataset's
            colour pairs (:mod:`fastgnn.gntk.colour_pairs`): WL refinement over the union of the
            graphs, the recursion on ``C_l × C_l`` colour pairs, each readout a colour-histogram
            product.  The same kernel (to rounding), with 10-1000x fewer pairs where node
            neighbourhoods repeat across graphs (molecules: NCI1 has 28.9x fewer at depth 3).
            ``"auto"`` (default): where the counted work on colour pairs is below the node-pair
            engine's and what the path holds fits ``max_memory``; ``True``: always (``ValueError`` where it cannot
            run); ``False``: never.  It runs in this process, for the exact kernel
            (``method="batched"`` without ``sketch_size``, ``executor="local"``); with
            ``checkpoint_dir`` it saves its state there by blocks and resumes from it (on a CPU with
            numba; :mod:`fastgnn.gntk.colour_resume`).  The Gram alone (``fit_transform``, and
            ``fit_transform_to_disk(..., readouts=False)``) also runs on ``executor="dask"``: by shares of
            the triangle's row blocks as tasks (:mod:`fastgnn.gntk.colour_shares`; on workers of other
            machines by bands of graphs, :mod:`fastgnn.gntk.colour_bands`); so does the Gram summed alone
            on disk with ``checkpoint_dir``, each finished share saved.  ``transform`` refines the new graphs' colours
            together with the fitted ones and reads out the new rows against the fitted columns (chosen by
            the same count, against the node-pair engine's new x fitted pairs).
        self_loop_weight: Ã's diagonal entry for a node whose edge list holds a self-loop (every other
            node has 1; :mod:`fastgnn.gntk.adjacency`).  ``3`` (default): Du et al.'s public code,
            which builds ``A = E + Eᵀ + I`` from the edge list, so their numbers on COLLAB (2,837
            self-loops); ``2``: fastgnn 0.1; ``1``: a listed loop changes nothing (``Ã = A + I``),
            the one for PyG graphs after ``add_self_loops``, which list every node's loop.  Graphs
            without self-loops (the other six sets of the paper) do not depend on it.

    Inputs (``X`` of ``fit``, ``transform``, ``fit_transform``): a list of :class:`~fastgnn.Graph`,
    networkx graphs (without node attributes; convert those with :func:`fastgnn.from_networkx`,
    which one-hot encodes them) or PyG ``Data`` objects, a PyG ``Batch``, or a
    :class:`~fastgnn.GraphDataset`.  Directed graphs and graphs with edge weights other than 1
    are refused: the GNTK of Du et al. is defined on unweighted undirected graphs.

    Fitted attributes: ``graphs_`` (the fitted graphs), ``fitted_`` (their prepared operands),
    ``num_node_features_``, ``time_`` (seconds of the Gram computed by ``fit_transform``,
    ``readouts`` or ``fit_transform_to_disk``), ``resumed_time_`` (with ``checkpoint_dir``: the seconds
    that the checkpointed tiles or colour-pair state this run read back had cost the runs that made them,
    0.0 when nothing was resumed; ``time_ + resumed_time_`` is the Gram's work over all runs),
    ``self_readouts_``.  Changing a
    parameter that changes the operands (``num_layers``, ``num_mlp_layers``, ``scale``, the
    sketch, ``device``, ``dtype``) after ``fit`` re-prepares the fitted graphs at the next
    ``transform``: the numbers are always those of the current parameters.

    The kernel value is the readout sum itself; Du et al.'s code returns twice it.

    Example:
        >>> from fastgnn import GNTK, datasets
        >>> data = datasets.load("synthetic")
        >>> K = GNTK(num_layers=3, num_mlp_layers=2).fit_transform(data)
    """

    _parameter_constraints: dict = PARAMETER_CONSTRAINTS

    def __init__(
        self,
        num_layers: int = 3,
        *,
        num_mlp_layers: int = 2,
        scale: str = "uniform",
        jk: bool = True,
        normalize: bool = False,
        method: str = "batched",
        sketch_size: int | None = None,
        sketch: str = "ams",
        seed: int = 0,
        device="cpu",
        dtype="float64",
        max_memory: int | str | None = "auto",
        progress: bool | None = None,
        checkpoint_dir=None,
        compress="auto",
        executor: str = "local",
        colour_pairs="auto",
        self_loop_weight: int = 3,
    ):
        self.num_layers = num_layers
        self.num_mlp_layers = num_mlp_layers
        self.scale = scale
        self.jk = jk
        self.normalize = normalize
        self.method = method
        self.sketch_size = sketch_size
        self.sketch = sketch
        self.seed = seed
        self.device = device
        self.dtype = dtype
        self.max_memory = max_memory
        self.progress = progress
        self.checkpoint_dir = checkpoint_dir
        self.compress = compress
        self.executor = executor
        self.colour_pairs = colour_pairs
        self.self_loop_weight = self_loop_weight

    # -- scikit-learn protocol -------------------------------------------------
    set_output = checked_set_output  # a missing pandas/polars said at once, not after the kernel

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False  # X is a list of graphs, not an array
        tags.requires_fit = True
        tags.target_tags.required = False
        tags.transformer_tags.preserves_dtype = []  # float64 out, whatever the graphs hold
        return tags

    def fit(self, X, y=None) -> GNTK:
        """Check and keep the graphs ``X`` the kernel is taken against (``y`` is ignored).  O(n N).

        The node-pair engine's operands of the graphs (colour classes, self-diagonals: O(n N³)) are
        prepared when first needed (:attr:`fitted_`); the colour-pair engine needs none."""
        self._check_params()
        graphs = as_graph_list(X, "fit")
        check_categories(graphs, None, "fit")
        check_inputs(graphs, "fit", self._torch_dtype())
        if self.sketch_size is not None:
            _warn_if_sketch_will_not_pay(graphs, int(self.sketch_size), self.num_blocks, self.num_mlp_layers)
        check_feature_dims(graphs, None, "fit")
        check_preparation(graphs, scale=self.scale, compress=self.compress, sketch_size=self.sketch_size)
        check_loop_weight(self.self_loop_weight)
        self.graphs_ = graphs
        self.num_node_features_ = graphs[0].num_features
        self._n_features_out = len(graphs)
        # the node engine's operands, prepared when first needed (:attr:`fitted_`); a cache object, so that
        # preparing them in transform leaves the estimator's __dict__ as it was (scikit-learn's check)
        self._operand_cache = {}
        self._fit_key = self._kernel_key()
        self.self_readouts_ = None
        return self

    def transform(self, X) -> np.ndarray:
        """The kernel between ``X`` and the fitted graphs: ``(n_new, n_fitted)`` float64.

        With ``normalize=True`` the cosine-normalised kernel; cost one pair per new graph on top."""
        if "graphs_" not in self.__dict__:
            raise NotFittedGNTKError("GNTK is not fitted: call fit(graphs) first")
        self._check_params()
        self._sync_parameters()
        graphs = as_graph_list(X, "transform")
        check_categories(graphs, self.graphs_, "transform")
        check_inputs(graphs, "transform", self._torch_dtype())
        check_feature_dims(graphs, self.num_node_features_, "transform")
        new = None  # the new graphs' operands: prepared only for the node-pair engine or the normalisation
        colours = self._dataset_colours(graphs)
        if colours is not None:  # the fitted graphs then the new ones, refined together; new rows x fitted columns
            diagonals = None
            if uses_compiled_path(self.device):  # the rectangle of new colours against fitted ones
                diagonals = colour_diagonals(colours, self.num_blocks, self.num_mlp_layers, self._torch_dtype(),
                                             budget.resolve(self.max_memory, self.device))
            parts = self._colour_pair_readouts(colours, split=len(self.graphs_), diagonals=diagonals)
        else:
            new = self._prepare(graphs, self.fitted_)
            parts = self._readouts(new, self.fitted_)
        gram = combine_readouts(parts, self.num_layers, self.jk)
        check_result(gram, "transform", graphs, self.graphs_, self._torch_dtype())
        if self.normalize:
            new = self._prepare(graphs, self.fitted_) if new is None else new
            gram = cosine(gram, self._combine(self._self_readouts(new)), self._combine(self._fitted_self_readouts()),
                          describe=_self_kernel_message("transform"))
        return gram

    def fit_transform(self, X, y=None) -> np.ndarray:
        """The symmetric Gram matrix ``(n, n)`` of ``X`` (and fit on them); cosine-normalised with
        ``normalize=True``."""
        self._check_gram_fits(X, "fit_transform")
        self.fit(X)
        colours = None
        if self.executor != executors.LOCAL:  # on colour pairs, the Gram alone, by bands of graphs as tasks
            colours = self._dataset_colours(readouts_in_memory=False, summed=True)
        if colours is not None:
            with self._timed():
                gram = np.zeros((len(self.graphs_),) * 2)
                self.self_readouts_ = self._gram_in_pieces(colours, gram, self._summed_depths(), upper=False)
        else:
            gram = combine_readouts(self._timed_readouts(), self.num_layers, self.jk)
        check_result(gram, "fit_transform", self.graphs_, dtype=self._torch_dtype())
        if self.normalize:
            gram = cosine(gram, self._combine(self.self_readouts_), describe=_self_kernel_message("fit_transform"))
        return gram

    def readouts(self, X) -> np.ndarray:
        """Every layer's readout of the Gram: ``(num_layers, n, n)`` (raw, never normalised).

        Index 0 is the input layer, index l the l-th block.  The Gram of any
        shallower GNTK with the same ``num_mlp_layers`` and ``scale``, with or
        without jk, follows by :func:`fastgnn.gntk.combine_readouts`, so a grid
        search over depths needs one pass.
        """
        self._check_gram_fits(X, "readouts")
        self.fit(X)
        return self._timed_readouts()

    def _check_gram_fits(self, X, what: str) -> None:
        """``MemoryError`` before any work when the Gram's readouts (``8 num_layers n²`` bytes, and the Gram)
        exceed the RAM available now: the run could only end in an allocation failure after its
        preparation; the error names the out-of-core method."""
        self._validate_params()  # a wrong num_layers is named as scikit-learn names it, before it is used here
        n = len(X) if hasattr(X, "__len__") else None
        ram = budget.available_ram()
        if n is None or ram is None:
            return
        need = budget.gram_bytes(n, self.num_layers)
        if need > ram:
            raise MemoryError(f"GNTK.{what}: the Gram of {n:,} graphs with its {self.num_layers} per-layer "
                              f"readouts needs {need / 1e9:,.1f} GB in memory, more than the "
                              f"{ram / 1e9:,.1f} GB of RAM available; use fit_transform_to_disk(X, out_dir) "
                              f"(the CLI's --out-of-core), which keeps them on disk, or fewer graphs")

    def fit_transform_to_disk(self, X, out_dir, *, band_bytes: int = BAND_BYTES, readouts: bool = True) -> DiskGram:
        """``fit_transform`` whose outputs live on disk: the Gram and the per-depth readouts written
        into ``out_dir/gram.npy`` and ``out_dir/readouts.npy`` (float64 ``.npy`` memory maps), never
        whole in RAM (see :mod:`fastgnn.gntk.outofcore`).  Needs ``method="batched"``.

        Every setting applies as in ``fit_transform`` (``executor``, ``checkpoint_dir``,
        ``normalize``, ...); afterwards the estimator is fitted, with ``time_`` and
        ``self_readouts_`` set.  ``max_memory`` bounds the tiles and the stacked operands: the
        readouts are on disk, outside it, so the plan is that of an in-memory run whose budget is
        larger by the readouts' ``8 num_layers n²`` bytes (and its Gram bitwise that run's).
        ``band_bytes`` bounds the readouts read per band of Gram rows.  Returns a
        :class:`~fastgnn.gntk.outofcore.DiskGram` (the paths, and both arrays memory-mapped
        read-only).  Disk ``8 n² (num_layers + 1)`` bytes.

        On colour pairs (:attr:`colour_pairs`; a CPU with numba) the readouts accumulate straight into
        the memory map.  ``readouts=False``: keep only the Gram (``DiskGram.readouts`` None; a
        ``readouts.npy`` left in ``out_dir`` by an earlier run is removed); on colour pairs the Gram is
        then summed from the colour pairs with no per-depth ``n × n`` array at all, in RAM in the kernel's
        dtype (``4 n²`` bytes in float32: ogbg-molhiv's 41,127 graphs in 6.8 GB; summed into the memory map
        instead, its random writes kept the OS writing the same pages back, 5x slower), then written
        by bands (disk ``8 n²``); otherwise the readouts are written, combined and removed.
        ``checkpoint_dir`` makes the node-pair engine or the colour pairs' readouts resumable; the Gram
        summed alone on colour pairs then runs by shares of the triangle's row blocks
        (:mod:`fastgnn.gntk.colour_shares`: each share's partial Gram saved there when finished; four shares,
        or two per worker past two workers, each ``n(n + 1)/2`` values in the kernel's dtype on disk), as it does on
        ``executor="dask"`` (the shares as tasks, added here; in a temporary folder without
        ``checkpoint_dir``).  On a Dask cluster whose workers run on other machines it runs by bands of
        graphs instead (:mod:`fastgnn.gntk.colour_bands`: each worker returns its band's rows, about 1.6-2x
        the triangle's colour pairs; disk in ``checkpoint_dir``: the upper triangle).
        """
        if self.method != "batched":
            raise ValueError(f"out of core needs method='batched' (the tiled engine), got method={self.method!r}")
        out_dir = Path(out_dir)
        self.fit(X)
        n = len(self.graphs_)
        colours = self._dataset_colours(readouts_in_memory=False, summed=not readouts)
        describe = _self_kernel_message("fit_transform_to_disk", None)
        if colours is not None and not readouts:
            pieces = self._in_pieces()
            needs = disk_needs(out_dir, None, n, 0)
            triangle = n * (n + 1) // 2 * self._torch_dtype().itemsize
            if pieces and self._by_shares():  # every share's partial Gram, kept or in a temporary folder
                key = Path(self.checkpoint_dir or tempfile.gettempdir())
                needs[key] = needs.get(key, 0) + self._num_shares() * triangle
            elif pieces and self.checkpoint_dir is not None:  # the bands' rows
                key = Path(self.checkpoint_dir)
                needs[key] = needs.get(key, 0) + triangle
            check_free_space(needs)
            with self._timed():
                summed = _ram_gram(n, self._torch_dtype())  # its upper triangle only is ever written
                depths = self._summed_depths()
                if pieces:
                    self.self_readouts_ = self._gram_in_pieces(colours, summed, depths)
                else:
                    self.self_readouts_ = colour_pair_gram(
                        colours, self.num_blocks, self.num_mlp_layers, summed, depths, dtype=self._torch_dtype(),
                        max_bytes=budget.resolve(self.max_memory, self.device),
                        progress=self._show_progress(colours), upper=True)
            with npy_map(out_dir / GRAM_FILE, (n, n)) as gram:
                d = self._combine(self.self_readouts_) if self.normalize else None
                write_by_bands(summed, gram, d, band_bytes=band_bytes, describe=describe, upper=True)
            del summed
            (out_dir / READOUTS_FILE).unlink(missing_ok=True)
            return DiskGram.open(out_dir)
        check_free_space(disk_needs(out_dir, self.checkpoint_dir, n, self.num_layers))
        with npy_map(out_dir / READOUTS_FILE, (self.num_blocks + 1, n, n)) as parts:
            self._timed_readouts(out=parts, colours=colours)
            d = self._combine(self.self_readouts_) if self.normalize else None
            with npy_map(out_dir / GRAM_FILE, (n, n)) as gram:
                combine_by_bands(parts, gram, num_layers=self.num_layers, jk=self.jk, self_kernels=d,
                                 band_bytes=band_bytes, describe=describe)
        if not readouts:
            (out_dir / READOUTS_FILE).unlink()
        return DiskGram.open(out_dir)

    # -- internals -------------------------------------------------------------
    @property
    def num_blocks(self) -> int:
        return self.num_layers - 1

    def _check_params(self) -> None:
        """The table's checks (scikit-learn's), then those between parameters and the device."""
        self._validate_params()
        if self.method == "sketch" and self.sketch_size is None:
            raise ValueError("method='sketch' needs sketch_size (rows b of each sketching matrix)")
        if self.sketch_size is not None and self.method not in ("sketch", "batched"):
            raise ValueError(
                f"sketch_size applies to method='sketch' or 'batched', not method={self.method!r}"
            )
        if not budget.is_auto(self.max_memory):
            budget.parse_memory(self.max_memory)
        if self.executor != executors.LOCAL:
            if self.method != "batched":
                raise ValueError(f"executor={self.executor!r} runs the batched engine's tiles; it needs "
                                 f"method='batched', got method={self.method!r}")
            ready = executors.lookup(self.executor).ready
            if ready is not None:  # fail before the preparation: e.g. dask installed, a client active
                ready()
        if self.checkpoint_dir is not None and self.method != "batched":
            raise ValueError(f"checkpoint_dir needs method='batched', got method={self.method!r}")
        _check_device(self.device)

    def _timed_readouts(self, out: np.ndarray | None = None, colours: DatasetColours | None | str = "choose"
                        ) -> np.ndarray:
        """The fitted graphs' Gram readouts (placed in ``out`` when given, outside the memory budget: see
        :meth:`_readouts`), on ``colours`` (``"choose"``: :meth:`_dataset_colours` decides) or node pairs;
        records ``time_``, ``resumed_time_`` and the self-readouts (its diagonal)."""
        with self._timed():
            if isinstance(colours, str):
                colours = self._dataset_colours(readouts_in_memory=out is None)
            if colours is not None:
                parts = self._colour_pair_readouts(colours, out=out)
            else:
                parts = self._readouts(self.fitted_, None, out=out)
        self.self_readouts_ = np.diagonal(parts, axis1=1, axis2=2).copy()
        return parts

    @contextlib.contextmanager
    def _timed(self):
        """Time the block into ``time_``, and what the checkpoints it read back had cost the runs that made them
        into ``resumed_time_`` (:func:`~fastgnn.gntk.checkpoints.resumed_work`)."""
        t0 = time.perf_counter()
        with resumed_work() as resumed:
            yield
        self.time_, self.resumed_time_ = time.perf_counter() - t0, resumed["seconds"]

    def _colour_pair_readouts(self, colours: DatasetColours, split: int | None = None,
                              out: np.ndarray | None = None, diagonals: list | None = None) -> np.ndarray:
        """The readouts on colour pairs (symmetric, or with ``split`` the new graphs against the fitted
        ones, on the rectangle of their colours when ``diagonals`` are given; into ``out`` when given), within
        the memory budget, a progress bar as :meth:`_show_progress` says."""
        return colour_pair_readouts(colours, self.num_blocks, self.num_mlp_layers, device=self.device,
                                    dtype=self._torch_dtype(), split=split, progress=self._show_progress(colours),
                                    max_bytes=budget.resolve(self.max_memory, self.device),
                                    checkpoint_dir=self.checkpoint_dir, out=out, diagonals=diagonals)

    def _summed_depths(self):
        """The depths whose readouts the Gram sums: all with jk, else the top one."""
        return range(self.num_layers) if self.jk else [self.num_blocks]

    def _in_pieces(self) -> bool:
        """Whether the Gram summed alone on colour pairs runs in independent pieces (to save each, or as tasks):
        shares of the triangle or bands of graphs (:meth:`_by_shares`)."""
        return self.checkpoint_dir is not None or self.executor != executors.LOCAL

    def _by_shares(self) -> bool:
        """Whether the Gram in pieces (:meth:`_in_pieces`) runs by shares of the triangle
        (:mod:`fastgnn.gntk.colour_shares`): in this process, or on an executor whose workers all run on this
        machine (their shares' files on its disk); else by bands of graphs."""
        if self.executor == executors.LOCAL:
            return True
        ex = executors.lookup(self.executor)
        return ex.same_machine is not None and bool(ex.same_machine())

    def _workers(self) -> int:
        """How many tasks the executor runs at once (1 in this process)."""
        if self.executor == executors.LOCAL:
            return 1
        ex = executors.lookup(self.executor)
        return ex.workers() if ex.workers is not None else 1

    def _num_shares(self) -> int:
        return default_num_shares(self._workers())

    def _gram_in_pieces(self, colours: DatasetColours, into: np.ndarray, depths, upper: bool = True) -> np.ndarray:
        """The Gram (its upper triangle, or all of it unless ``upper``) summed into ``into`` in independent
        pieces, on the executor, each saved to ``checkpoint_dir`` when finished: by shares of the triangle's
        row blocks (:func:`~fastgnn.gntk.colour_shares.shared_gram`) where :meth:`_by_shares`, else by bands
        of graphs (:func:`~fastgnn.gntk.colour_bands.banded_gram`); returns the self-readouts."""
        run = None
        if self.executor != executors.LOCAL:
            ex = executors.lookup(self.executor)

            def run(on_done):
                return ex.tasks(on_done=on_done, keep=False)

        args = (colours, self.num_blocks, self.num_mlp_layers, self._torch_dtype(),
                budget.tile_budget(self.max_memory, self.device, self.executor), into, depths)
        kw = dict(upper=upper, checkpoint_dir=self.checkpoint_dir, run=run, progress=self._show_progress(colours))
        if self._by_shares():
            return shared_gram(*args, num_shares=self._num_shares(), **kw)
        return banded_gram(*args, num_bands=default_num_bands(colours.num_graphs, self._workers()), **kw)

    def _show_progress(self, colours: DatasetColours) -> bool:
        """A progress bar on colour pairs: as :attr:`progress` says (default: when the top depth has more
        than 20 000 colours)."""
        return bool(self.progress) or (self.progress is None and colours.sizes[-1] > 20_000)

    def _dataset_colours(self, new_graphs: list | None = None, new_ops: list | None = None, *,
                         readouts_in_memory: bool = True, summed: bool = False) -> DatasetColours | None:
        """The fitted graphs' WL colours when the colour-pair engine is to compute the Gram, else None;
        with ``new_graphs`` (and their operands ``new_ops``, or their rows estimated from the colours,
        :meth:`_estimated_rows`), the colours of the fitted graphs followed by the new ones, when the engine
        is to compute ``transform``'s kernel.

        ``"auto"`` chooses it where its counted work (:func:`~fastgnn.gntk.colour_pairs.colour_pair_flops`:
        aggregations, ReLU steps and readouts on C_l × C_l colour pairs) is below the node-pair engine's
        (:func:`~fastgnn.gntk.colour_pairs.node_pair_flops` on each graph's colour classes or nodes,
        whose dense blocks run :data:`~fastgnn.gntk.colour_pairs.NODE_ENGINE_SPEEDUP` times faster per
        counted step) and the depths below the top fit the memory budget (with the readouts, unless
        ``readouts_in_memory`` is False: out of core, which needs the compiled path).  ``summed``: for the Gram
        summed alone, which runs on an executor too (by bands of graphs, counted as twice the triangle's work:
        a band's rectangle is at most its square)."""
        if self.colour_pairs is False:
            return None
        why = None
        if self.method != "batched" or self.sketch_size is not None:
            why = "the exact batched kernel (method='batched', no sketch_size)"
        elif self.executor != executors.LOCAL and not summed:
            why = "executor='local' (or the Gram summed alone: fit_transform_to_disk(..., readouts=False))"
        elif self.checkpoint_dir is not None and not uses_compiled_path(self.device):
            why = "the compiled path (a CPU with numba) to keep checkpoints"
        elif not readouts_in_memory and not uses_compiled_path(self.device):
            why = "the compiled path (a CPU with numba) out of core"
        if why is not None:
            if self.colour_pairs is True:
                raise ValueError(f"colour_pairs=True needs {why}")
            return None
        dtype = self._torch_dtype()
        graphs = self.graphs_ if new_graphs is None else [*self.graphs_, *new_graphs]
        colours = dataset_colours(graphs, self.num_blocks, self.scale, dtype, loop_weight=self.self_loop_weight)
        itemsize = torch.empty((), dtype=dtype).element_size()
        have = budget.resolve(self.max_memory, self.device)
        blocked = uses_compiled_path(self.device)
        rect = None
        if new_graphs is not None and blocked:  # transform's rectangle of new colours against fitted ones
            rect = rectangle_colours(colours, len(self.graphs_), self.num_blocks)
            need = rectangle_bytes(rect, itemsize, have)
        else:
            need = colour_pair_bytes(colours, itemsize, self.num_blocks, blocked=blocked,
                                     in_memory=readouts_in_memory)
        if self.colour_pairs is True:
            if need > have:
                raise ValueError(f"colour_pairs=True: the colour-pair matrices need {need / 2**30:.2f} GiB, over "
                                 f"max_memory ({have / 2**30:.2f} GiB); raise max_memory or use colour_pairs='auto'")
            return colours
        if self._operands_ready() and (new_graphs is None or new_ops is not None):
            ops = self.fitted_ if new_ops is None else [*self.fitted_, *new_ops]
            rows = np.array([op.num_rows for op in ops], dtype=np.float64)
            row_nnz = np.array([float(torch.count_nonzero(op.a)) for op in ops]) / np.maximum(rows, 1)
        else:  # graphs not prepared: their rows estimated from the colours
            rows, row_nnz = self._estimated_rows(colours)
        split = None if new_graphs is None else len(self.graphs_)
        by_nodes = node_pair_flops(rows, row_nnz, self.num_blocks, self.num_mlp_layers, RELU_PAIR_COST, split=split)
        if rect is not None:
            by_colours = rectangle_flops(rect, self.num_mlp_layers, RELU_PAIR_COST, itemsize, have)
        else:
            by_colours = colour_pair_flops(colours, self.num_blocks, self.num_mlp_layers, RELU_PAIR_COST,
                                           itemsize=itemsize, max_bytes=have if blocked else None,
                                           in_memory=readouts_in_memory)
            if summed and self._in_pieces() and not self._by_shares():
                by_colours *= 2  # by bands of graphs: at most each band's square
        return colours if need <= have and by_colours * NODE_ENGINE_SPEEDUP < by_nodes else None

    def _estimated_rows(self, colours: DatasetColours) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, row_nnz)`` per graph of ``colours``: the rows the node-pair engine would work on, without
        preparing the graphs (their nodes, or compressed their distinct colours at the top depth: a graph's
        colour classes refine its WL colours further only where the depths run out), and the non-zeros per
        row of their aggregation matrices (Ã's per node, at most the rows).  O(N)."""
        n, graph_of = colours.num_graphs, colours.graph_of
        nodes = np.bincount(graph_of, minlength=n).astype(np.float64)
        per_node = colours.entries / np.maximum(nodes, 1.0)
        if self.compress is False:
            return nodes, per_node
        label = colours.labels[self.num_blocks]
        width = int(label.max()) + 1 if label.size else 1
        rows = np.bincount(np.unique(graph_of * width + label) // width, minlength=n).astype(np.float64)
        return rows, np.minimum(per_node, rows)

    def _kernel_key(self) -> tuple:
        return tuple(str(getattr(self, k)) for k in KERNEL_PARAMS)

    def _torch_dtype(self) -> torch.dtype:
        return DTYPES[self.dtype] if isinstance(self.dtype, str) else self.dtype

    @property
    def fitted_(self) -> list[Operand]:
        """The fitted graphs' node-engine operands (:class:`~fastgnn.gntk.pairwise.Operand`), prepared on first
        use for the current parameters (``AttributeError`` before ``fit``)."""
        if "graphs_" not in self.__dict__:
            raise AttributeError("fitted_: the GNTK is not fitted")
        return self._current_operands()

    def _sync_parameters(self) -> None:
        """Forget the operands and self-readouts when a parameter they depend on changed since they were made."""
        if getattr(self, "_fit_key", None) != self._kernel_key():
            self._operand_cache = {}
            self.self_readouts_ = None
            self._fit_key = self._kernel_key()

    def _current_operands(self) -> list[Operand]:
        """The fitted operands, (re-)prepared first if missing or a parameter they depend on changed since."""
        self._sync_parameters()
        if "operands" not in self._operand_cache:
            self._operand_cache["operands"] = self._prepare(self.graphs_, None)
        return self._operand_cache["operands"]

    def _operands_ready(self) -> bool:
        return "operands" in getattr(self, "_operand_cache", {}) and self._fit_key == self._kernel_key()

    def _prepare(self, graphs: list[Graph], fitted: list[Operand] | None) -> list[Operand]:
        check_feature_dims(graphs, None if fitted is None else int(fitted[0].x.shape[1]),
                           "fit" if fitted is None else "transform")
        device = torch.device(self.device)
        with _single_thread_if(device.type == "cpu"):
            return prepare_many(
                graphs,
                num_blocks=self.num_blocks,
                num_mlp_layers=self.num_mlp_layers,
                scale=self.scale,
                # the self-diagonals: sketched when the kernel is, else exact by the cheap O(N³)
                # product (kron gives the same values, at O(N⁴))
                method=self._self_method(),
                sketch_size=self.sketch_size,
                sketch_kind=self.sketch,
                seed=self.seed,
                dtype=self._torch_dtype(),
                device=device,
                # "auto" runs the sketched kernel on nodes: its sketch is defined on them
                compress=False if self.compress == "auto" and self.sketch_size is not None else self.compress,
                loop_weight=self.self_loop_weight,
            )

    def _self_method(self) -> str:
        return "sketch" if self.sketch_size is not None else "decoupled"

    def _self_readouts(self, ops: list[Operand]) -> np.ndarray:
        """``[num_layers, n]``: each graph's readouts against itself, one pair each (O(N³), or
        O(N² b) sketched): the same kernel as the Gram's diagonal, to rounding."""
        out = np.empty((self.num_blocks + 1, len(ops)))
        with _single_thread_if(torch.device(self.device).type == "cpu"):
            for i, op in enumerate(ops):
                out[:, i] = pair_readouts(op, op, method=self._self_method(), num_blocks=self.num_blocks,
                                          num_mlp_layers=self.num_mlp_layers).cpu().numpy()
        return out

    def _fitted_self_readouts(self) -> np.ndarray:
        if getattr(self, "self_readouts_", None) is None:
            self.self_readouts_ = self._self_readouts(self.fitted_)
        return self.self_readouts_

    def _combine(self, parts: np.ndarray) -> np.ndarray:
        return combine_readouts(parts, self.num_layers, self.jk)

    def _readouts(self, rows: list[Operand], cols: list[Operand] | None, out: np.ndarray | None = None) -> np.ndarray:
        """The readouts of ``rows`` x ``cols`` (``None``: the symmetric Gram of ``rows``), by the batched
        engine or pair by pair.  ``out``: an array to place them in, which lives outside the memory
        budget (a memory map on disk: the tiles get the whole budget)."""
        n_pairs = len(rows) * (len(rows) + 1) // 2 if cols is None else len(rows) * len(cols)
        show = self.progress if self.progress is not None else n_pairs > 20_000
        dtype = self._torch_dtype()
        if self.method == "batched":
            compiled_tile.announce_compilation(self.device)
            itemsize = torch.empty((), dtype=dtype).element_size()
            tile_bytes = budget.tile_budget(self.max_memory, self.device, self.executor)
            executor = None if self.executor == executors.LOCAL else executors.lookup(self.executor).tiles()
            out = gram_readouts(
                rows,
                cols,
                num_blocks=self.num_blocks,
                num_mlp_layers=self.num_mlp_layers,
                sketched=self.sketch_size is not None,
                tile_nodes=plan_tile_nodes(rows, cols, tile_bytes, itemsize, self.num_blocks,
                                           sketched=self.sketch_size is not None, readouts_outside=out is not None),
                progress=show,
                checkpoint_dir=self.checkpoint_dir,
                config={
                    "scale": self.scale, "sketch_size": self.sketch_size, "dtype": str(dtype),
                    "device": torch.device(self.device).type,
                    **({"sketch": self.sketch, "seed": self.seed} if self.sketch_size is not None else {}),
                },
                resume_plan=budget.is_auto(self.max_memory),
                executor=executor,
                out=out,
            )
        else:
            out = self._pairwise(rows, cols, show)
        return np.asarray(out, dtype=np.float64)

    def _pairwise(self, rows, cols, show: bool) -> np.ndarray:
        symmetric = cols is None
        cols = rows if symmetric else cols
        out = np.zeros((self.num_blocks + 1, len(rows), len(cols)))
        pairs = [
            (i, j) for i in range(len(rows)) for j in range(i if symmetric else 0, len(cols))
        ]
        it = pairs
        if show:
            from tqdm.auto import tqdm

            it = tqdm(pairs, desc=f"GNTK ({self.method})", unit="pair", leave=False)
        for i, j in it:
            r = pair_readouts(
                rows[i], cols[j], method=self.method, num_blocks=self.num_blocks,
                num_mlp_layers=self.num_mlp_layers,
            ).cpu().numpy()
            out[:, i, j] = r
            if symmetric:
                out[:, j, i] = r
        return out


#: how :func:`_self_kernel_message` names the graphs of the rows and of the columns
_SIDES = {"rows": "the given", "columns": "the fitted"}


def _self_kernel_message(what: str, sides: dict[str, str] | None = _SIDES) -> Callable[[int, str, float], str]:
    """The ``describe`` of :func:`fastgnn.gram.cosine` for ``normalize=True``: the message naming a graph
    whose self-kernel is not positive (``sides``: how the rows' and the columns' graphs are called;
    None: one set of graphs, not named)."""
    def describe(i: int, side: str, value: float) -> str:
        of = f" of {sides[side]} graphs" if sides else ""
        return (f"{what}: normalize=True, but graph {i}{of} has self-kernel {value} (all-zero features?), so its "
                "cosine-normalised kernel is undefined")
    return describe


def _ram_gram(n: int, dtype: torch.dtype) -> np.ndarray:
    """A zero ``n × n`` array in RAM to sum the colour pairs' Gram in, its upper triangle only (float32 for a
    float32 kernel, else float64; the OS maps pages as they are written, so about half of it is ever
    resident); ``MemoryError`` naming its size when the machine's available RAM cannot hold that half."""
    np_dtype = np.float32 if dtype == torch.float32 else np.float64
    need = n * (n + 1) // 2 * np.dtype(np_dtype).itemsize
    ram = budget.available_ram()
    if ram is not None and need > ram:
        half = "; dtype='float32' halves it" if np_dtype == np.float64 else ""
        raise MemoryError(f"fit_transform_to_disk(readouts=False) sums the Gram in RAM: {n:,} x {n:,} "
                          f"{np.dtype(np_dtype).name} (its upper triangle) is {need / 1e9:,.1f} GB, more than the "
                          f"{ram / 1e9:,.1f} GB "
                          f"available{half}; readouts=True keeps every array on disk")
    return lazy_zeros((n, n), np_dtype)  # small pages: the lower triangle's are never mapped


def _check_device(device) -> None:
    """``ValueError`` for a device the GNTK cannot run on here (before any work is done)."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"device={device!r} is not a torch device ({e})") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            why = ("this torch build has no CUDA support" if torch.version.cuda is None
                   else "no CUDA device is visible (driver, CUDA_VISIBLE_DEVICES)")
            raise ValueError(f"device={device!r}, but {why} (torch {torch.__version__}); use device='cpu', or "
                             "install a CUDA build of torch")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device={device!r}, but only {torch.cuda.device_count()} CUDA device(s) are visible")
    elif dev.type != "cpu":
        raise ValueError(f"device={device!r}: the GNTK runs on 'cpu' or 'cuda'")


def _warn_if_sketch_will_not_pay(graphs: list[Graph], b: int, num_blocks: int, num_mlp_layers: int) -> None:
    """A ``UserWarning`` when :func:`fastgnn.gntk.plan.sketch_cost_ratio` predicts that the sketched
    kernel of these graphs takes at least :data:`~fastgnn.gntk.plan.SKETCH_PAYS_BELOW` of the exact
    kernel's time (on nodes; colour classes can make the exact one faster still).  O(n)."""
    nodes = [g.num_nodes for g in graphs]
    entries = [int(g.edge_index.shape[1]) + g.num_nodes for g in graphs]  # Ã's non-zeros, at most
    small = sum(n <= b for n in nodes)
    if small == len(nodes):
        why = (f"every graph has at most b = {b} nodes, so every graph is aggregated exactly: the result is the "
               f"exact kernel, computed by the sketched kernel's code")
    else:
        ratio = sketch_cost_ratio(nodes, b, num_blocks=num_blocks, num_mlp_layers=num_mlp_layers, entries=entries)
        if ratio < SKETCH_PAYS_BELOW:
            return
        why = (f"predicted {ratio:.2g}x the exact kernel's time: {small} of {len(nodes)} graphs have N <= {b} nodes "
               f"and are aggregated exactly, and sketching pays only on graphs well above 2b nodes with many "
               f"edges (the largest here has {max(nodes)} nodes, the mean is {np.mean(nodes):.3g})")
    warnings.warn(f"GNTK(sketch_size={b}): the sketched kernel will not be faster than the exact one on these "
                  f"graphs ({why}).  It is still computed as asked; sketch_size=None gives the exact kernel "
                  f"(on colour classes, where graphs have symmetries: often faster still).", UserWarning,
                  stacklevel=user_stacklevel())


@contextlib.contextmanager
def _single_thread_if(condition: bool):
    """Torch on one thread inside the block when ``condition`` holds.

    Preparing a graph is a handful of tiny products (N <= a few hundred); on a busy 2-core
    machine torch's thread pool made that loop 10-20x slower than one thread (IMDB-B: 5.6 s
    against 0.25 s), and it never gains from a second thread.
    """
    before = torch.get_num_threads()
    if condition and before > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


#: deprecated aliases (one release): the memory budget's functions live in :mod:`fastgnn.budget`, the
#: compiled kernels' cache check in :mod:`fastgnn.gntk.compiled_tile`
__getattr__ = moved(__name__, {"parse_memory": "fastgnn.budget:parse_memory", "_auto_memory": "fastgnn.budget:is_auto",
                               "_compiled_kernels_cached": "fastgnn.gntk.compiled_tile:kernels_cached"})
