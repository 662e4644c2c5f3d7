"""``fastgnn evaluate GRAM``: the 10-fold accuracy of a precomputed Gram matrix.

The Gram is ``gram.npy`` or a folder written by ``fastgnn gntk --out`` (with its ``labels.npy`` and
``folds.npz``); the classifier is :func:`fastgnn.evaluate.svm_cv` or :func:`fastgnn.evaluate.krr_cv`
under the protocols of :mod:`fastgnn.model_selection.protocols`.  A Gram over
:data:`fastgnn.gram.BY_BLOCKS_BYTES` is read as a memory map (``--by-blocks auto``).  Without
``folds.npz`` beside the Gram and without ``--folds-from``, a new stratified split is made
(:func:`fastgnn.graph.stratified_folds`, seed ``--seed``), and the output says so.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import numpy as np

from fastgnn import datasets
from fastgnn.cli.common import (
    CLASSIFIERS,
    add_common,
    add_normalizations_flag,
    add_protocol_flag,
    evaluate_gram,
    print_json,
    protocols,
    result_line,
)
from fastgnn.gram import BY_BLOCKS_BYTES
from fastgnn.graph import stratified_folds

__all__ = ["add_subparser", "run", "run_holdout", "load_gram", "load_array", "read_folds", "SPLITS"]

#: ``stratified_folds``' number of folds when ``fastgnn evaluate`` makes a new split
SPLITS = 10


def add_subparser(subparsers):
    """Register ``evaluate``; its ``func`` is :func:`run`."""
    e = subparsers.add_parser("evaluate", help="10-fold accuracy of a Gram matrix",
                              description="Cross-validated accuracy of a precomputed Gram matrix.")
    e.add_argument("gram", help="gram.npy, or a folder written by `fastgnn gntk --out`")
    e.add_argument("--labels", help="labels .npy (default: labels.npy beside the Gram)")
    e.add_argument("--folds-from", metavar="DATASET",
                   help="use this dataset's folds (default: folds.npz beside the Gram, else a new stratified "
                        f"{SPLITS}-fold split, seeded by --seed)")
    e.add_argument("--seed", type=int, default=0,
                   help="seed of the new stratified split made when no folds are given (default 0)")
    add_protocol_flag(e, "paper: best C on the test folds (as the GNTK paper); nested: C by inner CV")
    e.add_argument("--holdout", metavar="DATASET",
                   help="OGB's protocol instead of cross-validation, on DATASET's train/valid/test split "
                        "(ogbg-molhiv): C, normalisation and class weight chosen on valid by ROC-AUC, the test "
                        "part scored once (fastgnn.model_selection.holdout); labels default to DATASET's; GRAM "
                        "may also be an (n, d) feature matrix (LinearSVC), e.g. the Nyström GNTK's")
    add_normalizations_flag(e)
    e.add_argument("--classifier", choices=tuple(CLASSIFIERS), default=next(iter(CLASSIFIERS)),
                   help="C-SVM or kernel ridge regression")
    e.add_argument("--by-blocks", choices=("auto", "yes", "no"), default="auto",
                   help="read the Gram from disk by blocks (a memory map: transformed by bands, each fold's "
                        f"blocks read as needed) instead of whole into memory; auto: when over "
                        f"{BY_BLOCKS_BYTES / 2**30:g} GiB, e.g. the gram.npy of `fastgnn gntk --out-of-core`")
    add_common(e)
    e.set_defaults(func=run)
    return e


def run(args) -> int:
    """Run ``fastgnn evaluate`` for parsed ``args``; returns the exit status."""
    path = Path(args.gram)
    folder = path if path.is_dir() else path.parent
    gram = load_gram(path / "gram.npy" if path.is_dir() else path, args.by_blocks)
    if args.holdout:
        return run_holdout(args, gram, folder)
    labels = Path(args.labels) if args.labels else folder / "labels.npy"
    if not labels.exists():
        raise FileNotFoundError(f"labels not found: {labels} (give --labels FILE.npy)")
    y = load_array(labels, "labels")
    folds, source = read_folds(args, folder, y)
    if not args.json and source["made"]:
        print(f"note: {source['description']}", file=sys.stderr)
    result = evaluate_gram(gram, y, folds, protocols(args.protocol), args.classifier, args.json,
                           args.normalizations)
    if args.json:  # each protocol's result says where its folds came from
        print_json({p: {**res, "split": source} for p, res in result.items()})
    else:
        for res in result.values():
            print(f"{args.classifier} {result_line(res)}")
    return 0


def run_holdout(args, X, folder: Path) -> int:
    """``--holdout DATASET``: :func:`fastgnn.model_selection.holdout.holdout` on DATASET's split (labels from
    ``--labels``, else ``labels.npy`` beside the Gram, else DATASET's), both normalisations and class weights."""
    from fastgnn.datasets.molhiv import is_molhiv, molhiv_targets
    from fastgnn.model_selection.holdout import CLASS_WEIGHTS, holdout

    if not is_molhiv(args.holdout):
        raise ValueError(f"--holdout {args.holdout}: only ogbg-molhiv has a train/valid/test split")
    y, split = molhiv_targets(args.data_dir)
    labels = Path(args.labels) if args.labels else folder / "labels.npy"
    if args.labels or labels.exists():
        y = load_array(labels, "labels")
    result = holdout(X, y, split, normalizations=args.normalizations, class_weights=CLASS_WEIGHTS)
    if args.json:
        print_json({**result.to_dict(), "dataset": args.holdout})
    else:
        print(f"{args.holdout}: {result.summary()}")
    return 0


def load_gram(file: Path, by_blocks: str) -> np.ndarray:
    """The Gram of ``fastgnn evaluate``: a read-only memory map when evaluated by blocks (``yes``, or ``auto``
    and larger than :data:`fastgnn.gram.BY_BLOCKS_BYTES`: ``svm_cv`` then transforms it by
    bands and reads each fold's blocks from disk), else read whole into memory."""
    if not file.exists():
        raise FileNotFoundError(f"gram not found: {file}")
    gram = load_array(file, "gram", mmap_mode="r")
    if by_blocks == "no" or (by_blocks == "auto" and gram.nbytes <= BY_BLOCKS_BYTES):
        return np.array(gram)
    return gram


def load_array(file: Path, what: str, mmap_mode=None) -> np.ndarray:
    """``numpy.load`` of a ``.npy`` file (never a pickle), or ``ValueError`` naming the file and ``what``
    it should hold."""
    try:
        return np.load(file, mmap_mode=mmap_mode, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        why = "it holds Python objects (a pickle), not numbers" if "pickle" in str(e) else str(e)
        raise ValueError(f"{file}: not a NumPy .npy array, so not the {what} ({why}); give the .npy file "
                         "that `fastgnn gntk --out` wrote, or np.save's output") from None


def read_folds(args, folder: Path, y) -> tuple[list, dict]:
    """The folds and where they come from: ``--folds-from DATASET``'s, else ``folds.npz`` beside the
    Gram, else a new stratified :data:`SPLITS`-fold split seeded by ``--seed`` (``source["made"]``)."""
    if args.folds_from:
        folds = datasets.load(args.folds_from, args.data_dir).folds
        return folds, {"made": False, "count": len(folds), "description": f"the folds of {args.folds_from}"}
    file = folder / "folds.npz"
    if file.exists():
        try:
            with np.load(file, allow_pickle=False) as z:
                k = len(z.files) // 2
                folds = [(z[f"train_{i}"], z[f"test_{i}"]) for i in range(k)]
        except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as e:
            raise ValueError(f"{file}: not a readable folds file ({type(e).__name__}: {e}); delete it and give "
                             "--folds-from DATASET, or let a new split be made") from None
        return folds, {"made": False, "count": len(folds), "description": str(file)}
    folds = stratified_folds(y, SPLITS, seed=args.seed)
    return folds, {"made": True, "count": len(folds), "seed": args.seed,
                   "description": f"no folds.npz beside the Gram and no --folds-from: a new stratified "
                                  f"{len(folds)}-fold split of the labels (seed {args.seed}); its accuracy is not "
                                  "comparable with another split's"}
