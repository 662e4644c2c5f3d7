"""Whole-Gram GNTK time on the benchmark datasets: per-pair decoupled vs batched (issue 3), on nodes and on
colour classes (issue 12).

For each dataset (``--datasets``; default MUTAG, PTC, PROTEINS, NCI1, IMDBBINARY,
IMDBMULTI and the COLLAB-sized synthetic set ``COLLAB``, i.e.
``fastgnn.datasets.synthetic_collab()``), at num_layers = 4, num_mlp_layers = 2,
jk, uniform scale, ``--dtype`` (float64), it measures

* **prepare**: ``fastgnn.gntk.pairwise.prepare_many`` of every graph on its nodes
  (``compress=False``: the per-graph O(N³) self-diagonals), shared by decoupled and
  uncompressed batched; **prepare compressed**: the same with ``compress="auto"`` (GNTK's
  default), colour refinement included, and **colour** the refinement alone
  (``fastgnn.gntk.colour.colour_classes_many``);
* **class pairs**: Σ_{i <= j} k_i k_j over the rows the compressed operands keep (colour
  classes where a graph has fewer classes than nodes, else its nodes); **compression**:
  node pairs over class pairs;
* **decoupled (extrapolated)**: ``pair_readouts(method="decoupled")`` on
  ``--sample-pairs`` random graph pairs i <= j of prepared operands; the mean
  per pair times n(n+1)/2, plus prepare, is the whole-Gram estimate.  Always an
  extrapolation, never a full run;
* **batched CPU**: ``GNTK(..., compress=False).fit_transform(dataset)`` (prepare included): the
  engine on nodes, i.e. the engine before issue 12 (same kernel code; its per-graph preparation
  is now batched, so this baseline is if anything faster than the old engine).  A random subset
  of about ``--subset-nodes`` nodes is run first; when the time extrapolated from it (gram part
  by the node pairs the engine computes, the prepare part by the number of graphs) exceeds
  ``--max-seconds``, the extrapolation is reported (``how = extrapolated``) instead of a full run;
* **compressed CPU**: the same with ``compress="auto"`` (the default), measured the way the
  uncompressed run was: extrapolated from the same subset (by the class pairs its tiles
  compute) exactly when that one was, else run whole; **pair speedup**: uncompressed
  over compressed gram seconds (the pair work, prepare excluded); **fit speedup**: the same for
  the whole ``fit_transform``;
* **interleaved** (``--ab-repeats K``): K alternating rounds of uncompressed and compressed whole
  ``fit_transform``, medians (the ``ab_*`` columns): the fairest speedup on a shared machine;
* **batched CUDA**: the same on ``cuda`` when ``torch.cuda.is_available()``
  (a warm-up run first; synchronised around the timing);
* **node pairs / s**: Σ_{i <= j} N_i N_j (the graph pairs of the symmetric half
  of the Gram, diagonal included) over the batched gram seconds (prepare
  excluded).  The compiled CPU tile computes exactly these; the torch tile (CUDA,
  or no numba) computes whole diagonal tiles, so a little more
  (``engine_node_pairs`` in the CSV, under the engine's own tile plan: ``tile_nodes``);
* **aggregation GFLOP/s**: the aggregation ``B Σ Bᵀ`` of Σ and Θ on one
  representative tile (a random chunk of graphs of the torch tile's size at the
  budget, capped at 1 GiB's worth: the probe holds [M, M] arrays; stacked by
  ``stack_operands``) by the code the engine runs: where the compiled
  tile runs, ``compiled_tile.tile_aggregation_fused`` (its BLAS products on the dense
  ``C A`` blocks or its CSR row updates, block by block as in the recursion),
  else the torch tile's two sparse (or batched dense) products per array;
  2 FLOPs per multiply-add (a dense block counted as p² per column), next to
  ``torch.matmul`` on a dense [M, M] matrix in the same run;
* **elementwise floor**: ``ntk_step`` (``relu_maps`` + the Θ update) on that
  tile, scaled to Σ_{i <= j} N_i N_j node pairs × (num_layers − 1)·num_mlp_layers
  ReLU layers: no batched Gram can be cheaper than this without changing the
  ReLU maps.  ``batched / floor`` says how close the batched engine comes.  **floor
  compressed**: the same per pair, over the class pairs;
  With numba installed ``ntk_step`` is the one-pass kernel of
  ``fastgnn.gntk.compiled_tile`` and the CPU engine runs the compiled tile (``engine`` column);
* **accuracy** (``--no-check`` skips it): batched vs decoupled (``GNTK(method="decoupled")``)
  on ``--check-graphs`` random graphs of those the batched run covered, as the
  largest entry difference over the largest entry (float64: should be ~1e-15,
  the issue asks <= 1e-10); compressed vs uncompressed batched on every graph both runs covered;
  and float32 batched vs float64 batched on the same graphs as the CPU run (the whole dataset,
  or the subset when extrapolated);
* **peak RSS** of the benchmark process after the run (``ru_maxrss``; it holds
  the dataset and the prepared operands too).

Each timing is the median of ``--repeats`` runs where affordable (a timing
whose first run, times the repeats, exceeds ``--max-seconds`` is run once).

Writes ``--out``.csv and ``--out``.png (bars, log scale, per dataset); prints
the machine, the commit and a table.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/gram_speed.py --threads 1
    .venv/bin/python benchmarks/gram_speed.py --datasets MUTAG --repeats 1 --out /tmp/gs
"""

from __future__ import annotations

import argparse
import inspect
import math
import resource
import statistics
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch
from common import (
    BENCH_GNTK,
    DATA_DIR,
    RESULTS,
    commit_line,
    load_dataset,
    machine_line,
    median_of,
    pyplot,
    save_figure,
    seconds,
    write_csv,
)

from fastgnn import GNTK, datasets
from fastgnn.budget import default_max_memory, parse_memory
from fastgnn.gntk import compiled_tile
from fastgnn.gntk.colour import colour_classes_many
from fastgnn.gntk.pairwise import pair_readouts, prepare_many
from fastgnn.gntk.plan import (
    compiled_tile_runs,
    plan_chunks,
    plan_tile_nodes,
    tile_nodes_for_budget,
)
from fastgnn.gntk.relu import ntk_step
from fastgnn.gntk.tiles import stack_operands

NUM_LAYERS = BENCH_GNTK["num_layers"]
NUM_MLP_LAYERS = BENCH_GNTK["num_mlp_layers"]
NUM_BLOCKS = NUM_LAYERS - 1
RELU_LAYERS = NUM_BLOCKS * NUM_MLP_LAYERS
ALL = ["MUTAG", "PTC", "PROTEINS", "NCI1", "IMDBBINARY", "IMDBMULTI", "COLLAB"]

FIELDS = [
    "dataset", "graphs", "nodes", "max_nodes", "graph_pairs", "node_pairs", "engine_node_pairs", "classes",
    "class_pairs", "compression", "dtype", "threads", "prepare_s", "prepare_compressed_s", "colour_s",
    "decoupled_sample_pairs", "decoupled_pair_s", "decoupled_gram_s_extrapolated",
    "batched_cpu_s", "batched_cpu_gram_s", "batched_cpu_how", "batched_cpu_repeats", "node_pairs_per_s_cpu",
    "batched_cuda_s", "batched_cuda_gram_s", "batched_cuda_how", "node_pairs_per_s_cuda",
    "tile_nodes", "agg_tile_nodes", "agg_nnz", "agg_kind", "agg_s", "agg_gflops", "matmul_n", "matmul_gflops",
    "floor_tile_s", "floor_s", "floor_note", "batched_cpu_over_floor", "decoupled_over_batched_cpu", "engine",
    "compressed_cpu_s", "compressed_cpu_gram_s", "compressed_cpu_how", "compressed_cuda_s", "compressed_cuda_gram_s",
    "compressed_cuda_how", "floor_compressed_s", "compressed_cpu_over_floor", "pair_speedup", "fit_speedup",
    "ab_repeats", "ab_uncompressed_s", "ab_uncompressed_gram_s", "ab_compressed_s", "ab_compressed_gram_s",
    "ab_pair_speedup", "ab_fit_speedup",
    "check_graphs", "batched_vs_decoupled_rel", "compressed_vs_uncompressed_rel", "float32_graphs",
    "float32_vs_float64_rel", "peak_rss_gb", "commit",
]


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    threads = args.threads if args.threads is not None else torch.get_num_threads()
    torch.set_num_threads(threads)
    dtype = {"float64": torch.float64, "float32": torch.float32}[args.dtype]
    names = [datasets.canonical_name(s) for s in args.datasets.split(",") if s.strip()]
    data_dir = Path(args.data_dir)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cuda = torch.cuda.is_available() and not args.no_cuda
    budget = parse_memory(args.max_memory) if args.max_memory else default_max_memory("cpu")
    args.budget = budget
    # the representative tile of the aggregation / floor columns: the torch tile's size at this budget
    # (it holds [M, M] arrays); the engine's own plan, per dataset, is the ``tile_nodes`` column
    probe_nodes = tile_nodes_for_budget(min(budget, 2**30), torch.empty((), dtype=dtype).element_size())
    commit = commit_line()

    header = [machine_line(threads), f"commit: {commit}",
              f"num_layers={NUM_LAYERS}, num_mlp_layers={NUM_MLP_LAYERS}, jk, uniform scale, {args.dtype}, "
              f"max_memory={budget / 2**30:.3g} GiB; representative tile of {probe_nodes} nodes; "
              f"median of {args.repeats} repeats "
              f"where affordable; --max-seconds {args.max_seconds}; CUDA: {'yes' if cuda else 'not available'}"]
    for line in header:
        print(line)
    print(f"data: {data_dir}")
    sys.stdout.flush()

    rows = []
    for name in names:
        print(f"\n== {name}")
        ds = load_dataset(name, data_dir, dtype=dtype)
        if ds is None:
            continue
        row = run_dataset(name, ds, args, dtype, probe_nodes, cuda)
        row.update(dtype=args.dtype, threads=threads, commit=commit.split()[0])
        rows.append(row)
        sys.stdout.flush()
        write_csv(rows, out.with_suffix(".csv"), FIELDS)  # after every dataset: a long run keeps what it did
        del ds

    if not rows:
        print("no dataset could be loaded")
        return 1
    print()
    print_table(rows)
    plot(rows, out.with_suffix(".png"), header)
    print(f"wrote {out.with_suffix('.csv')} and {out.with_suffix('.png')}")
    return 0


# --------------------------------------------------------------------------- one dataset


def run_dataset(name, ds, args, dtype, probe_nodes, cuda) -> dict:
    graphs = list(ds.graphs)
    sizes = np.array([g.num_nodes for g in graphs], dtype=np.int64)
    n = len(graphs)
    total = int(sizes.sum())
    node_pairs = (total * total + int((sizes * sizes).sum())) // 2
    row = {"dataset": name if name != "COLLAB" else "COLLAB-sized (synthetic)", "graphs": n, "nodes": total,
           "max_nodes": int(sizes.max()), "graph_pairs": n * (n + 1) // 2, "node_pairs": node_pairs}
    rng = np.random.default_rng(args.seed)

    # prepare (shared by decoupled and batched)
    ops = None

    def prep():
        nonlocal ops
        ops = _prepare(graphs, dtype, False)

    row["prepare_s"] = measure(prep, args)
    comp_ops = None

    def prep_compressed():
        nonlocal comp_ops
        comp_ops = _prepare(graphs, dtype, "auto")

    row["prepare_compressed_s"] = measure(prep_compressed, args)
    row["colour_s"] = measure(lambda: colour_classes_many(graphs), args)
    rows_c = np.array([op.num_rows for op in comp_ops], dtype=np.int64)
    class_pairs = (int(rows_c.sum()) ** 2 + int((rows_c * rows_c).sum())) // 2
    row.update(classes=int(rows_c.sum()), class_pairs=class_pairs, compression=node_pairs / class_pairs)
    comp_plan = (plan_tile_nodes(comp_ops, None, args.budget, torch.empty((), dtype=dtype).element_size(),
                                 NUM_BLOCKS, sketched=False), compiled_tile_runs(comp_ops[0], sketched=False))
    comp_ops = None
    print(f"  prepare all graphs: {row['prepare_s']:.3g} s on nodes, {row['prepare_compressed_s']:.3g} s on colour "
          f"classes (colour refinement alone {row['colour_s']:.3g} s); {row['classes']} rows for {total} nodes, "
          f"{class_pairs:.4g} class pairs i<=j: compression x{row['compression']:.3g}")

    # the engine's own tile plan for this Gram (as GNTK.fit_transform makes it)
    itemsize = torch.empty((), dtype=dtype).element_size()
    tile_nodes = plan_tile_nodes(ops, None, args.budget, itemsize, NUM_BLOCKS, sketched=False)
    compiled = compiled_tile_runs(ops[0], sketched=False)
    row.update(tile_nodes=tile_nodes, engine_node_pairs=engine_node_pairs(sizes, tile_nodes, compiled))
    print(f"{n} graphs, {total} nodes (max {sizes.max()}), {row['graph_pairs']:.4g} graph pairs i<=j, "
          f"{node_pairs:.4g} node pairs i<=j, {row['engine_node_pairs']:.4g} computed by the engine's tiles "
          f"(tiles of up to {tile_nodes} nodes, {'compiled' if compiled else 'torch'} tile)")

    # per-pair decoupled, extrapolated from a sample of pairs i <= j
    k = min(args.sample_pairs, row["graph_pairs"])
    pairs = sample_pairs(n, k, rng)
    for i, j in pairs[:3]:  # warm-up
        pair_readouts(ops[i], ops[j], method="decoupled", num_blocks=NUM_BLOCKS, num_mlp_layers=NUM_MLP_LAYERS)

    def sample():
        for i, j in pairs:
            pair_readouts(ops[i], ops[j], method="decoupled", num_blocks=NUM_BLOCKS, num_mlp_layers=NUM_MLP_LAYERS)

    per_pair = measure(sample, args) / len(pairs)
    row.update(decoupled_sample_pairs=len(pairs), decoupled_pair_s=per_pair,
               decoupled_gram_s_extrapolated=per_pair * row["graph_pairs"] + row["prepare_s"])
    print(f"  decoupled: {per_pair * 1e3:.3g} ms/pair over {len(pairs)} random pairs -> "
          f"{row['decoupled_gram_s_extrapolated']:.4g} s for the Gram (extrapolated, prepare included)")

    # aggregation and elementwise floor on a representative tile
    tile(row, ops, sizes, probe_nodes, rng, dtype, args)
    ops = None  # free the operands before the batched runs

    # batched
    row["engine"] = "compiled tile (numba)" if compiled_tile.available() else "torch tiles"
    order = rng.permutation(n)  # the random subset both runs extrapolate from, when they do
    keep = np.sort(order[: int(np.searchsorted(np.cumsum(sizes[order]), args.subset_nodes)) + 1])
    keep = keep if total > args.subset_nodes else None
    for device in ["cpu"] + (["cuda"] if cuda else []):
        grams, like = {}, None
        for compress, key, rows_of in ((False, f"batched_{device}", sizes), ("auto", f"compressed_{device}", rows_c)):
            plan = (tile_nodes, compiled) if compress is False else comp_plan
            total_s, gram_s, how, reps, covered, gram = batched(ds, rows_of, device, dtype, plan, keep, compress, args,
                                                                extrapolate=like)
            like = "extrapolated" in how  # the compressed run is measured the way the uncompressed one was
            grams[compress] = (covered, gram)
            if device == "cpu" and compress is False and not args.no_check:
                check(row, graphs, covered, gram, sizes, args, rng)
            row[f"{key}_s"], row[f"{key}_gram_s"], row[f"{key}_how"] = total_s, gram_s, how
            if compress is False:
                row[f"node_pairs_per_s_{device}"] = node_pairs / gram_s
                if device == "cpu":
                    row["batched_cpu_repeats"] = reps
            print(f"  batched {device}, compress={compress}: {total_s:.4g} s ({gram_s:.4g} s gram + prepare; {how}); "
                  f"{node_pairs / gram_s:.4g} node pairs/s")
            sys.stdout.flush()
        if device == "cpu" and not args.no_check and args.dtype == "float64":
            (cov_u, gram_u), (cov_c, gram_c) = grams[False], grams["auto"]
            common = np.intersect1d(cov_u, cov_c)  # both runs' graphs (one may be the subset, one all)
            at_u, at_c = np.searchsorted(cov_u, common), np.searchsorted(cov_c, common)
            gram_u, gram_c = gram_u[np.ix_(at_u, at_u)], gram_c[np.ix_(at_c, at_c)]
            row["compressed_vs_uncompressed_rel"] = float(np.abs(gram_c - gram_u).max() / np.abs(gram_u).max())
            print(f"  check: compressed vs uncompressed on {len(common)} graphs: "
                  f"{row['compressed_vs_uncompressed_rel']:.2e} relative")
    row["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    row["batched_cpu_over_floor"] = row["batched_cpu_s"] / row["floor_s"]
    row["compressed_cpu_over_floor"] = row["compressed_cpu_s"] / row["floor_compressed_s"]
    row["decoupled_over_batched_cpu"] = row["decoupled_gram_s_extrapolated"] / row["batched_cpu_s"]
    row["pair_speedup"] = row["batched_cpu_gram_s"] / row["compressed_cpu_gram_s"]
    row["fit_speedup"] = row["batched_cpu_s"] / row["compressed_cpu_s"]
    print(f"  compressed vs uncompressed: pair work x{row['pair_speedup']:.3g}, whole fit_transform "
          f"x{row['fit_speedup']:.3g} (class pairs x{row['compression']:.3g} fewer)")
    if args.ab_repeats and "extrapolated" not in row["batched_cpu_how"]:
        interleaved(row, graphs, dtype, args)
    return row


def interleaved(row, graphs, dtype, args) -> None:
    """``--ab-repeats`` K: K rounds of (uncompressed, compressed) whole ``fit_transform`` on the CPU, one
    after the other, medians of each: on a shared machine, load that comes and goes hits both alike."""
    times = {False: [], "auto": []}
    for _ in range(args.ab_repeats):
        for compress in times:
            est = GNTK(**BENCH_GNTK, dtype=dtype, progress=False, compress=compress, max_memory=args.budget)
            t0 = time.perf_counter()
            est.fit_transform(graphs)
            times[compress].append((time.perf_counter() - t0, est.time_))
    med = {c: (statistics.median(t for t, _ in v), statistics.median(g for _, g in v)) for c, v in times.items()}
    row.update(ab_repeats=args.ab_repeats, ab_uncompressed_s=med[False][0], ab_uncompressed_gram_s=med[False][1],
               ab_compressed_s=med["auto"][0], ab_compressed_gram_s=med["auto"][1],
               ab_pair_speedup=med[False][1] / med["auto"][1], ab_fit_speedup=med[False][0] / med["auto"][0])
    print(f"  interleaved x{args.ab_repeats}: uncompressed {med[False][0]:.4g} s ({med[False][1]:.4g} s gram), "
          f"compressed {med['auto'][0]:.4g} s ({med['auto'][1]:.4g} s gram): pair work x{row['ab_pair_speedup']:.3g}, "
          f"whole fit_transform x{row['ab_fit_speedup']:.3g}")


def check(row, graphs, covered: np.ndarray, gram: np.ndarray, sizes, args, rng) -> None:
    """batched vs decoupled on a sample of the covered graphs (against the entries of the batched
    run's Gram ``gram``, float64 runs only); float32 vs float64 on up to ``--check-nodes`` nodes of them."""
    kw = dict(BENCH_GNTK, progress=False, max_memory=args.budget, compress=False)
    at = rng.choice(len(covered), size=min(args.check_graphs, len(covered)), replace=False)
    at.sort()
    k_dec = GNTK(method="decoupled", dtype=torch.float64, **kw).fit_transform([graphs[covered[t]] for t in at])
    row["check_graphs"] = len(at)
    if gram.dtype == np.float64 and args.dtype == "float64":
        k_bat = gram[np.ix_(at, at)]
        row["batched_vs_decoupled_rel"] = float(np.abs(k_bat - k_dec).max() / np.abs(k_dec).max())
    cut = int(np.searchsorted(np.cumsum(sizes[covered]), args.check_nodes)) + 1
    cov = [graphs[t] for t in covered[:cut]]
    k64 = gram[:cut, :cut] if args.dtype == "float64" else GNTK(dtype=torch.float64, **kw).fit_transform(cov)
    k32 = GNTK(dtype=torch.float32, **kw).fit_transform(cov)
    row["float32_graphs"] = len(cov)
    row["float32_vs_float64_rel"] = float(np.abs(k32 - k64).max() / np.abs(k64).max())
    print(f"  check: batched vs decoupled on {len(at)} graphs: {row.get('batched_vs_decoupled_rel', np.nan):.2e} "
          "relative; "
          f"float32 vs float64 on {len(cov)} graphs: {row['float32_vs_float64_rel']:.2e} relative")


def tile(row, ops, sizes, tile_nodes, rng, dtype, args) -> None:
    """Aggregation GFLOP/s, dense matmul GFLOP/s and the ReLU floor on one tile of random graphs."""
    order = rng.permutation(len(ops))
    chunk = order[plan_chunks(sizes[order].tolist(), tile_nodes)[0]]
    st = stack_operands([ops[t] for t in chunk], sketched=False)  # the engine's layout choice
    m = st.num_nodes
    # multiply-adds per column of one product: padded dense blocks (n·P²) or CSR non-zeros
    nnz = int(st.blocks.numel()) if st.blocks is not None else int(st.factors[0].values().numel())
    buf_a, buf_t, buf_b = (torch.empty(m, m, dtype=st.x.dtype) for _ in range(3))

    def aggregate(sigma):  # as tiles.tile_readouts' aggregate, left = right = st, with its reused buffers
        st.apply(0, sigma, buf_a)
        buf_t.copy_(buf_a.T)
        st.apply(0, buf_t, buf_b)
        sigma.copy_(buf_b.T)
        return sigma

    sigma = aggregate(st.x @ st.x.T)  # Σ after the first aggregation: realistic values for the ReLU maps
    if st.offsets is not None and compiled_tile.tile_usable(st.x, *st.diags[:1]):
        # the engine runs the compiled tile: time its aggregation (same blocks and code as in the recursion)
        madds = compiled_tile.tile_aggregation_fused(st, st)
        t_agg = measure(lambda: compiled_tile.tile_aggregation_fused(st, st), args)
        kind = "compiled, " + ("dense C·A blocks (BLAS)" if dense_blocks_used(st) else "CSR row updates")
    else:
        madds = 2 * 2 * nnz * m  # two arrays' worth as the compiled count: Σ and Θ, two products each
        t_agg = 2 * measure(lambda: aggregate(sigma), args)
        kind = "torch, " + ("padded dense bmm" if st.blocks is not None else "CSR spmm")
    dense = torch.randn(m, m, dtype=dtype)
    t_mm = measure(lambda: torch.matmul(dense, dense), args)
    dense = None
    d = st.diags[0]
    step, floor_note = floor_step(sigma)
    fresh = []

    def floor_once():
        # ntk_step may update Σ and Θ in place: fresh copies before every call, outside the timing
        fresh.append((sigma.clone(), sigma.clone()))
        s, t = fresh.pop()
        t0 = time.perf_counter()
        step(s, t, d, d)
        return time.perf_counter() - t0

    floor_once()
    t_floor = median_of(floor_once, args.repeats, args.max_seconds)
    row.update(agg_tile_nodes=m, agg_nnz=nnz, agg_kind=kind, agg_s=t_agg, agg_gflops=2 * madds / t_agg / 1e9,
               matmul_n=m, matmul_gflops=2 * m ** 3 / t_mm / 1e9, floor_tile_s=t_floor,
               floor_s=t_floor / (m * m) * row["node_pairs"] * RELU_LAYERS, floor_note=floor_note,
               floor_compressed_s=t_floor / (m * m) * row["class_pairs"] * RELU_LAYERS)
    print(f"  tile of {len(chunk)} graphs, M={m}, nnz(B)={nnz}: aggregation of Σ and Θ ({kind}) {t_agg * 1e3:.3g} ms = "
          f"{row['agg_gflops']:.3g} GFLOP/s (dense matmul [{m}x{m}]: {row['matmul_gflops']:.3g} GFLOP/s); "
          f"ntk_step ({floor_note}) {t_floor * 1e3:.3g} ms -> floor {row['floor_s']:.4g} s for the Gram")


def dense_blocks_used(st) -> bool:
    """Whether the compiled tile multiplies this stack by its dense ``C A`` blocks (BLAS) rather than by its
    CSR rows: where it has them and they hold at most ``compiled_tile.DENSE_RATIO`` times the CSR's non-zeros."""
    return st.dense_blocks is not None and st.dense_blocks.numel() <= compiled_tile.DENSE_RATIO * st.csr()[2].size


def floor_step(sigma):
    """``ntk_step`` as the engine calls it: with reused scratch buffers where its signature takes them."""
    if "work" not in inspect.signature(ntk_step).parameters:
        return ntk_step, "allocating"
    for work in ((torch.empty_like(sigma), torch.empty_like(sigma)), torch.empty_like(sigma)):
        try:
            ntk_step(sigma.clone(), sigma.clone(), torch.ones(sigma.shape[0], dtype=sigma.dtype),
                     torch.ones(sigma.shape[1], dtype=sigma.dtype), work=work)
        except (TypeError, ValueError, RuntimeError, IndexError):
            continue
        return partial(_step_with, work=work), "reused work buffers"
    return ntk_step, "allocating"


def _step_with(s, t, dl, dr, *, work):
    return ntk_step(s, t, dl, dr, work=work)


def batched(ds, sizes, device, dtype, plan, keep, compress, args, extrapolate=None):
    """(seconds, gram seconds, how, repeats, indices of the graphs run, Gram) of
    GNTK(..., compress=compress).fit_transform on ``device``.

    ``sizes``: each graph's rows under that compression (nodes, or classes); ``plan``: the whole
    Gram's (tile_nodes, compiled); ``keep``: the subset to run first and extrapolate from (None:
    the dataset is small enough to run whole); ``extrapolate``: True / False to extrapolate or run
    whole whatever the estimate says (None: extrapolate when the estimate exceeds --max-seconds)."""

    last = {}

    def run(graphs):
        est = GNTK(**BENCH_GNTK, device=device, dtype=dtype, progress=False, compress=compress,
                   max_memory=args.budget if device == "cpu" else args.max_memory)
        _sync(device)
        t0 = time.perf_counter()
        last["gram"] = est.fit_transform(graphs)
        _sync(device)
        total = time.perf_counter() - t0
        return total, est.time_

    graphs = list(ds.graphs)
    if device == "cuda":  # context, cuBLAS and cuSPARSE initialisation
        run(graphs[: min(len(graphs), 8)])
    if keep is not None:
        sub_total, sub_gram = run([graphs[t] for t in keep])
        # the row pairs the engine computes, each under its own plan: the subset's tiles are those
        # of its own (smaller) operands, so its plan is made here as GNTK makes it
        sub_ops = _prepare([graphs[t] for t in keep], dtype, compress)
        sub_nodes = plan_tile_nodes(sub_ops, None, args.budget, torch.empty((), dtype=dtype).element_size(),
                                    NUM_BLOCKS, sketched=False)
        sub_ops = None
        scale = engine_node_pairs(sizes, *plan) / engine_node_pairs(sizes[keep], sub_nodes, plan[1])
        gram_est = sub_gram * scale
        est = gram_est + (sub_total - sub_gram) * len(graphs) / len(keep)
        print(f"  batched {device}, compress={compress}: subset of {len(keep)} graphs ({int(sizes[keep].sum())} rows) "
              f"took {sub_total:.3g} s -> {est:.4g} s estimated for the whole Gram")
        if extrapolate or (extrapolate is None and est > args.max_seconds):
            return (est, gram_est, f"extrapolated from {len(keep)} graphs (x{scale:.3g} row pairs)", 0, keep,
                    last["gram"])
    times = []
    total, gram = run(graphs)
    times.append((total, gram))
    if total * args.repeats <= args.max_seconds:
        times += [run(graphs) for _ in range(args.repeats - 1)]
    total = statistics.median(t for t, _ in times)
    gram = statistics.median(g for _, g in times)
    return total, gram, f"measured (median of {len(times)})", len(times), np.arange(len(graphs)), last["gram"]


# --------------------------------------------------------------------------- pieces


def engine_node_pairs(sizes, tile_nodes: int, compiled: bool) -> int:
    """Node pairs the engine computes for a symmetric Gram.

    The compiled tile computes only the graph pairs on or above the diagonal of a
    diagonal tile: Σ_{i <= j} N_i N_j exactly.  The torch tile computes whole
    tiles: Σ_{I <= J} M_I M_J over its chunks.
    """
    if compiled:
        total = int(np.sum(sizes))
        return (total * total + int(np.sum(np.asarray(sizes, dtype=np.int64) ** 2))) // 2
    m = np.array([int(sizes[c].sum()) for c in plan_chunks(list(map(int, sizes)), tile_nodes)], dtype=np.int64)
    return int((m.sum() ** 2 + (m * m).sum()) // 2)


def sample_pairs(n: int, k: int, rng) -> list[tuple[int, int]]:
    """``k`` distinct uniform random pairs i <= j of ``range(n)`` (all of them if k = n(n+1)/2)."""
    total = n * (n + 1) // 2
    flat = np.sort(rng.choice(total, size=k, replace=False))
    # flat index p -> (i, j), row i holding pairs (i, i..n-1): start(i) = i*n - i*(i-1)/2
    out = []
    for p in flat.tolist():
        i = int(((2 * n + 1) - math.sqrt((2 * n + 1) ** 2 - 8 * p)) // 2)
        while i * n - i * (i - 1) // 2 > p:
            i -= 1
        while (i + 1) * n - (i + 1) * i // 2 <= p:
            i += 1
        out.append((i, i + p - (i * n - i * (i - 1) // 2)))
    return out


def _prepare(graphs, dtype, compress):
    """The operands GNTK prepares (on one torch thread, as it does on a CPU)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return prepare_many(graphs, num_blocks=NUM_BLOCKS, num_mlp_layers=NUM_MLP_LAYERS, scale=BENCH_GNTK["scale"],
                            method="decoupled", sketch_size=None, sketch_kind="ams", seed=0, dtype=dtype, device="cpu",
                            compress=compress)
    finally:
        torch.set_num_threads(before)


def _sync(device) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def measure(fn, args) -> float:
    """Median seconds of ``fn()`` over ``--repeats`` runs; one run when repeating would exceed --max-seconds."""
    return median_of(lambda: seconds(fn), args.repeats, args.max_seconds)


COLUMNS = [  # (header, key, format)
    ("dataset", "dataset", "{}"),
    ("graphs", "graphs", "{}"),
    ("node pairs", "node_pairs", "{:.3g}"),
    ("class pairs", "class_pairs", "{:.3g}"),
    ("compression", "compression", "{:.3g}"),
    ("prepare s", "prepare_s", "{:.3g}"),
    ("prepare comp. s", "prepare_compressed_s", "{:.3g}"),
    ("colour s", "colour_s", "{:.3g}"),
    ("decoupled s (extrap.)", "decoupled_gram_s_extrapolated", "{:.4g}"),
    ("batched CPU s", "batched_cpu_s", "{:.4g}"),
    ("", "batched_cpu_mark", "{}"),
    ("gram s", "batched_cpu_gram_s", "{:.4g}"),
    ("compressed CPU s", "compressed_cpu_s", "{:.4g}"),
    ("", "compressed_cpu_mark", "{}"),
    ("comp. gram s", "compressed_cpu_gram_s", "{:.4g}"),
    ("pair speedup", "pair_speedup", "{:.3g}"),
    ("fit speedup", "fit_speedup", "{:.3g}"),
    ("A/B pair", "ab_pair_speedup", "{:.3g}"),
    ("A/B fit", "ab_fit_speedup", "{:.3g}"),
    ("batched CUDA s", "batched_cuda_s", "{:.4g}"),
    ("node pairs/s CPU", "node_pairs_per_s_cpu", "{:.3g}"),
    ("agg GFLOP/s", "agg_gflops", "{:.3g}"),
    ("matmul GFLOP/s", "matmul_gflops", "{:.3g}"),
    ("floor s", "floor_s", "{:.4g}"),
    ("batched/floor", "batched_cpu_over_floor", "{:.3g}"),
    ("floor comp. s", "floor_compressed_s", "{:.4g}"),
    ("comp./floor", "compressed_cpu_over_floor", "{:.3g}"),
    ("decoupled/batched", "decoupled_over_batched_cpu", "{:.3g}"),
    ("batched vs decoupled", "batched_vs_decoupled_rel", "{:.1e}"),
    ("comp. vs uncomp.", "compressed_vs_uncompressed_rel", "{:.1e}"),
    ("float32 vs float64", "float32_vs_float64_rel", "{:.1e}"),
    ("peak RSS GB", "peak_rss_gb", "{:.3g}"),
]


def print_table(rows) -> None:
    cells = [[h for h, _, _ in COLUMNS]]
    for r in rows:
        r = dict(r, **{f"{k}_cpu_mark": "(extrap.)" if "extrap" in r.get(f"{k}_cpu_how", "") else ""
                       for k in ("batched", "compressed")})
        cells.append([fmt.format(r[k]) if r.get(k) not in (None, "") else "-" for _, k, fmt in COLUMNS])
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]
    for c in cells:
        print(" | ".join(s.rjust(w) if i else s.ljust(w) for i, (s, w) in enumerate(zip(c, widths))))
    print("node pairs: Σ_{i<=j} N_i N_j; class pairs: Σ_{i<=j} k_i k_j; node pairs/s on the batched gram time "
          "(prepare excluded); floor: ntk_step alone over those node (class) pairs x 6 ReLU layers; pair / fit "
          "speedup: uncompressed over compressed gram / fit_transform seconds")


def plot(rows, path: Path, header) -> None:
    plt = pyplot()

    series = [("decoupled per pair (extrapolated)", "decoupled_gram_s_extrapolated", None),
              ("batched CPU, nodes", "batched_cpu_s", "batched_cpu_how"),
              ("batched CPU, colour classes", "compressed_cpu_s", "compressed_cpu_how"),
              ("batched CUDA, nodes", "batched_cuda_s", "batched_cuda_how"),
              ("batched CUDA, colour classes", "compressed_cuda_s", "compressed_cuda_how"),
              ("elementwise floor (ntk_step only), nodes", "floor_s", None),
              ("elementwise floor, colour classes", "floor_compressed_s", None)]
    series = [s for s in series if any(r.get(s[1]) for r in rows)]
    fig, ax = plt.subplots(figsize=(max(8, 1.6 * len(rows) + 3), 5.5))
    width = 0.8 / len(series)
    x = np.arange(len(rows))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (label, key, how) in enumerate(series):
        vals = [r.get(key) or np.nan for r in rows]
        hatch = ["//" if key.startswith("decoupled") or (how and "extrap" in str(r.get(how, ""))) else ""
                 for r in rows]
        bars = ax.bar(x + (k - (len(series) - 1) / 2) * width, vals, width, label=label, color=colors[k])
        for bar, h, v in zip(bars, hatch, vals):
            bar.set_hatch(h)
            if np.isfinite(v):
                ax.annotate(f"{v:.3g}", (bar.get_x() + bar.get_width() / 2, v), ha="center", va="bottom",
                            fontsize=6, rotation=90, xytext=(0, 2), textcoords="offset points")
    ax.set_yscale("log")
    ax.set_xticks(x, [f"{r['dataset']}\n{r['graphs']} graphs, {r['nodes']} nodes" for r in rows], fontsize=7)
    ax.set_ylabel("seconds for the whole Gram matrix")
    ax.set_title("GNTK Gram time, L=4, R=2, jk, uniform; hatched = extrapolated", fontsize=10)
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(fig, path, "\n".join(header), fontsize=6)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--datasets", default=",".join(ALL),
                   help="comma-separated; COLLAB is synthetic_collab() when its graph file is absent")
    p.add_argument("--data-dir", default=str(DATA_DIR), help="folder holding NAME/NAME.txt")
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    p.add_argument("--sample-pairs", type=int, default=200, help="random graph pairs timed for decoupled")
    p.add_argument("--max-seconds", type=float, default=180.0,
                   help="per measurement: above this (estimated) the batched Gram is extrapolated, "
                        "and no timing is repeated")
    p.add_argument("--subset-nodes", type=int, default=8000,
                   help="nodes of the random subset the batched time is first estimated from")
    p.add_argument("--max-memory", default=None,
                   help="GNTK max_memory (sets the tile size); default GNTK's: a quarter of free RAM, at most 4 GiB")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats (the median is reported)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default torch.get_num_threads())")
    p.add_argument("--no-cuda", action="store_true", help="skip CUDA even where available")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-check", action="store_true", help="skip the batched-vs-decoupled and float32 checks")
    p.add_argument("--ab-repeats", type=int, default=0,
                   help="K > 0: also K interleaved rounds of uncompressed and compressed fit_transform (datasets "
                        "run whole only); the ab_* columns")
    p.add_argument("--check-graphs", type=int, default=60, help="graphs of the batched-vs-decoupled check")
    p.add_argument("--check-nodes", type=int, default=20000, help="most nodes of the float32-vs-float64 check")
    p.add_argument("--out", default=str(RESULTS / "gram_speed"),
                   help="output path without suffix: writes OUT.csv and OUT.png")
    return p


if __name__ == "__main__":
    sys.exit(main())
