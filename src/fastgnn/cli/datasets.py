"""``fastgnn datasets``: every dataset known by name, and where its files are found (or that they are not).

The graph datasets of :data:`fastgnn.datasets.KNOWN_NAMES` (found by :func:`fastgnn.datasets.find`),
then the node datasets of :data:`fastgnn.datasets.NODE_NAMES` (Planetoid folders, and the generated
``sbm``), searched in :func:`fastgnn.datasets.search_dirs`.
"""

from __future__ import annotations

from fastgnn import datasets
from fastgnn.cli.common import add_common, print_json

__all__ = ["add_subparser", "run", "GENERATED"]

#: the datasets made by a generator rather than read from files
GENERATED = ("synthetic", "sbm")


def add_subparser(subparsers):
    """Register ``datasets``; its ``func`` is :func:`run`."""
    ls = subparsers.add_parser(
        "datasets", help="list the known datasets and where they are found",
        description="List every dataset known by name (graph classification: "
                    f"{', '.join(datasets.KNOWN_NAMES)}; node classification: {', '.join(datasets.NODE_NAMES)}), "
                    "with the format (gin: NAME/NAME.txt; tu: the TU files; zip: NAME.zip holding either, extracted "
                    "into the cache when loaded) and the path of its files where they are found in --data-dir, "
                    "$FASTGNN_DATA or the download cache ('generated' for the generated ones, 'not found' "
                    "otherwise).")
    add_common(ls)
    ls.set_defaults(func=run)
    return ls


def run(args) -> int:
    """Run ``fastgnn datasets`` for parsed ``args``; returns the exit status."""
    rows = []
    for name in datasets.KNOWN_NAMES:
        if datasets.is_molhiv(name):
            found = datasets.find_molhiv(args.data_dir)
            where = (found.layout, found.path) if found else None
        else:
            where = datasets.find(name, args.data_dir) if name not in GENERATED else ("generated", "")
        rows.append({"name": name, "format": where[0] if where else None,
                     "path": str(where[1]) if where else None})
    for name in datasets.NODE_NAMES:
        if name in GENERATED:
            rows.append({"name": name, "format": "generated", "path": ""})
            continue
        folder = datasets.find_planetoid(name, args.data_dir)  # node classification: a folder of ind.* files
        rows.append({"name": name, "format": "planetoid" if folder else None,
                     "path": str(folder) if folder else None})
    if args.json:
        print_json({"datasets": rows, "searched": [str(d) for d in datasets.search_dirs(args.data_dir)]})
    else:
        width = max(len(r["name"]) for r in rows)
        for r in rows:
            print(f"{r['name']:>{width}}  {r['format'] or 'not found':>9}  {r['path'] or ''}")
    return 0
