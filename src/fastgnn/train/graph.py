"""Graph classification: 10-fold cross-validation with block-diagonal mini-batches.

:func:`cross_validate` trains a fresh graph classifier (:mod:`fastgnn.nn.models`: GIN,
GraphGCN) on each fold's training graphs and tests it on the fold's test graphs, as the GIN
paper does (Adam, lr 0.01 halved every 50 epochs, batches of 32 graphs).  It reports two
accuracies:

* ``final``: mean ± std over folds of the test accuracy after the last epoch (no test data
  used for any choice);
* ``best_epoch`` (the GIN paper's protocol, which the GNTK paper's numbers sit beside): the
  epoch whose test accuracy averaged over the folds is highest, and that mean; optimistic,
  since the epoch is chosen on the test folds.

With ``progress``, the projected time of the whole run is said after the first epoch (on stderr):
a 10-fold run of the paper's 350 epochs can take half an hour on a laptop's CPU.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from fastgnn.deprecation import moved
from fastgnn.train.batch import check_graphs, collate

__all__ = ["GraphCVResult", "cross_validate", "projection"]


@dataclass(repr=False)
class GraphCVResult:
    """A graph classifier's cross-validation: per-fold curves and the summary accuracies (see the
    module docstring).  (Named ``CVResult`` before; :class:`fastgnn.evaluate.CVResult` is the
    kernel SVM's.)

    Attributes:
        fold_curves: ``[folds][epochs]`` test accuracy after each epoch.
        loss_curves: ``[folds][epochs]`` mean training loss of each epoch.
        final_mean, final_std: test accuracy after the last epoch, over folds.
        best_epoch, best_epoch_mean, best_epoch_std: the GIN protocol.
        train_seconds: training time of all folds (evaluation excluded), wall clock.
        cpu_seconds: the same in CPU time of the training thread.
        total_seconds: the whole run.
    """

    fold_curves: list[list[float]]
    loss_curves: list[list[float]]
    final_mean: float
    final_std: float
    best_epoch: int
    best_epoch_mean: float
    best_epoch_std: float
    train_seconds: float
    cpu_seconds: float
    total_seconds: float
    config: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def __repr__(self) -> str:
        """One line (the curves are in ``fold_curves`` and ``loss_curves``)."""
        folds, epochs = len(self.fold_curves), len(self.fold_curves[0]) if self.fold_curves else 0
        return (f"GraphCVResult(final {100 * self.final_mean:.2f} ± {100 * self.final_std:.2f} %, best epoch "
                f"{self.best_epoch} (GIN protocol) {100 * self.best_epoch_mean:.2f} ± {100 * self.best_epoch_std:.2f} "
                f"%, {folds} folds x {epochs} epochs, {self.total_seconds:.1f} s)")

    __str__ = __repr__


def cross_validate(
    make_model,
    dataset,
    *,
    epochs: int = 100,
    batch_size: int = 32,
    lr: float = 0.01,
    weight_decay: float = 0.0,
    step_size: int = 50,
    gamma: float = 0.5,
    seed: int = 0,
    folds=None,
    progress: bool = True,
    device=None,
    dtype: torch.dtype = torch.float32,
) -> GraphCVResult:
    """10-fold CV of ``make_model()`` on a :class:`~fastgnn.graph.GraphDataset`.

    Args:
        make_model: called once per fold (after seeding) to build a fresh model.
        dataset: graphs with ``x``, ``edge_index`` and labels, and ``folds``.
        epochs, batch_size, lr, weight_decay: training settings per fold.
        step_size, gamma: the learning rate is multiplied by ``gamma`` every ``step_size`` epochs.
        seed: seeds every fold (fold k uses ``seed + k``).
        folds: ``(train_idx, test_idx)`` pairs (default ``dataset.folds``).
        progress: a tqdm bar over folds x epochs, and after the first epoch one line on stderr with the
            projected time of the whole run (:func:`projection`).
    """
    from tqdm.auto import tqdm

    folds = dataset.folds if folds is None else folds
    if not folds:
        raise ValueError(f"{dataset.name}: no cross-validation folds")
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs}, {batch_size}")
    t_start = time.perf_counter()
    graphs = dataset.graphs
    check_graphs(graphs)  # a label, weight or direction the batches would lose: refused before training
    curves, losses, train_seconds, cpu_seconds = [], [], 0.0, 0.0
    bar = tqdm(total=len(folds) * epochs, desc=f"CV {dataset.name}", disable=not progress, leave=False)
    for k, (train_idx, test_idx) in enumerate(folds):
        torch.manual_seed(seed + k)
        gen = torch.Generator().manual_seed(seed + k)
        model = make_model().to(device=device, dtype=dtype)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=gamma)
        test_batches = [_prepare(model, collate([graphs[i] for i in test_idx[lo: lo + 256]], dtype), device)
                        for lo in range(0, len(test_idx), 256)]
        train_idx = torch.as_tensor(np.asarray(train_idx))
        curve, loss_curve = [], []
        for _ in range(epochs):
            t0, c0 = time.perf_counter(), time.thread_time()
            model.train()
            perm = train_idx[torch.randperm(len(train_idx), generator=gen)]
            total = 0.0
            for lo in range(0, len(perm), batch_size):
                idx = perm[lo: lo + batch_size].tolist()
                if len(idx) < 2 and len(perm) > 1:  # batch norm needs 2 graphs
                    continue
                b, graph = _prepare(model, collate([graphs[i] for i in idx], dtype), device)
                optimizer.zero_grad()
                loss = F.cross_entropy(model(b.x, graph, b.batch, b.num_graphs), b.y)
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(idx)
            scheduler.step()
            train_seconds += time.perf_counter() - t0
            cpu_seconds += time.thread_time() - c0
            curve.append(_accuracy(model, test_batches))
            loss_curve.append(total / len(perm))
            if progress and k == 0 and len(curve) == 1:
                tqdm.write(projection(dataset.name, time.perf_counter() - t0, len(folds), epochs), file=sys.stderr)
            bar.update(1)
            bar.set_postfix(fold=k + 1, loss=f"{loss_curve[-1]:.3f}", test=f"{curve[-1]:.3f}")
        curves.append(curve)
        losses.append(loss_curve)
    bar.close()
    acc = np.array(curves)
    mean_curve = acc.mean(0)
    best = int(mean_curve.argmax())
    config = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "weight_decay": weight_decay,
              "step_size": step_size, "gamma": gamma, "seed": seed, "folds": len(folds)}
    return GraphCVResult(curves, losses, float(acc[:, -1].mean()), float(acc[:, -1].std()), best + 1,
                    float(mean_curve[best]), float(acc[:, best].std()), train_seconds, cpu_seconds,
                    time.perf_counter() - t_start, config)


def projection(name: str, first_epoch_seconds: float, folds: int, epochs: int) -> str:
    """The line said after the first epoch: ``CV MUTAG: 10 folds x 350 epochs; the first epoch took 0.61 s,
    so about 36 min in all``."""
    total = first_epoch_seconds * folds * epochs
    when = f"{total:.0f} s" if total < 120 else f"{total / 60:.0f} min" if total < 7200 else f"{total / 3600:.1f} h"
    return (f"CV {name}: {folds} folds x {epochs} epochs; the first epoch took {first_epoch_seconds:.2f} s, so about "
            f"{when} in all")


def _prepare(model, b, device):
    b = b.to(device)
    return b, model.prepare(b.edge_index, b.num_nodes)


@torch.no_grad()
def _accuracy(model, batches) -> float:
    model.eval()
    correct = total = 0
    for b, graph in batches:
        correct += int((model(b.x, graph, b.batch, b.num_graphs).argmax(-1) == b.y).sum())
        total += b.num_graphs
    return correct / max(total, 1)


# the old name, for one release (``fastgnn.evaluate.CVResult`` is another class)
__getattr__ = moved(__name__, {"CVResult": "fastgnn.train.graph:GraphCVResult"})
