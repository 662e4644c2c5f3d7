"""Stage ``gnn`` (``--gnn``): GCN and GIN graph classifiers beside the GNTK, per dataset.

:func:`fastgnn.train.experiment.run_graph_experiment` (the GIN paper's training: Adam, lr 0.01
halved every 50 epochs, batches of 32 graphs) on the dataset's 10 folds, one seed, one torch thread.  Accuracy in
percent: ``best_epoch`` is the GIN paper's protocol (the epoch with the best mean test accuracy,
chosen on the test folds, as the GNTK paper's GNN rows), ``final`` the last epoch's.

Cost: epochs x folds passes over the training graphs per model.
"""

from __future__ import annotations

from fastgnn.reproduce.kernel_time import one_torch_thread
from fastgnn.train.experiment import run_graph_experiment

__all__ = ["run"]


def run(dataset, settings, *, progress=True, log=print) -> dict:
    """Rows ``{model, best_epoch, best_epoch_std, final, final_std, train_seconds, seconds_per_epoch, epochs}``."""
    rows = []
    for model in settings.gnn_models:
        with one_torch_thread():  # batches of 32 small graphs: MUTAG's GCN took 251 s on 2 threads of a busy machine
            info = run_graph_experiment(model, dataset.name, data=dataset, epochs=settings.gnn_epochs,
                                        progress=progress, first_seed=settings.seed)
        rows.append({"model": info["model"], "best_epoch": 100.0 * info["best_epoch_mean"],
                     "best_epoch_std": 100.0 * info["best_epoch_std"], "final": 100.0 * info["final_mean"],
                     "final_std": 100.0 * info["final_std"], "train_seconds": info["train_seconds"],
                     "seconds_per_epoch": info["seconds_per_epoch"], "epochs": info["settings"]["epochs"],
                     "readout": info["settings"]["readout"], "torch_threads": 1})
        log(f"[gnn] {dataset.name}: {model}: {rows[-1]['best_epoch']:.2f} % (best epoch), "
            f"{rows[-1]['final']:.2f} % (last), trained in {info['train_seconds']:.1f} s")
    return {"dataset": dataset.name, "rows": rows}
