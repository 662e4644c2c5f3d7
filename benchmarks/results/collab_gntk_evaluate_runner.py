"""Run `fastgnn gntk NAME --evaluate` for each dataset, one at a time, recording wall time and the child's peak RSS."""
import json
import os
import resource
import subprocess
import sys
import time

names = sys.argv[1:]
for name in names:
    cmd = [".venv/bin/fastgnn", "gntk", name, "--data-dir", "/work/shared/datasets/tu", "--num-layers", "4",
           "--num-mlp-layers", "2", "--scale", "uniform", "--jk", "--evaluate", "--out", f"/tmp/s11/real/{name}",
           "--json"]
    t0 = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = {"command": " ".join(cmd), "returncode": p.returncode, "wall_s": wall, "peak_rss_gb_children": peak / 2**20,
           "load_average_end": os.getloadavg()}
    try:
        out["result"] = json.loads(p.stdout)
    except Exception:
        out["stdout"] = p.stdout[-2000:]
    out["stderr_tail"] = p.stderr[-1500:]
    with open(f"/tmp/s11/real/{name}.json", "w") as f:
        json.dump(out, f, indent=1, default=str)
    print(name, p.returncode, round(wall, 1), flush=True)
