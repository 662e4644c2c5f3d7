"""PNG figures of a :class:`~fastgnn.complexity.Report`: one figure per group of operations,
one panel per sweep (measured points, the fitted ones filled; dotted lines of the predicted
slopes drawn through the fitted points' centre)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from fastgnn.io import atomic_path

__all__ = ["plot_report"]


def plot_report(report, out, *, prefix: str = "complexity", dpi: int = 72) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    paths = []
    groups = list(dict.fromkeys(f["group"] for f in report.fits))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for group in groups:
        fits = [f for f in report.fits if f["group"] == group and f["status"] == "ok"]
        if not fits:
            continue
        cols = min(4, len(fits))
        rows = math.ceil(len(fits) / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.0 * rows), squeeze=False)
        for ax in axes.flat[len(fits):]:
            ax.axis("off")
        for ax, f in zip(axes.flat, fits):
            pts = [p for p in report.points
                   if p["operation"] == f["op"] and p["variable"] == f["variable"] and p["status"] == "ok"]
            x = np.array([p["value"] for p in pts], dtype=float)
            t = np.array([p["seconds" if f.get("clock", "wall") == "wall" else "cpu_seconds"] for p in pts])
            used = f["time"]["used"]
            ax.loglog(x, t, "o", mfc="none", color="k", ms=5)
            ax.loglog(x[used], t[used], "o", color="k", ms=5, label=f"measured {f['time']['slope']:.2f}")
            lx, lt = np.log(x[used]), np.log(t[used])
            cx, ct = lx.mean(), lt.mean()
            xs = np.array([x[used].min(), x[used].max()])
            for i, pred in enumerate(f["predictions"]):
                k = pred["exponent"]
                ax.loglog(xs, np.exp(ct + k * (np.log(xs) - cx)), ":", color=colors[i % len(colors)], lw=1.6,
                          label=f"{pred['label']}: {k:.2f}")
            ax.set_title(f"{f['op']} / {f['variable']}", fontsize=8)
            ax.set_xlabel(f["variable"], fontsize=7)
            ax.set_ylabel(f"seconds ({f.get('clock', 'wall')} clock)", fontsize=7)
            ax.xaxis.set_minor_formatter(NullFormatter())
            if t.max() > 10 * t.min():  # less than a decade shows no major tick: keep the minor labels
                ax.yaxis.set_minor_formatter(NullFormatter())
            ax.tick_params(which="both", labelsize=6)
            ax.grid(True, which="both", alpha=0.25)
            ax.legend(fontsize=6, loc="upper left")
        m = report.machine
        fig.suptitle(f"{group}: time vs size (filled: fitted points; dotted: predicted slopes)\n"
                     f"{m.get('processor')}, {m.get('torch_threads')} thread(s), {m.get('device')}", fontsize=8)
        fig.tight_layout()
        path = Path(out) / f"{prefix}_{group}.png"
        with atomic_path(path, ".png") as tmp:
            fig.savefig(tmp, dpi=dpi, format="png")
        plt.close(fig)
        paths.append(path)
    return paths
