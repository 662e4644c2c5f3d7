"""OGB's metric and holdout protocol (issue 23.2): ROC-AUC from decision scores, equal to OGB's Evaluator and to
scikit-learn; C, normalisation and class weight chosen on valid, the test part scored once with that choice.

The selection is recomputed here by hand (one scikit-learn fit per setting, its valid ROC-AUC by
``roc_auc_score``), and the test labels are shown never to move the choice.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.svm import SVC, LinearSVC

from fastgnn.gram import transform
from fastgnn.model_selection.holdout import holdout, ridge_path, roc_auc

try:
    from ogb.graphproppred import Evaluator

    HAVE_OGB = True
except ImportError:
    HAVE_OGB = False


def imbalanced(n=240, d=6, positives=0.1, seed=0):
    """Features with a weak signal, ``positives`` of them labelled 1, and a random train/valid/test split."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < positives).astype(int)
    X = rng.normal(size=(n, d)) + 0.8 * y[:, None] * np.linspace(1, 0, d)
    order = rng.permutation(n)
    split = {"train": order[: n // 2], "valid": order[n // 2: 3 * n // 4], "test": order[3 * n // 4:]}
    for k in split:  # each part holds both classes
        assert 0 < y[split[k]].sum() < len(split[k])
    return X, y, split


@pytest.mark.skipif(not HAVE_OGB, reason='ogb is not installed (pip install "fastgnn[chem]")')
def test_roc_auc_equals_ogbs_evaluator():
    rng = np.random.default_rng(1)
    evaluator = Evaluator("ogbg-molhiv")
    for _ in range(5):
        y = (rng.random((300, 1)) < 0.035).astype(float)
        y[0, 0], y[1, 0] = 1, 0
        s = rng.normal(size=(300, 1)) + y
        s[5:20] = s[4]  # ties
        assert roc_auc(y, s) == pytest.approx(evaluator.eval({"y_true": y, "y_pred": s})["rocauc"], abs=1e-15)
        assert roc_auc(y[:, 0], s[:, 0]) == pytest.approx(roc_auc_score(y[:, 0], s[:, 0]), abs=1e-15)
    # several tasks with NaN labels and a task without positives, as OGB's multi-task sets (molpcba)
    multi = Evaluator("ogbg-moltox21")
    y = (rng.random((200, 12)) < 0.2).astype(float)
    y[rng.random((200, 12)) < 0.3] = np.nan
    y[:, 3] = np.where(np.isnan(y[:, 3]), np.nan, 0.0)
    s = rng.normal(size=(200, 12)) + np.nan_to_num(y)
    assert roc_auc(y, s) == pytest.approx(multi.eval({"y_true": y, "y_pred": s})["rocauc"], abs=1e-15)


def test_roc_auc_against_a_count_and_its_refusals():
    y = np.array([0, 0, 1, 1, 0, 1])
    s = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9])
    pos, neg = s[y == 1], s[y == 0]
    pairs = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    assert roc_auc(y, s) == pytest.approx(pairs / (len(pos) * len(neg)), abs=1e-15)  # the Mann-Whitney count
    with pytest.raises(ValueError, match="no task has both"):
        roc_auc([0, 0, 0], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="same shape"):
        roc_auc([0, 1], [0.1])
    with pytest.raises(ValueError, match="finite"):
        roc_auc([0, 1], [0.1, np.nan])


def by_hand(make, inputs, y, split, grid):
    """The best (valid ROC-AUC, C) over ``grid`` and the test ROC-AUC of that fit, by scikit-learn alone."""
    best = None
    for c in grid:
        model, valid_in, test_in = make(c, inputs)
        auc = roc_auc_score(y[split["valid"]], model.decision_function(valid_in))
        if best is None or auc > best[0]:
            best = (auc, c, roc_auc_score(y[split["test"]], model.decision_function(test_in)))
    return best


def test_features_holdout_equals_sklearn_by_hand():
    X, y, split = imbalanced()
    grid = [0.01, 0.1, 1.0, 10.0]
    res = holdout(X, y, split, C_grid=grid, class_weights=("balanced",))
    tr, va, te = split["train"], split["valid"], split["test"]
    Xs = X / np.linalg.norm(X[tr], axis=1).max()

    def make(c, Xs):
        model = LinearSVC(C=c, class_weight="balanced", random_state=0, max_iter=20_000).fit(Xs[tr], y[tr])
        return model, Xs[va], Xs[te]

    valid, c, test = by_hand(make, Xs, y, split, grid)
    assert res.model == "linear_svc" and res.choice == {"C": c, "normalization": "raw", "class_weight": "balanced"}
    assert res.valid == pytest.approx(valid, abs=1e-12) and res.test == pytest.approx(test, abs=1e-12)
    assert res.sizes["train"] == (len(tr), int(y[tr].sum()))
    assert len(np.unique(res.test_scores)) > 2  # decision scores, not labels
    assert res.test == pytest.approx(roc_auc(y[te], res.test_scores))


@pytest.mark.parametrize("class_weight", [None, "balanced"])
def test_the_ridge_path_equals_sklearns_ridge_classifier(class_weight):
    """Every alpha of the path (one eigendecomposition) gives scikit-learn's RidgeClassifier's decision
    scores, fitted afresh at that alpha with the same class weights."""
    from sklearn.linear_model import RidgeClassifier

    X, y, split = imbalanced(seed=4)
    alphas = [1e-3, 0.1, 1.0, 30.0]
    path = ridge_path(X[split["train"]], y[split["train"]], alphas, class_weight)
    for alpha, model in zip(alphas, path, strict=True):
        ref = RidgeClassifier(alpha=alpha, class_weight=class_weight, solver="cholesky").fit(
            X[split["train"]], y[split["train"]])
        np.testing.assert_allclose(model.decision_function(X[split["test"]]),
                                   ref.decision_function(X[split["test"]]), rtol=1e-8, atol=1e-10)


@pytest.mark.skipif(not HAVE_OGB, reason='ogb is not installed (pip install "fastgnn[chem]")')
def test_features_holdout_with_ridge_chooses_as_by_hand():
    from sklearn.linear_model import RidgeClassifier

    X, y, split = imbalanced(seed=5)
    grid = [0.01, 0.1, 1.0, 10.0]
    res = holdout(X, y, split, C_grid=grid, class_weights=("balanced",), normalizations=("cosine",),
                  learner="ridge")
    tr = split["train"]
    Xs = X / np.linalg.norm(X, axis=1)[:, None]

    def make(c, Xs):
        model = RidgeClassifier(alpha=1 / c, class_weight="balanced", solver="cholesky").fit(Xs[tr], y[tr])
        return model, Xs[split["valid"]], Xs[split["test"]]

    valid, c, test = by_hand(make, Xs, y, split, grid)
    assert res.model == "ridge" and res.choice["C"] == c
    assert res.valid == pytest.approx(valid, abs=1e-9) and res.test == pytest.approx(test, abs=1e-9)
    with pytest.raises(ValueError, match="learner"):
        holdout(X, y, split, learner="lasso")


def test_gram_holdout_equals_sklearn_by_hand():
    X, y, split = imbalanced(seed=2)
    gram = np.exp(-0.1 * ((X[:, None] - X[None]) ** 2).sum(-1))  # an RBF Gram
    grid = [0.1, 1.0, 10.0]
    res = holdout(gram, y, split, C_grid=grid, normalizations=("raw", "cosine"), class_weights=(None, "balanced"))
    tr, va, te = split["train"], split["valid"], split["test"]
    best = None
    for nm, g in transform(gram, ("raw", "cosine")).items():
        for cw in (None, "balanced"):
            def make(c, g, cw=cw):
                model = SVC(kernel="precomputed", C=c, class_weight=cw).fit(g[np.ix_(tr, tr)], y[tr])
                return model, g[np.ix_(va, tr)], g[np.ix_(te, tr)]

            valid, c, test = by_hand(make, g, y, split, grid)
            if best is None or valid > best[0]:
                best = (valid, {"C": c, "normalization": nm, "class_weight": cw}, test)
    assert res.model == "svc" and res.choice == best[1]
    assert res.valid == pytest.approx(best[0], abs=1e-12) and res.test == pytest.approx(best[2], abs=1e-12)
    assert set(res.curves) == {("raw", None), ("raw", "balanced"), ("cosine", None), ("cosine", "balanced")}
    assert res.to_dict()["choice"] == best[1] and "test" in res.summary()


def test_test_labels_never_move_the_choice():
    X, y, split = imbalanced(seed=3)
    a = holdout(X, y, split, C_grid=[0.01, 0.1, 1, 10])
    flipped = y.copy()
    flipped[split["test"]] = 1 - flipped[split["test"]]
    b = holdout(X, flipped, split, C_grid=[0.01, 0.1, 1, 10])
    assert a.choice == b.choice and a.valid == b.valid
    assert b.test == pytest.approx(1 - a.test)  # the same scores against the flipped labels


def test_refusals():
    X, y, split = imbalanced()
    with pytest.raises(ValueError, match="overlap"):
        holdout(X, y, {**split, "test": split["valid"]})
    with pytest.raises(ValueError, match="lacks \\['test'\\]"):
        holdout(X, y, {"train": split["train"], "valid": split["valid"]})
    with pytest.raises(ValueError, match="class_weights"):
        holdout(X, y, split, class_weights=("auto",))
    with pytest.raises(ValueError, match="two classes"):
        holdout(X, np.arange(len(y)) % 3, split)


def test_cli_evaluate_holdout(isolated_data_env, tmp_path, capsys):
    """``fastgnn evaluate X.npy --holdout ogbg-molhiv --json``: the labels and split read from HIV.csv and
    split_scaffold/ (no RDKit: no molecule is parsed), the result that of holdout() itself."""
    import json

    from fastgnn.cli import main
    from fastgnn.model_selection.holdout import CLASS_WEIGHTS

    X, y, split = imbalanced(n=120, seed=5)
    folder = tmp_path / "data" / "molhiv"
    (folder / "split_scaffold").mkdir(parents=True)
    rows = ["smiles,activity,HIV_active"] + [f"C{'C' * (i % 5)},CI,{v}" for i, v in enumerate(y)]
    (folder / "HIV.csv").write_text("\r\n".join(rows))
    for k, idx in split.items():
        (folder / "split_scaffold" / f"{k}.txt").write_text("".join(f"{i}\n" for i in idx))
    np.save(tmp_path / "features.npy", X)
    assert main(["evaluate", str(tmp_path / "features.npy"), "--holdout", "ogbg-molhiv",
                 "--data-dir", str(tmp_path / "data"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    ref = holdout(X, y, split, normalizations=("raw", "cosine"), class_weights=CLASS_WEIGHTS)
    assert out["test"] == pytest.approx(ref.test) and out["valid"] == pytest.approx(ref.valid)
    assert out["choice"] == ref.choice and out["model"] == "linear_svc" and out["dataset"] == "ogbg-molhiv"
    assert out["sizes"]["test"] == {"graphs": len(split["test"]), "positives": int(y[split["test"]].sum())}
