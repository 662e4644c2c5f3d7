"""The compiled tile (numba, CPU): the whole tile recursion, and the ReLU step fused into one pass.

Two things are compiled here, both mirroring the reference implementation of :mod:`fastgnn.gntk.relu`
and :mod:`fastgnn.gntk.recursion` operation by operation (parity-tested against it):

* :func:`tile_readouts_fused` -- a whole tile of the Gram (:func:`fastgnn.gntk.tiles.tile_readouts`)
  in one compiled pass, exact or sketched: its aggregations, ReLU layers and readouts, one left
  graph's rows at a time, left graphs split over threads by :func:`balanced_bins`;
* :func:`ntk_step_fused` / :func:`relu_maps_fused` -- one ReLU layer in one pass (the step the torch
  tile and the per-pair kernels take).

**Switches.**  :func:`get_config` / :func:`set_config` / :func:`config_context` (as scikit-learn's
``config_context``) turn the compiled code off (``enabled=False``: the torch path everywhere, as
the environment variable ``FASTGNN_NO_NUMBA=1`` does at start-up) or run only the *sketched*
kernel's tiles on the torch tile (``sketched_tile=False``: for comparisons,
``benchmarks/sketch_speed.py``).  :func:`kernels_cached` tells whether numba's on-disk cache holds
the compiled kernels (the first run compiles them: 20-60 s, more on a busy machine).

**The fused ReLU step.**  :func:`fastgnn.gntk.relu.ntk_step` in eager torch makes about 14 passes over the
``[M, P]`` tile per ReLU layer (ρ, clamp, two snaps, arccos, π − θ, 1 − ρ², sqrt,
Σ', two scalings, Σ̇, Θ ⊙ Σ̇ + Σ'); on a tile much larger than the caches it is
bound by memory traffic.  :func:`ntk_step_fused` reads Σ and Θ once and writes
Σ' and Θ' once, rows in parallel (``prange``) on ``torch.get_num_threads()``
threads, and allocates nothing of the tile's size.

The arithmetic follows :func:`fastgnn.gntk.relu.relu_maps_` operation by
operation (same order, no contraction into FMAs, ``fastmath`` off), so it
differs from the torch path only through arccos.  arccos is a branch-free
rational approximation (fdlibm's ``__ieee754_acos`` coefficients; |error| under
about 2 ulp of θ) so that the column loop vectorises; torch's own arccos is
SLEEF's (1 ulp).  Both are within a few ulp of the true θ, so Σ' and Θ' agree to
about 1e-15 relative in float64.  float32 tiles are computed in float64
internally and rounded once when stored.

Used by :func:`fastgnn.gntk.relu.ntk_step` for contiguous CPU float32/float64
tensors when numba is importable (and the config's ``enabled`` is true); everything else
(CUDA, autograd, no numba) takes the eager torch path.  numba installed but
failing to import (say, built for another NumPy) counts as no numba: the first
attempt warns once, naming the error (see :func:`available`).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import math
import os
import sys
import warnings
from collections.abc import Iterator

import numpy as np
import torch

__all__ = ["announce_compilation", "available", "balanced_bins", "config_context", "get_config", "kernels_cached",
           "numba_threads",
           "ntk_step_fused", "relu_maps_fused", "set_config", "sketched_tile_usable", "tile_aggregation_fused",
           "tile_readouts_fused", "tile_usable", "usable"]

#: the switches (read them with :func:`get_config`, change them with :func:`set_config` or
#: :func:`config_context`): ``enabled`` (False, or ``FASTGNN_NO_NUMBA=1`` in the environment at
#: import: the torch path everywhere) and ``sketched_tile`` (False: the sketched kernel's tiles on the
#: torch tile, as before the compiled tile took them, the ReLU steps still fused)
_CONFIG = {"enabled": os.environ.get("FASTGNN_NO_NUMBA", "") in ("", "0"), "sketched_tile": True}

_HAVE_NUMBA = importlib.util.find_spec("numba") is not None
_KERNEL = None  # the imported kernel module, once imported
_IMPORT_ERROR: str | None = None  # why importing it failed (then the torch path is used from then on)


def get_config() -> dict:
    """The switches now: ``{"enabled": bool, "sketched_tile": bool}`` (a copy)."""
    return dict(_CONFIG)


def set_config(*, enabled: bool | None = None, sketched_tile: bool | None = None) -> None:
    """Set the switches for this process (None: leave one as it is).

    Args:
        enabled: False runs the torch path everywhere (no numba kernel), as ``FASTGNN_NO_NUMBA=1``.
        sketched_tile: False runs the sketched kernel's tiles on the torch tile (the ReLU steps
            still fused), for comparisons.
    """
    for key, value in (("enabled", enabled), ("sketched_tile", sketched_tile)):
        if value is not None:
            _CONFIG[key] = bool(value)


@contextlib.contextmanager
def config_context(*, enabled: bool | None = None, sketched_tile: bool | None = None) -> Iterator[None]:
    """:func:`set_config` for the block, the previous switches restored after it (even on an error)."""
    before = get_config()
    set_config(enabled=enabled, sketched_tile=sketched_tile)
    try:
        yield
    finally:
        _CONFIG.update(before)


def available() -> bool:
    """Whether the numba kernels can run: numba installed, the config's ``enabled``, and the kernels import.

    numba is imported lazily, by the first call that gets this far.  If that
    import fails (numba installed but broken, e.g. built for another NumPy), a
    warning names the error once and this returns False from then on.
    """
    return _HAVE_NUMBA and _CONFIG["enabled"] and _load() is not None


def kernels_cached() -> bool | None:
    """Whether numba's on-disk cache holds the compiled tile kernel; None when that cannot be told
    (numba missing or disabled, or numba's internals changed).

    numba has no public way to ask before compiling, so this reads where its cache locator put the
    kernel's index file (``.nbi``); a change there only turns the answer into None.
    """
    try:
        if not available():
            return None
        kernel = sys.modules["fastgnn.gntk._fused_kernels"].tile_recursion_kernel
        return os.path.exists(kernel._cache._cache_file._index_path)
    except Exception:  # noqa: BLE001 - a changed numba internal only costs the answer
        return None


def announce_compilation(device) -> None:
    """Say once per process, on stderr, that the numba kernels are being compiled, when they are:
    the first batched CPU run on a machine compiles them (about 17 s on 2 cores) before caching
    them, which would otherwise look like a hang or a slow kernel (its progress bar's rate
    included)."""
    global _ANNOUNCED
    if _ANNOUNCED or torch.device(device).type != "cpu":
        return
    _ANNOUNCED = True
    if kernels_cached() is False:
        print("fastgnn: compiling the GNTK's numba kernels on first use (20-60 s, once: they are cached for "
              "later runs); the first progress figures include it", file=sys.stderr, flush=True)


_ANNOUNCED = False


def _plain(tensors) -> bool:
    """CPU, strided, one float dtype (float32 or float64), no autograd."""
    t0 = tensors[0]
    return all(t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64) and t.dtype == t0.dtype
               and not t.requires_grad and t.layout == torch.strided for t in tensors)


def usable(*tensors: torch.Tensor) -> bool:
    """Whether :func:`ntk_step_fused` applies to these tensors (else use the torch path)."""
    return _plain(tensors) and all(t.is_contiguous() for t in tensors) and available()


def tile_usable(*tensors: torch.Tensor) -> bool:
    """Whether :func:`tile_readouts_fused` can run on exact sparse stacks of these tensors (else the torch tile).

    Pass the stacks' features and self-diagonals (or one graph's: the same
    device, dtype and autograd state).  Unlike :func:`usable`, no contiguity is
    needed: the tile reads copies (``x_csr()``, ``x.T.contiguous()``).  Also
    decides whether a stack gets the dense ``C A`` blocks only this tile reads
    (:func:`fastgnn.gntk.tiles.stack_operands`) and whether the engine budgets
    for them (:func:`fastgnn.gntk.engine.reserved_bytes`).
    """
    return _plain(tensors) and available()


def sketched_tile_usable(*tensors: torch.Tensor) -> bool:
    """:func:`tile_usable` for the sketched kernel: also the config's ``sketched_tile``."""
    return _CONFIG["sketched_tile"] and tile_usable(*tensors)


def ntk_step_fused(sigma: torch.Tensor, theta: torch.Tensor, diag_left: torch.Tensor,
                   diag_right: torch.Tensor) -> None:
    """In place, one pass: ``sigma ← Σ'``, ``theta ← Θ ⊙ Σ̇ + Σ'`` (see :func:`fastgnn.gntk.relu.ntk_step`).

    All four tensors on the CPU, contiguous, one float dtype (check with
    :func:`usable`).  Runs on ``torch.get_num_threads()`` threads (at most
    numba's maximum).
    """
    kernels = _kernels()
    with numba_threads(kernels.numba, parallel=sigma.numel() >= PARALLEL_MIN):
        kernels.ntk_step_kernel(sigma.numpy(), theta.numpy(), diag_left.numpy(), diag_right.numpy(),
                                _snap(sigma.dtype))


#: Arrays smaller than this run the kernels on one thread (waking a thread pool costs more).
PARALLEL_MIN = 2**16


def relu_maps_fused(sigma: torch.Tensor, diag_left: torch.Tensor,
                    diag_right: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(Σ', Σ̇)`` as :func:`fastgnn.gntk.relu.relu_maps` returns them, in one pass on one thread."""
    kernels = _kernels()
    sigma_next, dot = torch.empty_like(sigma), torch.empty_like(sigma)
    kernels.relu_maps_kernel(sigma.numpy(), sigma_next.numpy(), dot.numpy(), diag_left.numpy(), diag_right.numpy(),
                             _snap(sigma.dtype))
    return sigma_next, dot


#: Columns (stacked nodes of whole graphs) per block of :func:`tile_readouts_fused`: a block of
#: ``N_g x COLUMN_CHUNK`` and its two companions stay in a core's L2 cache.
COLUMN_CHUNK = 512


def tile_readouts_fused(left, right, num_blocks: int, num_mlp_layers: int, upper: bool = False) -> torch.Tensor:
    """:func:`fastgnn.gntk.tiles.tile_readouts` in one compiled pass: ``[num_blocks + 1, n_left, n_right]``.

    ``left``/``right`` are :class:`fastgnn.gntk.tiles.Stack` s in the sparse layout, both exact or
    both sketched (their ``sketch_blocks``: every Aggregate is then ``P_g S_g Σ S_hᵀ P_hᵀ`` in the
    paper's order, ``_fused_kernels._aggregate_sketched``, O(b p q) per graph pair instead of
    O(p q (p + q)); the sketched kernel starts from Σ⁽⁰⁾ = X Xᵀ, not from the aggregated features).
    No array of the tile's size is formed: the recursion runs on one
    left graph's rows at a time (see ``_fused_kernels.tile_recursion_kernel``), left
    graphs in parallel on ``torch.get_num_threads()`` threads.  ``upper``: compute only
    the pairs h >= g (a diagonal tile of a symmetric Gram; ``left is right``) and mirror.
    A graph's rows may be its colour classes: the readouts are weighted by the stacks'
    ``weights`` (class sizes, 1 for nodes), ``s_gᵀ Θ s_h``.
    """
    kernels = _kernels()
    dtype = left.x.dtype
    sketched = left.sketch_blocks is not None
    if sketched != (right.sketch_blocks is not None):
        raise ValueError("tile_readouts_fused: one stack is sketched and the other is not")
    if sketched:  # the aggregation reads only the sketch blocks; the sides give the node offsets
        sides = tuple(_offsets_side(st) for st in (left, right))
        sketch_sides = tuple((*st.sketch_blocks, np.asarray(st.offsets, dtype=np.int64)) for st in (left, right))
        aggregated = False
    else:
        sides = tuple(_side(st) for st in (left, right))
        sketch_sides = (_no_sketch(left), _no_sketch(right))
        aggregated = _aggregated_features_pay(left, right, sides)
    if aggregated:  # start from Y_I Y_Jᵀ, Y = (C A) X: the first aggregation done on the features
        x_ptr, x_idx, x_val = left.ax_csr()
        xt_right = _dense_transposed(right.ax_csr(), right.num_nodes, right.x.shape[1])
    else:
        x_ptr, x_idx, x_val = left.x_csr()
        xt_right = right.x.T.contiguous().numpy()
    inv_l, lpi = (torch.stack(v).numpy() for v in zip(*(_row_vectors(d) for d in left.diags)))
    inv_r = torch.stack([_row_vectors(d)[0] for d in right.diags]).numpy()
    d_r = torch.stack(list(right.diags)).numpy()
    out = np.zeros((num_blocks + 1, left.num_graphs, right.num_graphs), dtype=np.float64)
    with numba_threads(kernels.numba), _one_blas_thread():
        order, bin_ptr = _thread_bins(sides, upper, kernels.numba, sketch_sides if sketched else None)
        kernels.tile_recursion_kernel(x_ptr, x_idx, x_val, xt_right, *sides, inv_l, lpi, inv_r, d_r,
                                      _float64(left.weights), _float64(right.weights), num_blocks, num_mlp_layers,
                                      bool(upper), COLUMN_CHUNK, _snap(dtype), order, bin_ptr, aggregated, sketched,
                                      *sketch_sides, out)
    if upper:  # mirror the strict upper triangle (the kernel left the lower one at zero)
        for k in range(out.shape[0]):
            out[k] += np.triu(out[k], 1).T
    if aggregated:  # the readout of Σ⁽⁰⁾ = X_I X_Jᵀ per graph pair: (s_gᵀ X_g)(s_hᵀ X_h)ᵀ
        out[0] = left.feature_sums() @ right.feature_sums().T
    return torch.from_numpy(out).to(dtype)


def tile_aggregation_fused(left, right, upper: bool = False) -> int:
    """Run only the aggregations of :func:`tile_readouts_fused` (Σ and Θ of every block, once); returns
    the multiply-adds they did.  For benchmarks: seconds of this over the count is the compiled tile's
    aggregation rate (a recursion does ``2 (num_blocks - 1)`` such, plus the first on the features).

    Per left graph g (p rows) against its columns (all, or graphs h >= g when
    ``upper``): ``nnz(A_g)·W + p·Σ_h nnz(B_h)`` per array, ``nnz`` counting a dense
    block as ``p²`` and W the columns' total.
    """
    kernels = _kernels()
    sides = tuple(_side(st) for st in (left, right))
    with numba_threads(kernels.numba), _one_blas_thread():
        order, bin_ptr = _thread_bins(sides, upper, kernels.numba)
        kernels.tile_aggregation_kernel(*sides, bool(upper), COLUMN_CHUNK, order, bin_ptr,
                                        np.empty(0, dtype=left.x.numpy().dtype))
    nnz_l, nnz_r = (_per_graph_nnz(side) for side in sides)
    p = np.diff(sides[0][6])
    cols, right_nnz = (_met_by_left(v, len(p), upper) for v in (np.diff(sides[1][6]), nnz_r))
    return int(2 * (nnz_l * cols + p * right_nnz).sum())


def _met_by_left(per_right_graph: np.ndarray, num_left: int, upper: bool) -> np.ndarray:
    """``[num_left]``: for each left graph g of a tile, the sum of a per-right-graph quantity over the
    graphs g meets: all of them, or those h >= g (``upper``, a diagonal tile, left = right: suffix sums)."""
    if upper:
        return np.cumsum(per_right_graph[::-1])[::-1]
    return np.full(num_left, per_right_graph.sum())


def _per_graph_nnz(side) -> np.ndarray:
    """Multiply-adds per column of one product with each graph's ``C A``: its dense block's p² or its
    CSR rows' non-zeros."""
    dense, _, _, ptr, _, _, off = side
    return np.diff(off) ** 2 if dense else np.diff(ptr[off])


def _aggregated_features_pay(left, right, sides) -> bool:
    """Whether a tile should start from the aggregated features: ``Y_I Y_Jᵀ`` (at most ``nnz(Y_I)``
    multiply-adds per column; the kernel does it as one product over each graph's labels) instead of
    ``Σ⁽⁰⁾ = X_I X_Jᵀ`` followed by the first aggregation
    (``nnz(X_I)`` axpys plus the products with ``C A`` on both sides).

    ``Y = (C A) X`` is exact algebra, ``A Σ⁽⁰⁾ Bᵀ = (A X)(B X')ᵀ``; with one-hot
    labels ``nnz(Y) <= nnz(C A)`` (one entry per neighbour label), so this wins on
    every dataset here: on COLLAB-sized tiles it replaces one of the five
    aggregations by work the size of Σ⁽⁰⁾'s.
    """
    def agg(side):  # multiply-adds per column (left) or row (right) of one product with C A
        dense, blocks, _, _, _, val, _ = side
        return blocks.size if dense else val.size

    m_i, m_j = left.num_nodes, right.num_nodes
    plain = (left.x_csr()[2].size + agg(sides[0])) * m_j + agg(sides[1]) * m_i
    return left.ax_csr()[2].size * m_j <= plain


def _dense_transposed(csr: tuple, rows: int, cols: int) -> np.ndarray:
    """``[cols, rows]`` dense transpose of a CSR matrix ``(indptr, indices, values)``, C-contiguous."""
    ptr, idx, val = csr
    out = np.zeros((cols, rows), dtype=val.dtype)
    row_of = np.repeat(np.arange(rows), np.diff(ptr))
    out[idx, row_of] = val
    return out


def _thread_bins(sides, upper: bool, numba, sketch_sides=None) -> tuple[np.ndarray, np.ndarray]:
    """The left graphs of a tile split into one bin per numba thread (call inside :func:`_threads`), by
    :func:`balanced_bins` on :func:`_left_costs` (with the sketched kernel's per-graph aggregation
    costs :func:`_sketched_costs` when ``sketch_sides`` are given)."""
    per_node = None if sketch_sides is None else tuple(_sketched_costs(side) for side in sketch_sides)
    return balanced_bins(_left_costs(sides[0][6], sides[1][6], upper, per_node), numba.get_num_threads())


def _left_costs(left_offsets: np.ndarray, right_offsets: np.ndarray, upper: bool, per_node=None) -> np.ndarray:
    """Estimated work of each left graph g of a tile: ``p (p Q + Q₂) + 300 p Q``.

    p: g's nodes; Q, Q₂: the sum of the column graphs' sizes and of their squares
    (every column when not ``upper``, those of graphs h >= g when it is).  The
    first term is the dense aggregation's FLOPs per product (2(p²q + p q²) per
    pair), the second the ReLU maps per node pair, weighed as measured on
    COLLAB-sized tiles (one node pair's six ReLU steps cost about as much as
    2 x 300 aggregation FLOPs).  Only the ratios between graphs matter.
    ``per_node``: ``(left, right)`` multiply-adds per node of a product with each graph's
    aggregation (the sketched kernel's, :func:`_sketched_costs`), in place of p and q (a dense
    ``C A``'s): then ``p (a_g Q + Σ_h a_h q_h) + 300 p Q``.
    """
    p = np.diff(left_offsets).astype(np.float64)
    q = np.diff(right_offsets).astype(np.float64)
    a_left, a_right = (p, q) if per_node is None else per_node
    big_q, big_aq = (_met_by_left(v, len(p), upper) for v in (q, a_right * q))
    return p * (a_left * big_q + big_aq) + 300.0 * p * big_q


def _sketched_costs(sketch_side) -> np.ndarray:
    """Multiply-adds per node of one sketched Aggregate product with each graph of a side: 2 b (its S_g
    and its P_g), or N where its sketch is the identity (``C A`` alone)."""
    _, s_off, _, _, b_off, off = sketch_side
    b = np.diff(b_off).astype(np.float64)
    return np.where(np.diff(s_off) > 0, 2.0 * b, np.diff(off).astype(np.float64))


def balanced_bins(costs: np.ndarray, num_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Items split into ``num_bins`` bins of about equal total cost: ``(order, bin_ptr)``, bin b being
    ``order[bin_ptr[b]:bin_ptr[b + 1]]``.

    Greedy longest-processing-time-first: items by decreasing cost, each to the
    bin with the least cost so far (within 4/3 of the best split, and in practice
    within one small item of it).  numba's OpenMP layer runs a ``prange`` on a
    static schedule (``set_parallel_chunksize`` does not make it dynamic there), so
    a ``prange`` over these bins, one per thread, is how the threads get equal work.
    O(n log n + n·num_bins).
    """
    num_bins = max(1, int(num_bins))
    load = np.zeros(num_bins)
    owner = np.empty(len(costs), dtype=np.int64)
    for item in np.argsort(-np.asarray(costs, dtype=np.float64), kind="stable"):
        b = int(np.argmin(load))
        owner[item] = b
        load[b] += costs[item]
    order = np.argsort(owner, kind="stable").astype(np.int64)
    bin_ptr = np.zeros(num_bins + 1, dtype=np.int64)
    bin_ptr[1:] = np.cumsum(np.bincount(owner, minlength=num_bins))
    return order, bin_ptr


#: A side's aggregation uses its dense ``C A`` blocks (BLAS products) when they hold at most this
#: many times the non-zeros of the CSR (row axpys); measured on IMDB-BINARY and COLLAB-sized tiles.
DENSE_RATIO = 4.0


def _offsets_side(st) -> tuple:
    """A :func:`_side` tuple carrying only a stack's node offsets (CSR and blocks empty): what the compiled
    tile reads of the exact aggregation on a sketched stack."""
    off = np.asarray(st.offsets, dtype=np.int64)
    val = st.x.numpy()[:0, 0] if st.x.numel() else np.zeros(0, dtype=st.x.numpy().dtype)
    return (False, np.ascontiguousarray(val), off[:1], off[:0], off[:0], np.ascontiguousarray(val), off)


def _no_sketch(st) -> tuple:
    """An empty sketch side of a stack's dtype, for the exact kernel (same numba types, never read)."""
    val = np.zeros(0, dtype=st.x.numpy().dtype)
    idx = np.zeros(1, dtype=np.int64)
    return (val, idx, val, idx, idx, idx)


def _side(st) -> tuple:
    """The ``(dense, blocks, block_offsets, indptr, indices, values, offsets)`` tuple of a stack."""
    ptr, idx, val, off = st.csr()
    dense = st.dense_blocks is not None and st.dense_blocks.numel() <= DENSE_RATIO * val.size
    blocks = st.dense_blocks.numpy() if st.dense_blocks is not None else val[:0]
    boff = st.block_offsets if st.block_offsets is not None else off[:1]
    return (bool(dense), blocks, boff, ptr, idx, val, off)


def _load():
    """The kernel module (imports numba and loads the compiled kernels from its cache), or None when
    importing it failed; tried once, the failure warned about once."""
    global _KERNEL, _IMPORT_ERROR
    if _KERNEL is None and _IMPORT_ERROR is None:
        try:
            _KERNEL = importlib.import_module("fastgnn.gntk._fused_kernels")
        except (ImportError, OSError) as exc:  # OSError: llvmlite's shared library failing to load
            _IMPORT_ERROR = f"{type(exc).__name__}: {exc}"
            warnings.warn(f"fastgnn: the numba kernels could not be imported ({_IMPORT_ERROR}); "
                          "the GNTK uses the torch path instead", RuntimeWarning, stacklevel=2)
    return _KERNEL


def _kernels():
    kernels = _load()
    if kernels is None:
        raise ImportError(f"the numba kernels of fastgnn.gntk.compiled_tile are unavailable ({_IMPORT_ERROR})")
    return kernels


def _row_vectors(d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(1/d with 0 where d = 0, d/π)``, computed as :func:`fastgnn.gntk.relu.relu_maps_` does."""
    return torch.where(d > 0, 1.0 / d, torch.zeros_like(d)).contiguous(), (d / math.pi).contiguous()


def _float64(t: torch.Tensor) -> np.ndarray:
    return t.to(torch.float64).contiguous().numpy()


def _snap(dtype) -> float:
    return float(32 * torch.finfo(dtype).eps)


_BLAS = []


@contextlib.contextmanager
def _one_blas_thread():
    """BLAS on one thread for the block: the compiled tile calls it from numba's threads (products
    with dense ``C A`` blocks, and the start ``Y_g Y_Cᵀ`` of every tile that begins from the
    aggregated features).

    A multi-threaded OpenBLAS (pthreads build) called inside an OpenMP parallel region prints
    "Detect OpenMP Loop and this application may hang" and may indeed deadlock; on one thread
    each call runs on its caller's thread.  The limit once covered only tiles with dense
    blocks, so a sparse tile's (large) start product went multi-threaded from inside the
    ``prange`` (seen on PROTEINS with 2 threads); ``tests/gntk/test_compiled_tile.py`` checks stderr.

    The threadpoolctl controller is made once: making one inspects every loaded
    library (milliseconds, more than a small tile takes).
    """
    if not _BLAS:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - scikit-learn depends on threadpoolctl
            _BLAS.append(None)
        else:
            _BLAS.append(ThreadpoolController())
    if _BLAS[0] is None:
        yield
        return
    with _BLAS[0].limit(limits=1, user_api="blas"):
        yield


@contextlib.contextmanager
def numba_threads(numba, parallel: bool = True):
    """numba on ``torch.get_num_threads()`` threads (at most its maximum; 1 unless ``parallel``) for the
    block; restored after.

    numba's OpenMP layer shares the ``libgomp.so.1`` that torch loaded, and its
    parallel regions set that runtime's thread count: torch's count (which
    ``torch.get_num_threads()`` reads from it) is therefore put back as well.
    """
    torch_threads = torch.get_num_threads()
    threads = max(1, min(torch_threads, numba.config.NUMBA_NUM_THREADS)) if parallel else 1
    before = numba.get_num_threads()
    if before != threads:
        numba.set_num_threads(threads)
    try:
        yield
    finally:
        if before != threads:
            numba.set_num_threads(before)
        if torch.get_num_threads() != torch_threads:
            torch.set_num_threads(torch_threads)
