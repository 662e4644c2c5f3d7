"""The behaviour pinned before the redesign of issue 20: numbers that must not move.

:func:`compute` returns, as JSON-able data,

* ``grams``: the GNTK Grams of the six datasets of the GNTK paper that ship in GIN format, at two
  configurations (whole datasets; PROTEINS and NCI1 on every 8th / 20th graph to keep the test
  fast): the SHA-256 of the float64 bytes, the diagonal, row sums and 200 seeded entries;
* ``normalized``: ``GNTK(normalize=True)`` on MUTAG and IMDB-MULTI, ``fit_transform`` and
  ``transform`` of the second half against the first;
* ``cv``: :func:`fastgnn.evaluate.svm_cv` and :func:`fastgnn.evaluate.krr_cv` (paper and nested
  protocols) on MUTAG, PTC and IMDB-BINARY;
* ``search``: :func:`fastgnn.search.gntk_search`'s rows and fully nested estimate on MUTAG (16
  configurations, 25 values of C);
* ``reproduce``: the accuracy and sketch tables of ``fastgnn reproduce --quick`` (MUTAG and PTC).

``python tests/regression/pin.py DATA_DIR OUT.json`` writes them (what made ``pinned.json``, on
main at 55e1815, before anything moved); ``tests/test_regression_pin.py`` recomputes and compares.
``pinned_colour_pairs.json`` holds the search and reproduce parts recomputed when the colour-pair
engine (issue 21) became the default: its Grams differ from the node-pair engine's in the last bits,
and on MUTAG that moves a few SVM choices (see the test).
Timings are left out (they are not behaviour).
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

GRAM_DATASETS = {"MUTAG": 1, "PTC": 1, "IMDBBINARY": 1, "IMDBMULTI": 1, "PROTEINS": 8, "NCI1": 20}
GRAM_CONFIGS = {
    "L4_R2_uniform_jk": {"num_layers": 4, "num_mlp_layers": 2, "scale": "uniform", "jk": True},
    "L3_R1_degree_nojk": {"num_layers": 3, "num_mlp_layers": 1, "scale": "degree", "jk": False},
}
CV_DATASETS = ("MUTAG", "PTC", "IMDBBINARY")
SEARCH_GRID = {"num_layers": (2, 3), "num_mlp_layers": (1, 2), "scale": ("uniform", "degree"), "jk": (True, False)}


def load(name, data_dir, step=1):
    from fastgnn import datasets

    d = datasets.load(name, root=data_dir)
    return d if step == 1 else d[np.arange(0, len(d), step)]


def gram_summary(k: np.ndarray) -> dict:
    k = np.ascontiguousarray(k, dtype=np.float64)
    rng = np.random.default_rng(0)
    i = rng.integers(0, k.shape[0], 200)
    j = rng.integers(0, k.shape[1], 200)
    return {"shape": list(k.shape), "sha256": hashlib.sha256(k.tobytes()).hexdigest(),
            "diag": np.diag(k).tolist(), "row_sums": k.sum(axis=1).tolist(),
            "entries": {"i": i.tolist(), "j": j.tolist(), "values": k[i, j].tolist()}}


def cv_summary(result) -> dict:
    d = result.to_dict()
    d.pop("seconds")
    for key in ("gram_scale", "folds"):  # added to the result by issue 25 (what C belongs to, the fold count)
        d.pop(key, None)
    return d


def compute_grams(data_dir, **engine) -> dict:
    """``engine``: extra GNTK arguments (``colour_pairs=False`` pins the node-pair engine)."""
    from fastgnn import GNTK

    out = {}
    for name, step in GRAM_DATASETS.items():
        data = load(name, data_dir, step)
        for cname, cfg in GRAM_CONFIGS.items():
            out[f"{name}/{cname}"] = gram_summary(GNTK(**cfg, **engine, progress=False).fit_transform(data))
    return out


def compute_normalized(data_dir, **engine) -> dict:
    """``GNTK(normalize=True)``: the symmetric Gram, and ``transform`` of held-out graphs."""
    from fastgnn import GNTK

    out = {}
    for name in ("MUTAG", "IMDBMULTI"):
        data = load(name, data_dir)
        cfg = {**GRAM_CONFIGS["L4_R2_uniform_jk"], "normalize": True, "progress": False, **engine}
        out[f"{name}/fit_transform"] = gram_summary(GNTK(**cfg).fit_transform(data))
        half = len(data) // 2
        est = GNTK(**cfg).fit(data[np.arange(half)])
        out[f"{name}/transform"] = gram_summary(est.transform(data[np.arange(half, len(data))]))
    return out


def compute_cv(data_dir, **engine) -> dict:
    from fastgnn import GNTK
    from fastgnn.evaluate import krr_cv, svm_cv

    out = {}
    for name in CV_DATASETS:
        data = load(name, data_dir)
        k = GNTK(**GRAM_CONFIGS["L4_R2_uniform_jk"], **engine, progress=False).fit_transform(data)
        for protocol in ("paper", "nested"):
            out[f"{name}/svm/{protocol}"] = cv_summary(svm_cv(k, data.y, data.folds, protocol=protocol))
            out[f"{name}/krr/{protocol}"] = cv_summary(krr_cv(k, data.y, data.folds, protocol=protocol))
    return out


def compute_search(data_dir) -> dict:
    from fastgnn.evaluate import COARSE_C_GRID
    from fastgnn.search import gntk_search

    data = load("MUTAG", data_dir)
    res = gntk_search(data, grid=SEARCH_GRID, C_grid=COARSE_C_GRID, fully_nested=True, progress=False, log=None)
    rows = [{k: v for k, v in r.items() if k != "kernel_seconds"} for r in res.rows]
    fn = dict(res.fully_nested)
    fn["fold_accuracies"] = [float(a) for a in fn["fold_accuracies"]]
    return {"rows": rows, "fully_nested": fn}


def compute_reproduce(data_dir) -> dict:
    from fastgnn.reproduce import Settings, reproduce

    settings = Settings.quick_run(sample_pairs=2, min_pairs=1, pair_repeats=1, pair_seconds=0.5)
    with tempfile.TemporaryDirectory() as out:
        s = reproduce(data_dir=data_dir, out=out, settings=settings, progress=False, log=None)
    acc = [{k: v for k, v in r.items() if "seconds" not in k} for r in s["accuracy"]]
    sketch = [{k: v for k, v in r.items() if "seconds" not in k and "time" not in k} for r in s["sketch"]]
    return {"accuracy": acc, "sketch": sketch}


PARTS = {"grams": compute_grams, "normalized": compute_normalized, "cv": compute_cv, "search": compute_search,
         "reproduce": compute_reproduce}


def compute(data_dir) -> dict:
    return {part: fn(data_dir) for part, fn in PARTS.items()}


def _plain(obj):
    """JSON round trip (tuples -> lists, numpy scalars -> Python), so computed and loaded compare equal."""
    from fastgnn.io import to_json

    return json.loads(to_json(obj))


def cpu_class() -> str:
    """``"<vendor>-avx512"`` or ``"<vendor>-avx2"``: what decides the last bits of the pinned numbers across
    machines (NumPy and the BLAS dispatch their kernels on the CPU's vector extensions; the cause was not isolated
    further: the Grams moved by up to 1.2e-14 relative on an AVX2 AMD machine, and SVM choices near a tie by a
    graph)."""
    from numpy._core._multiarray_umath import __cpu_features__

    vendor = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            vendor = next((line.split(":", 1)[1].strip() for line in f if line.startswith("vendor_id")), vendor)
    except OSError:
        pass
    return f"{vendor}-{'avx512' if __cpu_features__.get('AVX512F') else 'avx2'}"


#: pins made on other classes of CPU than pinned.json's (:func:`cpu_class`), each with every part
BY_CPU = Path(__file__).parent / "pinned_by_cpu"


def compute_for_this_cpu(data_dir) -> dict:
    """Every part as the tests compute it: the node-pair engine for the Grams and model selection, the default
    engine for the search and reproduce tables."""
    return {"grams": compute_grams(data_dir, colour_pairs=False),
            "normalized": compute_normalized(data_dir, colour_pairs=False),
            "cv": compute_cv(data_dir, colour_pairs=False), "search": compute_search(data_dir),
            "reproduce": compute_reproduce(data_dir)}


if __name__ == "__main__" and sys.argv[2:] == ["--this-cpu"]:
    # python tests/regression/pin.py DATA_DIR --this-cpu: this CPU class's pins, from the code on the path (make
    # them with the last commit that passed on a machine of the pinned class, then check the new code against them)
    target = BY_CPU / f"{cpu_class()}.json"
    BY_CPU.mkdir(exist_ok=True)
    target.write_text(json.dumps(_plain(compute_for_this_cpu(Path(sys.argv[1]))), sort_keys=True,
                                 separators=(",", ":")) + "\n")
    print(f"wrote {target}")
elif __name__ == "__main__":
    import time

    data_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
    pinned = {}
    for part, fn in PARTS.items():
        t0 = time.perf_counter()
        pinned[part] = _plain(fn(data_dir))
        print(f"{part}: {time.perf_counter() - t0:.1f} s", flush=True)
    out.write_text(json.dumps(pinned, sort_keys=True, separators=(",", ":")) + "\n")
