"""The Gram summed alone by bands of graphs against the triangle (issues 21 and 23): time, memory, resuming.

Runs ``benchmarks/molhiv_exact.py --graphs N`` (ogbg-molhiv's first N molecules, L=4, R=2, jk, float32) in
child processes, one after the other, side by side:

1. ``triangle``: the colour pairs' upper triangle in one process (:func:`fastgnn.gntk.colour_blocks.blocked_gram`);
2. ``bands``: by bands of graphs in one process, each band saved to a checkpoint folder
   (:mod:`fastgnn.gntk.colour_bands`);
3. ``dask``: the bands as tasks on a Dask LocalCluster of ``--workers`` single-threaded workers, with a
   checkpoint;
4. ``killed`` then ``resumed``: the ``dask`` run from an empty checkpoint, killed (SIGKILL, its whole
   process group) after ``--kill-at`` of the ``bands`` run's time, then the same command again: it loads
   the bands saved before the kill and computes the rest.

Then the Grams are compared: ``resumed`` against ``bands`` bitwise (the same bands and budget; workers of one
thread against two), and ``bands`` against ``triangle`` to rounding.  Writes ``--out``.csv and ``--out``_run.txt.

    .venv/bin/python benchmarks/colour_bands.py --graphs 10000 --out benchmarks/results/colour_bands
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from common import REPO, RESULTS, command_line, header_lines, write_results

HERE = Path(__file__).resolve().parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--graphs", type=int, default=10000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--max-memory", default="2GB")
    p.add_argument("--kill-after-bands", type=int, default=4,
                   help="kill the second Dask run once this many bands are saved (0: no kill and resume)")
    p.add_argument("--work-dir", default=str(REPO / "runs" / "colour_bands"))
    p.add_argument("--out", default=str(RESULTS / "colour_bands"))
    args = p.parse_args()
    work = Path(args.work_dir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    base = [sys.executable, str(HERE / "molhiv_exact.py"), "--graphs", str(args.graphs), "--check", "0",
            "--max-memory", args.max_memory]
    modes = {"triangle": [], "bands": ["--checkpoint-dir", str(work / "ck_bands")],
             "dask": ["--workers", str(args.workers), "--checkpoint-dir", str(work / "ck_dask")]}
    rows, lines = [], [*header_lines(), f"command: {command_line()}"]
    for mode, extra in modes.items():
        rows.append(_run(mode, base + extra, work, None))
    if args.kill_after_bands:  # the Dask run again, killed part-way, then resumed
        shutil.rmtree(work / "ck_dask")
        rows.append(_run("killed", base + modes["dask"], work, args.kill_after_bands))
        rows.append(_run("resumed", base + modes["dask"], work, None))
    grams = {r["mode"]: np.load(work / r["mode"] / "gram.npy", mmap_mode="r") for r in rows
             if r.get("returncode") == 0}
    same = {}
    for a, b in (("bands", "triangle"), ("dask", "bands"), ("resumed", "bands")):
        if a in grams and b in grams:
            ga, gb = np.asarray(grams[a]), np.asarray(grams[b])
            same[f"{a} vs {b}"] = {"bitwise": bool(np.array_equal(ga, gb)),
                                   "max_rel": float(np.max(np.abs(ga - gb)) / np.max(np.abs(gb)))}
    lines.append(f"comparisons: {json.dumps(same)}")
    lines += [json.dumps(r) for r in rows]
    print("\n".join(lines[-len(rows) - 1:]), flush=True)
    write_results(rows, lines, args.out)


def _saved(work: Path) -> int:
    return len(list(work.glob("ck_dask/bands-*/band-*.npz")))


def _run(mode: str, cmd: list, work: Path, kill_after_bands: int | None) -> dict:
    """One child run of molhiv_exact.py (its own process group, so that a kill takes its Dask workers too);
    ``kill_after_bands``: SIGKILL it once that many bands are saved in ``work/ck_dask``."""
    name = mode
    cmd = [*cmd, "--out-dir", str(work / name), "--out", str(work / f"{name}_report")]
    t0 = time.perf_counter()
    log = open(work / f"{name}.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    while proc.poll() is None:
        if kill_after_bands and _saved(work) >= kill_after_bands:
            os.killpg(proc.pid, signal.SIGKILL)
        time.sleep(0.5)
    log.close()
    out = (work / f"{name}.log").read_text()
    wall = time.perf_counter() - t0
    row = {"mode": mode, "returncode": proc.returncode, "wall_s": round(wall, 1)}
    report = work / f"{name}_report.json"
    if proc.returncode == 0 and report.exists():
        rep = json.loads(report.read_text())
        row.update(kernel_s=round(rep["seconds"]["kernel"], 1), **rep["memory"],
                   bands_saved_at_start=rep.get("bands_saved_at_start"))
        report.unlink()
    row["dask_band_files_after"] = _saved(work)
    print(mode, row, flush=True)
    if proc.returncode not in (0, -signal.SIGKILL):
        print(out[-3000:], flush=True)
    return row


if __name__ == "__main__":
    main()
