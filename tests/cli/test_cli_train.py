"""`fastgnn train`: node models over seeds, graph models by CV, JSON and --out, clear errors."""

from __future__ import annotations

import json

import pytest

from fastgnn.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread", "isolated_data_env")

SBM = ["--dataset", "sbm", "--nodes", "300", "--features", "8", "--classes", "3", "--threads", "1"]


def test_train_gcn_on_sbm_json_over_seeds(capsys):
    assert main(["train", "--model", "gcn", *SBM, "--epochs", "5", "--seeds", "2", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["task"] == "node" and info["model"] == "gcn" and info["mode"] == "full-batch"
    assert info["dataset"]["nodes"] == 300 and len(info["runs"]) == 2
    assert [r["config"]["seed"] for r in info["runs"]] == [0, 1]
    assert 0.0 <= info["test_acc_mean"] <= 1.0 and info["seconds_per_epoch_mean"] > 0
    assert all(len(r["history"]) == 5 for r in info["runs"])


def test_train_sgd_text_output_and_out_file(capsys, tmp_path):
    argv = ["train", "--model", "gcn", *SBM, "--epochs", "3", "--seeds", "1", "--sgd", "--batch-size", "32",
            "--fanouts", "4,4", "--no-progress", "--out", str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "gcn (sgd, batches of 32, fanouts [4, 4]): test accuracy" in out and "ms per epoch" in out
    saved = json.loads((tmp_path / "train_gcn_sbm-300_sgd.json").read_text())
    assert saved["settings"]["fanouts"] == [4, 4] and saved["mode"] == "sgd"


@pytest.mark.data
def test_train_gcn_on_cora(capsys, shared_planetoid):
    argv = ["train", "--model", "gcn", "--dataset", "Cora", "--data-dir", str(shared_planetoid), "--epochs", "3",
            "--seeds", "1", "--threads", "1", "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Cora: 2708 nodes, 10556 edges, 1433 features, 7 classes; train/val/test 140/500/1000" in out
    assert "over 1 seed(s)" in out


def test_train_gin_cross_validates_a_graph_dataset(capsys):
    argv = ["train", "--model", "gin", "--dataset", "synthetic", "--epochs", "2", "--threads", "1", "--json"]
    assert main(argv) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["task"] == "graph" and info["settings"]["folds"] == 10 and info["settings"]["readout"] == "sum"
    assert len(info["runs"][0]["fold_curves"]) == 10 and info["train_seconds"] > 0


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--model", "sage", "--dataset", "Cora"], "unknown model 'sage'; known models: gcn, dense-gcn, gat, "
                                                    "attention, gin"),
        (["--model", "gcn", "--dataset", "PubMed"], "unknown dataset 'PubMed'; known names: MUTAG"),
        (["--model", "gcn", "--dataset", "sbm", "--sgd", "--fanouts", "10,0"], "fanouts must be positive integers"),
        (["--model", "gcn", "--dataset", "sbm", "--fanouts", "ten"], "fanouts must be comma-separated positive"),
        (["--model", "gin", "--dataset", "sbm"], "'gin' is not a node classifier"),
        (["--model", "gat", "--dataset", "synthetic"], "'gat' is not a graph classifier; graph models: gin, gcn"),
        (["--model", "gin", "--dataset", "synthetic", "--sgd"], "--sgd (neighbour sampling) is for node datasets"),
        (["--model", "gcn", "--dataset", "sbm", "--seeds", "0"], "seeds must be >= 1"),
        (["--model", "gcn", "--dataset", "sbm", "--homophily", "2"], "homophily must be in [0, 1]"),
        (["--model", "gcn", "--dataset", "Cora", "--data-dir", "/nonexistent"], "dataset Cora not found"),
    ],
)
def test_errors_are_one_line_and_exit_1(argv, message, capsys, monkeypatch):
    monkeypatch.setenv("FASTGNN_PLANETOID_URL", "http://127.0.0.1:9/none")  # unreachable: no network
    assert main(["train", *argv, "--epochs", "1", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("fastgnn train: error: ") and message in err
