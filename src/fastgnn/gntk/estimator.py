"""The GNTK estimator, scikit-learn style."""

from __future__ import annotations

import contextlib
import re
import time

import numpy as np
import torch

from fastgnn.gntk.engine import default_max_memory, gram_readouts, plan_tile_nodes
from fastgnn.gntk.pairwise import PAIR_METHODS, Operand, pair_readouts, prepare
from fastgnn.gntk.recursion import combine_readouts
from fastgnn.graph import Graph

__all__ = ["GNTK", "METHODS", "parse_memory"]

METHODS = ("batched", *PAIR_METHODS)


class GNTK:
    """Graph Neural Tangent Kernel (Du et al. 2019), computed by any of the paper's algorithms.

    Args:
        num_layers: layers of the GNN, the input layer counted: ``num_layers − 1``
            blocks of (Aggregate, then ``num_mlp_layers`` ReLU layers). >= 2.
        num_mlp_layers: R, ReLU layers per block. >= 1.
        scale: ``"uniform"`` (c_u = 1) or ``"degree"`` (c_u = 1/(deg(u)+1)).
        jk: jumping knowledge: sum the readouts of the input layer and of every block.
        method: how the Aggregate step is computed.

            * ``"batched"`` (default): the whole Gram by tiles of stacked graphs with
              sparse block-diagonal aggregation (see :mod:`fastgnn.gntk.engine`); exact.
            * ``"kron"``: Eq. (1), ``(A_G ⊗ A_H) vec(Σ)``, O(N⁴) per pair; exact.
            * ``"decoupled"``: Fact 4.2, ``C_G A_G Σ A_Hᵀ C_H``, O(N³) per pair; exact.
            * ``"sketch"``: Section 4.3, ``C_G A_G S_Gᵀ S_G Σ S_Hᵀ S_H A_Hᵀ C_H``,
              O(N² b) per pair; randomised.
        sketch_size: b, rows of each graph's sketching matrix.  Required by
            ``method="sketch"``; with ``"batched"`` it selects the sketched kernel
            computed the batched way.  A graph with N <= b nodes is aggregated
            exactly: the sketch would cost more than the exact product
            (N² b >= N³) and still add noise (SᵀS ≠ I for every finite b).  So
            b >= max N gives the exact kernel.
        sketch: ``"ams"`` (entries ±1/√b, the paper's) or ``"gaussian"`` (N(0, 1/b)).
        seed: seeds the sketches; each graph's sketch depends on the seed and on
            the graph itself, so ``transform`` and ``fit_transform`` agree.
        device: ``"cpu"``, ``"cuda"`` or a torch.device.
        dtype: ``torch.float64`` (default) or ``torch.float32``.
        max_memory: memory budget of the batched engine, bytes or a string like
            ``"2GB"``; sets how many nodes a tile stacks (the output readouts and
            the stacked graphs are set aside first).  ``"auto"`` (default) or
            None: a quarter of the available RAM capped at 4 GiB, or half of the
            free GPU memory (:func:`fastgnn.gntk.engine.default_max_memory`).
        checkpoint_dir: batched method only: save each finished tile of the
            Gram under this folder, in a subfolder named by a fingerprint of the
            graphs and of every setting that changes the result, and load the
            tiles a previous (interrupted) run with the same inputs finished;
            the result is bitwise that of an uninterrupted run.  None: no
            checkpoint.
        progress: show a progress bar (default: only for long runs, i.e. when
            more than 20 000 graph pairs are computed).

    The kernel value is the readout sum itself; Du et al.'s code returns twice it.

    Example:
        >>> from fastgnn import GNTK, datasets
        >>> data = datasets.load("synthetic")
        >>> K = GNTK(num_layers=3, num_mlp_layers=2).fit_transform(data)
    """

    def __init__(
        self,
        num_layers: int = 3,
        num_mlp_layers: int = 2,
        scale: str = "uniform",
        jk: bool = True,
        method: str = "batched",
        sketch_size: int | None = None,
        sketch: str = "ams",
        seed: int = 0,
        device="cpu",
        dtype=torch.float64,
        max_memory: int | str | None = "auto",
        progress: bool | None = None,
        checkpoint_dir=None,
    ):
        self.num_layers = num_layers
        self.num_mlp_layers = num_mlp_layers
        self.scale = scale
        self.jk = jk
        self.method = method
        self.sketch_size = sketch_size
        self.sketch = sketch
        self.seed = seed
        self.device = device
        self.dtype = dtype
        self.max_memory = max_memory
        self.progress = progress
        self.checkpoint_dir = checkpoint_dir

    # -- scikit-learn protocol -------------------------------------------------
    def get_params(self, deep: bool = True) -> dict:
        keys = (
            "num_layers num_mlp_layers scale jk method sketch_size sketch seed device dtype "
            "max_memory progress checkpoint_dir"
        ).split()
        return {k: getattr(self, k) for k in keys}

    def set_params(self, **params) -> GNTK:
        for k, v in params.items():
            if k not in self.get_params():
                raise ValueError(f"GNTK has no parameter {k!r}")
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"GNTK({args})"

    def fit(self, graphs) -> GNTK:
        """Prepare the graphs the kernel is taken against.  O(n N³)."""
        self._check_params()
        self.fitted_ = self._prepare(graphs, "fit")
        return self

    def transform(self, graphs) -> np.ndarray:
        """The kernel between ``graphs`` and the fitted graphs: ``(n_new, n_fitted)``."""
        if not hasattr(self, "fitted_"):
            raise RuntimeError("GNTK is not fitted: call fit(graphs) first")
        new = self._prepare(graphs, "transform")
        parts = self._readouts(new, self.fitted_)
        return combine_readouts(parts, self.num_layers, self.jk)

    def fit_transform(self, graphs, y=None) -> np.ndarray:
        """The symmetric Gram matrix ``(n, n)`` of ``graphs`` (and fit on them)."""
        self.fit(graphs)
        parts = self._readouts(self.fitted_, None)
        return combine_readouts(parts, self.num_layers, self.jk)

    def readouts(self, graphs) -> np.ndarray:
        """Every layer's readout of the Gram: ``(num_layers, n, n)``.

        Index 0 is the input layer, index l the l-th block.  The Gram of any
        shallower GNTK with the same ``num_mlp_layers`` and ``scale``, with or
        without jk, follows by :func:`fastgnn.gntk.combine_readouts`, so a grid
        search over depths needs one pass.
        """
        self.fit(graphs)
        return self._readouts(self.fitted_, None)

    # -- internals -------------------------------------------------------------
    @property
    def num_blocks(self) -> int:
        return self.num_layers - 1

    def _check_params(self) -> None:
        if int(self.num_layers) < 2:
            raise ValueError(f"num_layers must be >= 2 (input layer + 1 block), got {self.num_layers}")
        if int(self.num_mlp_layers) < 1:
            raise ValueError(f"num_mlp_layers must be >= 1, got {self.num_mlp_layers}")
        if self.scale not in ("uniform", "degree"):
            raise ValueError(f"scale must be 'uniform' or 'degree', got {self.scale!r}")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.method == "sketch" and self.sketch_size is None:
            raise ValueError("method='sketch' needs sketch_size (rows b of each sketching matrix)")
        if self.sketch_size is not None and self.method not in ("sketch", "batched"):
            raise ValueError(
                f"sketch_size applies to method='sketch' or 'batched', not method={self.method!r}"
            )
        if self.sketch_size is not None and int(self.sketch_size) < 1:
            raise ValueError(f"sketch_size must be >= 1, got {self.sketch_size}")
        if self.sketch not in ("ams", "gaussian"):
            raise ValueError(f"sketch must be 'ams' or 'gaussian', got {self.sketch!r}")
        if self.dtype not in (torch.float64, torch.float32):
            raise ValueError(f"dtype must be torch.float64 or torch.float32, got {self.dtype}")
        if not _auto_memory(self.max_memory):
            parse_memory(self.max_memory)
        if self.checkpoint_dir is not None and self.method != "batched":
            raise ValueError(f"checkpoint_dir needs method='batched', got method={self.method!r}")

    def _prepare(self, graphs, what: str) -> list[Operand]:
        graphs = _as_graph_list(graphs, what)
        dims = {g.num_features for g in graphs}
        if hasattr(self, "fitted_") and what == "transform":
            dims.add(int(self.fitted_[0].x.shape[1]))
        if len(dims) > 1:
            raise ValueError(f"graphs have different feature dimensions {sorted(dims)}")
        device = torch.device(self.device)
        sketched = self.sketch_size is not None
        with _single_thread_if(device.type == "cpu"):
            return self._prepare_each(graphs, device, sketched)

    def _prepare_each(self, graphs, device: torch.device, sketched: bool) -> list[Operand]:
        return [
            prepare(
                g,
                num_blocks=self.num_blocks,
                num_mlp_layers=self.num_mlp_layers,
                scale=self.scale,
                # the self-diagonals: sketched when the kernel is, else exact by the cheap O(N³)
                # product (kron gives the same values, at O(N⁴))
                method="sketch" if sketched else "decoupled",
                sketch_size=self.sketch_size,
                sketch_kind=self.sketch,
                seed=self.seed,
                dtype=self.dtype,
                device=device,
            )
            for g in graphs
        ]

    def _readouts(self, rows: list[Operand], cols: list[Operand] | None) -> np.ndarray:
        n_pairs = len(rows) * (len(rows) + 1) // 2 if cols is None else len(rows) * len(cols)
        show = self.progress if self.progress is not None else n_pairs > 20_000
        t0 = time.perf_counter()
        if self.method == "batched":
            itemsize = torch.empty((), dtype=self.dtype).element_size()
            auto = _auto_memory(self.max_memory)
            budget = default_max_memory(self.device) if auto else parse_memory(self.max_memory)
            out = gram_readouts(
                rows,
                cols,
                num_blocks=self.num_blocks,
                num_mlp_layers=self.num_mlp_layers,
                sketched=self.sketch_size is not None,
                tile_nodes=plan_tile_nodes(rows, cols, budget, itemsize, self.num_blocks,
                                           sketched=self.sketch_size is not None),
                progress=show,
                checkpoint_dir=self.checkpoint_dir,
                config={
                    "scale": self.scale, "sketch_size": self.sketch_size, "dtype": str(self.dtype),
                    "device": torch.device(self.device).type,
                    **({"sketch": self.sketch, "seed": self.seed} if self.sketch_size is not None else {}),
                },
                resume_plan=auto,
            )
        else:
            out = self._pairwise(rows, cols, show)
        self.time_ = time.perf_counter() - t0
        return out

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


def _as_graph_list(graphs, what: str) -> list[Graph]:
    if hasattr(graphs, "graphs"):
        graphs = graphs.graphs
    graphs = list(graphs)
    if not graphs:
        raise ValueError(f"{what}: no graphs given")
    out = []
    for i, g in enumerate(graphs):
        if not isinstance(g, Graph):
            try:
                from fastgnn.graph import from_networkx

                g = from_networkx(g)
            except Exception as exc:  # noqa: BLE001
                raise TypeError(
                    f"{what}: item {i} is a {type(g).__name__}, expected fastgnn.Graph or a networkx graph"
                ) from exc
        if g.num_nodes == 0:
            raise ValueError(f"{what}: graph {i} has 0 nodes; the GNTK of an empty graph is undefined")
        out.append(g)
    return out


def _auto_memory(value) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() == "auto")


_UNITS = {"": 1, "b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "kib": 2**10, "mib": 2**20,
          "gib": 2**30, "tib": 2**40}


def parse_memory(value) -> float:
    """Bytes from ``4e9``, ``"4GB"``, ``"512MiB"``."""
    if isinstance(value, (int, float)):
        return float(value)
    m = re.fullmatch(r"\s*([0-9.]+(?:e[0-9]+)?)\s*([a-zA-Z]*)\s*", str(value))
    if not m or m.group(2).lower() not in _UNITS:
        raise ValueError(f"max_memory: cannot read {value!r}; use bytes or e.g. '4GB', '512MiB'")
    return float(m.group(1)) * _UNITS[m.group(2).lower()]


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
