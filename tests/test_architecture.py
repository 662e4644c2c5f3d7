"""The house keeps its shape: no import cycles, no module reaching into another's private names.

The layers themselves are import-linter's contracts in pyproject.toml (`lint-imports`, run by
`make test`); this file checks what those contracts do not: cycles between modules of one package,
and ``from fastgnn.x import _private`` across modules (a private *submodule* of one's own package,
such as ``model_selection/_smo_kernels.py`` imported by ``model_selection/path.py``, is allowed).
"""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


def _module_name(path: Path, src: Path) -> str:
    parts = path.relative_to(src).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package_of(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _private_imports(path: Path, src: Path = SRC) -> list[str]:
    module = _module_name(path, src)
    package = _package_of(module, path)
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("fastgnn"):
            for alias in node.names:
                name = alias.name
                if not name.startswith("_") or name.startswith("__"):
                    continue
                submodule = (src / Path(*node.module.split(".")) / f"{name}.py").exists()
                if submodule and node.module == package:  # a private submodule of one's own package
                    continue
                found.append(f"{module} (line {node.lineno}): from {node.module} import {name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "fastgnn" and any(p.startswith("_") and not p.startswith("__") for p in parts):
                    if ".".join(parts[:-1]) != package:
                        found.append(f"{module} (line {node.lineno}): import {alias.name}")
    return found


def test_no_module_imports_another_modules_private_names():
    offenders = [line for path in sorted((SRC / "fastgnn").rglob("*.py")) for line in _private_imports(path)]
    assert not offenders, "private names imported across modules:\n" + "\n".join(offenders)


def test_the_check_sees_a_private_import(tmp_path):
    """The scan above is not vacuous: it flags a planted offender and passes a private sibling module."""
    pkg = tmp_path / "fastgnn" / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "_kernels.py").write_text("")
    (pkg / "a.py").write_text("from fastgnn.pkg import _kernels\nfrom fastgnn.other import _helper\n")
    assert _private_imports(pkg / "a.py", tmp_path) == ["fastgnn.pkg.a (line 2): from fastgnn.other import _helper"]


def test_no_import_cycles():
    grimp = pytest.importorskip("grimp")
    nx = pytest.importorskip("networkx")
    graph = grimp.build_graph("fastgnn")
    g = nx.DiGraph()
    for m in graph.modules:
        for imported in graph.find_modules_directly_imported_by(m):
            g.add_edge(m, imported)
    cycles = [sorted(c) for c in nx.strongly_connected_components(g) if len(c) > 1]
    assert not cycles, f"import cycles: {cycles}"


def test_test_basenames_are_unique():
    """Tests live in folders without ``__init__.py`` (rootdir-relative imports), so two test files of one
    basename stop pytest at collection in a fresh clone: keep them unique."""
    from collections import Counter
    from pathlib import Path

    names = Counter(p.name for p in Path(__file__).parent.rglob("test_*.py"))
    assert not [name for name, count in names.items() if count > 1]
