"""The GNTK as a scikit-learn estimator: parameters, fitted state, normalisation, pipelines, inputs.

Every case the issue names as silent (stale numbers after set_params, jk="no" read as True,
sketch_size=2.5 or num_layers=2.7 accepted, networkx attributes, weights and direction dropped,
a PyG Batch merged, a float label truncated) is here, raising a clear error or giving the
number an independent computation gives.
"""

from __future__ import annotations

import inspect
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC
from sklearn.utils import get_tags
from sklearn.utils.validation import check_is_fitted

from fastgnn import GNTK, Graph, datasets, from_networkx
from fastgnn.gntk import params


@pytest.fixture(scope="module")
def data():
    return datasets.load("synthetic")[:48]


def cosine(K, d_rows, d_cols):
    return K / np.sqrt(np.outer(d_rows, d_cols))


# --- the parameter table ------------------------------------------------------------


def test_the_table_covers_exactly_the_signature():
    names = set(inspect.signature(GNTK.__init__).parameters) - {"self"}
    assert set(params.PARAMETER_CONSTRAINTS) == names
    assert set(params.KERNEL_PARAMS) <= names
    assert GNTK._parameter_constraints is params.PARAMETER_CONSTRAINTS
    assert params.options("scale") == ("uniform", "degree") and params.options("jk") == (True, False)
    with pytest.raises(KeyError, match="no fixed set"):
        params.options("num_layers")


@pytest.mark.parametrize("kwargs, match", [
    ({"jk": "no"}, "'jk' parameter"),
    ({"normalize": "yes"}, "'normalize' parameter"),
    ({"sketch_size": 2.5}, "'sketch_size' parameter"),
    ({"num_layers": 2.7}, "'num_layers' parameter"),
    ({"num_mlp_layers": 1.5}, "'num_mlp_layers' parameter"),
    ({"max_memory": -1}, "'max_memory' parameter"),
    ({"max_memory": 0}, "'max_memory' parameter"),
    ({"max_memory": "0GB"}, "positive"),
    ({"dtype": "float16"}, "'dtype' parameter"),
    ({"dtype": torch.int64}, "'dtype' parameter"),
    ({"seed": 1.5}, "'seed' parameter"),
    ({"device": "tpu"}, "device"),
])
def test_bad_values_are_refused_at_fit(data, kwargs, match):
    with pytest.raises(ValueError, match=match):
        GNTK(**kwargs).fit(data.graphs[:3])


def test_dtype_by_name_or_torch_dtype():
    g = [Graph(torch.tensor([[0, 1], [1, 0]]), 2, torch.ones(2, 1))]
    a = GNTK(dtype="float32").fit_transform(g)
    b = GNTK(dtype=torch.float32).fit_transform(g)
    assert np.array_equal(a, b)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_without_cuda_is_a_clear_error(data):
    with pytest.raises(ValueError, match="device='cuda'.*(no CUDA support|no CUDA device)"):
        GNTK(device="cuda").fit(data.graphs[:3])


# --- fitted state ----------------------------------------------------------------------


@pytest.mark.parametrize("change", [
    {"scale": "degree"}, {"num_layers": 4}, {"num_mlp_layers": 1}, {"jk": False},
    {"sketch_size": 6, "seed": 3}, {"dtype": "float32"}, {"normalize": True},
])
def test_set_params_after_fit_gives_the_new_kernel(data, change):
    """The issue: set_params after fit, then transform, returned -1.3e113 and NaNs."""
    train, test = data.graphs[:30], data.graphs[30:]
    est = GNTK(num_layers=3).fit(train)
    est.set_params(**change)
    got = est.transform(test)
    fresh = GNTK(**{"num_layers": 3, **change}).fit(train).transform(test)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, fresh, rtol=1e-12 if change.get("dtype") is None else 1e-6)
    # and equal to the block of the Gram of all graphs, computed the symmetric way
    whole = GNTK(**{"num_layers": 3, **change}).fit_transform(data.graphs)
    np.testing.assert_allclose(got, whole[30:, :30], rtol=1e-10 if change.get("dtype") is None else 1e-4)


def test_fit_takes_y_and_ignores_it(data):
    a = GNTK().fit(data.graphs[:10], data.y[:10]).transform(data.graphs[10:14])
    b = GNTK().fit(data.graphs[:10]).transform(data.graphs[10:14])
    assert np.array_equal(a, b)
    assert np.array_equal(GNTK().fit_transform(data.graphs[:10], data.y[:10]), GNTK().fit_transform(data.graphs[:10]))


def test_sklearn_protocol(data):
    est = GNTK(num_layers=2)
    with pytest.raises(NotFittedError):
        check_is_fitted(est)
    with pytest.raises(RuntimeError, match="not fitted"):  # also a RuntimeError, as before
        est.transform(data.graphs[:2])
    K = est.fit_transform(data.graphs[:12])
    check_is_fitted(est)
    assert est.get_feature_names_out().tolist() == [f"gntk{i}" for i in range(12)]
    tags = get_tags(est)
    assert not tags.input_tags.two_d_array and tags.requires_fit and not tags.target_tags.required
    last = Pipeline([("gntk", GNTK(num_layers=2))]).fit(data.graphs[:12], data.y[:12])  # fit(X, y) as last step
    assert np.array_equal(last.transform(data.graphs[:3]), est.transform(data.graphs[:3]))
    assert est.set_output(transform="default") is est
    twin = clone(est)
    assert twin.get_params() == est.get_params() and not hasattr(twin, "fitted_")
    again = pickle.loads(pickle.dumps(est))
    assert np.array_equal(again.transform(data.graphs[:12]), est.transform(data.graphs[:12]))
    np.testing.assert_allclose(est.transform(data.graphs[:12]), K, rtol=1e-12)
    assert "normalize=" not in repr(est) and repr(GNTK(normalize=True)) == "GNTK(normalize=True)"


def test_set_output_pandas(data):
    pd = pytest.importorskip("pandas")
    out = GNTK(num_layers=2).set_output(transform="pandas").fit_transform(data.graphs[:5])
    assert isinstance(out, pd.DataFrame) and list(out.columns) == [f"gntk{i}" for i in range(5)]


# --- normalize ---------------------------------------------------------------------------


@pytest.mark.parametrize("kw", [{}, {"method": "decoupled"}, {"sketch_size": 6}, {"jk": False, "num_layers": 4}])
def test_normalize_is_the_cosine_of_the_raw_kernel(data, kw):
    graphs = data.graphs[:24]
    raw = GNTK(**kw).fit_transform(graphs)
    d = np.diag(raw)
    expected = cosine(raw, d, d)
    got = GNTK(normalize=True, **kw).fit_transform(graphs)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert np.array_equal(np.diag(got), np.ones(len(graphs)))
    # transform: needs the self-kernels of the new graphs, which it computes
    est = GNTK(normalize=True, **kw).fit(graphs[:16])
    np.testing.assert_allclose(est.transform(graphs[16:]), expected[16:, :16], rtol=1e-10)
    np.testing.assert_allclose(est.transform(graphs[:16]), expected[:16, :16], rtol=1e-10)


def test_normalize_refuses_a_zero_self_kernel():
    zero = Graph(torch.tensor([[0], [1]]).reshape(2, 1), 2, torch.zeros(2, 1))
    one = Graph(torch.tensor([[0], [1]]).reshape(2, 1), 2, torch.ones(2, 1))
    with pytest.raises(ValueError, match="self-kernel 0"):
        GNTK(normalize=True).fit_transform([one, zero])
    with pytest.raises(ValueError, match="self-kernel 0"):
        GNTK(normalize=True).fit([one]).transform([zero])


# --- pipelines -----------------------------------------------------------------------------


def test_pipeline_in_grid_search(data):
    """GridSearchCV over GNTK's parameters (normalize included) and C, against the same search
    done by hand on precomputed Gram matrices."""
    graphs, y = data.graphs, data.y
    pipe = Pipeline([("gntk", GNTK()), ("svc", SVC(kernel="precomputed"))])
    grid = {"gntk__num_layers": [2, 3], "gntk__normalize": [False, True], "svc__C": [0.1, 10.0]}
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    search = GridSearchCV(pipe, grid, cv=cv).fit(graphs, y)
    for i, p in enumerate(search.cv_results_["params"]):
        K = GNTK(num_layers=p["gntk__num_layers"], normalize=p["gntk__normalize"]).fit_transform(graphs)
        scores = []
        for tr, te in cv.split(np.zeros(len(y)), y):
            clf = SVC(kernel="precomputed", C=p["svc__C"]).fit(K[np.ix_(tr, tr)], y[tr])
            scores.append(np.mean(clf.predict(K[np.ix_(te, tr)]) == y[te]))
        assert search.cv_results_["mean_test_score"][i] == pytest.approx(np.mean(scores), abs=1e-12), p
    assert search.predict(graphs[:5]).shape == (5,)


# --- inputs ---------------------------------------------------------------------------------


def test_node_dataset_is_refused():
    cora_like = datasets.sbm(num_nodes=50, num_classes=2, num_features=4)
    with pytest.raises(ValueError, match="node-classification dataset"):
        GNTK().fit(cora_like)


def test_arrays_and_single_graphs_are_refused_with_a_pointer(data):
    with pytest.raises(TypeError, match="from_numpy"):
        GNTK().fit(np.eye(3))
    with pytest.raises(TypeError, match="one graph"):
        GNTK().fit(data.graphs[0])


def test_weighted_and_directed_graphs_are_refused():
    nx = pytest.importorskip("networkx")
    weighted = nx.Graph()
    weighted.add_weighted_edges_from([(0, 1, 2.0), (1, 2, 1.0)])
    with pytest.raises(ValueError, match="edge weights"):
        GNTK().fit([weighted])
    with pytest.raises(ValueError, match="directed"):
        GNTK().fit([nx.DiGraph([(0, 1), (1, 2)])])
    # all weights 1 is an unweighted graph, and equals the graph without weights
    ones = nx.Graph()
    ones.add_weighted_edges_from([(0, 1, 1.0), (1, 2, 1.0)])
    assert np.array_equal(GNTK().fit_transform([ones]), GNTK().fit_transform([nx.path_graph(3)]))


def test_networkx_attributes_are_used_not_dropped():
    nx = pytest.importorskip("networkx")
    a, b = nx.path_graph(3), nx.path_graph(3)
    for g, labels in ((a, "CCO"), (b, "CCC")):
        for v, lab in zip(g.nodes, labels):
            g.nodes[v]["atom"] = lab
    with pytest.raises(ValueError, match="attribute.*'atom'"):
        GNTK().fit([a, b])  # refused rather than dropped
    graphs = from_networkx([a, b], node_attr="atom")
    K = GNTK().fit_transform(graphs)
    # the same graphs built by hand with one-hot features over (C, O)
    edges = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    by_hand = [Graph(edges, 3, torch.tensor([[1.0, 0], [1, 0], [0, 1]])),
               Graph(edges, 3, torch.tensor([[1.0, 0], [1, 0], [1, 0]]))]
    assert np.array_equal(K, GNTK().fit_transform(by_hand))
    plain = GNTK().fit_transform(from_networkx([a, b], node_attr=False))
    assert not np.allclose(K, plain)  # the attributes change the kernel


def test_graphs_encoded_over_different_categories_are_refused():
    nx = pytest.importorskip("networkx")
    a, b = nx.path_graph(2), nx.path_graph(2)
    nx.set_node_attributes(a, {0: "C", 1: "O"}, "atom")
    nx.set_node_attributes(b, {0: "C", 1: "N"}, "atom")
    ga, gb = from_networkx(a, node_attr="atom"), from_networkx(b, node_attr="atom")  # one by one: (C, O) vs (C, N)
    with pytest.raises(ValueError, match="categories"):
        GNTK().fit([ga, gb])
    est = GNTK().fit([ga])
    with pytest.raises(ValueError, match="categories"):
        est.transform([gb])
    shared = from_networkx(b, node_attr="atom", categories={"atom": ("C", "N", "O")})
    together = from_networkx([a, b], node_attr="atom")
    assert shared.meta["categories"] == together[1].meta["categories"]
    assert np.array_equal(GNTK().fit(together).transform([shared]), GNTK().fit(together).transform(together[1:]))


def test_pyg_batch_and_data_objects_are_accepted(data):
    pyg = pytest.importorskip("torch_geometric")
    datas = [pyg.data.Data(x=g.x, edge_index=g.edge_index, y=torch.tensor([g.y])) for g in data.graphs[:6]]
    batch = pyg.data.Batch.from_data_list(datas)
    expected = GNTK().fit_transform(data.graphs[:6])
    assert np.array_equal(GNTK().fit_transform(batch), expected)
    assert np.array_equal(GNTK().fit_transform(datas), expected)


def test_first_compilation_is_announced_once(monkeypatch, capsys, data):
    """The first batched run on a fresh machine compiles the numba kernels (~17 s) without a word;
    now one line on stderr says so, once per process."""
    from fastgnn.gntk import compiled_tile

    monkeypatch.setattr(compiled_tile, "_ANNOUNCED", False)
    monkeypatch.setattr(compiled_tile, "kernels_cached", lambda: False)
    GNTK(num_layers=2).fit_transform(data.graphs[:3])
    GNTK(num_layers=2).fit_transform(data.graphs[:3])
    err = capsys.readouterr().err
    assert err.count("compiling the GNTK's numba kernels") == 1
    monkeypatch.setattr(compiled_tile, "_ANNOUNCED", False)
    monkeypatch.setattr(compiled_tile, "kernels_cached", lambda: True)
    GNTK(num_layers=2).fit_transform(data.graphs[:3])
    assert "compiling" not in capsys.readouterr().err


def test_pyg_edge_features_are_not_dropped_silently(data):
    pyg = pytest.importorskip("torch_geometric")
    g = data.graphs[0]
    bonds = pyg.data.Data(x=g.x, edge_index=g.edge_index, edge_attr=torch.ones(g.num_edges, 3))
    with pytest.raises(ValueError, match="graph 0.*edge_attr.*ignore_edge_attr=True"):
        GNTK().fit([bonds])
    from fastgnn import from_pyg

    assert np.array_equal(GNTK().fit_transform(from_pyg([bonds], ignore_edge_attr=True)), GNTK().fit_transform([g]))


def test_pyg_dataset_is_a_list_of_graphs(data):
    """A PyG InMemoryDataset answers to edge_index too; it is read graph by graph, not refused."""
    pyg = pytest.importorskip("torch_geometric")

    class Small(pyg.data.InMemoryDataset):
        def __init__(self, datas):
            super().__init__(None)
            self.data, self.slices = self.collate(datas)

    graphs = data.graphs[:5]
    ds = Small([pyg.data.Data(x=g.x, edge_index=g.edge_index, y=torch.tensor([g.y])) for g in graphs])
    assert np.array_equal(GNTK().fit_transform(ds), GNTK().fit_transform(graphs))
    with pytest.raises(TypeError, match="one graph"):
        GNTK().fit(ds[0])


def test_a_gram_larger_than_ram_is_refused_before_any_work(monkeypatch):
    """200,000 one-node graphs: the readouts and the Gram are 1.28 TB; refused at once naming the out-of-core
    method, instead of a MemoryError after the preparation (issue 24.7)."""
    import time

    from fastgnn import budget

    graphs = [Graph(edge_index=torch.zeros((2, 0), dtype=torch.long), num_nodes=1, x=torch.ones(1, 1))] * 200_000
    monkeypatch.setattr(budget, "available_ram", lambda: 24e9)
    t0 = time.perf_counter()
    for call in (GNTK(num_layers=3).fit_transform, GNTK(num_layers=3).readouts):
        with pytest.raises(MemoryError, match="fit_transform_to_disk") as err:
            call(graphs)
        assert "200,000 graphs" in str(err.value) and "1,280.0 GB" in str(err.value)  # 8 · 4 · n² bytes
    assert time.perf_counter() - t0 < 5  # refused before the preparation
