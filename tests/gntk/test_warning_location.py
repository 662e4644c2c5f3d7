"""The GNTK's warnings name the user's line, whatever the call path (issue 25.6): ``fit`` called
directly, ``fit_transform`` (wrapped by scikit-learn's ``set_output`` machinery), or a Pipeline."""

import warnings

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from fastgnn import GNTK
from fastgnn.graph import from_numpy


def small_graphs():
    a = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=float)
    return [from_numpy(a, y=0), from_numpy(a[:2, :2], y=1)]


@pytest.mark.parametrize("call", ["fit", "fit_transform", "pipeline"])
def test_sketch_warning_points_at_the_caller(call):
    est = GNTK(num_layers=2, sketch_size=8)  # every graph has <= 8 nodes: the sketch cannot pay
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if call == "fit":
            est.fit(small_graphs())
        elif call == "fit_transform":
            est.fit_transform(small_graphs())
        else:
            make_pipeline(FunctionTransformer(lambda g: g), est).fit_transform(small_graphs())
    [w] = [w for w in caught if "sketch_size=8" in str(w.message)]
    assert w.filename == __file__, w.filename


def test_reproduce_sketch_stage_does_not_warn_about_its_own_sizes():
    """``reproduce --quick`` chooses b in {4, 16} itself: the 'sketch will not pay' warning is what the stage
    measures, not something to tell its user four times."""
    from fastgnn.graph import GraphDataset
    from fastgnn.reproduce import sketch
    from fastgnn.reproduce.settings import Settings

    rng = np.random.default_rng(0)
    graphs = []
    for k in range(20):
        n = 5 + k % 4
        a = np.zeros((n, n))
        for i in range(1, n):
            j = i - 1 if k % 2 else 0
            a[i, j] = a[j, i] = 1
        graphs.append(from_numpy(a, x=rng.uniform(0.5, 1.5, size=(n, 1)), y=k % 2))
    data = GraphDataset(graphs, name="TINY")
    config = {"num_layers": 2, "num_mlp_layers": 1, "scale": "uniform", "jk": 1}
    settings = Settings.quick_run(C_grid=(0.1, 1.0, 10.0))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = sketch.run(data, config, settings, progress=False, log=lambda s: None)
    assert [r["b"] for r in rows["rows"]] == [None, 4, 16]
    assert not [w for w in caught if "sketch_size" in str(w.message)]


def test_compile_notice_gives_the_range_seen_under_load(capsys, monkeypatch):
    """The first compilation took 35 s under load against the '20 s' announced (issue 25.7)."""
    from fastgnn.gntk import compiled_tile

    monkeypatch.setattr(compiled_tile, "_ANNOUNCED", False)
    monkeypatch.setattr(compiled_tile, "kernels_cached", lambda: False)
    compiled_tile.announce_compilation("cpu")
    err = capsys.readouterr().err
    assert "compiling the GNTK's numba kernels" in err and "20-60 s" in err
