"""Peers: fastgnn's GNTK beside Du et al.'s public code and GraKeL's Weisfeiler-Lehman subtree kernel (issue 21).

Three things, side by side in one run, per dataset (GIN text format from ``--data-dir``):

* **Du et al.'s public code** (github.com/KangchengHou/gntk, ``gntk.py`` and ``util.py`` as published), run
  unmodified from a scratch folder outside the project (``--du-code DIR``; never copied into it): their
  ``util.load_data`` reads the same ``NAME/NAME.txt`` (through a temporary folder whose ``dataset`` links to
  ``--data-dir``, the relative path it opens), with ``degree_as_tag`` as their ``gram.py`` sets it (the IMDB
  sets and COLLAB: True), the adjacency built as ``gram.py`` builds it (``A + Aᵀ + I``; ``gram.py`` is a script
  and cannot be imported), their ``GNTK(num_layers=4, num_mlp_layers=2, jk=1, scale="uniform").diag`` of every
  graph of the sample, then ``gntk(...)`` on ``--du-pairs`` (2,000) graph pairs i <= j drawn uniformly
  without replacement (seeded), one thread (BLAS pinned by threadpoolctl), in this process.  Their
  ``num_layers`` counts the input layer, as fastgnn's does: both are 3 blocks of (aggregate, 2 ReLU layers),
  so their L=4 is fastgnn's ``num_layers=4``.  The whole Gram is extrapolated as seconds per pair ×
  n(n+1)/2 / 2 cores (issue 21's table: their ``gram.py`` maps the pairs over a process pool); their
  ``diag`` pass (serial in ``gram.py``, O(n)) is reported in the CSV, not added.  Their value is twice
  fastgnn's kernel: on ``--check-pairs`` (5) of the sampled pairs, |theirs / 2 − fastgnn| / |fastgnn|,
  the largest printed.
* **GraKeL's WL subtree kernel**, ``WeisfeilerLehman(n_iter=5, base_graph_kernel=VertexHistogram)``
  (``fit_transform``: the whole Gram, one thread; GraKeL's ``n_iter`` counts refinement rounds, so 6
  histograms, depths 0..5) on the same graphs, node labels the categories of the features the GNTK sees
  (the GIN files' node tags on the bioinformatics sets; the degree on the IMDB sets, whose files' tags are
  all 0, as GIN and Du et al. use them), against fastgnn's ``GNTK(num_layers=5, num_mlp_layers=2, jk=True)``
  (depths 0..4), ``colour_pairs`` at its default.
* **fastgnn's whole Gram** at L=4, R=2, jk, uniform (``common.BENCH_GNTK``), ``--threads`` (2) torch threads.

Timings of the three whole Grams (fastgnn L4, fastgnn L5, WL) are warm (each run once first, numba
compiled) and interleaved: ``--repeats`` (5) rounds of (L4, L5, WL), medians reported, spreads in the CSV.

Writes ``--out``.csv (a row per dataset; ``FIELDS``) and ``--out``.md (the command, machine, commit, Du et
al.'s files' digests and the load averages, then the table), default ``results/peers.*``, after each dataset.

    .venv/bin/pip install -r benchmarks/requirements-peers.txt       # grakel, networkx (not the library's)
    git clone https://github.com/KangchengHou/gntk /tmp/peers/gntk    # outside the project
    .venv/bin/python benchmarks/peers.py --du-code /tmp/peers/gntk    # all six sets (quiet machine)
    .venv/bin/python benchmarks/peers.py --du-code /tmp/peers/gntk --datasets MUTAG --du-pairs 50 \\
        --repeats 1 --out /tmp/peers_smoke                              # a smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import (
    BENCH_GNTK,
    DATA_DIR,
    REPO,
    RESULTS,
    command_line,
    commit_line,
    load_average,
    load_dataset,
    machine_line,
    spread,
    write_csv,
)

DATASETS = ["MUTAG", "PTC", "NCI1", "PROTEINS", "IMDBBINARY", "IMDBMULTI"]
#: fastgnn's GNTK against WL: L = 5, R = 2, jk (uniform scale, ``colour_pairs`` at its default).
WL_GNTK = {"num_layers": 5, "num_mlp_layers": 2, "jk": True}
#: GraKeL's kernel: WL subtree, 5 refinement rounds.
WL_ITERATIONS = 5
#: The sets Du et al.'s ``gram.py`` loads with ``degree_as_tag=True`` (social networks).
DU_DEGREE_AS_TAG = {"IMDBBINARY", "IMDBMULTI", "COLLAB"}
#: Cores the extrapolated whole Gram of Du et al.'s code is divided by (issue 21's table).
CORES = 2
#: Largest agreement relative error taken as "the same kernel" (both sides float64; Du et al.'s arccos of
#: clipped cosines loses a few digits near 1): above it the run says so and exits 1.
AGREEMENT_TOL = 1e-8
REQUIREMENTS = "benchmarks/requirements-peers.txt"
#: The table's columns (CSV fields, then as printed), then the CSV's other fields.
TABLE_FIELDS = ["dataset", "graphs", "fastgnn_l4_s", "du_per_pair_s", "du_whole_2cores_extrapolated_s", "ratio",
                "fastgnn_l5_s", "wl_s", "l5_wl_ratio", "agreement_rel_err"]
FIELDS = [*TABLE_FIELDS, "nodes", "du_pairs", "du_diag_s", "check_pairs", "fastgnn_l4_spread", "fastgnn_l5_spread",
          "wl_spread", "repeats", "threads"]
COLUMNS = ["dataset", "graphs", "fastgnn L4 s", "Du et al. per pair s", "Du et al. whole (2 cores, extrapolated) s",
           "ratio", "fastgnn L5 s", "WL s", "L5/WL ratio", "agreement rel. err."]


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        import grakel  # noqa: F401
    except ImportError:
        raise SystemExit(f"peers.py needs GraKeL (and networkx, for Du et al.'s util.py), which the library does "
                         f"not install: .venv/bin/pip install -r {REQUIREMENTS}") from None
    du = load_du_code(Path(args.du_code))
    import torch

    torch.set_num_threads(args.threads)
    header = [f"command: {command_line()}", machine_line(args.threads), f"commit: {commit_line()}",
              f"Du et al.'s code: {du['dir']} ({du['digests']}), run unmodified; grakel {du['grakel']}",
              f"started {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; load average {load_average()}",
              f"fastgnn: GNTK(num_layers=4, num_mlp_layers=2, jk=True, scale='uniform') and GNTK(num_layers=5, "
              f"num_mlp_layers=2, jk=True), colour_pairs={gntk_default('colour_pairs')!r}, "
              f"{args.threads} torch threads; warm, median of {args.repeats} interleaved rounds of (L4, L5, WL)",
              f"Du et al.: their GNTK(num_layers=4, num_mlp_layers=2, jk=1, scale='uniform') (their num_layers "
              f"counts the input layer, as fastgnn's: the same 3 blocks), {args.du_pairs} sampled pairs i <= j "
              f"(seed {args.seed}), one process, one thread; whole = per pair × n(n+1)/2 / {CORES} cores, "
              f"extrapolated; agreement: max |theirs / 2 − fastgnn| / |fastgnn| on {args.check_pairs} of them",
              f"WL: grakel WeisfeilerLehman(n_iter={WL_ITERATIONS}, base_graph_kernel=VertexHistogram)"
              f".fit_transform, one thread; node labels: the categories of the GNTK's one-hot features"]
    print("\n".join(header), flush=True)
    rows, out = [], Path(args.out)
    for name in args.datasets:
        data = load_dataset(name, args.data_dir)
        if data is None:
            continue
        row = measure(name, data, du, args)
        rows.append(row)
        print(" | ".join(cell(row, field) for field in TABLE_FIELDS), flush=True)
        if not row["agreement_rel_err"] <= AGREEMENT_TOL:
            print(f"{name}: DISAGREE: Du et al. / 2 and fastgnn's L4 Gram differ by {row['agreement_rel_err']:.2g} "
                  f"relative (tolerance {AGREEMENT_TOL:g})", flush=True)
        write_csv(rows, out.with_suffix(".csv"), FIELDS)  # after each dataset: an interrupted run keeps its rows
        write_markdown(out.with_suffix(".md"), header, rows)
    header.append(f"finished {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; "
                  f"load average {load_average()}")
    if rows:
        write_markdown(out.with_suffix(".md"), header, rows)
        print("\n" + "\n".join(table(rows)))
        print(f"wrote {out.with_suffix('.csv')} and {out.with_suffix('.md')}")
    return int(any(not row["agreement_rel_err"] <= AGREEMENT_TOL for row in rows))


def measure(name: str, data, du: dict, args) -> dict:
    """One dataset's row: fastgnn's L4 and L5 Grams and WL's, warm and interleaved; Du et al.'s pairs; agreement."""
    import numpy as np

    from fastgnn import GNTK

    graphs = data.graphs
    wl_graphs = grakel_input(graphs)
    runs = {"l4": lambda: GNTK(**BENCH_GNTK, progress=False).fit_transform(graphs),
            "l5": lambda: GNTK(**WL_GNTK, progress=False).fit_transform(graphs),
            "wl": lambda: wl_gram(wl_graphs)}
    grams, times = {}, {key: [] for key in runs}
    for key, run in runs.items():  # warm-up: numba compiles, GraKeL's imports load
        t0 = time.perf_counter()
        grams[key] = run()
        print(f"{name}: warm-up {key} {time.perf_counter() - t0:.3g} s", flush=True)
    for _ in range(args.repeats):
        for key, run in runs.items():
            t0 = time.perf_counter()
            run()
            times[key].append(time.perf_counter() - t0)
    l4, l5, wl = (statistics.median(times[key]) for key in runs)

    n = len(graphs)
    pairs = sample_pairs(n, args.du_pairs, args.seed)
    du_values, per_pair, diag_s = du_kernel(du, name, args.data_dir, pairs)
    print(f"{name}: Du et al. {len(pairs)} pairs in {per_pair * len(pairs):.3g} s", flush=True)
    check = pairs[: args.check_pairs]
    ours = np.array([grams["l4"][i, j] for i, j in check])
    theirs = np.array(du_values[: len(check)]) / 2
    agreement = float(np.max(np.abs(theirs - ours) / np.abs(ours)))
    whole = per_pair * n * (n + 1) / 2 / CORES
    return {"dataset": name, "graphs": n, "nodes": sum(g.num_nodes for g in graphs), "fastgnn_l4_s": l4,
            "du_per_pair_s": per_pair, "du_whole_2cores_extrapolated_s": whole, "ratio": whole / l4,
            "fastgnn_l5_s": l5, "wl_s": wl, "l5_wl_ratio": l5 / wl, "agreement_rel_err": agreement,
            "du_pairs": len(pairs), "du_diag_s": diag_s, "check_pairs": len(check),
            "fastgnn_l4_spread": spread(times["l4"]), "fastgnn_l5_spread": spread(times["l5"]),
            "wl_spread": spread(times["wl"]), "repeats": args.repeats, "threads": args.threads}


# --------------------------------------------------------------------------- Du et al.'s code


def load_du_code(folder: Path) -> dict:
    """Du et al.'s ``gntk`` and ``util`` modules imported from ``folder`` (put at the head of ``sys.path``), which
    must lie outside the project; their files' sha1 digests, and GraKeL's version."""
    import grakel

    folder = folder.resolve()
    if folder.is_relative_to(REPO):
        raise SystemExit(f"--du-code {folder}: inside the project; Du et al.'s code runs from a scratch folder "
                         "outside it")
    files = {stem: folder / f"{stem}.py" for stem in ("gntk", "util")}
    for path in files.values():
        if not path.is_file():
            raise SystemExit(f"--du-code {folder}: no {path.name} there (git clone "
                             "https://github.com/KangchengHou/gntk into it)")
    sys.path.insert(0, str(folder))
    modules = {stem: importlib.import_module(stem) for stem in files}
    for stem, module in modules.items():
        if Path(module.__file__).resolve() != files[stem]:
            raise SystemExit(f"imported {stem} from {module.__file__}, not from {files[stem]}")
    digests = ", ".join(f"{p.name} sha1 {hashlib.sha1(p.read_bytes()).hexdigest()[:10]}" for p in files.values())
    return {"dir": folder, "gntk": modules["gntk"], "util": modules["util"], "digests": digests,
            "grakel": grakel.__version__}


def du_kernel(du: dict, name: str, data_dir, pairs) -> tuple[list[float], float, float]:
    """Their kernel on ``pairs``: (values, seconds per pair, their ``diag`` pass over all n graphs, extrapolated
    from the sampled graphs').  One thread; the graphs loaded by their ``util.load_data``."""
    import numpy as np
    import scipy
    from threadpoolctl import threadpool_limits

    graphs = du_graphs(du, name, data_dir)
    kernel = du["gntk"].GNTK(num_layers=BENCH_GNTK["num_layers"], num_mlp_layers=BENCH_GNTK["num_mlp_layers"],
                             jk=int(BENCH_GNTK["jk"]), scale=BENCH_GNTK["scale"])
    used = sorted({k for pair in pairs for k in pair})
    adjacency, diag = {}, {}
    with threadpool_limits(1):
        t0 = time.perf_counter()
        for k in used:  # as their gram.py does: A + Aᵀ + I from the networkx edges
            g = graphs[k]
            n = len(g.neighbors)
            edges = g.g.edges
            a = scipy.sparse.coo_matrix(([1] * len(edges), ([e[0] for e in edges], [e[1] for e in edges])),
                                        shape=(n, n), dtype=np.float32)
            adjacency[k] = a + a.T + scipy.sparse.identity(n)
            diag[k] = kernel.diag(g, adjacency[k])
        diag_s = (time.perf_counter() - t0) / len(used) * len(graphs)
        values = []
        t0 = time.perf_counter()
        for i, j in pairs:
            values.append(kernel.gntk(graphs[i], graphs[j], diag[i], diag[j], adjacency[i], adjacency[j]))
        per_pair = (time.perf_counter() - t0) / len(pairs)
    return values, per_pair, diag_s


def du_graphs(du: dict, name: str, data_dir) -> list:
    """Their ``util.load_data(name, degree_as_tag)`` (``degree_as_tag`` as their ``gram.py`` sets it), run in a
    temporary folder whose ``dataset`` links to ``data_dir`` (it opens ``dataset/NAME/NAME.txt``); its prints
    kept out of the output."""
    here = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="peers_du_") as tmp:
        os.symlink(Path(data_dir).resolve(), Path(tmp) / "dataset")
        os.chdir(tmp)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                graphs, _ = du["util"].load_data(name, name in DU_DEGREE_AS_TAG)
        finally:
            os.chdir(here)
    return graphs


def sample_pairs(n: int, k: int, seed: int) -> list[tuple[int, int]]:
    """``k`` of the n(n+1)/2 graph pairs i <= j, uniformly without replacement (seeded; all when fewer)."""
    import numpy as np

    total = n * (n + 1) // 2
    flat = np.random.default_rng(seed).choice(total, min(k, total), replace=False)
    starts = np.arange(n) * n - np.arange(n) * (np.arange(n) - 1) // 2  # flat index of (i, i)
    rows = np.searchsorted(starts, flat, side="right") - 1
    return [(int(i), int(i + f - starts[i])) for i, f in zip(rows, flat)]


# --------------------------------------------------------------------------- GraKeL


def grakel_input(graphs) -> list:
    """Each graph as GraKeL reads it: ``[{node: [neighbours]}, {node: label}]``, every node a key (isolated ones
    too), the label the category of its one-hot feature row."""
    out = []
    for g in graphs:
        adjacency = {u: [] for u in range(g.num_nodes)}
        for u, v in g.edge_index.t().tolist():
            adjacency[u].append(v)
        labels = dict(enumerate(g.x.argmax(dim=1).tolist()))
        out.append([adjacency, labels])
    return out


def wl_gram(wl_graphs):
    """GraKeL's WL subtree Gram of ``wl_graphs`` (:func:`grakel_input`), one thread."""
    from grakel.kernels import VertexHistogram, WeisfeilerLehman
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return WeisfeilerLehman(n_iter=WL_ITERATIONS, base_graph_kernel=VertexHistogram).fit_transform(wl_graphs)


# --------------------------------------------------------------------------- output


def gntk_default(param: str):
    """fastgnn's ``GNTK()`` default of ``param`` (None where it has no such parameter)."""
    from fastgnn import GNTK

    return GNTK().get_params().get(param)


def cell(row: dict, field: str) -> str:
    """One table cell: seconds to 4 significant digits (whole seconds from 10,000 on), ratios to 3, the relative
    error in e-notation."""
    value = row[field]
    if field == "agreement_rel_err":
        return f"{value:.1e}"
    if field in ("ratio", "l5_wl_ratio", "du_per_pair_s"):
        return f"{value:.3g}"
    if isinstance(value, float):
        return f"{value:.4g}" if value < 1e4 else f"{value:,.0f}"
    return str(value)


def table(rows: list[dict]) -> list[str]:
    """The Markdown table of ``rows`` under :data:`COLUMNS`."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|---|" + "---:|" * (len(COLUMNS) - 1)]
    lines += ["| " + " | ".join(cell(row, field) for field in TABLE_FIELDS) + " |" for row in rows]
    return lines


def write_markdown(path: Path, header: list[str], rows: list[dict]) -> None:
    """``path``: a title, the header lines in a code block, the table and what its columns mean."""
    from fastgnn.io import save_text

    notes = ["ratio: Du et al. whole / fastgnn L4; L5/WL ratio: fastgnn L5 / WL (issue 21's target: at most 2); "
             "agreement: max |Du et al. / 2 − fastgnn L4| / |fastgnn L4| on the checked pairs (above "
             f"{AGREEMENT_TOL:g}: the kernels differ, and the run exits 1). "
             "Spreads ((max − min) / median of the repeats), Du et al.'s diag pass and node counts: the CSV."]
    save_text(path, "\n".join(["# Peers: fastgnn's GNTK, Du et al.'s code, GraKeL's WL subtree kernel", "",
                               "```", *header, "```", "", *table(rows), "", *notes, ""]))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--du-code", required=True, help="folder holding Du et al.'s gntk.py and util.py, outside "
                   "the project")
    p.add_argument("--datasets", nargs="+", default=DATASETS, choices=DATASETS)
    p.add_argument("--data-dir", default=str(DATA_DIR))
    p.add_argument("--du-pairs", type=int, default=2000, help="graph pairs Du et al.'s code is timed on")
    p.add_argument("--check-pairs", type=int, default=5, help="of those, how many are compared with fastgnn")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=2, help="torch threads of fastgnn")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(RESULTS / "peers"), help="output path without suffix")
    return p


if __name__ == "__main__":
    raise SystemExit(main())
