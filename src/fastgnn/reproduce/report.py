"""The reproduction's outputs: ``report.md``, one CSV per table, PNGs and ``summary.json``.

Built from the saved stage records only (never from this run's clock), so a rerun that skips
every finished stage writes the same report.  Accuracies are percentages (``units``).

Files under ``out``: ``report.md``; ``accuracy.csv``, ``kernel_time.csv``, ``sketch.csv``,
``gnn.csv``, ``stages.csv``; ``accuracy.png``, ``kernel_time.png``, ``sketch.png``;
``summary.json`` (the object :func:`write` returns).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from fastgnn import environment
from fastgnn.datasets.benchmarks import ALL_BENCHMARKS, PUBLICATIONS
from fastgnn.io import atomic_path, save_json, save_text
from fastgnn.reproduce.accuracy import choices_text, config_text

__all__ = ["write", "summary", "update_document", "check_document", "DOC_BEGIN", "DOC_END"]

STAGES = ("accuracy", "kernel_time", "sketch", "gnn")

#: The block of a Markdown document that :func:`update_document` rewrites (``--update-doc``).
DOC_BEGIN = ("<!-- fastgnn reproduce: begin (written by `fastgnn reproduce --update-doc`; "
             "edits here are overwritten) -->")
DOC_END = "<!-- fastgnn reproduce: end -->"


def write(out, records: list, skipped: list, settings, *, gnn: bool = False) -> dict:
    """Write every file from the per-dataset ``records`` (``{stage: stage record}``); return the summary."""
    out = Path(out)
    s = summary(records, skipped, settings)
    s["report"] = str(out / "report.md")
    s["figures"] = [str(p) for p in _figures(out, s)]
    for table in ("accuracy", "kernel_time", "sketch", "gnn", "stages"):
        _write_csv(out / f"{table}.csv", s[table])
    save_text(out / "report.md", markdown(s, gnn=gnn))
    save_json(out / "summary.json", s)
    return s


def summary(records: list, skipped: list, settings) -> dict:
    """The JSON object of ``fastgnn reproduce --json``: flat rows per table."""
    acc, kt, sk, gn, stages = [], [], [], [], []
    for rec in records:
        name = rec["dataset"]
        a = rec["accuracy"]["result"]
        acc.append(a)
        k = rec["kernel_time"]["result"] if rec.get("kernel_time") else {"methods": []}
        for m in k["methods"]:
            kt.append({"dataset": name, "config": k["config"], "graphs": k["graphs"], "graph_pairs": k["graph_pairs"],
                       **m, "model_selection_seconds": a["model_selection_seconds"],
                       "search_kernel_seconds": a["kernel_seconds"]})
        if rec.get("sketch"):
            sk.extend({"dataset": name, "config": rec["sketch"]["result"]["config"], **r}
                      for r in rec["sketch"]["result"]["rows"])
        if rec.get("gnn"):
            gn.extend({"dataset": name, **r, "gntk_paper_protocol": a["paper_protocol"],
                       "gntk_seconds": a["kernel_seconds"] + a["model_selection_seconds"]}
                      for r in rec["gnn"]["result"]["rows"])
        stages.extend({"stage": st, "dataset": name, "seconds": rec[st]["seconds"], "finished": rec[st]["finished"],
                       "resumed": rec[st].get("resumed", False)} for st in STAGES if rec.get(st))
    totals = {st: sum(r["seconds"] for r in stages if r["stage"] == st) for st in STAGES}
    return {"units": "percent", "accuracy": acc, "kernel_time": kt, "sketch": sk, "gnn": gn, "stages": stages,
            "stage_seconds": totals, "skipped": list(skipped), "settings": settings.to_dict(),
            "versions": _versions()}


def markdown(s: dict, *, gnn: bool = False) -> str:
    """``report.md``'s text."""
    st = s["settings"]
    grid = _grid_text(st["grid"]) if st["grid"] else "the GNTK paper's 60 configurations"
    lines = ["# The GNTK paper's tables, reproduced by `fastgnn reproduce`", "",
             f"{'Quick run (`--quick`)' if st['quick'] else 'Full run'}: grid {grid}; every configuration screened "
             f"under the paper protocol, the best {st['refine_top']} refined under both protocols; "
             f"{_c_text(st['C_grid'])}. "
             f"Versions: {', '.join(f'{k} {v}' for k, v in s['versions'].items())}.", ""]
    if s["skipped"]:
        lines += ["Skipped: " + "; ".join(f"{r['dataset']} ({r['reason']})" for r in s["skipped"]) + ".", ""]
    lines += _accuracy_section(s) + _kernel_section(s)
    if s["sketch"]:
        lines += _sketch_section(s)
    if gnn or s["gnn"]:
        lines += _gnn_section(s)
    lines += _stage_section(s)
    lines += ["Figures: " + ", ".join(f"![{Path(p).stem}]({Path(p).name})" for p in s["figures"]), ""]
    return "\n".join(lines)


def update_document(path, s: dict, *, source: str = "") -> Path:
    """Rewrite the block between :data:`DOC_BEGIN` and :data:`DOC_END` in the Markdown file ``path``
    with the accuracy table and the stage times of the summary ``s`` (``source``: a line saying
    where the report lives; headings one level down); the rest of the file is kept.  Written
    atomically.  Raises as :func:`check_document`.
    """
    head, tail = check_document(path)
    body = ([source, ""] if source else []) + _accuracy_section(s) + _stage_section(s)
    body = ["#" + line if line.startswith("#") and line.lstrip("#").startswith(" ") else line for line in body]
    save_text(path, head + "\n".join([DOC_BEGIN, "", *body, DOC_END]) + tail)
    return Path(path)


def check_document(path) -> tuple:
    """The text of ``path`` before :data:`DOC_BEGIN` and after :data:`DOC_END`.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file lacks the two markers, or holds either more than once, or in the
            wrong order (the message names the file).
    """
    path = Path(path)
    text = path.read_text()
    begins, ends = text.count(DOC_BEGIN), text.count(DOC_END)
    if begins != 1 or ends != 1 or text.index(DOC_BEGIN) > text.index(DOC_END):
        raise ValueError(f"{path}: expected one line {DOC_BEGIN!r} and, after it, one line {DOC_END!r} around "
                         f"the block to regenerate; found {begins} and {ends}")
    head, rest = text.split(DOC_BEGIN, 1)
    return head, rest.split(DOC_END, 1)[1]


def _stage_section(s) -> list:
    lines = ["## Wall time of each stage", "",
             "| stage | " + " | ".join(r["dataset"] for r in s["accuracy"]) + " | total |",
             "|---|" + "---|" * (len(s["accuracy"]) + 1)]
    for stage in STAGES:
        by = {r["dataset"]: r["seconds"] for r in s["stages"] if r["stage"] == stage}
        if by:
            lines.append(f"| {stage} | " + " | ".join(_s(by.get(r["dataset"])) for r in s["accuracy"])
                         + f" | {_s(s['stage_seconds'][stage])} |")
    inner = [r for r in s["accuracy"] if r.get("search_stage_seconds")]
    if inner:
        parts = list(dict.fromkeys(k for r in inner for k in r["search_stage_seconds"]))
        lines += ["", "Inside the accuracy stage (the search's own stages):", "",
                  "| dataset | " + " | ".join(parts) + " |", "|---" * (len(parts) + 1) + "|"]
        lines += [f"| {r['dataset']} | " + " | ".join(_s(r["search_stage_seconds"].get(p)) for p in parts) + " |"
                  for r in inner]
    spread = [r for r in s["accuracy"] if _spread_over_runs(r)]
    if spread:
        parts = list(dict.fromkeys(k for r in spread for k in r["search_work_seconds"]))
        lines += ["", "Searches resumed across runs (the table above counts the last run only): what each stage's "
                  "results took to make, summed over the runs that made them:", "",
                  "| dataset | " + " | ".join(parts) + " | total |", "|---" * (len(parts) + 2) + "|"]
        lines += [f"| {r['dataset']} | " + " | ".join(_s(r["search_work_seconds"].get(p)) for p in parts)
                  + f" | {_s(sum(r['search_work_seconds'].values()))} |" for r in spread]
    lines += ["", "Seconds, wall clock, of the run that finished each stage (a rerun skips finished stages "
              "and reports the saved times).", ""]
    return lines


def _spread_over_runs(row) -> bool:
    """Whether a search's results were made in earlier runs too: a stage's recorded work exceeds its wall time
    (in a run that made everything, each stage's wall time holds its work, so it is never below it)."""
    work, wall = row.get("search_work_seconds") or {}, row.get("search_stage_seconds") or {}
    return any(v - (wall.get(k) or 0.0) > max(1e-3, 0.05 * v) for k, v in work.items())


def _accuracy_section(s) -> list:
    """The accuracy table of the paper's sets, then (where any ran) that of the sets beyond it, and what their
    columns mean."""
    rows = s["accuracy"]
    paper = [r for r in rows if r["paper"] is not None]
    beyond = [r for r in rows if r["paper"] is None]
    fully = any("fully_nested" in r for r in rows)
    lines = ["## Accuracy (%, 10 folds)", ""]
    if paper or not beyond:
        lines += _paper_table(paper, fully)
    if beyond:
        lines += _beyond_table(beyond, fully)
    lines += ["Mean ± population std over the 10 given folds. *Paper protocol*: the (normalisation, C) with "
              "the best mean test accuracy, as the GNTK authors' script (optimistic: chosen on the test folds), "
              "and the configuration with the best such number. *Nested*: that configuration, C and the "
              "normalisation chosen by an inner CV on each training fold."
              + (" *Fully nested*: the configuration chosen inside each training fold as well." if fully else "")
              + (" *Beyond the paper*: sets the GNTK paper did not run, searched and selected the same way; "
                 "*reduced* grids are those of the sets whose whole grid takes hours per kernel pass on 2 cores "
                 "(`fastgnn.reproduce.settings.REDUCED_GRIDS`)." if beyond else ""),
              ""]
    return lines + _published_table(rows) + _chosen(rows)


def _published_table(rows) -> list:
    """Other methods' published accuracies (:attr:`fastgnn.datasets.benchmarks.Benchmark.published`) for the sets
    of ``rows`` that have any: one column per method, the sources below."""
    by_name = {b.name: b for b in ALL_BENCHMARKS}
    found = [(r["dataset"], by_name[r["dataset"]].published) for r in rows
             if r["dataset"] in by_name and by_name[r["dataset"]].published]
    if not found:
        return []
    methods = list(dict.fromkeys(p.method for _, published in found for p in published))
    sources = list(dict.fromkeys(p.source for _, published in found for p in published))
    lines = ["### Published figures of other methods", "",
             "| dataset | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
    for name, published in found:
        cell = {p.method: f"{p.mean:.1f} ± {p.std:.1f} ({p.source})" for p in published}
        lines.append(f"| {name} | " + " | ".join(cell.get(m, "-") for m in methods) + " |")
    return lines + ["", "Their own folds and protocols, so beside ours, not comparable digit for digit: "
                    + "; ".join(f"{k}: {PUBLICATIONS[k]}" for k in sources) + ".", ""]


def _protocol_cells(r, fully: bool) -> list:
    """A row's paper-protocol and nested accuracies (and fully nested, with ``fully``), as table cells."""
    return [_pm(r, "paper_protocol"), _pm(r, "nested")] + ([_pm(r, "fully_nested")] if fully else [])


def _paper_table(rows, fully: bool) -> list:
    head = "| dataset | paper (GNTK) | fastgnn, paper protocol | nested |" + (" fully nested |" if fully else "")
    lines = [head + " difference | configuration (L, R, scale, jk; C, normalisation) "
             "| refined / screened |", "|---" * (7 + fully) + "|"]
    for r in rows:
        difference = "-" if r["difference"] is None else f"{round(r['difference'], 2) + 0.0:+.2f}"  # no "-0.00"
        cells = [r["dataset"], f"{r['paper']:.1f} ± {r['paper_std']:.1f}", *_protocol_cells(r, fully), difference,
                 config_text(r["config"]), f"{r['refined']}/{r['configurations']}"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def _beyond_table(rows, fully: bool) -> list:
    """The sets the GNTK paper did not run: no paper column; the grid each searched and the normalisations its
    SVMs chose among, where not the run's."""
    lines = ["### Beyond the paper", "",
             "| dataset | fastgnn, paper protocol | nested |" + (" fully nested |" if fully else "")
             + " configuration (L, R, scale, jk; C, normalisation) | refined / screened | grid |",
             "|---" * (6 + fully) + "|"]
    for r in rows:
        grid = f"reduced: {_grid_text(r['grid'])}" if r.get("grid") else "the run's"
        if r.get("normalizations"):
            grid += f"; {', '.join(r['normalizations'])} Gram only"
        cells = [r["dataset"], *_protocol_cells(r, fully), config_text(r["config"]),
                 f"{r['refined']}/{r['configurations']}", grid]
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def _chosen(rows) -> list:
    chosen = [f"{r['dataset']}: {choices_text(r['fully_nested_choices'])}" for r in rows
              if r.get("fully_nested_choices")]
    return ["Configurations the folds chose (fully nested): " + " | ".join(chosen) + ".", ""] if chosen else []


def _kernel_section(s) -> list:
    rows = s["kernel_time"]
    methods = list(dict.fromkeys(r["method"] for r in rows))
    names = list(dict.fromkeys(r["dataset"] for r in rows))
    lines = ["## Kernel time (seconds, whole Gram)", "",
             "| dataset | configuration | " + " | ".join(methods) + " | model selection |",
             "|---" * (len(methods) + 3) + "|"]
    for name in names:
        by = {r["method"]: r for r in rows if r["dataset"] == name}
        first = next(iter(by.values()))
        cells = [name, config_text(first["config"])]
        cells += [_s(by[m]["seconds"]) + ("*" if by[m]["how"].startswith("extrapolated") else "")
                  if m in by else "-" for m in methods]
        cells.append(_s(first["model_selection_seconds"]))
        lines.append("| " + " | ".join(cells) + " |")
    sample = next((r for r in rows if r["how"].startswith("extrapolated")), None)
    lines += ["", "\\* extrapolated: the per-pair algorithms (kron, the GNTK paper's, O(N⁴) per pair; decoupled, "
              "O(N³); sketch, O(N² b)) are timed on a seeded sample of graph pairs"
              + (f" ({sample['how']} on {sample['dataset']}, for instance)" if sample else "")
              + ", and the mean per pair × n(n+1)/2 plus the graphs' preparation is reported. batched: "
              "`GNTK().fit_transform` measured whole. Model selection: the search's SVM time "
              "(every configuration screened, the best refined under both protocols).", ""]
    notes = [f"{r['dataset']}, {r['method']}: {r['note']}" for r in rows if r["note"] and r["method"] != "batched"]
    if notes:
        lines += ["Notes: " + "; ".join(notes) + ".", ""]
    return lines


def _sketch_section(s) -> list:
    lines = ["## Sketch size b (batched sketched kernel)", "",
             "| dataset | b | kernel s | kernel error | paper protocol | nested |", "|---|---|---|---|---|---|"]
    for r in s["sketch"]:
        lines.append(f"| {r['dataset']} | {'exact' if r['b'] is None else r['b']} | {_s(r['seconds'])} | "
                     f"{r['kernel_error']:.2e} | {_pm(r, 'paper_protocol')} | {_pm(r, 'nested')} |")
    lines += ["", "Kernel error: the largest entry difference from the exact Gram over its largest entry. "
              "A graph of at most b nodes is aggregated exactly.", ""]
    return lines


def _gnn_section(s) -> list:
    lines = ["## GNNs beside the GNTK", ""]
    if not s["gnn"]:
        return lines + ["No GNN results yet.", ""]
    lines += ["| dataset | model | best epoch (GIN protocol) | last epoch | training s | epochs |",
              "|---|---|---|---|---|---|"]
    for name in dict.fromkeys(r["dataset"] for r in s["gnn"]):
        rows = [r for r in s["gnn"] if r["dataset"] == name]
        for r in rows:
            lines.append(f"| {name} | {r['model']} | {_pm(r, 'best_epoch')} | {_pm(r, 'final')} | "
                         f"{_s(r['train_seconds'])} | {r['epochs']} |")
        lines.append(f"| {name} | GNTK | {rows[0]['gntk_paper_protocol']:.2f} (paper protocol) | | "
                     f"{_s(rows[0]['gntk_seconds'])} (kernels + model selection) | |")
    return lines + [""]


def _figures(out: Path, s: dict) -> list:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    paths = []
    if s["accuracy"]:
        acc = s["accuracy"]
        x = np.arange(len(acc))
        fig, ax = plt.subplots(figsize=(max(5, 1.3 * len(acc) + 2), 4))
        series = [("paper", "paper (GNTK)"), ("paper_protocol", "fastgnn, paper protocol"), ("nested", "nested"),
                  ("fully_nested", "fully nested")]
        series = [(k, label) for k, label in series  # no empty slots: the paper's column only where it has a figure
                  if k in ("paper_protocol", "nested") or any(r.get(k) is not None for r in acc)]
        w = 0.8 / len(series)
        for i, (key, label) in enumerate(series):
            vals = [np.nan if r.get(key) is None else r[key] for r in acc]
            errs = [0 if r.get(f"{key}_std") is None else r[f"{key}_std"] for r in acc]
            ax.bar(x + (i - (len(series) - 1) / 2) * w, vals, w, yerr=errs, capsize=2, label=label)
        ax.set_xticks(x, [r["dataset"] for r in acc])
        ax.set_ylabel("10-fold accuracy (%)")
        ax.set_ylim(0, 100)
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=len(series))
        ax.set_title("GNTK accuracy: the paper against fastgnn" if series[0][0] == "paper" else "GNTK accuracy")
        paths.append(_save(fig, out / "accuracy.png", plt))
    if s["kernel_time"]:
        rows = s["kernel_time"]
        names = list(dict.fromkeys(r["dataset"] for r in rows))
        methods = list(dict.fromkeys(r["method"] for r in rows)) + ["model selection"]
        fig, ax = plt.subplots(figsize=(max(6, 1.8 * len(names) + 3), 4.5))
        w = 0.8 / len(methods)
        for i, m in enumerate(methods):
            vals = []
            for name in names:
                by = [r for r in rows if r["dataset"] == name]
                if m == "model selection":
                    vals.append(by[0]["model_selection_seconds"])
                else:
                    hit = [r["seconds"] for r in by if r["method"] == m and r["seconds"] is not None]
                    vals.append(hit[0] if hit else np.nan)
            hatch = "//" if m not in ("batched", "model selection") else None
            ax.bar(np.arange(len(names)) + (i - (len(methods) - 1) / 2) * w, vals, w, label=m, hatch=hatch)
        ax.set_yscale("log")
        ax.set_xticks(np.arange(len(names)), names)
        ax.set_ylabel("seconds (hatched: extrapolated from sampled pairs)")
        ax.legend(fontsize=7, ncol=2)
        ax.set_title("Whole-Gram time by algorithm, and the model selection beside it")
        paths.append(_save(fig, out / "kernel_time.png", plt))
    if s["sketch"]:
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
        for name in dict.fromkeys(r["dataset"] for r in s["sketch"]):
            rows = [r for r in s["sketch"] if r["dataset"] == name]
            sk = [r for r in rows if r["b"] is not None]
            ex = next(r for r in rows if r["b"] is None)
            bs = [r["b"] for r in sk]
            for key, ls in (("paper_protocol", "o-"), ("nested", "s--")):
                line, = a1.plot(bs, [r[key] for r in sk], ls, label=f"{name} {key.replace('_', ' ')}")
                a1.axhline(ex[key], color=line.get_color(), lw=0.8, ls=":")
            line, = a2.plot(bs, [r["seconds"] for r in sk], "o-", label=name)
            a2.axhline(ex["seconds"], color=line.get_color(), lw=0.8, ls=":")
        for ax, lab in ((a1, "10-fold accuracy (%)"), (a2, "batched Gram seconds")):
            ax.set_xscale("log", base=2)
            ax.set_xlabel("sketch size b")
            ax.set_ylabel(lab)
            ax.legend(fontsize=7)
        fig.suptitle("Sketched GNTK against b (dotted: exact kernel)")
        paths.append(_save(fig, out / "sketch.png", plt))
    return paths


def _save(fig, path: Path, plt) -> Path:
    fig.tight_layout()
    with atomic_path(path, ".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png", metadata={"Software": None})
    plt.close(fig)
    return path


def _write_csv(path: Path, rows: list) -> None:
    cols = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow([_cell(r.get(c)) for c in cols])
    save_text(path, buf.getvalue())


def _cell(v):
    if v is None:
        return ""
    if isinstance(v, dict):
        return config_text(v) if "num_layers" in v else ";".join(f"{k}={x}" for k, x in v.items())
    if isinstance(v, list):
        return ";".join(str(x) for x in v)
    return v


def _pm(r: dict, key: str) -> str:
    if r.get(key) is None:
        return "-"
    std = r.get(f"{key}_std")
    return f"{r[key]:.2f}" + ("" if std is None else f" ± {std:.2f}")


def _c_text(c_grid) -> str:
    if not c_grid:
        return "the authors' 120 values of C, 1e-2 to 1e4"
    return f"{len(c_grid)} values of C, {min(c_grid):.3g} to {max(c_grid):.3g}"


def _grid_text(grid: dict) -> str:
    """``"num_layers {2, 3} × num_mlp_layers {1} × ..."``."""
    return " × ".join(f"{k} {{{', '.join(str(v) for v in vals)}}}" for k, vals in grid.items())


def _s(x) -> str:
    if x is None:
        return "-"
    return f"{x:.3g}" if x < 100 else f"{x:.0f}"


def _versions() -> dict:
    v, m = environment.versions(), environment.machine()
    return {**{k: v[k] for k in ("fastgnn", "python", "torch", "numpy", "scikit-learn")},
            "machine": f"{m['machine']}, {m['cpus']} CPUs"}
