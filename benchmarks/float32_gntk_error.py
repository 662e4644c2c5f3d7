"""float32 against float64 GNTK on MUTAG at deep configurations: the kernel's error, the normalised Gram's
smallest eigenvalue and the SVM accuracy (issue 25.7; the figures behind ``fastgnn.evaluate.LOW_PRECISION_NOTE``).

For each configuration (``num_layers`` in ``--layers``, ``num_mlp_layers`` in ``--mlp-layers``, both scales,
jk on and off) the whole Gram in both dtypes (the batched engine; the result is float64 either way, the
float32 run's rounding inside), then:

* ``max_rel``: ``max |K32 - K64| / max |K64|`` (the figure ``docs/gntk-results.md`` reports);
* ``entry_rel``: ``max |K32 - K64| / |K64|`` entry by entry (the worst single entry);
* ``min_eig_cos64`` / ``min_eig_cos32``: the smallest eigenvalue of the cosine-normalised Gram (a kernel's
  is >= 0; rounding can make it negative);
* ``paper64`` / ``paper32`` (and ``nested``): :func:`fastgnn.evaluate.svm_cv` on the dataset's 10 folds,
  the default 120-value C grid, both normalisations.

    .venv/bin/python benchmarks/float32_gntk_error.py                 # ~3 min on 2 cores
    .venv/bin/python benchmarks/float32_gntk_error.py --layers 5 --mlp-layers 3 --out /tmp/f32
"""

from __future__ import annotations

import argparse
import itertools
import time
import warnings

import numpy as np
from common import RESULTS, header_lines, load_dataset, write_results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="MUTAG")
    p.add_argument("--layers", default="4,5,6")
    p.add_argument("--mlp-layers", default="3")
    p.add_argument("--nested", action="store_true", help="also the nested protocol (x6 the SVM time)")
    p.add_argument("--out", default=str(RESULTS / "float32_gntk_error"))
    args = p.parse_args()
    from fastgnn import GNTK
    from fastgnn.evaluate import svm_cv
    from fastgnn.gram import cosine_normalize

    data = load_dataset(args.dataset)
    lines = header_lines()
    rows = []
    configs = itertools.product(map(int, args.layers.split(",")), map(int, args.mlp_layers.split(",")),
                                ("uniform", "degree"), (True, False))
    for L, R, scale, jk in configs:
        t0 = time.perf_counter()
        k = {dt: GNTK(num_layers=L, num_mlp_layers=R, scale=scale, jk=jk, dtype=dt, progress=False).fit_transform(data)
             for dt in ("float64", "float32")}
        diff = np.abs(k["float32"] - k["float64"])
        row = {"dataset": data.name, "num_layers": L, "num_mlp_layers": R, "scale": scale, "jk": int(jk),
               "max_rel": float(diff.max() / np.abs(k["float64"]).max()),
               "entry_rel": float((diff / np.abs(k["float64"])).max())}
        for dt, name in (("float64", "64"), ("float32", "32")):
            row[f"min_eig_cos{name}"] = float(np.linalg.eigvalsh(cosine_normalize(k[dt])).min())
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                row[f"paper{name}"] = 100 * svm_cv(k[dt], data.y, data.folds, protocol="paper").mean
                if args.nested:
                    row[f"nested{name}"] = 100 * svm_cv(k[dt], data.y, data.folds, protocol="nested").mean
        row["seconds"] = time.perf_counter() - t0
        rows.append(row)
        line = (f"L={L} R={R} {scale:>7} jk={int(jk)}: max_rel {row['max_rel']:.2e}, entry_rel {row['entry_rel']:.2e}, "
                f"min eig (cosine) {row['min_eig_cos64']:.2e} / {row['min_eig_cos32']:.2e}, paper "
                f"{row['paper64']:.2f} / {row['paper32']:.2f} %"
                + (f", nested {row['nested64']:.2f} / {row['nested32']:.2f} %" if args.nested else ""))
        print(line, flush=True)
        lines.append(line)
    write_results(rows, lines, args.out)


if __name__ == "__main__":
    main()
