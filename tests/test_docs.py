"""The documentation names code that exists: every `fastgnn.x.y` and `from fastgnn.x import y` in the
README, docs/ and benchmarks/README.md resolves, and not through a deprecation alias (the docs name the
house as it stands; the aliases are for users' old code)."""

import importlib
import re
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "benchmarks" / "README.md"]
DOTTED = re.compile(r"`(fastgnn(?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
FROM_IMPORT = re.compile(r"from (fastgnn[\w.]*) import ([\w, ]+)")


def _names(text: str) -> set[str]:
    names = set(DOTTED.findall(text))
    for module, imported in FROM_IMPORT.findall(text):
        names.update(f"{module}.{n.strip()}" for n in imported.split(",") if n.strip())
    return names


def _resolve(dotted: str):
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for p in parts[i:]:
            obj = getattr(obj, p)
        return obj
    raise ImportError(dotted)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_named_code_exists_at_its_current_place(doc):
    bad = []
    for name in sorted(_names(doc.read_text())):
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            try:
                _resolve(name)
            except (ImportError, AttributeError, DeprecationWarning) as e:
                bad.append(f"{name}: {type(e).__name__}: {e}")
    assert not bad, f"{doc.name} names code that is gone or moved:\n" + "\n".join(bad)


def test_the_scan_finds_names():
    assert {"fastgnn.gram.transform", "fastgnn.evaluate.svm_cv"} <= _names(
        "see `fastgnn.gram.transform`\n```python\nfrom fastgnn.evaluate import svm_cv\n```")
    with pytest.raises(AttributeError):
        _resolve("fastgnn.gram.no_such_function")
