"""The node kernels against finite GCNs made of ``fastgnn.nn.GCNConv`` (tests/node/reference_gcn.py).

* NNGP: the covariance over random initialisations of a GCN's output channels.  For two layers it is
  K⁽²⁾ exactly at any width (the first layer's channels are exactly Gaussian with covariance K⁽¹⁾,
  and the second layer averages φ of them with independent weights), so the Monte Carlo error is
  sampling error alone and falls as 1/√samples; for three layers a width of 256 adds an O(1/width) bias.
* NTK: the empirical tangent kernel ``<∂f_i/∂θ, ∂f_j/∂θ>`` of one network in the NTK
  parameterisation fluctuates by O(1/√width) around Θ: its error, RMS over seeds, falls with the
  width up to 2¹² (as tests/gntk/test_finite_width.py checks the graph-level GNTK).
"""

from __future__ import annotations

import numpy as np
import pytest

try:
    from .reference_gcn import empirical_ntk, random_gcn_outputs, small_graph
except ImportError:
    from reference_gcn import empirical_ntk, random_gcn_outputs, small_graph

from fastgnn.node import GCNKernel

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Data:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def _rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def graph():
    x, ei, w = small_graph(8, 3, seed=11, directed=True, weighted=True)
    return x, ei, w


def test_nngp_is_the_covariance_of_random_gcns(graph):
    x, ei, w = graph
    sw, sb = 1.4, 0.3
    k = GCNKernel(num_layers=2, sigma_w=sw, sigma_b=sb).fit_transform(Data(x=x, edge_index=ei, edge_weight=w))
    out = random_gcn_outputs(x, ei, w, num_layers=2, width=32, samples=4000, sigma_w=sw, sigma_b=sb, seed=0)
    rms = []
    for n in (125, 500, 2000):  # networks per estimate (8 output channels each); RMS over disjoint groups
        groups = out.reshape(-1, 8 * n, out.shape[1])
        rms.append(float(np.sqrt(np.mean([_rel(g.T @ g / g.shape[0], k) ** 2 for g in groups]))))
    msg = f"RMS relative errors at 125, 500, 2000 networks (32, 8, 2 groups): {rms}"
    # 1/√samples: 2x less error per 4x samples, 4x over 16x
    assert rms[0] > rms[1] > rms[2], msg
    assert rms[2] < 0.45 * rms[0], msg
    assert rms[2] < 0.03, msg


def test_nngp_three_layers_monte_carlo(graph):
    x, ei, w = graph
    k = GCNKernel(num_layers=3, sigma_w=1.0, sigma_b=0.1).fit_transform(Data(x=x, edge_index=ei, edge_weight=w))
    out = random_gcn_outputs(x, ei, w, num_layers=3, width=256, samples=600, sigma_w=1.0, sigma_b=0.1, seed=1)
    err = _rel(out.T @ out / out.shape[0], k)
    assert err < 0.05, err
    # the identity activation: the linear network's covariance, exact at any width
    k_lin = GCNKernel(num_layers=3, activation="identity").fit_transform(Data(x=x, edge_index=ei, edge_weight=w))
    lin = random_gcn_outputs(x, ei, w, num_layers=3, width=16, samples=600, sigma_w=1.0, sigma_b=0.0, seed=2,
                             activation=lambda t: t)
    assert _rel(lin.T @ lin / lin.shape[0], k_lin) < 0.08


@pytest.mark.parametrize("num_layers, widths", [(2, (64, 512, 4096)), (3, (64, 256, 1024))])
def test_ntk_is_the_limit_of_wide_gcns(graph, num_layers, widths):
    x, ei, w = graph
    sw, sb = 1.2, 0.2
    theta = GCNKernel("ntk", num_layers=num_layers, sigma_w=sw, sigma_b=sb).fit_transform(
        Data(x=x, edge_index=ei, edge_weight=w))
    nngp = GCNKernel("nngp", num_layers=num_layers, sigma_w=sw, sigma_b=sb).fit_transform(
        Data(x=x, edge_index=ei, edge_weight=w))
    seeds = range(6)
    rms = []
    for width in widths:
        errs = [_rel(empirical_ntk(x, ei, w, num_layers, width, sw, sb, seed=s), theta) for s in seeds]
        rms.append(float(np.sqrt(np.mean(np.square(errs)))))
    msg = f"L={num_layers}: widths {widths}, RMS relative errors {rms}; NNGP is {_rel(nngp, theta):.2f} away"
    print(msg)
    # O(1/√width): 8x (resp. 4x) the width gives 2.8x (2x) less error expected
    assert rms[0] > rms[1] > rms[2], msg
    assert rms[2] < 0.6 * rms[0], msg
    assert rms[2] < 0.1, msg
    assert rms[2] < 0.5 * _rel(nngp, theta), msg  # close to Θ, not merely to the NNGP
