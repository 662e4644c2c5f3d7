"""Figures (matplotlib, Agg backend, PNG files written atomically)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fastgnn.io import atomic_path

__all__ = ["gram_heatmap"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def gram_heatmap(gram, y, path, title: str = "GNTK Gram matrix") -> Path:
    """Heat map of the cosine-normalised Gram, rows and columns grouped by class.

    Lines mark the class boundaries, so a kernel that separates the classes
    shows bright diagonal blocks.
    """
    plt = _pyplot()
    gram = np.asarray(gram, dtype=float)
    d = np.sqrt(np.clip(np.diag(gram), 1e-300, None))
    cos = gram / d[:, None] / d[None, :]
    order = np.argsort(np.asarray(y), kind="stable")
    ys = np.asarray(y)[order]
    fig, ax = plt.subplots(figsize=(6.4, 5.4), dpi=110)
    im = ax.imshow(cos[np.ix_(order, order)], cmap="viridis", interpolation="nearest")
    for b in np.flatnonzero(np.diff(ys)) + 0.5:
        ax.axhline(b, color="white", lw=0.8)
        ax.axvline(b, color="white", lw=0.8)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("graph (sorted by class)")
    ax.set_ylabel("graph (sorted by class)")
    fig.colorbar(im, ax=ax, label="K(G,H) / sqrt(K(G,G) K(H,H))")
    fig.tight_layout()
    with atomic_path(path, ".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(path)
