"""How the per-pair cost of the GNTK grows with the graph size N, per aggregation method.

For one pair of random graphs (Erdős–Rényi, edge density ``--density``, A + I,
uniform scale, 4 one-hot node tags) of N nodes each, N in ``--sizes``, it times

(a) the aggregation step alone on a random PSD Σ [N, N]:
    ``aggregate_kron`` (sparse Kronecker product, Eq. 1),
    ``aggregate_decoupled`` (a Σ aᵀ, Fact 4.2) and
    ``aggregate_sketch`` (b×N AMS sketches, Section 4.3; sketches drawn outside the timing);
(b) the whole per-pair kernel, ``fastgnn.gntk.pairwise.pair_readouts`` on two
    prepared graphs (``prepare`` — the per-graph O(N³) self-diagonals — is not
    timed): ``num_layers`` = 4, ``num_mlp_layers`` = 2, i.e. 5 aggregations and
    6 ReLU maps.

Each timing: one warm-up call, then ``--repeats`` repeats; a repeat times enough
back-to-back calls to last ``--min-time`` seconds and is divided by their number;
the median repeat is reported.

kron builds an operator with nnz(a_G)·nnz(a_H) entries — ~(pN²)² = p²N⁴ — and
is skipped (and said so) where its estimated peak memory exceeds
``--kron-max-bytes`` or where the time extrapolated from the previous size (N⁴)
exceeds ``--kron-max-seconds`` per timing.

Predicted slopes of log(seconds) against log(N): kron 4 (fixed density p:
nnz ~ pN², so p²N⁴), decoupled 3, sketch 2 for a fixed b and 3 for b = N/4.
The fitted slope is :func:`fastgnn.complexity.fit_exponent`'s: a least-squares fit of
log seconds on log N over the points whose time is at least 8x the smallest (where a
constant per-call overhead is under 1/8 of the time), at least the 3 largest sizes.

This script is a thin caller of :mod:`fastgnn.complexity` (timing, graphs, slope fit);
``fastgnn complexity --ops 'gntk-*'`` runs the same sweeps, and more, in the profiler.

Writes ``--out``.csv (columns method, N, b, seconds_aggregate, seconds_pair) and
``--out``.png (log-log plot); prints the machine, the timings and the slopes.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/pair_scaling.py
    .venv/bin/python benchmarks/pair_scaling.py --sizes 8,16,32 --repeats 3 --out /tmp/quick
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

import numpy as np
import torch
from common import BENCH_GNTK, RESULTS, machine_line, pyplot, save_figure, write_csv

from fastgnn.complexity import fit_exponent, time_call
from fastgnn.complexity.sweeps.common import random_graph as _random_graph
from fastgnn.gntk.aggregate import aggregate_decoupled, aggregate_kron, aggregate_sketch, sketch_matrix
from fastgnn.gntk.pairwise import pair_readouts, prepare

NUM_LAYERS = BENCH_GNTK["num_layers"]
NUM_MLP_LAYERS = BENCH_GNTK["num_mlp_layers"]
NUM_TAGS = 4
#: sp.kron goes through COO (int64 row, int64 col, float64 data) then CSR (float64 data,
#: int32/int64 indices): about 40 bytes per stored entry at the peak.
KRON_BYTES_PER_ENTRY = 40
PREDICTED = {"kron": 4.0, "decoupled": 3.0}


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    sizes = sorted({int(s) for s in args.sizes.split(",")})
    methods = {m.strip() for m in args.methods.split(",")}
    if not methods <= {"kron", "decoupled", "sketch"}:
        raise SystemExit(f"--methods: expected a subset of kron,decoupled,sketch, got {args.methods!r}")
    sketch_specs = [s.strip() for s in args.sketch_size.split(",") if s.strip()] if "sketch" in methods else []
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)

    print(machine_line(args.threads))
    print(f"pair of Erdős–Rényi graphs, density p={args.density}, A+I, uniform scale, {NUM_TAGS} tags; "
          f"num_layers={NUM_LAYERS}, num_mlp_layers={NUM_MLP_LAYERS}; median of {args.repeats} repeats "
          f"(each >= {args.min_time} s) after a warm-up")
    print(f"{'method':>14} {'N':>5} {'b':>5} {'aggregate s':>12} {'pair s':>12}  note")

    rows, notes = [], []
    gen = torch.Generator().manual_seed(args.seed)
    last_kron = None  # (N, seconds of the slowest kron timing)
    for n in sizes:
        g, h = random_graph(n, args.density, gen), random_graph(n, args.density, gen)
        b_mat = torch.randn(n, n, generator=gen, dtype=torch.float64)
        sigma = b_mat @ b_mat.T / n  # a random PSD Σ
        ag = _prepare(g, "decoupled", None).a
        ah = _prepare(h, "decoupled", None).a

        # kron: skip when too big or too slow
        nnz = int((ag != 0).sum()) * int((ah != 0).sum())
        est_bytes = nnz * KRON_BYTES_PER_ENTRY
        # one timing = warm-up + repeats (x loops when fast) of a whole pair, which holds 5 krons
        est_seconds = last_kron[1] * (n / last_kron[0]) ** 4 * (args.repeats + 1) if last_kron else 0.0
        if "kron" not in methods:
            pass
        elif est_bytes > args.kron_max_bytes:
            note = f"kron skipped at N={n}: {nnz:.3g} entries, ~{est_bytes / 1e9:.1f} GB > --kron-max-bytes"
            notes.append(note)
            print(f"{'kron':>14} {n:>5} {'':>5} {'-':>12} {'-':>12}  {note}")
        elif est_seconds > args.kron_max_seconds:
            note = (f"kron skipped at N={n}: ~{est_seconds:.0f} s per timing extrapolated (N^4) "
                    f"> --kron-max-seconds")
            notes.append(note)
            print(f"{'kron':>14} {n:>5} {'':>5} {'-':>12} {'-':>12}  {note}")
        else:
            pg, ph = _prepare(g, "kron", None), _prepare(h, "kron", None)
            t_agg = timeit(partial(aggregate_kron, sigma, ag, ah), args)
            t_pair = timeit(partial(pair_readouts, pg, ph, method="kron", **_depth()), args)
            rows.append(_row("kron", n, None, t_agg, t_pair, f"{nnz:.3g} operator entries"))
            last_kron = (n, t_pair)

        if "decoupled" in methods:
            pg, ph = _prepare(g, "decoupled", None), _prepare(h, "decoupled", None)
            t_agg = timeit(partial(aggregate_decoupled, sigma, ag, ah), args)
            t_pair = timeit(partial(pair_readouts, pg, ph, method="decoupled", **_depth()), args)
            rows.append(_row("decoupled", n, None, t_agg, t_pair))

        for spec in sketch_specs:
            b = sketch_size(spec, n)
            sg = sketch_matrix(b, n, generator=gen)
            sh = sketch_matrix(b, n, generator=gen)
            sag, sah = ag @ sg.T, ah @ sh.T
            t_agg = timeit(partial(aggregate_sketch, sigma, sg, sag, sh, sah), args)
            pg, ph = _prepare(g, "sketch", b), _prepare(h, "sketch", b)
            t_pair = timeit(partial(pair_readouts, pg, ph, method="sketch", **_depth()), args)
            note = "b >= N: the pair is aggregated exactly (S = I)" if b >= n else ""
            rows.append(_row(f"sketch b={spec}", n, b, t_agg, t_pair, note))

    write_csv(rows, out.with_suffix(".csv"))

    slopes = fit_slopes(rows)
    print()
    print(f"{'method':>14} {'fit on N':>14} {'slope aggregate':>16} {'slope pair':>11} {'predicted':>10}")
    for m, s in slopes.items():
        print(f"{m:>14} {s['range']:>14} {s['aggregate']:>16.2f} {s['pair']:>11.2f} {s['predicted']:>10.0f}")
    for note in notes:
        print(note)
    plot(rows, slopes, out.with_suffix(".png"), machine_line(args.threads), args)
    print(f"wrote {out.with_suffix('.csv')} and {out.with_suffix('.png')}")
    return 0


# --------------------------------------------------------------------------- pieces


def random_graph(n: int, p: float, gen: torch.Generator):
    """Erdős–Rényi G(n, p) (symmetric edge list, no self-loops) with one-hot random tags."""
    return _random_graph(n, p, gen, num_tags=NUM_TAGS)


def sketch_size(spec: str, n: int) -> int:
    """``"8"`` -> 8; ``"N/4"`` -> max(1, n // 4)."""
    if spec.upper().startswith("N/"):
        return max(1, n // int(spec[2:]))
    return int(spec)


def _depth() -> dict:
    return {"num_blocks": NUM_LAYERS - 1, "num_mlp_layers": NUM_MLP_LAYERS}


def _prepare(graph, method: str, b):
    return prepare(graph, num_blocks=NUM_LAYERS - 1, num_mlp_layers=NUM_MLP_LAYERS, scale=BENCH_GNTK["scale"],
                   method=method, sketch_size=b, sketch_kind="ams", seed=0, dtype=torch.float64,
                   device="cpu")


def timeit(fn, args) -> float:
    """Median seconds per call: a warm-up, then ``repeats`` repeats of >= ``min_time`` s each."""
    return time_call(fn, repeats=args.repeats, min_time=args.min_time)["seconds"]


def _row(method, n, b, t_agg, t_pair, note="") -> dict:
    print(f"{method:>14} {n:>5} {'' if b is None else b:>5} {t_agg:>12.3e} {t_pair:>12.3e}  {note}")
    sys.stdout.flush()
    return {"method": method, "N": n, "b": b, "seconds_aggregate": t_agg, "seconds_pair": t_pair}


def predicted_slope(method: str) -> float:
    if method in PREDICTED:
        return PREDICTED[method]
    return 3.0 if "N/" in method else 2.0  # sketch: N² b


def fit_slopes(rows) -> dict:
    """Per method, :func:`fastgnn.complexity.fit_exponent` of the aggregation and of the pair timings."""
    out = {}
    for m in dict.fromkeys(r["method"] for r in rows):
        rs = sorted((r for r in rows if r["method"] == m), key=lambda r: r["N"])
        ns = [r["N"] for r in rs]
        fits = {k: fit_exponent(ns, [r[f"seconds_{k}"] for r in rs]) for k in ("aggregate", "pair")}
        if any(f.regime == "none" for f in fits.values()):
            continue
        pair = fits["pair"]
        out[m] = {**{k: f.slope for k, f in fits.items()}, "predicted": predicted_slope(m),
                  "range": f"{int(pair.x0)}..{int(pair.x1)}", "x0": int(pair.x0), "x1": int(pair.x1)}
    return out


def plot(rows, slopes, path: Path, machine: str, args) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5), sharex=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, kind, title in zip(axes, ("aggregate", "pair"),
                               ("(a) aggregation step: Σ' = a_G Σ a_Hᵀ",
                                f"(b) whole pair: L={NUM_LAYERS}, R={NUM_MLP_LAYERS} (5 aggregations)")):
        for i, m in enumerate(dict.fromkeys(r["method"] for r in rows)):
            rs = sorted((r for r in rows if r["method"] == m), key=lambda r: r["N"])
            n = np.array([r["N"] for r in rs], dtype=float)
            t = np.array([r[f"seconds_{kind}"] for r in rs])
            c = colors[i % len(colors)]
            s = slopes.get(m)
            label = m + (f": slope {s[kind]:.2f} (pred. {s['predicted']:.0f})" if s else "")
            ax.loglog(n, t, "o-", color=c, label=label)
            if s:  # reference line of the predicted slope through the first fitted point
                x0, x1 = s["x0"], s["x1"]
                y0 = float(t[list(n).index(x0)])
                ax.loglog([x0, x1], [y0, y0 * (x1 / x0) ** s["predicted"]], ":", color=c, alpha=0.7)
        ax.set_xlabel("N (nodes per graph)")
        ax.set_ylabel("seconds")
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, title="fitted above the overhead floor; dotted: predicted", title_fontsize=7)
    save_figure(fig, path, f"GNTK per-pair cost vs N (density p={args.density})\n{machine}", fontsize=8)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--sizes", default="8,16,32,64,128,256", help="comma-separated N")
    p.add_argument("--methods", default="kron,decoupled,sketch", help="comma-separated subset to time")
    p.add_argument("--density", type=float, default=0.1, help="edge probability p of G(N, p)")
    p.add_argument("--sketch-size", default="8,N/4",
                   help="comma-separated sketch sizes b: integers or N/k (b = N // k)")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats (the median is reported)")
    p.add_argument("--min-time", type=float, default=0.02, help="seconds per repeat at least (loops calls)")
    p.add_argument("--kron-max-bytes", type=float, default=2e9, help="skip kron above this estimated memory")
    p.add_argument("--kron-max-seconds", type=float, default=30.0,
                   help="skip kron where one timing is extrapolated to take longer")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(RESULTS / "pair_scaling"),
                   help="output path without suffix: writes OUT.csv and OUT.png")
    return p


if __name__ == "__main__":
    sys.exit(main())
