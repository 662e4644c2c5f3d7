"""``GNTK.set_output(transform="pandas")`` without pandas is refused at once, naming what to install
(issue 25.7), not after the kernel was computed; the default output is unchanged."""

import sys

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline

from fastgnn import GNTK
from fastgnn.graph import from_numpy


@pytest.mark.parametrize("container", ["pandas", "polars"])
def test_missing_container_library_is_refused_when_chosen(monkeypatch, container):
    monkeypatch.setitem(sys.modules, container, None)  # as if not installed
    with pytest.raises(ImportError, match=rf"GNTK.set_output\(transform='{container}'\) needs {container}, "
                                          rf"which fastgnn does not depend on: pip install {container}"):
        GNTK().set_output(transform=container)
    with pytest.raises(ImportError, match=f"pip install {container}"):
        make_pipeline(GNTK()).set_output(transform=container)


def test_default_output_still_set():
    a = np.array([[0, 1], [1, 0]], dtype=float)
    est = GNTK(num_layers=2)
    assert est.set_output(transform="default") is est
    out = est.fit_transform([from_numpy(a, y=0), from_numpy(a, y=1)])
    assert isinstance(out, np.ndarray) and out.shape == (2, 2)
