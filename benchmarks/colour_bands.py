"""The Gram summed alone in pieces against the triangle (issues 21 and 23): time, memory, resuming.

Runs ``benchmarks/molhiv_exact.py --graphs N`` (ogbg-molhiv's first N molecules, L=4, R=2, jk, float32) in
child processes, one after the other, side by side:

1. ``triangle``: the colour pairs' upper triangle in one process (:func:`fastgnn.gntk.colour_blocks.blocked_gram`);
2. ``shares`` and ``bands``: by shares of the triangle's row blocks (:mod:`fastgnn.gntk.colour_shares`) and
   by bands of graphs (:mod:`fastgnn.gntk.colour_bands`) in one process, each piece saved to a checkpoint
   folder;
3. ``dask shares`` and ``dask bands``: the same pieces as tasks on a Dask LocalCluster of ``--workers``
   single-threaded workers, with a checkpoint;
4. ``killed`` then ``resumed``: the ``dask shares`` run from an empty checkpoint, killed (SIGKILL, its whole
   process group) once ``--kill-after`` shares are saved, then the same command again: it loads the shares
   saved before the kill and computes the rest.

Then the Grams are compared: ``dask shares`` and ``resumed`` against ``shares`` bitwise (the same shares and
budget; workers of one thread against two), the pieces against ``triangle`` to rounding.  Writes
``--out``.csv and ``--out``_run.txt.

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
    p.add_argument("--kill-after", type=int, default=2,
                   help="kill the second Dask run of shares once this many are saved (0: no kill and resume)")
    p.add_argument("--work-dir", default=str(REPO / "runs" / "colour_bands"))
    p.add_argument("--out", default=str(RESULTS / "colour_bands"))
    args = p.parse_args()
    work = Path(args.work_dir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    base = [sys.executable, str(HERE / "molhiv_exact.py"), "--graphs", str(args.graphs), "--check", "0",
            "--max-memory", args.max_memory]
    dask = ["--workers", str(args.workers)]
    modes = {"triangle": [], "shares": ["--checkpoint-dir", str(work / "ck_shares")],
             "bands": ["--pieces", "bands", "--checkpoint-dir", str(work / "ck_bands")],
             "dask shares": [*dask, "--checkpoint-dir", str(work / "ck_dask")],
             "dask bands": [*dask, "--pieces", "bands", "--checkpoint-dir", str(work / "ck_dask_bands")]}
    rows, lines = [], [*header_lines(), f"command: {command_line()}"]
    for mode, extra in modes.items():
        rows.append(_run(mode, base + extra, work, None))
    if args.kill_after:  # the Dask run of shares again, killed part-way, then resumed
        shutil.rmtree(work / "ck_dask")
        rows.append(_run("killed", base + modes["dask shares"], work, args.kill_after))
        rows.append(_run("resumed", base + modes["dask shares"], work, None))
    grams = {r["mode"]: np.load(work / r["mode"].replace(" ", "_") / "gram.npy", mmap_mode="r") for r in rows
             if r.get("returncode") == 0}
    same = {}
    for a, b in (("shares", "triangle"), ("bands", "triangle"), ("dask shares", "shares"), ("dask bands", "bands"),
                 ("resumed", "shares")):
        if a in grams and b in grams:
            ga, gb = np.asarray(grams[a]), np.asarray(grams[b])
            same[f"{a} vs {b}"] = {"bitwise": bool(np.array_equal(ga, gb)),
                                   "max_rel": float(np.max(np.abs(ga - gb)) / np.max(np.abs(gb)))}
    lines.append(f"comparisons: {json.dumps(same)}")
    lines += [json.dumps(r) for r in rows]
    print("\n".join(lines[-len(rows) - 1:]), flush=True)
    write_results(rows, lines, args.out)


def _saved(work: Path) -> int:
    return len(list(work.glob("ck_dask/shares-*/share-*.npz")))


def _run(mode: str, cmd: list, work: Path, kill_after: int | None) -> dict:
    """One child run of molhiv_exact.py (its own process group, so that a kill takes its Dask workers too);
    ``kill_after``: SIGKILL it once that many shares are saved in ``work/ck_dask``."""
    name = mode.replace(" ", "_")
    cmd = [*cmd, "--out-dir", str(work / name), "--out", str(work / f"{name}_report")]
    t0 = time.perf_counter()
    log = open(work / f"{name}.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    while proc.poll() is None:
        if kill_after and _saved(work) >= kill_after:
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
                   pieces_saved_at_start=rep.get("pieces_saved_at_start"))
        report.unlink()
    row["dask_share_files_after"] = _saved(work)
    print(mode, row, flush=True)
    if proc.returncode not in (0, -signal.SIGKILL):
        print(out[-3000:], flush=True)
    return row


if __name__ == "__main__":
    main()
