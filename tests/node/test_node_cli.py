"""`fastgnn train --model gcn-gp|gcn-ntk`: the kernel models beside the GNNs, JSON, the grid's axes fixed by
flags, the Nyström over seeds, GNNGP's raw features by default, clear errors."""

from __future__ import annotations

import json

import pytest

from fastgnn.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread", "isolated_data_env")

SBM = ["--dataset", "sbm", "--nodes", "300", "--features", "8", "--classes", "3", "--threads", "1"]


def test_gcn_gp_on_sbm_json(capsys):
    argv = ["train", "--model", "gcn-gp", *SBM, "--num-layers", "2", "--sigma-b", "0.1", "--json"]
    assert main(argv) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["task"] == "node" and info["model"] == "gcn-gp" and info["mode"] == "exact"
    assert info["settings"]["grid"] == {"num_layers": [2], "sigma_w": [1.0], "sigma_b": [0.1]}
    assert info["chosen"]["num_layers"] == 2 and info["chosen"]["sigma_b"] == 0.1
    assert len(info["runs"]) == 1 and info["runs"][0]["grid_points"] == 1  # exact: deterministic, one run
    assert info["test_acc_mean"] > 0.5 and info["dataset"]["nodes"] == 300 and "versions" in info


def test_gcn_ntk_nystroem_over_seeds_text(capsys):
    argv = ["train", "--model", "gcn-ntk", *SBM, "--landmarks", "40", "--landmark-rule", "pivoted", "--num-layers",
            "3", "--sigma-b", "0", "--seeds", "2"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "gcn-ntk (nystroem; chosen on validation: 3 layers, sigma_w 1, sigma_b 0, nugget" in out
    assert "over 2 run(s)" in out


def test_kernel_model_on_a_graph_dataset_is_one_error_line(capsys):
    assert main(["train", "--model", "gcn-gp", "--dataset", "MUTAG"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["fastgnn train: error: --model gcn-gp is for node datasets (Cora, CiteSeer, sbm)"]


@pytest.mark.data
def test_gcn_gp_on_cora_reads_raw_features(capsys, shared_planetoid):
    argv = ["train", "--model", "gcn-gp", "--dataset", "Cora", "--data-dir", str(shared_planetoid), "--num-layers", "2",
            "--sigma-b", "0", "--json"]
    assert main(argv) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["settings"]["normalize_features"] is False  # GNNGP's preprocessing
    assert info["test_acc_mean"] == pytest.approx(0.828) and info["val_acc_mean"] == pytest.approx(0.792)
