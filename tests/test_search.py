"""fastgnn.search: the two-stage grid, the SVM-result cache and resume, fully nested, the published MUTAG row."""

import numpy as np
import pytest
from conftest import load_shared

from fastgnn import GNTK, datasets
from fastgnn.evaluate import svm_cv
from fastgnn.search import gntk_search

GRID = {"num_layers": (2, 3), "num_mlp_layers": (1,), "scale": ("uniform", "degree"), "jk": (True, False)}
C_GRID = np.logspace(-2, 3, 6)


@pytest.fixture(scope="module")
def data():
    return datasets.synthetic(num_graphs=40, seed=3, name="search-test")


def _key(r):
    return r["num_layers"], r["num_mlp_layers"], r["scale"], r["jk"]


def test_refine_top_refines_the_screen_best_and_finds_the_full_search_best(data, tmp_path):
    kw = dict(grid=GRID, C_grid=C_GRID, inner_folds=3, cache_dir=tmp_path, progress=False, log=None, n_jobs=2)
    full = gntk_search(data, **kw)
    two = gntk_search(data, refine_top=3, **kw)
    assert len(full.rows) == len(two.rows) == 8 and len(full.evaluated()) == 8
    screened = sorted(two.rows, key=lambda r: -r["screen_mean"])
    refined = [r for r in two.rows if "nested_mean" in r]
    assert len(refined) == 3
    assert {_key(r) for r in refined} == {_key(r) for r in screened[:3]}
    assert min(r["screen_mean"] for r in refined) >= max(r["screen_mean"] for r in screened[3:])
    # The paper protocol's best is the screen's best, so both searches report the same best row.
    assert _key(two.best("paper")) == _key(full.best("paper"))
    assert two.best("paper")["paper_mean"] == full.best("paper")["paper_mean"]
    # Each row's paper figures are svm_cv's on that configuration's Gram.
    r = full.best("paper")
    gram = GNTK(num_layers=r["num_layers"], num_mlp_layers=1, scale=r["scale"], jk=r["jk"],
                progress=False).fit_transform(data)
    ref = svm_cv(gram, data.y, data.folds, C_grid=C_GRID, n_jobs=1)
    assert (r["paper_mean"], r["paper_C"], r["paper_normalization"]) == (ref.mean, ref.C, ref.normalization)


def test_svm_results_are_cached_and_a_killed_search_resumes(data, tmp_path, monkeypatch):
    import fastgnn.search as search

    kw = dict(grid=GRID, C_grid=C_GRID, protocols=("paper",), cache_dir=tmp_path, progress=False, log=None,
              n_jobs=1)
    calls = {"n": 0}
    real = search.grid_curves

    def dies_after_three(*a, **k):
        calls["n"] += 1
        if calls["n"] > 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(search, "grid_curves", dies_after_three)
    with pytest.raises(KeyboardInterrupt):
        gntk_search(data, **kw)
    assert len(list((tmp_path / "svm").glob("*.npz"))) == 3
    counted = {"n": 0}

    def counting(*a, **k):
        counted["n"] += 1
        return real(*a, **k)

    monkeypatch.setattr(search, "grid_curves", counting)
    resumed = gntk_search(data, **kw)
    assert counted["n"] == 5 and resumed.kernel_seconds == 0  # 8 configurations, 3 from the cache
    monkeypatch.setattr(search, "grid_curves", real)
    fresh = gntk_search(data, **{**kw, "cache_dir": None})
    assert [r["paper_mean"] for r in resumed.rows] == [r["paper_mean"] for r in fresh.rows]


def test_fully_nested_chooses_the_configuration_per_fold(data):
    res = gntk_search(data, grid=GRID, C_grid=C_GRID, inner_folds=3, refine_top=2, fully_nested=True,
                      progress=False, log=None, n_jobs=2)
    fn = res.fully_nested
    assert len(fn["choices"]) == len(data.folds) == len(fn["fold_accuracies"])
    assert fn["mean"] == pytest.approx(np.mean(fn["fold_accuracies"]))
    keys = {_key(r) for r in res.rows}
    assert all(_key(c) in keys and c["normalization"] in ("raw", "cosine") for c in fn["choices"])
    # Fully nested can't beat the paper protocol's optimistic best by choosing on the test folds.
    assert fn["mean"] <= res.best("paper")["paper_mean"] + 1e-12
    assert set(res.stage_seconds) == {"kernels", "screen", "refine", "fully_nested"}


def test_bad_arguments(data):
    with pytest.raises(ValueError, match="refine_top"):
        gntk_search(data, grid=GRID, refine_top=0, progress=False, log=None)
    with pytest.raises(ValueError, match="protocols"):
        gntk_search(data, grid=GRID, protocols=("optimistic",), progress=False, log=None)
    with pytest.raises(ValueError, match="solver"):
        gntk_search(data, grid=GRID, solver="smo", progress=False, log=None)


@pytest.mark.slow
@pytest.mark.data
def test_mutag_published_row():
    """docs/gntk-results.md's MUTAG row (L=2, R=1, uniform, jk): the paper reports 90.0.

    libsvm (the authors' solver and cap) gives 90.00 on the uncompressed kernel at C = 6285, a fit
    that stops at the 5e5-iteration cap, so that figure moves with 1e-12 changes of the kernel; the
    path solver, run to libsvm's tolerance, is within one test graph (0.56 points) of it."""
    data = load_shared("MUTAG")
    gram = GNTK(num_layers=2, num_mlp_layers=1, scale="uniform", jk=True, compress=False,
                progress=False).fit_transform(data)
    lib = svm_cv(gram, data.y, data.folds, solver="libsvm", n_jobs=2)
    path = svm_cv(gram, data.y, data.folds, n_jobs=2)
    assert round(100 * lib.mean, 2) == 90.00
    assert abs(path.mean - lib.mean) <= 1 / 18 / len(data.folds) + 1e-12


def test_search_on_a_dask_cluster_equals_in_process(data):
    """executor="dask": the kernels' tiles and the (normalisation, fold) C paths run as Dask tasks; same rows."""
    distributed = pytest.importorskip("distributed")
    grid = {"num_layers": (2, 3), "num_mlp_layers": (1,), "scale": ("uniform",), "jk": (True,)}
    kw = dict(grid=grid, C_grid=C_GRID, inner_folds=3, refine_top=1, progress=False, log=None)
    local = gntk_search(data, **kw)
    # In-process workers talk over inproc:// (no socket at all); the cluster closes with the block.
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        remote = gntk_search(data, executor="dask", **kw)
    assert [r.get("nested_mean") for r in remote.rows] == [r.get("nested_mean") for r in local.rows]
    assert [r["screen_mean"] for r in remote.rows] == [r["screen_mean"] for r in local.rows]
    with pytest.raises(ValueError, match="executor"):
        gntk_search(data, executor="ray", **kw)
