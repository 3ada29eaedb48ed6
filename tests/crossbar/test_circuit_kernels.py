"""The CG's Numba operators against their definitions: the nodal matvec against the assembled sparse
matrix, the line solve against LAPACK's dpttrs, the preconditioner symmetric and exact on line-constant
vectors' coarse part."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg.lapack import dpttrs

from mtjxbar.crossbar.circuit.network import LineNetwork


def _network(n: int, m: int, seed: int, floating: bool) -> LineNetwork:
    rng = np.random.default_rng(seed)
    g = rng.uniform(1e-4, 2e-4, (n, m))
    ends_r = np.zeros((n, 2))
    ends_r[:, 0] = rng.uniform(0.5, 2.0, n)  # drivers at the near end
    ends_c = np.zeros((m, 2))
    ends_c[:, 1] = rng.uniform(0.5, 2.0, m)  # sense at the far end
    if floating:
        ends_r[1::3] = 0.0  # floating rows: sneak conductors
        ends_c[: m // 2] = 0.0
    return LineNetwork(g, 1.0 / rng.uniform(0.5, 2.5), 1.0 / rng.uniform(0.5, 2.5), ends_r, ends_c)


SHAPES = [(1, 1), (1, 7), (6, 1), (5, 9), (33, 70), (70, 33)]  # lines of one node, odd counts, > one block


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("floating", [False, True])
def test_matvec_equals_assembled_matrix(shape, floating):
    n, m = shape
    net = _network(n, m, 0, floating)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 2, n * m))
    a = net.sparse_matrix()
    expected = np.stack([a @ xb.ravel() for xb in x]).reshape(x.shape)
    assert np.abs(net.matvec(x) - expected).max() <= 1e-12 * np.abs(expected).max()
    slopes = rng.uniform(1e-4, 3e-4, (3, n, m))  # per-entry cell conductances (Newton Jacobians)
    for b in range(3):
        net_b = LineNetwork(slopes[b], net.w_r, net.w_c, net.ends_r, net.ends_c)
        ref = net_b.sparse_matrix() @ x[b].ravel()
        got = net.matvec(x, slopes)[b].ravel()
        assert np.abs(got - ref).max() <= 1e-12 * np.abs(ref).max()


@pytest.mark.parametrize("shape", SHAPES)
def test_line_solve_equals_dpttrs(shape):
    n, m = shape
    net = _network(n, m, 2, floating=True)
    r = np.random.default_rng(3).normal(size=(2, 2, n * m))
    got = net._line_solve(r)
    for part, (d, e) in enumerate(net._line_factors):
        if d.size == 1:  # a single node: the factor is its diagonal
            assert np.allclose(got[:, part], r[:, part] / d[0], rtol=1e-14, atol=0)
            continue
        ref, info = dpttrs(d, e, r[:, part].T)
        assert info == 0
        assert np.abs(got[:, part] - ref.T).max() <= 1e-12 * np.abs(ref).max()


@pytest.mark.parametrize("shape", [(5, 9), (33, 70)])
def test_preconditioner_symmetric_positive_and_coarse_inverse(shape):
    n, m = shape
    net = _network(n, m, 4, floating=True)
    rng = np.random.default_rng(5)
    r1, r2 = rng.normal(size=(2, 1, 2, n * m))
    z1, z2 = net.precondition(r1), net.precondition(r2)
    assert abs(np.vdot(z1, r2) - np.vdot(z2, r1)) <= 1e-10 * abs(np.vdot(z1, r1))
    assert np.vdot(z1, r1) > 0
    assert np.allclose(net._coarse_inv, net._coarse_inv.T, rtol=0, atol=0)
    # the coarse inverse inverts the line-level matrix Z^T A Z
    z = np.zeros((2 * n * m, n + m))
    z[np.arange(n * m), np.repeat(np.arange(n), m)] = 1.0
    z[n * m + np.arange(n * m), n + np.repeat(np.arange(m), n)] = 1.0
    coarse = z.T @ (net.sparse_matrix() @ z)
    assert np.abs(coarse @ net._coarse_inv - np.eye(n + m)).max() <= 1e-9


@pytest.mark.parametrize("shape", SHAPES)
def test_newton_residual_parts_equal_assembled_matrix(shape):
    """The Newton residual's pieces (wires and terminations, plus the cells' currents) make up ``A x``."""
    n, m = shape
    net = _network(n, m, 6, floating=True)
    x = np.random.default_rng(7).normal(size=(2, 2, n * m))
    got = net.wires(x)
    net.add_cell_currents(got, net.g * net.cell_voltages(x))
    expected = np.stack([net.sparse_matrix() @ xb.ravel() for xb in x]).reshape(x.shape)
    assert np.abs(got - expected).max() <= 1e-12 * np.abs(expected).max()
