"""Node classification: full-batch gradient descent or neighbour-sampled mini-batch SGD.

:func:`train_node` trains one model on a :class:`~fastgnn.datasets.NodeData` and returns a
:class:`TrainResult`: the per-epoch history (loss, train/val accuracy, val loss, seconds), the
epoch kept by early stopping and the test accuracy of the weights of that epoch.

* **Full batch** (``sgd=False``; Kipf & Welling, Veličković et al.): one step per epoch on the
  whole graph; the loss is the mean over the training nodes.  The graph operator (A', the
  attention graph) is built once (``model.prepare``) and reused by every epoch.
* **Mini-batch SGD** (``sgd=True``): each epoch shuffles the training nodes into batches of
  ``batch_size`` seeds; each step samples the seeds' ``len(fanouts)``-hop neighbourhood
  (:class:`~fastgnn.train.sampling.NeighborSampler`), runs the model on that sub-graph only and
  takes the loss of the seeds, so a step's cost depends on the batch size and fanouts, not on
  N.  Evaluation is full-graph inference.

**Early stopping** (the GAT code's rule): training stops after ``patience`` epochs in which
neither the validation accuracy rose above its best nor the validation loss fell below its
best; the weights kept are those of the epoch with the best validation accuracy (ties: lower
validation loss), and the test accuracy is theirs.

**Determinism**: ``seed`` seeds torch's global generator (initialisation, dropout) and the
generator of the shuffles and neighbour draws; on the CPU a seed gives identical results.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F

from fastgnn.train.sampling import NeighborSampler, parse_fanouts

__all__ = ["TrainResult", "train_node", "EarlyStopping", "accuracy"]


@dataclass
class TrainResult:
    """What a training run returns.

    Attributes:
        history: one dict per epoch: ``epoch``, ``loss``, ``train_acc``, ``val_acc``,
            ``val_loss``, ``test_acc`` (for curves only: nothing is chosen on it), ``seconds`` (the
            epoch's training time, evaluation excluded) and ``cpu_seconds`` (the CPU time of the training thread
            in it: with one torch thread, the steadier measure on a busy machine).
        best_epoch: the epoch whose weights were kept (1-based).
        val_acc: validation accuracy of those weights.
        test_acc: test accuracy of those weights.
        epochs: epochs run (fewer than asked when early stopping fired).
        seconds_per_epoch: mean training time of an epoch (wall clock).
        cpu_seconds_per_epoch: mean CPU time of an epoch.
        total_seconds: the whole run, evaluation included.
        config: the settings of the run.
    """

    history: list[dict]
    best_epoch: int
    val_acc: float
    test_acc: float
    epochs: int
    seconds_per_epoch: float
    cpu_seconds_per_epoch: float
    total_seconds: float
    config: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return float((logits.argmax(-1) == y).float().mean()) if y.numel() else math.nan


class EarlyStopping:
    """The GAT rule: patience on (val acc up or val loss down); keep the best-val-acc weights."""

    def __init__(self, patience: int | None):
        self.patience = patience
        self.best_acc, self.best_loss = -math.inf, math.inf
        self.kept = (-math.inf, math.inf)  # (val acc, val loss) of the kept weights
        self.best_epoch, self.state, self.bad = 0, None, 0

    def step(self, epoch: int, val_acc: float, val_loss: float, model) -> bool:
        """Record an epoch; True when training should stop."""
        if val_acc > self.kept[0] or (val_acc == self.kept[0] and val_loss < self.kept[1]):
            self.kept, self.best_epoch = (val_acc, val_loss), epoch
            self.state = copy.deepcopy(model.state_dict())
        if val_acc > self.best_acc or val_loss < self.best_loss:
            self.best_acc, self.best_loss = max(val_acc, self.best_acc), min(val_loss, self.best_loss)
            self.bad = 0
        else:
            self.bad += 1
        return self.patience is not None and self.bad >= self.patience


def train_node(
    model: torch.nn.Module,
    data,
    *,
    epochs: int = 200,
    lr: float = 0.01,
    weight_decay: float = 5e-4,
    patience: int | None = 100,
    seed: int = 0,
    sgd: bool = False,
    batch_size: int = 512,
    fanouts=(10, 10),
    progress: bool = True,
    device=None,
    dtype: torch.dtype = torch.float32,
) -> TrainResult:
    """Train ``model`` on ``data`` (see the module docstring) and return a :class:`TrainResult`.

    Args:
        model: a node classifier of :mod:`fastgnn.nn.models` (anything with
            ``prepare(edge_index, num_nodes)`` and ``forward(x, graph)``).  Its parameters are
            re-initialised from ``seed`` when it has ``reset_parameters`` on its layers.
        data: :class:`~fastgnn.datasets.NodeData`.
        epochs: at most this many epochs.
        lr, weight_decay: Adam's; a model with ``weight_decay_groups`` (GCN) applies the decay
            to its first layer only, as Kipf's code.
        patience: early stopping (None: never stop early; the best epoch is still kept).
        seed: seeds initialisation, dropout, shuffles and neighbour draws.
        sgd: neighbour-sampled mini-batch SGD instead of full-batch gradient descent.
        batch_size: seeds per SGD step.
        fanouts: neighbours sampled per node at each hop (SGD); ``"10,10"`` works too.
        progress: a tqdm bar over the epochs.
        device, dtype: where and in what precision to train.
    """
    from tqdm.auto import tqdm

    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if sgd:
        fanouts = parse_fanouts(fanouts)
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
    if int(data.train_mask.sum()) == 0:
        raise ValueError(f"{data.name}: the training mask selects no node")
    t_start = time.perf_counter()
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    _reset(model)
    model.to(device=device, dtype=dtype)
    x, y = data.x.to(device=device, dtype=dtype), data.y.to(device)
    graph = model.prepare(data.edge_index.to(device), data.num_nodes)
    groups = model.weight_decay_groups(weight_decay) if hasattr(model, "weight_decay_groups") else \
        [{"params": list(model.parameters()), "weight_decay": weight_decay}]
    optimizer = torch.optim.Adam(groups, lr=lr)
    train_idx = torch.nonzero(data.train_mask).reshape(-1)
    sampler = NeighborSampler(data.edge_index, data.num_nodes, fanouts) if sgd else None
    stopper = EarlyStopping(patience)
    history = []
    bar = tqdm(range(1, epochs + 1), desc=f"{type(model).__name__} {data.name}", disable=not progress, leave=False)
    for epoch in bar:
        t0, c0 = time.perf_counter(), time.thread_time()
        model.train()
        if sgd:
            loss, train_acc = _sgd_epoch(model, x, y, train_idx, sampler, optimizer, int(batch_size), gen, device)
        else:
            optimizer.zero_grad()
            out = model(x, graph)
            loss_t = F.cross_entropy(out[data.train_mask], y[data.train_mask])
            loss_t.backward()
            optimizer.step()
            loss, train_acc = float(loss_t.detach()), accuracy(out.detach()[data.train_mask], y[data.train_mask])
        seconds, cpu_seconds = time.perf_counter() - t0, time.thread_time() - c0
        (val_acc, val_loss), (test_acc, _) = _evaluate(model, x, y, graph, data.val_mask, data.test_mask)
        history.append({"epoch": epoch, "loss": loss, "train_acc": train_acc, "val_acc": val_acc,
                        "val_loss": val_loss, "test_acc": test_acc, "seconds": seconds,
                        "cpu_seconds": cpu_seconds})
        bar.set_postfix(loss=f"{loss:.3f}", val=f"{val_acc:.3f}")
        if stopper.step(epoch, val_acc, val_loss, model):
            break
    bar.close()
    if stopper.state is not None:
        model.load_state_dict(stopper.state)
    ((test_acc, _),) = _evaluate(model, x, y, graph, data.test_mask)
    config = {"model": type(model).__name__, "dataset": data.name, "epochs": epochs, "lr": lr,
              "weight_decay": weight_decay, "patience": patience, "seed": seed, "sgd": sgd,
              "batch_size": batch_size if sgd else None, "fanouts": list(fanouts) if sgd else None}
    return TrainResult(history, stopper.best_epoch, stopper.kept[0], test_acc, len(history),
                       sum(h["seconds"] for h in history) / len(history),
                       sum(h["cpu_seconds"] for h in history) / len(history), time.perf_counter() - t_start, config)


def _sgd_epoch(model, x, y, train_idx, sampler, optimizer, batch_size, gen, device):
    perm = train_idx[torch.randperm(train_idx.numel(), generator=gen).to(train_idx.device)]
    total_loss, correct = 0.0, 0
    for lo in range(0, perm.numel(), batch_size):
        seeds = perm[lo: lo + batch_size]
        sub = sampler.sample(seeds.cpu(), gen)
        nodes = sub.nodes.to(device)
        graph = model.prepare(sub.edge_index.to(device), sub.num_nodes)
        optimizer.zero_grad()
        out = model(x[nodes], graph)[: sub.num_seeds]
        target = y[nodes[: sub.num_seeds]]
        loss = F.cross_entropy(out, target)
        loss.backward()
        optimizer.step()
        total_loss += float(loss.detach()) * seeds.numel()
        correct += int((out.detach().argmax(-1) == target).sum())
    return total_loss / perm.numel(), correct / perm.numel()


@torch.no_grad()
def _evaluate(model, x, y, graph, *masks) -> list[tuple[float, float]]:
    """(accuracy, loss) on each mask, from one full-graph forward pass."""
    model.eval()
    out = model(x, graph)
    res = []
    for mask in masks:
        res.append((accuracy(out[mask], y[mask]), float(F.cross_entropy(out[mask], y[mask])))
                   if bool(mask.any()) else (math.nan, math.nan))
    return res


def _reset(module) -> None:
    """Re-initialise every layer from the current seed (a layer's own ``reset_parameters``, not
    its children's: GCNConv's Glorot init must not be replaced by its inner Linear's)."""
    for child in module.children():
        if hasattr(child, "reset_parameters"):
            child.reset_parameters()
        else:
            _reset(child)
