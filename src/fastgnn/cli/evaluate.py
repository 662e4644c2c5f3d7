"""``fastgnn evaluate GRAM``: the 10-fold accuracy of a precomputed Gram matrix.

The Gram is ``gram.npy`` or a folder written by ``fastgnn gntk --out`` (with its ``labels.npy`` and
``folds.npz``); the classifier is :func:`fastgnn.evaluate.svm_cv` or :func:`fastgnn.evaluate.krr_cv`
under the protocols of :mod:`fastgnn.model_selection.protocols`.  A Gram over
:data:`fastgnn.gram.BY_BLOCKS_BYTES` is read as a memory map (``--by-blocks auto``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fastgnn import datasets
from fastgnn.cli.common import CLASSIFIERS, add_common, add_protocol_flag, evaluate_gram, print_json, protocols
from fastgnn.gram import BY_BLOCKS_BYTES
from fastgnn.graph import stratified_folds

__all__ = ["add_subparser", "run", "load_gram", "read_folds"]


def add_subparser(subparsers):
    """Register ``evaluate``; its ``func`` is :func:`run`."""
    e = subparsers.add_parser("evaluate", help="10-fold accuracy of a Gram matrix",
                              description="Cross-validated accuracy of a precomputed Gram matrix.")
    e.add_argument("gram", help="gram.npy, or a folder written by `fastgnn gntk --out`")
    e.add_argument("--labels", help="labels .npy (default: labels.npy beside the Gram)")
    e.add_argument("--folds-from", metavar="DATASET",
                   help="use this dataset's folds (default: folds.npz beside the Gram, else stratified)")
    add_protocol_flag(e, "paper: best C on the test folds (as the GNTK paper); nested: C by inner CV")
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
    labels = Path(args.labels) if args.labels else folder / "labels.npy"
    if not labels.exists():
        raise FileNotFoundError(f"labels not found: {labels} (give --labels FILE.npy)")
    y = np.load(labels)
    folds = read_folds(args, folder, y)
    result = evaluate_gram(gram, y, folds, protocols(args.protocol), args.classifier, args.json)
    if args.json:
        print_json(result)
    else:
        for res in result.values():
            chosen = (f"{res['normalization']}, {res['param_name']}={res['C']:.4g}"
                      if res["protocol"] == "paper" else "chosen per fold by inner CV")
            print(f"{args.classifier} {res['protocol']:>6}: {100 * res['mean']:.2f} ± "
                  f"{100 * res['std']:.2f} % ({chosen}; {res['seconds']:.1f} s)")
    return 0


def load_gram(file: Path, by_blocks: str) -> np.ndarray:
    """The Gram of ``fastgnn evaluate``: a read-only memory map when evaluated by blocks (``yes``, or ``auto``
    and larger than :data:`fastgnn.gram.BY_BLOCKS_BYTES`: ``svm_cv`` then transforms it by
    bands and reads each fold's blocks from disk), else read whole into memory."""
    if not file.exists():
        raise FileNotFoundError(f"gram not found: {file}")
    gram = np.load(file, mmap_mode="r")
    if by_blocks == "no" or (by_blocks == "auto" and gram.nbytes <= BY_BLOCKS_BYTES):
        return np.array(gram)
    return gram


def read_folds(args, folder: Path, y):
    """``--folds-from DATASET``'s folds, else ``folds.npz`` beside the Gram, else stratified 10-fold."""
    if args.folds_from:
        return datasets.load(args.folds_from, args.data_dir).folds
    if (folder / "folds.npz").exists():
        z = np.load(folder / "folds.npz")
        k = len(z.files) // 2
        return [(z[f"train_{i}"], z[f"test_{i}"]) for i in range(k)]
    return stratified_folds(y)
