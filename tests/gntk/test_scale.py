"""The GNTK's neighbour scaling is a registry: the parameter table reads its names, and each entry's
function is the C of C Ã (bitwise as the branch it replaced)."""

from __future__ import annotations

import pytest
import torch

from fastgnn.gntk import params
from fastgnn.gntk.pairwise import aggregation_matrix
from fastgnn.gntk.scale import REGISTRY, scale_rows
from fastgnn.graph import Graph


def test_the_table_reads_the_registry():
    assert params.SCALES == tuple(REGISTRY) == ("uniform", "degree") == params.options("scale")
    assert all(s.name == name and s.description for name, s in REGISTRY.items())


def test_each_scale_is_its_c():
    a = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 1.0]], dtype=torch.float64)
    assert scale_rows("uniform", a) is a
    assert torch.equal(scale_rows("degree", a), a / a.sum(1, keepdim=True))
    g = Graph(torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]), 3, torch.ones(3, 1))
    assert torch.equal(aggregation_matrix(g, "degree", torch.float64, "cpu"), a / a.sum(1, keepdim=True))
    for bad in ("cosine", None, ["degree"]):
        with pytest.raises(ValueError, match="scale must be one of"):
            scale_rows(bad, a)
