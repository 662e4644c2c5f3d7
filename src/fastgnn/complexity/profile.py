"""Run the sweeps, fit the exponents, and hold the result (:class:`Report`)."""

from __future__ import annotations

import csv
import gc
import io
import json
import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from fastgnn.complexity.cache import clear_cache
from fastgnn.complexity.fit import AGREEMENT, fit_exponent, predicted_exponent, verdict
from fastgnn.complexity.measure import (
    copy_gbps,
    machine_info,
    matmul_gflops,
    peak_memory,
    softmax_gelems,
    spmm_gflops,
    synchronize,
)
from fastgnn.complexity.plots import plot_report
from fastgnn.complexity.registry import Context, Sweep, select
from fastgnn.io import save_json, save_text

__all__ = ["profile", "Report", "load_report", "AGREEMENT", "MEMORY_FLOOR"]

#: peak memory below this (bytes) is at the page-granularity noise level and not fitted.
MEMORY_FLOOR = 1 << 20

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass
class Report:
    """The profile: machine, baselines, every measured point and every fit.

    ``points``: one dict per measured (or skipped) point.  ``fits``: one dict per sweep, with
    the time fit, the memory fit and the predictions.  ``rows()`` flattens them into the table
    (one row per sweep and prediction).
    """

    machine: dict
    baselines: dict
    settings: dict
    points: list = field(default_factory=list)
    fits: list = field(default_factory=list)
    seconds: float = 0.0

    # -- table -------------------------------------------------------------------------------
    def rows(self) -> list[dict]:
        out = []
        for f in self.fits:
            for pred in f["predictions"] or [None]:
                out.append({
                    "operation": f["op"], "variable": f["variable"], "impl": f["impl"],
                    "range": f["range"], "points": f"{len(f['time']['used'])}/{f['n_points']}",
                    "regime": f["time"]["regime"],
                    "source": pred["source"] if pred else "", "formula": pred["label"] if pred else "",
                    "predicted": pred["exponent"] if pred else math.nan,
                    "measured": f["time"]["slope"], "stderr": f["time"]["stderr"], "clock": f["clock"],
                    "measured_other_clock": f["time_other_clock"]["slope"],
                    "agree": pred["agree"] if pred else None,
                    "verdict": pred.get("verdict", "") if pred else "",
                    "gflops": f["gflops"], "gbps": f["gbps"],
                    "mem_predicted": f["memory_predicted"], "mem_measured": f["memory"]["slope"],
                    "status": f["status"],
                })
        return out

    def table(self) -> str:
        """The fixed-width text table printed by the CLI."""
        other = "cpu" if self.settings.get("clock", "wall") == "wall" else "wall"
        head = (f"{'operation':<24} {'var':<4} {'range':>14} {'pred':>5} {'meas':>11} {'agree':>5} {other:>5}  "
                f"{'GFLOP/s':>7} {'GB/s':>6}  {'mem p/m':>9}  formula (source)")
        lines = [head, "-" * len(head)]
        for r in self.rows():
            if r["status"] != "ok":
                lines.append(f"{r['operation']:<24} {r['variable']:<4} {r['status']}")
                continue
            meas = _num(r["measured"]) + (f"±{r['stderr']:.2f}" if math.isfinite(r["stderr"]) else "")
            agree = {True: "yes", False: "NO", None: "?" if r["verdict"] else "-"}[r["agree"]]
            mem = f"{_num(r['mem_predicted'], 1)}/{_num(r['mem_measured'], 1)}"
            why = f"  [{r['verdict']}]" if r["agree"] is None and r["verdict"] else ""
            lines.append(
                f"{r['operation']:<24} {r['variable']:<4} {r['range']:>14} {_num(r['predicted']):>5} {meas:>11} "
                f"{agree:>5} {_num(r['measured_other_clock']):>5}  {_num(r['gflops'], 1):>7} {_num(r['gbps'], 1):>6}  "
                f"{mem:>9}  {r['formula']} ({r['source']}){why}")
        b = self.baselines
        lines.append("")
        lines.append(f"machine: {self.machine.get('processor')}, {self.machine.get('cpus')} CPUs, "
                     f"{self.machine.get('torch_threads')} torch thread(s), device {self.machine.get('device')}; "
                     f"torch {self.machine.get('torch')}")
        lines.append(f"baselines: matmul {b['matmul_gflops_float32']:.1f} GFLOP/s (float32), "
                     f"{b['matmul_gflops_float64']:.1f} GFLOP/s (float64); copy {b['copy_gbps']:.1f} GB/s; "
                     f"CSR spmm {b['spmm_gflops_float32']:.2f} GFLOP/s; softmax {b['softmax_gelems_float32']:.2f} "
                     f"Gelem/s (float32)")
        lines.append(f"times: median of {self.settings['repeats']} repeats, {self.settings['clock']} clock "
                     f"(column {other}: the exponent by the other clock); "
                     f"exponents fitted by fastgnn.complexity.fit_exponent (log-log least squares above "
                     f"the overhead floor)")
        lines.append(f"verdicts: {self._tally()}")
        lines.append(f"agreement: |measured - predicted| <= {AGREEMENT}; ?: inconclusive, the data cannot support "
                     "a verdict (overhead regime: a shallower slope where fewer than 3 points sit above 8x the "
                     "smallest time; too few points; noisy fit: within 2 standard errors); GFLOP/s, GB/s at the "
                     "largest point; "
                     f"mem p/m: predicted/measured exponent of the peak memory; {self.seconds:.0f} s in all")
        return "\n".join(lines)

    def _tally(self) -> str:
        """``"12 agree, 3 disagree, 40 inconclusive (overhead regime), ..."`` over the table's rows."""
        counts: dict[str, int] = {}
        for r in self.rows():
            if r["status"] == "ok" and r["verdict"]:
                counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
        return ", ".join(f"{n} {v}" for v, n in sorted(counts.items(), key=lambda kv: -kv[1])) or "none"

    def markdown(self) -> str:
        """The table as Markdown (for docs): one row per sweep and prediction."""
        other = "cpu" if self.settings.get("clock", "wall") == "wall" else "wall"
        clock = self.settings.get("clock", "wall")
        lines = [f"| operation | var | fitted range | formula (source) | predicted | measured ({clock}) "
                 f"| agree | {other} | GFLOP/s | GB/s | memory exp. pred/meas | impl |",
                 "|---|---|---|---|---:|---:|:-:|---:|---:|---:|:-:|---|"]
        for r in self.rows():
            if r["status"] != "ok":
                lines.append(f"| {r['operation']} | {r['variable']} | | {r['status']} | | | | | | | | |")
                continue
            agree = {True: "yes", False: "**no**", None: r["verdict"] or "-"}[r["agree"]]
            se = f" ± {r['stderr']:.2f}" if math.isfinite(r["stderr"]) else ""
            formula = f"{r['formula']} ({r['source']})".replace("|", "\\|")  # |E| would split the cell
            lines.append(
                f"| {r['operation']} | {r['variable']} | {r['range']} | {formula} | "
                f"{_num(r['predicted'])} | {_num(r['measured'])}{se} | {agree} | {_num(r['measured_other_clock'])} | "
                f"{_num(r['gflops'], 1)} | {_num(r['gbps'], 1)} | {_num(r['mem_predicted'], 1)} / "
                f"{_num(r['mem_measured'], 1)} | {r['impl']} |")
        return "\n".join(lines)

    # -- output ------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"machine": self.machine, "baselines": self.baselines, "settings": self.settings,
                "seconds": self.seconds, "agreement_tolerance": AGREEMENT, "table": self.rows(),
                "fits": self.fits, "points": self.points}

    def points_csv(self) -> str:
        cols = ["operation", "variable", "value", "impl", "seconds", "seconds_min", "seconds_max", "cpu_seconds",
                "loops", "peak_bytes", "flops", "bytes", "gflops", "gbps", "params", "status"]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for p in self.points:
            w.writerow({**p, "params": " ".join(f"{k}={v}" for k, v in p["params"].items())})
        return buf.getvalue()

    def table_csv(self) -> str:
        rows = self.rows()
        buf = io.StringIO()
        if rows:
            w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
        return buf.getvalue()

    def write(self, out, *, plots: bool = True, prefix: str = "complexity") -> list[Path]:
        """Write ``PREFIX.json``, ``PREFIX.csv`` (the table), ``PREFIX.md`` (the table in Markdown),
        ``PREFIX_points.csv`` and one PNG per group of operations (``PREFIX_GROUP.png``) into the
        folder ``out``, atomically."""
        out = Path(out)
        paths = [save_json(out / f"{prefix}.json", finite(self.to_dict())),
                 save_text(out / f"{prefix}.csv", self.table_csv()),
                 save_text(out / f"{prefix}_points.csv", self.points_csv()),
                 save_text(out / f"{prefix}.md", self.markdown() + "\n")]
        if plots:
            paths += plot_report(self, out, prefix=prefix)
        return paths


def finite(o):
    """A copy of ``o`` with NaN and inf replaced by None, so that it is strict JSON."""
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: finite(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [finite(v) for v in o]
    return o


def load_report(path) -> Report:
    """A :class:`Report` read back from its ``complexity.json`` (to re-plot or re-tabulate)."""
    d = json.loads(Path(path).read_text())
    return Report(machine=d["machine"], baselines=d["baselines"], settings=d["settings"], points=d["points"],
                  fits=[_nan(f) for f in d["fits"]], seconds=d.get("seconds", 0.0))


def _nan(o):
    if o is None:
        return math.nan
    if isinstance(o, dict):
        keep = ("note", "memory_formula", "impl", "agree", "verdict")  # None means "no value" there
        return {k: (v if k in keep else _nan(v)) for k, v in o.items()}
    if isinstance(o, list):
        return [_nan(v) for v in o]
    return o


def _num(v, digits: int = 2) -> str:
    return "-" if v is None or not math.isfinite(v) else f"{v:.{digits}f}"


# --------------------------------------------------------------------------- running


def profile(
    ops=None,
    *,
    quick: bool = False,
    device="cpu",
    repeats: int | None = None,
    min_time: float | None = None,
    max_call_seconds: float | None = None,
    memory: bool = True,
    clock: str = "wall",
    baselines: bool = True,
    seed: int = 0,
    log=None,
) -> Report:
    """Measure the selected sweeps and fit their exponents.

    Args:
        ops: patterns selecting sweeps (see :func:`fastgnn.complexity.select`); None: all.
        quick: the smaller ``quick`` sizes, 3 repeats: under a minute on 2 cores.
        device: ``"cpu"`` or ``"cuda"``.
        repeats: timed repeats per point (default 5, quick 3); the median is reported.
        min_time: seconds a repeat lasts at least (calls are looped); default 0.02, quick 0.002.
        max_call_seconds: a point whose time, extrapolated from the previous point with the
            sweep's largest plausible exponent, exceeds this is skipped with the rest of its
            sweep (default 2 s, quick 0.25 s).
        memory: measure peak memory per point.
        clock: the times fitted and tabulated: ``"wall"`` (default; the median wall time) or
            ``"cpu"`` (the median CPU time of this process: on a CPU shared with other jobs it
            leaves out the time slices they took; CPU device only).  Both are recorded.
        baselines: measure the machine's matmul, copy, SpMM and softmax throughput first (a few
            seconds; quick: under one); without them GFLOP/s fractions and the machine-weighted
            predictions are NaN.
        seed: seeds every input.
        log: ``log(str)`` called per point (progress), or None.

    Returns:
        a :class:`Report`.
    """
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but torch.cuda.is_available() is False")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    if clock not in ("wall", "cpu"):
        raise ValueError(f"clock must be 'wall' or 'cpu', got {clock!r}")
    if clock == "cpu" and dev.type == "cuda":
        raise ValueError("clock='cpu' measures CPU time, which is meaningless for CUDA kernels: use 'wall'")
    repeats = int(repeats if repeats is not None else (3 if quick else 5))
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    min_time = float(min_time if min_time is not None else (0.002 if quick else 0.02))
    max_call = float(max_call_seconds if max_call_seconds is not None else (0.25 if quick else 2.0))
    sweeps = select(ops)
    t_start = time.perf_counter()
    log = log or (lambda s: None)

    baselines = _baselines(dev, quick) if baselines else {k: math.nan for k in _BASELINE_KEYS}
    log(f"baselines: matmul {baselines['matmul_gflops_float32']:.1f} GFLOP/s float32, "
        f"{baselines['matmul_gflops_float64']:.1f} float64; copy {baselines['copy_gbps']:.1f} GB/s; "
        f"spmm {baselines['spmm_gflops_float32']:.2f} GFLOP/s; softmax {baselines['softmax_gelems_float32']:.2f} "
        f"Gelem/s")
    report = Report(machine=machine_info(dev), baselines=baselines,
                    settings={"quick": quick, "device": str(dev), "repeats": repeats, "min_time": min_time,
                              "max_call_seconds": max_call, "memory": memory, "clock": clock, "seed": seed,
                              "ops": [s.name for s in sweeps]})
    try:
        for sweep in sweeps:
            t0 = time.perf_counter()
            points = _run_sweep(sweep, quick=quick, dev=dev, repeats=repeats, min_time=min_time, max_call=max_call,
                                memory=memory, seed=seed, log=log)
            report.points += points
            fit = _fit_sweep(sweep, points, quick, baselines, clock)
            fit["elapsed"] = time.perf_counter() - t0
            report.fits.append(fit)
            log(f"{sweep.name}: exponent {fit['time']['slope']:.2f} ({clock} clock), {fit['elapsed']:.1f} s")
    finally:
        clear_cache()  # the sweeps' reused input (an A' of millions of edges) is not kept past the run
    report.seconds = time.perf_counter() - t_start
    return report


_BASELINE_KEYS = ("matmul_gflops_float32", "matmul_gflops_float64", "copy_gbps", "spmm_gflops_float32",
                  "softmax_gelems_float32")


def _baselines(dev, quick: bool) -> dict:
    """The machine's throughput, measured now (float32 unless named): matmul GFLOP/s (float32 and
    float64), memory-copy GB/s, CSR SpMM GFLOP/s, softmax 10⁹ elements/s."""
    t = 0.01 if quick else 0.05
    return {
        "matmul_gflops_float32": matmul_gflops(device=dev, dtype=torch.float32, n=256 if quick else 1024, min_time=t),
        "matmul_gflops_float64": matmul_gflops(device=dev, dtype=torch.float64, n=256 if quick else 1024, min_time=t),
        "copy_gbps": copy_gbps(device=dev, nbytes=(16 if quick else 64) * 2**20, min_time=t),
        "spmm_gflops_float32": spmm_gflops(device=dev, n=2**12 if quick else 2**14, min_time=t),
        "softmax_gelems_float32": softmax_gelems(device=dev, n=2**20 if quick else 2**22, min_time=t),
    }


def _run_sweep(sweep: Sweep, *, quick, dev, repeats, min_time, max_call, memory, seed, log) -> list[dict]:
    """Prepare every point (build, warm-up, peak memory, loop count), then time them interleaved:
    ``repeats`` rounds, each timing every point once, so a burst of load from other jobs on a
    shared machine lands on all the sizes of a round alike instead of bending the slope."""
    why = sweep.unavailable()
    impl = sweep.implementation() if why is None else "unavailable"
    points, ready, last = [], [], None
    sizes = sweep.sizes(quick)
    for i, value in enumerate(sizes):
        params = sweep.params(value, quick)
        point = {"operation": sweep.op, "variable": sweep.variable, "value": value, "impl": impl,
                 "params": params, "seconds": None, "seconds_min": None, "seconds_max": None, "cpu_seconds": None,
                 "loops": None, "peak_bytes": None, "flops": _count(sweep.flops, params),
                 "bytes": _count(sweep.bytes, params), "gflops": None, "gbps": None, "status": "ok"}
        points.append(point)
        if why is not None:
            point["status"] = f"unavailable: {why}"
            break
        if last is not None and last[1] * (value / last[0]) ** sweep.grows > max_call:
            point["status"] = (f"skipped: ~{last[1] * (value / last[0]) ** sweep.grows:.2g} s per call "
                               f"extrapolated > {max_call:g} s")
        else:
            try:
                fn, once = _prepare(sweep, point, params, dev, memory, seed)
                point["loops"] = max(1, math.ceil(min_time / max(once, 1e-7)))
                ready.append((point, fn))
                last = (value, once)
            except (RuntimeError, MemoryError) as e:  # out of memory, mostly
                point["status"] = f"failed: {type(e).__name__}: {str(e).splitlines()[0][:120]}"
                _free(dev)
        if point["status"] != "ok":
            for rest in sizes[i + 1:]:
                points.append({**point, "value": rest, "params": sweep.params(rest, quick), "flops": None,
                               "bytes": None})
            break
    if ready:
        _time_rounds(ready, dev, repeats)
    ready.clear()
    for point in points:
        log(_point_line(point))
    _free(dev)
    return points


def _prepare(sweep, point, params, dev, memory, seed):
    """Build one point's call, warm it up, measure its peak memory; returns (fn, seconds of one call)."""
    ctx = Context(device=dev, dtype=_DTYPES[sweep.dtype], generator=torch.Generator().manual_seed(seed))
    t0 = time.perf_counter()
    fn = sweep.build(params, ctx)
    point["build_seconds"] = time.perf_counter() - t0
    fn()  # warm-up: compilation, caches and lazy initialisation stay out of both measurements
    if memory:
        point["peak_bytes"] = peak_memory(fn, device=dev)
    synchronize(dev)
    t0 = time.perf_counter()
    fn()  # calibrates the loops of the timing
    synchronize(dev)
    return fn, time.perf_counter() - t0


def _time_rounds(ready, dev, repeats) -> None:
    """``repeats`` rounds over the points; per point the median (and min, max) wall and CPU seconds."""
    wall = {id(p): [] for p, _ in ready}
    cpu = {id(p): [] for p, _ in ready}
    for _ in range(repeats):
        for point, fn in ready:
            loops = point["loops"]
            synchronize(dev)
            c0, t0 = time.process_time(), time.perf_counter()
            for _ in range(loops):
                fn()
            synchronize(dev)
            wall[id(point)].append((time.perf_counter() - t0) / loops)
            cpu[id(point)].append((time.process_time() - c0) / loops)
    for point, _ in ready:
        w = wall[id(point)]
        point.update(seconds=statistics.median(w), seconds_min=min(w), seconds_max=max(w),
                     cpu_seconds=statistics.median(cpu[id(point)]))
        if point["flops"]:
            point["gflops"] = point["flops"] / point["seconds"] / 1e9
        if point["bytes"]:
            point["gbps"] = point["bytes"] / point["seconds"] / 1e9


def _free(dev) -> None:
    gc.collect(0)
    if dev.type == "cuda":
        torch.cuda.empty_cache()


def _count(f, params):
    if f is None:
        return None
    try:
        return float(f(params))
    except (KeyError, TypeError, ZeroDivisionError):
        return None


def _point_line(p) -> str:
    if p["status"] != "ok":
        return f"  {p['operation']}/{p['variable']}={p['value']}: {p['status']}"
    mem = "n/a" if p["peak_bytes"] is None else f"{p['peak_bytes'] / 2**20:.1f} MiB"
    return (f"  {p['operation']}/{p['variable']}={p['value']}: {p['seconds'] * 1e3:.3f} ms, peak {mem} "
            f"(build {p.get('build_seconds', 0):.2f} s)")


def _fit_sweep(sweep: Sweep, points: list, quick: bool, baselines: dict, clock: str = "wall") -> dict:
    ok = [p for p in points if p["status"] == "ok"]
    xs = [p["value"] for p in ok]
    key, other = ("seconds", "cpu_seconds") if clock == "wall" else ("cpu_seconds", "seconds")
    tfit = fit_exponent(xs, [p[key] for p in ok])
    ofit = fit_exponent(xs, [p[other] for p in ok])
    used_x = [xs[i] for i in tfit.used]
    status = "ok" if math.isfinite(tfit.slope) else (points[0]["status"] if points and not ok else "too few points")
    preds = []
    if math.isfinite(tfit.slope):
        rates = {"matmul": baselines["matmul_gflops_float32"], "spmm": baselines["spmm_gflops_float32"],
                 "elementwise": baselines["softmax_gelems_float32"]}
        for cost in sweep.costs:
            k = predicted_exponent(lambda v, c=cost: c.evaluate(sweep.params(v, quick), rates), used_x)
            v = verdict(tfit, k)
            preds.append({"source": cost.source, "label": cost.label, "exponent": k, "verdict": v,
                          "agree": True if v == "agrees" else False if v == "disagrees" else None})
    mem_pts = [p for p in ok if p["peak_bytes"] is not None]
    mfit = fit_exponent([p["value"] for p in mem_pts], [p["peak_bytes"] for p in mem_pts],
                        noise_floor=MEMORY_FLOOR)
    mem_pred = math.nan
    if sweep.space is not None and math.isfinite(mfit.slope):
        mem_x = [mem_pts[i]["value"] for i in mfit.used]
        mem_pred = predicted_exponent(lambda v: sweep.space.evaluate(sweep.params(v, quick)), mem_x)
    top = ok[-1] if ok else None
    gflops = top["gflops"] if top and top["gflops"] else math.nan
    gbps = top["gbps"] if top and top["gbps"] else math.nan
    peak = baselines[f"matmul_gflops_{sweep.dtype}"]
    return {
        "op": sweep.op, "variable": sweep.variable, "name": sweep.name, "group": sweep.group,
        "impl": points[0]["impl"] if points else "", "note": sweep.note, "status": status,
        "n_points": len(ok), "range": f"{_short(tfit.x0)}..{_short(tfit.x1)}" if used_x else "",
        "clock": clock, "time": tfit.to_dict(), "time_other_clock": ofit.to_dict(), "predictions": preds,
        "memory": mfit.to_dict(), "memory_predicted": mem_pred,
        "memory_formula": sweep.space.label if sweep.space else None,
        "gflops": gflops, "gbps": gbps,
        "gflops_fraction": gflops / peak if math.isfinite(gflops) else math.nan,
        "gbps_fraction": gbps / baselines["copy_gbps"] if math.isfinite(gbps) else math.nan,
        "dtype": sweep.dtype,
    }


def _short(v) -> str:
    if not math.isfinite(v):
        return "-"
    v = int(v) if float(v).is_integer() else v
    for unit, div in (("M", 2**20), ("k", 2**10)):
        if isinstance(v, int) and v >= div and v % div == 0:
            return f"{v // div}{unit}"
    return str(v)
