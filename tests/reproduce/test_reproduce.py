"""``fastgnn reproduce``: its JSON, its files, resuming, skipping, and its numbers against independent ones.

One run on a small generated dataset (30 graphs, a 2-configuration grid, tiny stage sizes) is
shared by most tests (module fixture, through the CLI with ``--quick`` whose preset is shrunk);
the resume tests rerun into copies of its folder.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
from functools import partial

import numpy as np
import pytest

import fastgnn.datasets
from fastgnn.cli import main
from fastgnn.reproduce import Settings, accuracy, gnn, kernel_time, reproduce, sketch
from fastgnn.reproduce.kernel_time import sample_pairs
from fastgnn.reproduce.report import DOC_BEGIN, DOC_END

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
GRID = {"num_layers": (2, 3), "num_mlp_layers": (1,), "scale": ("uniform",), "jk": (True,)}
C_GRID = (0.1, 1.0, 10.0, 100.0)
QUICK = Settings.quick_run  # the real preset (the module fixture patches it)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def small_data():
    return fastgnn.datasets.synthetic(30, min_nodes=5, max_nodes=12, seed=1)


def tiny_settings(**changes) -> Settings:
    base = dict(datasets=("synthetic",), grid=GRID, refine_top=1, C_grid=C_GRID, sample_pairs=6, pair_seconds=5.0,
                pair_sketch_sizes=(4,), sketch_datasets=("synthetic",), sketch_sizes=(4,), gnn_models=("gin",),
                gnn_epochs=1, fully_nested=True)
    return QUICK(**{**base, **changes})


def shrink_quick_preset(mp):
    """``--quick`` runs :func:`tiny_settings` on :func:`small_data` (as ``synthetic``)."""
    mp.setattr(Settings, "quick_run", classmethod(lambda cls, **kw: tiny_settings(**kw)))
    mp.setattr(fastgnn.datasets, "synthetic", partial(fastgnn.datasets.synthetic, 30, min_nodes=5, max_nodes=12,
                                                      seed=1))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """``fastgnn reproduce --quick --gnn --fully-nested --json --datasets synthetic NCI1`` (NCI1 absent),
    tiny preset."""
    out = tmp_path_factory.mktemp("reproduce")
    empty = tmp_path_factory.mktemp("no-data")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("FASTGNN_DATA", raising=False)
        mp.setenv("FASTGNN_CACHE", str(empty / "cache"))
        shrink_quick_preset(mp)
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            code = main(["reproduce", "--quick", "--gnn", "--fully-nested", "--json", "--datasets", "synthetic", "NCI1",
                         "--data-dir", str(empty), "--out", str(out)])
    assert code == 0
    return out, json.loads(buf.getvalue()), empty


def test_json_schema(run):
    out, s, _ = run
    assert s["units"] == "percent"
    (row,) = s["accuracy"]
    for key in ("dataset", "paper", "paper_protocol", "nested", "config"):
        assert key in row
    assert row["dataset"] == "synthetic" and row["paper"] is None  # no published number for it
    assert 0 <= row["nested"] <= 100 and 0 <= row["paper_protocol"] <= 100
    assert row["paper_protocol"] > 1  # percent, not a fraction (a fraction of a 2-class set would be <= 1)
    assert set(row["config"]) >= {"num_layers", "num_mlp_layers", "scale", "jk", "C", "normalization"}
    assert row["configurations"] == 2 and row["refined"] == 1
    # fully nested (the search chose a configuration of the grid inside each of the 10 folds)
    assert len(row["fully_nested_choices"]) == 10
    assert {c["num_layers"] for c in row["fully_nested_choices"]} <= {2, 3}
    assert 0 <= row["fully_nested"] <= 100
    assert "fully nested" in (out / "report.md").read_text()
    assert "| synthetic | " in (out / "report.md").read_text().split("the search's own stages")[1]
    assert {r["stage"] for r in s["stages"]} == {"accuracy", "kernel_time", "sketch", "gnn"}
    assert all(r["seconds"] > 0 for r in s["stages"])
    assert s["stage_seconds"]["accuracy"] == pytest.approx(sum(r["seconds"] for r in s["stages"]
                                                               if r["stage"] == "accuracy"))
    assert [r["model"] for r in s["gnn"]] == ["gin"] and 0 <= s["gnn"][0]["best_epoch"] <= 100
    assert s["report"] == str(out / "report.md")


def test_paper_protocol_matches_an_independent_evaluation(run):
    """The row's accuracy equals svm_cv of the Gram GNTK computes directly at the reported configuration."""
    from fastgnn import GNTK
    from fastgnn.evaluate import svm_cv

    row = run[1]["accuracy"][0]
    c = row["config"]
    data = small_data()
    gram = GNTK(num_layers=c["num_layers"], num_mlp_layers=c["num_mlp_layers"], scale=c["scale"], jk=c["jk"],
                progress=False).fit_transform(data)
    res = svm_cv(gram, data.y, data.folds, protocol="paper", C_grid=np.array(C_GRID))
    assert row["paper_protocol"] == pytest.approx(100 * res.mean, abs=1e-9)
    assert c["C"] == pytest.approx(res.C) and c["normalization"] == res.normalization
    # the configuration found is the better of the two under the same protocol
    other = GNTK(num_layers=5 - c["num_layers"], num_mlp_layers=1, progress=False).fit_transform(data)
    assert 100 * svm_cv(other, data.y, data.folds, protocol="paper", C_grid=np.array(C_GRID)).mean <= \
        row["paper_protocol"] + 1e-9


def test_missing_dataset_is_skipped_with_a_reason(run):
    out, s, _ = run
    assert [r["dataset"] for r in s["skipped"]] == ["NCI1"]
    assert "not found" in s["skipped"][0]["reason"]
    assert "NCI1 (not found" in (out / "report.md").read_text()


def test_extrapolated_times_are_labelled(run):
    rows = {r["method"]: r for r in run[1]["kernel_time"]}
    assert set(rows) == {"kron", "decoupled", "sketch b=4", "batched"}
    pairs = rows["batched"]["graph_pairs"]
    assert pairs == 30 * 31 // 2
    for m in ("kron", "decoupled", "sketch b=4"):
        r = rows[m]
        assert r["how"] == f"extrapolated from 6 of {pairs} pairs" and r["pairs_timed"] == 6
        assert r["seconds"] == pytest.approx(r["seconds_per_pair"] * pairs + r["prepare_seconds"])
    assert rows["batched"]["how"] == "measured"
    report = (run[0] / "report.md").read_text()
    assert "extrapolated" in report and re.search(r"\| synthetic \| L=\d, R=1, uniform, jk \| [\d.e+-]+\* \|", report)


def test_files_written(run):
    out, s, _ = run
    for name in ("report.md", "summary.json", "accuracy.csv", "kernel_time.csv", "sketch.csv", "gnn.csv",
                 "stages.csv"):
        assert (out / name).is_file(), name
    for name in ("accuracy.png", "kernel_time.png", "sketch.png"):
        assert (out / name).read_bytes()[:8] == PNG_MAGIC
    header = (out / "accuracy.csv").read_text().splitlines()[0].split(",")
    assert {"dataset", "paper", "paper_protocol", "nested", "config"} <= set(header)
    kt = (out / "kernel_time.csv").read_text()
    assert "extrapolated from 6 of 465 pairs" in kt and "measured" in kt
    sk = [r for r in s["sketch"]]
    assert [r["b"] for r in sk] == [None, 4]
    assert sk[0]["kernel_error"] == 0 and sk[1]["kernel_error"] > 0  # 4 < 12 nodes: a real sketch
    assert not list(out.glob("**/.*"))  # no temporary file left behind
    report = (out / "report.md").read_text()
    for section in ("## Accuracy", "## Kernel time", "## Sketch size b", "## GNNs beside the GNTK", "## Wall time"):
        assert section in report


def test_rerun_skips_finished_stages_and_writes_the_same_report(run, tmp_path, monkeypatch):
    out = tmp_path / "again"
    shutil.copytree(run[0], out)
    before = (out / "report.md").read_text()
    empty = run[2]  # the same search folders as the first run: the same skip line
    monkeypatch.delenv("FASTGNN_DATA", raising=False)
    monkeypatch.setenv("FASTGNN_CACHE", str(empty / "cache"))

    def fail(*a, **k):
        raise AssertionError("a finished stage ran again")

    for mod in (accuracy, kernel_time, sketch, gnn):
        monkeypatch.setattr(mod, "run", fail)
    lines = []
    s = reproduce([small_data(), "NCI1"], data_dir=empty, out=out, settings=tiny_settings(), gnn=True,
                  progress=False, log=lines.append)
    assert (out / "report.md").read_text() == before
    assert all(r["resumed"] for r in s["stages"]) and len(s["stages"]) == 4
    assert sum("finished earlier" in line for line in lines) == 4


def test_interrupted_stage_runs_again(run, tmp_path, monkeypatch):
    out = tmp_path / "interrupted"
    shutil.copytree(run[0], out)
    (out / "stages" / "sketch" / "synthetic.json").unlink()  # as if killed inside the sketch stage
    real_sketch = sketch.run

    def fail(*a, **k):
        raise AssertionError("a finished stage ran again")

    for mod in (accuracy, kernel_time, gnn):
        monkeypatch.setattr(mod, "run", fail)
    calls = []
    monkeypatch.setattr(sketch, "run", lambda *a, **k: calls.append(1) or real_sketch(*a, **k))
    s = reproduce([small_data()], out=out, settings=tiny_settings(), gnn=True, progress=False, log=None)
    assert calls == [1]
    assert {r["stage"]: r["resumed"] for r in s["stages"]} == {"accuracy": True, "kernel_time": True,
                                                               "sketch": False, "gnn": True}
    assert [r["b"] for r in s["sketch"]] == [None, 4]


def test_stage_interrupted_by_an_error_leaves_no_result(tmp_path, monkeypatch):
    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(kernel_time, "run", boom)
    settings = tiny_settings(sketch_datasets=(), C_grid=(1.0,))
    with pytest.raises(KeyboardInterrupt):
        reproduce([small_data()], out=tmp_path, settings=settings, progress=False, log=None)
    assert (tmp_path / "stages" / "accuracy" / "synthetic.json").is_file()
    assert not (tmp_path / "stages" / "kernel_time").exists()


def test_changed_settings_rerun_the_stage(run, tmp_path, monkeypatch):
    out = tmp_path / "changed"
    shutil.copytree(run[0], out)

    def fail(*a, **k):
        raise AssertionError("a stage whose settings did not change ran again")

    for mod in (accuracy, sketch, gnn):
        monkeypatch.setattr(mod, "run", fail)
    s = reproduce([small_data()], out=out, settings=tiny_settings(sample_pairs=4), gnn=True, progress=False,
                  log=None)
    assert {r["stage"]: r["resumed"] for r in s["stages"]}["kernel_time"] is False
    assert all(r["pairs_timed"] == 4 for r in s["kernel_time"] if r["method"] != "batched")


def test_other_data_under_the_same_name_is_not_served(run, tmp_path, monkeypatch):
    out = tmp_path / "other"
    shutil.copytree(run[0], out)
    class Ran(Exception):
        pass

    def ran(*a, **k):
        raise Ran

    monkeypatch.setattr(accuracy, "run", ran)
    other = fastgnn.datasets.synthetic(30, min_nodes=5, max_nodes=12, seed=2)
    with pytest.raises(Ran):  # the saved accuracy of the seed-1 graphs is not served for these
        reproduce([other], out=out, settings=tiny_settings(), progress=False, log=None)


@pytest.mark.parametrize("n,k", [(1, 5), (7, 28), (7, 10), (300, 50)])
def test_sample_pairs_uniform_without_replacement(n, k):
    pairs = sample_pairs(n, k, np.random.default_rng(0))
    assert pairs.shape == (min(k, n * (n + 1) // 2), 2)
    assert np.all(pairs[:, 0] <= pairs[:, 1]) and pairs.min() >= 0 and pairs.max() < n
    assert len({tuple(p) for p in pairs}) == len(pairs)
    if k >= n * (n + 1) // 2:  # all of them: exactly the upper triangle, diagonal included
        i, j = np.triu_indices(n)
        assert {tuple(p) for p in pairs} == set(zip(i.tolist(), j.tolist()))


def test_sample_pairs_hits_every_pair_equally_often():
    n, counts = 5, {}
    for seed in range(3000):
        for p in sample_pairs(n, 3, np.random.default_rng(seed)):
            counts[tuple(p)] = counts.get(tuple(p), 0) + 1
    freq = np.array(list(counts.values())) / 3000
    assert len(counts) == 15 and np.allclose(freq, 3 / 15, atol=0.03)  # diagonal and off-diagonal alike


def test_quick_preset_and_bad_refine_top(tmp_path):
    q = Settings.quick_run()
    assert q.datasets == ("MUTAG", "PTC") and q.quick
    assert q.grid == {"num_layers": (2, 3), "num_mlp_layers": (1,), "scale": ("uniform",), "jk": (True,)}
    assert Settings.full().grid is None and Settings.full().refine_top == 5
    with pytest.raises(ValueError, match="refine_top"):
        reproduce([], out=tmp_path, refine_top=0, log=None)


def test_help_mentions_every_flag(capsys):
    with pytest.raises(SystemExit):
        main(["reproduce", "--help"])
    out = capsys.readouterr().out
    for flag in ("--datasets", "--data-dir", "--out", "--quick", "--json", "--fully-nested", "--gnn", "--refine-top",
                 "--workers"):
        assert flag in out


def test_accuracy_row_in_percent_with_fully_nested():
    """The row of a search result under the issue's contract (fractions in, percentages out)."""
    from types import SimpleNamespace

    from fastgnn.reproduce.accuracy import choices_text, row

    best = {"num_layers": 2, "num_mlp_layers": 1, "scale": "uniform", "jk": True, "screen_mean": 0.9,
            "paper_mean": 0.9, "paper_std": 0.085, "paper_C": 6285.0, "paper_normalization": "raw",
            "nested_mean": 0.8889, "nested_std": 0.0786}
    worse = {**best, "num_layers": 3, "paper_mean": 0.85}
    folds = [{"num_layers": 2, "num_mlp_layers": 1, "scale": "uniform", "jk": True, "C": 1.0,
              "normalization": "raw"}] * 7 + [((3, 1, "uniform", True), "cosine", 10.0)] * 3
    res = SimpleNamespace(rows=[worse, best], best=lambda p: max([worse, best], key=lambda r: r[f"{p}_mean"]),
                          evaluated=lambda: [worse, best], kernel_seconds=1.5, eval_seconds=20.0,
                          stage_seconds={"kernels": 1.5, "screen": 5.0, "refine": 15.0, "fully_nested": 3.0},
                          fully_nested={"mean": 0.87, "std": 0.05, "fold_accuracies": [0.87] * 10, "choices": folds})
    r = row("MUTAG", res, fully_nested=True)
    assert (r["paper"], r["paper_std"]) == (90.0, 8.5)
    assert r["paper_protocol"] == pytest.approx(90.0) and r["nested"] == pytest.approx(88.89)
    assert r["fully_nested"] == pytest.approx(87.0) and r["fully_nested_std"] == pytest.approx(5.0)
    assert r["difference"] == pytest.approx(0.0, abs=1e-9)
    assert r["config"] == {"num_layers": 2, "num_mlp_layers": 1, "scale": "uniform", "jk": True, "C": 6285.0,
                           "normalization": "raw"}
    assert r["search_stage_seconds"]["fully_nested"] == 3.0
    assert r["fully_nested_choices"][-1] == {"num_layers": 3, "num_mlp_layers": 1, "scale": "uniform", "jk": True,
                                             "normalization": "cosine", "C": 10.0}
    assert choices_text(r["fully_nested_choices"]) == "L=2, R=1, uniform, jk ×7; L=3, R=1, uniform, jk ×3"
    assert "fully_nested" not in row("MUTAG", res, fully_nested=False)


@pytest.mark.slow
def test_quick_on_mutag_is_within_the_paper(tmp_path, shared_datasets):
    """MUTAG under the quick grid: the paper protocol within 1.5 points of the GNTK paper's 90.0, at the
    configuration docs/gntk-results.md found (L=2, R=1, uniform, jk), and every per-pair time extrapolated."""
    settings = QUICK(sketch_datasets=(), sample_pairs=10, pair_seconds=5.0)
    s = reproduce(["MUTAG"], data_dir=shared_datasets, out=tmp_path, settings=settings, progress=False, log=None)
    (row,) = s["accuracy"]
    assert abs(row["paper_protocol"] - 90.0) <= 1.5
    assert {k: row["config"][k] for k in ("num_layers", "num_mlp_layers", "scale", "jk")} == \
        {"num_layers": 2, "num_mlp_layers": 1, "scale": "uniform", "jk": True}
    how = {r["method"]: r["how"] for r in s["kernel_time"]}
    assert how.pop("batched") == "measured"
    assert all(h == "extrapolated from 10 of 17766 pairs" for h in how.values())


def test_report_gathers_datasets_finished_by_another_run(run, tmp_path):
    """Two processes sharing --out (NCI1 run alone beside the others): each report holds both datasets."""
    out = tmp_path / "shared-out"
    shutil.copytree(run[0], out)
    other = fastgnn.datasets.synthetic(30, min_nodes=5, max_nodes=12, seed=3, name="another")
    s = reproduce([other], out=out, settings=tiny_settings(sketch_datasets=()), progress=False, log=None)
    assert [r["dataset"] for r in s["accuracy"]] == ["another", "synthetic"]
    # the saved dataset keeps its figures; its stages are reported as resumed, this run's as run
    assert s["accuracy"][1] == run[1]["accuracy"][0]
    resumed = {(r["stage"], r["dataset"]): r["resumed"] for r in s["stages"]}
    assert resumed[("accuracy", "synthetic")] and not resumed[("accuracy", "another")]
    report = (out / "report.md").read_text()
    assert "| another |" in report and "| synthetic |" in report
    # a saved dataset made with other settings is left out
    s2 = reproduce([other], out=out, settings=tiny_settings(sketch_datasets=(), refine_top=2), progress=False,
                   log=None)
    assert [r["dataset"] for r in s2["accuracy"]] == ["another"]


def test_misspelt_dataset_fails_before_any_work(capsys, tmp_path, monkeypatch):
    def fail(*a, **k):
        raise AssertionError("a stage ran before the names were checked")

    monkeypatch.setattr(accuracy, "run", fail)
    code = main(["reproduce", "--datasets", "synthetic", "MUTAGG", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1 and "unknown dataset 'MUTAGG'" in err and "known names" in err
    assert not (tmp_path / "stages").exists()


def test_kron_pairs_too_large_are_estimated_or_said_not_run(tmp_path):
    """Kronecker pairs over the memory limit are not run: estimated from the run pairs by operator entries,
    or, when none fits, reported as not run (and the report still renders)."""
    import torch

    from fastgnn.reproduce import report

    data = small_data()
    config = {"num_layers": 2, "num_mlp_layers": 1, "scale": "uniform", "jk": True}
    nnz = np.array([int(torch.count_nonzero(g.adjacency(self_loops=True))) for g in data.graphs], dtype=float)
    pairs = sample_pairs(len(data), 12, np.random.default_rng(0))
    entries = nnz[pairs[:, 0]] * nnz[pairs[:, 1]]
    limit = float(np.median(entries)) * kernel_time.KRON_BYTES_PER_ENTRY
    base = dict(sample_pairs=12, pair_sketch_sizes=())
    r = kernel_time.run(data, config, tiny_settings(kron_max_bytes=limit, **base), progress=False, log=lambda s: None)
    kron = r["methods"][0]
    too_big = int((entries * kernel_time.KRON_BYTES_PER_ENTRY > limit).sum())
    assert 0 < too_big < 12 and kron["pairs_timed"] == 12 - too_big
    assert kron["how"] == f"extrapolated from 12 of {30 * 31 // 2} pairs" and f"{too_big} sampled pairs" in kron["note"]
    assert kron["seconds"] > kron["prepare_seconds"]
    none = kernel_time.run(data, config, tiny_settings(kron_max_bytes=1.0, **base), progress=False,
                           log=lambda s: None)["methods"][0]
    assert none["how"] == "not run" and none["seconds"] is None and none["pairs_timed"] == 0
    rec = {"stage": "kernel_time", "dataset": "synthetic", "seconds": 1.0, "finished": "", "resumed": False,
           "result": {**r, "methods": [none, *r["methods"][1:]]}}
    acc = {"stage": "accuracy", "dataset": "synthetic", "seconds": 1.0, "finished": "", "resumed": False,
           "result": {"dataset": "synthetic", "paper": None, "paper_std": None, "paper_protocol": 50.0,
                      "paper_protocol_std": 1.0, "nested": 50.0, "nested_std": 1.0, "difference": None,
                      "config": {**config, "C": 1.0, "normalization": "raw"}, "configurations": 1, "refined": 1,
                      "kernel_seconds": 1.0, "model_selection_seconds": 2.0, "search_stage_seconds": {}}}
    s = report.write(tmp_path, [{"dataset": "synthetic", "accuracy": acc, "kernel_time": rec}], [], tiny_settings())
    assert "| synthetic | L=2, R=1, uniform, jk | - |" in (tmp_path / "report.md").read_text()
    assert [m["how"] for m in s["kernel_time"]][0] == "not run"


def test_update_doc_rewrites_only_the_marked_block(run, tmp_path):
    """--update-doc: the text outside the markers is kept byte for byte; the block holds the
    report's accuracy rows (figures from the summary) and stage times; a second run writes the same."""
    from fastgnn.reproduce.report import update_document

    doc = tmp_path / "results.md"
    head, tail = "# Results\n\nkept text before\n\n", "\n\n## Kept after\n\nmore text\n"
    doc.write_text(head + DOC_BEGIN + "\nold table\n" + DOC_END + tail)
    summary = run[1]
    update_document(doc, summary, source="From somewhere.")
    text = doc.read_text()
    assert text.startswith(head + DOC_BEGIN) and text.endswith(DOC_END + tail)
    assert "old table" not in text and "From somewhere." in text
    row = next(line for line in text.splitlines() if line.startswith("| synthetic |"))
    assert f"{summary['accuracy'][0]['paper_protocol']:.2f}" in row
    cells = [c.strip() for c in row.strip("|").split("|")]
    header = next(line for line in text.splitlines() if line.startswith("| dataset |"))
    assert len(cells) == len(header.strip("|").split("|"))  # one cell per column
    config = summary["accuracy"][0]["config"]
    assert f"L={config['num_layers']}, R={config['num_mlp_layers']}" in row and cells[-2:] == ["1/2", "the run's"]
    assert "### Accuracy" in text and "### Wall time of each stage" in text and "\n## Accuracy" not in text
    assert "#### Beyond the paper" in text  # synthetic has no paper figure; headings all one level down
    update_document(doc, summary, source="From somewhere.")
    assert doc.read_text() == text


@pytest.mark.parametrize("body", ["no markers at all\n", f"{DOC_END}\n{DOC_BEGIN}\n"])
def test_update_doc_without_markers_fails_before_any_work(body, tmp_path, capsys):
    doc = tmp_path / "results.md"
    doc.write_text(body)
    out = tmp_path / "out"
    code = main(["reproduce", "--datasets", "MUTAG", "--out", str(out), "--update-doc", str(doc)])
    assert code == 1
    err = capsys.readouterr().err
    assert str(doc) in err and "fastgnn reproduce: begin" in err
    assert doc.read_text() == body and not out.exists()


def test_update_doc_through_the_cli(run, tmp_path):
    """A rerun over a finished --out with --update-doc computes nothing and fills the block."""
    out = tmp_path / "out"
    shutil.copytree(run[0], out)
    doc = tmp_path / "results.md"
    doc.write_text(f"before\n{DOC_BEGIN}\n{DOC_END}\nafter\n")
    with pytest.MonkeyPatch.context() as mp:
        shrink_quick_preset(mp)
        mp.setattr(accuracy, "run", lambda *a, **k: pytest.fail("a finished stage ran again"))
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            code = main(["reproduce", "--quick", "--gnn", "--fully-nested", "--datasets", "synthetic", "--out",
                         str(out), "--update-doc", str(doc)])
    assert code == 0
    text = doc.read_text()
    assert text.startswith("before\n") and text.endswith("\nafter\n") and "| synthetic |" in text
    assert f"updated {doc}" in buf.getvalue()


def _edit_accuracy(path):
    record = json.loads(path.read_text())
    record["result"]["paper_protocol"] = 99.9  # "PTC 99.90 %": an edited record was served
    path.write_text(json.dumps(record))


def _cut_short(path):
    path.write_text(path.read_text()[: len(path.read_text()) // 2])


@pytest.mark.parametrize("damage", [_edit_accuracy, _cut_short])
def test_an_edited_or_truncated_stage_record_is_not_served(run, tmp_path, monkeypatch, damage):
    """An edited stage JSON was served; a truncated one was reported as "made with other data or settings".  Now
    either runs the stage again with a warning naming the file and saying why."""
    out = tmp_path / "damaged"
    shutil.copytree(run[0], out)
    path = out / "stages" / "accuracy" / "synthetic.json"
    before = json.loads(path.read_text())["result"]
    damage(path)

    def fail(*a, **k):
        raise AssertionError("an intact stage ran again")

    for mod in (kernel_time, sketch, gnn):
        monkeypatch.setattr(mod, "run", fail)
    lines = []
    why = "digest" if damage is _edit_accuracy else "cut short"
    with pytest.warns(RuntimeWarning, match=f"synthetic.json: not used, .*{why}"):
        s = reproduce([small_data()], out=out, settings=tiny_settings(), gnn=True, progress=False, log=lines.append)
    assert {r["stage"]: r["resumed"] for r in s["stages"]}["accuracy"] is False
    assert not any("other data or settings" in line for line in lines)
    after = json.loads(path.read_text())["result"]
    assert {k: v for k, v in after.items() if "seconds" not in k} == {k: v for k, v in before.items()
                                                                     if "seconds" not in k}


def test_the_report_leaves_out_an_edited_record_of_another_run(run, tmp_path):
    """The report gathers the records other runs finished under ``out``: an edited one is left out, with a warning."""
    from fastgnn.reproduce.store import StageStore

    out = tmp_path / "gathered"
    shutil.copytree(run[0], out)
    _edit_accuracy(out / "stages" / "accuracy" / "synthetic.json")
    with pytest.warns(RuntimeWarning, match="synthetic.json: not used, its contents do not match its digest"):
        assert StageStore(out, log=None).load("accuracy", "synthetic") is None


_TWO_STORES = """
import sys, time, json
from fastgnn.reproduce.store import StageStore
store = StageStore(sys.argv[1], log=None)
while time.time() < float(sys.argv[2]):
    time.sleep(0.01)
ran = []
def stage():
    ran.append(1)
    time.sleep(1.5)
    return {"value": 42}
rec = store.run("accuracy", "synthetic", {"data": "d"}, stage)
print(json.dumps({"ran": len(ran), "result": rec["result"], "resumed": rec["resumed"]}))
"""


def test_two_runs_sharing_an_output_folder_compute_a_stage_once(tmp_path):
    """Two runs on one output folder each computed every stage; now the second waits for the first's record."""
    import subprocess
    import sys
    import time

    start = str(time.time() + 4)
    runs = [subprocess.Popen([sys.executable, "-c", _TWO_STORES, str(tmp_path), start], stdout=subprocess.PIPE,
                             text=True) for _ in range(2)]
    outs = [json.loads(r.communicate(timeout=60)[0]) for r in runs]
    assert sorted(o["ran"] for o in outs) == [0, 1] and sorted(o["resumed"] for o in outs) == [False, True]
    assert all(o["result"] == {"value": 42} for o in outs)


@pytest.mark.parametrize("stage", ["accuracy", "kernel_time", "sketch"])
def test_a_changed_kernel_default_changes_the_stage_key(stage, monkeypatch):
    """The stages compute the GNTK with the defaults of the parameters they do not set (the self-loop convention,
    say): a library whose default changed must not serve the results of the old one."""
    from fastgnn.gntk import GNTK

    before = Settings().stage_key(stage)
    monkeypatch.setitem(GNTK.__init__.__kwdefaults__, "compress", False)
    assert Settings().stage_key(stage) != before


def test_a_kernel_killed_half_way_resumes_from_its_checkpointed_tiles(run, tmp_path, monkeypatch):
    """The accuracy stage checkpoints its kernels' tiles under ``<out>/checkpoints``: with the stage record and
    the cached readouts gone (as when a run is killed inside a kernel), the rerun computes no tile again and
    finds the same accuracy."""
    from fastgnn.gntk import engine

    out = tmp_path / "killed"
    shutil.copytree(run[0], out)
    folders = sorted((out / "checkpoints").glob("gram-*"))
    assert folders and all(sorted(f.glob("r*_c*.*.npy")) for f in folders)
    (out / "stages" / "accuracy" / "synthetic.json").unlink()
    shutil.rmtree(out / "cache")

    def fail(*a, **k):
        raise AssertionError("a checkpointed tile was computed again")

    monkeypatch.setattr(engine, "compute_tile", fail)
    for mod in (kernel_time, sketch, gnn):
        monkeypatch.setattr(mod, "run", lambda *a, **k: pytest.fail("only the accuracy stage should run"))
    s = reproduce([small_data()], out=out, settings=tiny_settings(), gnn=True, progress=False, log=None)
    assert s["accuracy"][0]["paper_protocol"] == run[1]["accuracy"][0]["paper_protocol"]
    assert s["accuracy"][0]["config"] == run[1]["accuracy"][0]["config"]


def test_the_accuracy_table_splits_the_papers_sets_from_those_beyond(run):
    """A set with a paper figure goes into the paper's table (with its difference), one without into "Beyond the
    paper", which names a reduced grid and the normalisations where they are the set's own."""
    from fastgnn.reproduce.report import markdown

    summary = json.loads(json.dumps(run[1]))
    ours = summary["accuracy"][0]
    mutag = {**ours, "dataset": "MUTAG", "paper": 90.0, "paper_std": 8.5, "difference": ours["paper_protocol"] - 90.0}
    reddit = {**ours, "dataset": "REDDIT-BINARY", "grid": {"num_mlp_layers": [2], "scale": ["uniform"]},
              "normalizations": ["cosine"]}
    summary["accuracy"] = [mutag, reddit]
    text = markdown(summary).split("## Kernel time")[0]  # the accuracy section
    paper_part, beyond_part = text.split("### Beyond the paper")
    mutag_row = next(line for line in paper_part.splitlines() if line.startswith("| MUTAG |"))
    assert "90.0 ± 8.5" in mutag_row and f"{ours['paper_protocol'] - 90.0:+.2f}" in mutag_row
    assert "REDDIT-BINARY" not in paper_part and "| MUTAG |" not in beyond_part
    reddit_row = next(line for line in beyond_part.splitlines() if line.startswith("| REDDIT-BINARY |"))
    assert reddit_row.rstrip(" |").endswith("reduced: num_mlp_layers {2} × scale {uniform}; cosine Gram only")
    header = next(line for line in beyond_part.splitlines() if line.startswith("| dataset |"))
    assert len(reddit_row.strip("|").split("|")) == len(header.strip("|").split("|"))


def test_reduced_grids_and_normalizations_are_the_sets_own(monkeypatch, tmp_path):
    """The whole run searches REDDIT-BINARY and DD on their reduced grid (REDDIT and COLLAB on cosine Grams), the
    others on the settings' grid; the accuracy stage's key changes for those three only (the others' saved stages
    stay valid), and ``whole_grid`` (``--whole-grid``) drops the reduced grids."""
    from fastgnn.reproduce.settings import DATASET_NORMALIZATIONS, REDUCED_GRIDS

    full = Settings.full()
    assert full.grid_for("REDDIT-BINARY") == REDUCED_GRIDS["REDDIT-BINARY"] and full.grid_for("COLLAB") is None
    assert full.normalizations_for("REDDIT-BINARY") == DATASET_NORMALIZATIONS["REDDIT-BINARY"]
    assert full.normalizations_for("COLLAB") == ("cosine",)
    assert full.normalizations_for("DD") is None
    assert QUICK().normalizations_for("REDDIT-BINARY") == ("cosine",) and QUICK().grid_for("DD") == QUICK().grid
    assert full.stage_key("accuracy", "MUTAG") == full.stage_key("accuracy")
    assert full.stage_key("accuracy", "COLLAB")["normalizations"] == ["cosine"]
    assert full.stage_key("accuracy", "DD") != full.stage_key("accuracy")
    assert full.stage_key("accuracy", "REDDIT-BINARY")["normalizations"] == ["cosine"]

    seen = {}

    def fake_search(dataset, **kwargs):
        seen[dataset.name] = kwargs
        raise KeyboardInterrupt  # enough: the search's arguments are what is checked

    monkeypatch.setattr(accuracy, "gntk_search", fake_search)
    for name in ("REDDIT-BINARY", "MUTAG"):
        data = small_data()
        data.name = name
        with pytest.raises(KeyboardInterrupt):
            accuracy.run(data, full, cache_dir="unused")
    assert seen["REDDIT-BINARY"]["grid"] == {"num_mlp_layers": (2,), "scale": ("uniform",)}
    assert seen["REDDIT-BINARY"]["normalizations"] == ("cosine",)
    assert "grid" not in seen["MUTAG"] and "normalizations" not in seen["MUTAG"]
    data.name = "DD"
    for whole, grid in ((False, {"num_mlp_layers": (2,), "scale": ("uniform",)}), (True, None)):
        with pytest.raises(KeyboardInterrupt):
            reproduce([data], out=tmp_path / str(whole), settings=full, whole_grid=whole, progress=False, log=None)
        assert seen["DD"].get("grid") == grid


def test_the_accuracy_figure_has_no_empty_slot_for_a_paper_figure_none_has(run, tmp_path, monkeypatch):
    """Sets without a paper figure only: the figure's bars are fastgnn's two protocols, side by side on the tick."""
    from fastgnn.reproduce import report

    summary = json.loads(json.dumps(run[1]))
    for r in summary["accuracy"]:
        r.pop("fully_nested", None)
    bars, real_save = {}, report._save

    def save(fig, path, plt):
        bars[path.name] = [(p.get_x() + p.get_width() / 2, p.get_height()) for p in fig.axes[0].patches]
        return real_save(fig, path, plt)

    monkeypatch.setattr(report, "_save", save)
    report._figures(tmp_path, summary)
    n = len(summary["accuracy"])
    assert len(bars["accuracy.png"]) == 2 * n  # paper protocol and nested, no slot for the paper
    first_tick = [x for x, _ in bars["accuracy.png"][::n]]
    assert abs(sum(first_tick)) < 1e-9  # the two bars straddle the first tick


def test_a_search_resumed_on_another_machine_from_its_small_files_computes_no_pass(run, tmp_path, monkeypatch):
    """What a reproduction spread over sessions keeps in git: the stage records, the SVM curves and the readouts'
    metadata, not the readouts.  The rerun computes no pass, finds the same accuracy, and its report gives the
    work of the runs that made the results, beside the last run's wall time."""
    from fastgnn import GNTK

    out = tmp_path / "moved"
    shutil.copytree(run[0], out, ignore=shutil.ignore_patterns("checkpoints", "*.npy"))
    assert list((out / "cache").glob("*.npy.meta.json")) and list((out / "cache" / "svm").glob("*.npz"))
    (out / "stages" / "accuracy" / "synthetic.json").unlink()
    monkeypatch.setattr(GNTK, "readouts", lambda *a, **k: pytest.fail("a pass was computed again"))
    for mod in (kernel_time, sketch, gnn):
        monkeypatch.setattr(mod, "run", lambda *a, **k: pytest.fail("only the accuracy stage should run"))
    s = reproduce([small_data()], out=out, settings=tiny_settings(), gnn=True, progress=False, log=None)
    before, after = run[1]["accuracy"][0], s["accuracy"][0]
    assert (after["paper_protocol"], after["nested"], after["config"]) == \
        (before["paper_protocol"], before["nested"], before["config"])
    assert after["search_work_seconds"] == before["search_work_seconds"]
    assert after["kernel_seconds"] == 0 < before["kernel_seconds"]  # no pass computed in this run
    report = (out / "report.md").read_text()
    assert "Searches resumed across runs" in report
    from fastgnn.reproduce.report import _s

    total = sum(before["search_work_seconds"].values())
    assert any(x.startswith("| synthetic |") and x.endswith(f"| {_s(total)} |") for x in report.splitlines())


def test_published_figures_of_other_methods_sit_beside_the_sets_that_have_them():
    """Issue 22: the sets beyond the paper beside the published WL subtree and GIN figures, with their sources."""
    from fastgnn.datasets.benchmarks import PUBLICATIONS
    from fastgnn.reproduce.report import _accuracy_section

    def row(name, paper=None):
        return {"dataset": name, "paper": paper, "paper_std": 1.0 if paper else None, "paper_protocol": 70.0,
                "paper_protocol_std": 1.0, "nested": 69.0, "nested_std": 1.0,
                "difference": None if paper is None else 70.0 - paper, "configurations": 10, "refined": 5,
                "config": {"num_layers": 4, "num_mlp_layers": 2, "scale": "uniform", "jk": True, "C": 1.0,
                           "normalization": "cosine"}}

    text = "\n".join(_accuracy_section({"accuracy": [row("COLLAB", 83.6), row("REDDIT-BINARY"), row("DD"),
                                                     row("synthetic")]}))
    table = text.split("### Published figures of other methods")[1]
    assert "| dataset | WL subtree | GIN-0 | GIN |" in table
    assert "| REDDIT-BINARY | 81.0 ± 3.1 (Xu et al. 2019) | 92.4 ± 2.5 (Xu et al. 2019) | 89.9 ± 1.9 (Errica et al. " \
           "2020) |" in table
    assert "| DD | - | - | 75.3 ± 2.9 (Errica et al. 2020) |" in table
    assert "| synthetic |" not in table and all(v in table for v in PUBLICATIONS.values())
    no_refs = "\n".join(_accuracy_section({"accuracy": [row("synthetic")]}))
    assert "Published figures" not in no_refs


def test_a_search_made_in_one_run_is_not_called_resumed(run):
    """Each stage's wall time holds its work in a run that made everything: no "resumed across runs" table."""
    from fastgnn.reproduce.report import _spread_over_runs

    row = run[1]["accuracy"][0]
    assert row["search_work_seconds"] and not _spread_over_runs(row)
    assert "Searches resumed across runs" not in (run[0] / "report.md").read_text()
    assert _spread_over_runs({**row, "search_stage_seconds": {k: 0.0 for k in row["search_stage_seconds"]}})


@pytest.mark.parametrize("b", [None, 4])
def test_the_per_pair_preparation_keeps_only_the_sampled_graphs_and_equals_one_whole_preparation(b, monkeypatch):
    """The kernel-time stage prepares the graphs in chunks (REDDIT-BINARY's whole preparation held 7.9 GB) and
    keeps the sampled pairs' graphs only; each kept operand equals that of one preparation of all graphs."""
    import torch

    from fastgnn.gntk.pairwise import prepare_many
    from fastgnn.gntk.plan import plan_chunks

    graphs = list(small_data().graphs)
    config = {"num_layers": 3, "num_mlp_layers": 2, "scale": "degree", "jk": True}
    sizes = [g.num_nodes for g in graphs]
    limit = 3 * max(sizes) ** 2  # several chunks of a few graphs each
    monkeypatch.setattr(kernel_time, "PREPARE_CHUNK_BYTES", 8 * limit)
    chunks = plan_chunks([n * n for n in sizes], limit)  # the chunks _prepare makes
    assert len(chunks) > 3 and sorted(i for c in chunks for i in c) == list(range(len(graphs)))
    assert all(sum(sizes[i] ** 2 for i in c) <= limit for c in chunks)
    keep = np.unique(sample_pairs(len(graphs), 5, np.random.default_rng(3)))
    ops, seconds = kernel_time._prepare(graphs, config, b, 0, keep)
    whole = prepare_many(graphs, num_blocks=2, num_mlp_layers=2, scale="degree",
                         method="decoupled" if b is None else "sketch", sketch_size=b, sketch_kind="ams", seed=0,
                         dtype=torch.float64, device="cpu", compress=False)
    assert seconds > 0 and [i for i, op in enumerate(ops) if op is not None] == keep.tolist()
    for i in keep:
        torch.testing.assert_close(ops[i].a, whole[i].a, rtol=0, atol=0)
        for mine, theirs in zip(ops[i].diags, whole[i].diags, strict=True):
            torch.testing.assert_close(mine, theirs, rtol=1e-12, atol=0)
        if b is not None:
            torch.testing.assert_close(ops[i].sketch, whole[i].sketch, rtol=0, atol=0)

