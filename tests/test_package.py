"""``import fastgnn`` is light (issue 25.7): the package imports its names on first use.

Measured with ``python -X importtime -c "import fastgnn"`` on the 2-core dev machine: 1.23 s before
(torch, through ``fastgnn.graph``), 0.035-0.08 s after (``importlib.metadata`` for the version).
"""

import subprocess
import sys

import pytest

HEAVY = ("torch", "sklearn", "sklearn.svm", "scipy", "numba", "matplotlib", "tqdm", "distributed", "pandas")


def imported_after(code: str) -> set:
    out = subprocess.run([sys.executable, "-c", f"{code}\nimport sys\nprint(' '.join(sys.modules))"],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    return set(out.split())


def test_import_fastgnn_imports_nothing_heavy():
    assert not set(HEAVY) & imported_after("import fastgnn")


def test_the_command_line_entry_imports_nothing_heavy_before_a_command_is_chosen():
    assert not set(HEAVY) & imported_after("import fastgnn.cli")


@pytest.mark.parametrize("code, absent", [
    ("from fastgnn import GNTK", ("numba", "matplotlib", "sklearn.svm", "distributed")),
    ("from fastgnn.evaluate import svm_cv", ("torch", "numba", "matplotlib", "distributed")),
])
def test_the_names_import_what_they_need_only(code, absent):
    assert not set(absent) & imported_after(code)


def test_lazy_names_resolve_and_are_listed():
    import fastgnn
    from fastgnn.graph import Graph

    assert fastgnn.Graph is Graph and "GNTK" in dir(fastgnn) and set(fastgnn.__all__) <= set(dir(fastgnn))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        fastgnn.nope  # noqa: B018
