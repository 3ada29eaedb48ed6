"""The exact linear transfer (port admittance by a Schur sweep) against the nodal solve, and its Woodbury
update after flips against a fresh sweep."""

from __future__ import annotations

import numpy as np
import pytest

from mtjxbar.crossbar.circuit import CircuitSolver
from mtjxbar.crossbar.circuit.transfer import port_admittance, woodbury_update
from mtjxbar.crossbar.config import CircuitConfig, CircuitSolverConfig

R_P, TMR0, V_H = 5.0e3, 1.0, 0.5
LINEAR = CircuitSolverConfig(bias_dependent=False)

CASES = {
    "read_wires": (12, 9, dict(r_wire_row=1.0, r_wire_col=2.0, r_driver=5.0, r_sense=3.0), "driven", "sensed"),
    "floating_far_near": (10, 14, dict(r_wire_row=1.0, r_wire_col=3.0, r_driver=5.0, r_sense=50.0, row_port="far",
                                       col_port="near"),
                          ["driven" if k % 3 else "floating" for k in range(10)],
                          ["sensed" if k % 4 else "floating" for k in range(14)]),
    "write_all_driven": (8, 11, dict(r_wire_row=1.0, r_wire_col=1.0, r_driver=10.0), "driven", "driven"),
    "one_row": (1, 6, dict(r_wire_row=1.0, r_wire_col=1.0), "driven", "sensed"),
    "one_column": (6, 1, dict(r_wire_row=1.0, r_wire_col=1.0), "driven", "sensed"),
    "ideal_wires_tia": (9, 7, dict(), "driven", "sensed"),
    "ideal_wires_ports": (9, 7, dict(r_driver=7.0, r_sense=3.0), ["driven", "floating", "driven"] * 3,
                          ["sensed", "driven", "floating", "sensed", "sensed", "driven", "sensed"]),
}


def _solver(name, seed=0, parallel=None):
    n, m, circuit, rows, cols = CASES[name]
    if parallel is None:
        parallel = np.random.default_rng(seed).random((n, m)) < 0.5
    s = CircuitSolver(parallel, r_p=R_P, tmr0=TMR0, v_h=V_H, circuit=CircuitConfig(**circuit), solver=LINEAR,
                      row_modes=rows, col_modes=cols)
    s.transfer_after_vectors = 1
    return s


@pytest.mark.parametrize("name", sorted(CASES))
def test_transfer_matches_nodal_solve(name):
    s = _solver(name)
    rng = np.random.default_rng(1)
    v_rows, v_cols = rng.uniform(-0.3, 0.3, (4, s.rows)), rng.uniform(-0.3, 0.3, (4, s.cols))
    sol = s.solve(v_rows, v_cols)
    rows, cols = s.line_currents(v_rows, v_cols)
    expected = np.concatenate([sol.row_currents, sol.col_currents], axis=1)
    got = np.concatenate([rows, cols], axis=1)
    assert np.abs(got - expected).max() <= 1e-9 * np.abs(expected).max()


def test_transfer_read_and_transposed_read():
    s = _solver("read_wires")
    t = s.transfer()
    v = np.random.default_rng(2).uniform(0, 0.2, (3, s.rows))
    assert np.allclose(t.read(v), s.solve(v).col_currents, rtol=1e-9, atol=0)
    assert np.allclose(t.matrix, -t.y[s.rows:, :s.rows]) and np.allclose(t.y, t.y.T, rtol=0, atol=1e-18)
    vc = np.random.default_rng(3).uniform(0, 0.2, (3, s.cols))
    assert np.allclose(t.read_transposed(vc), t.line_currents(np.zeros((3, s.rows)), vc)[0], rtol=1e-12, atol=0)


def test_transfer_of_a_large_array_matches_spsolve():
    """48 x 40 with 1 ohm segments: the sweep against a sparse direct solve of the same nodal system."""
    from scipy.sparse.linalg import spsolve

    n, m = 48, 40
    parallel = np.random.default_rng(4).random((n, m)) < 0.5
    s = CircuitSolver(parallel, r_p=R_P, tmr0=TMR0, v_h=V_H, circuit=CircuitConfig(r_wire_row=1.0, r_wire_col=1.0),
                      solver=LINEAR)
    s.transfer_after_vectors = 1
    v = np.random.default_rng(5).uniform(0, 0.2, n)
    net = s._network
    x = spsolve(net.sparse_matrix().tocsc(), net.rhs(v[None], np.zeros((1, m)))[0].ravel())
    vr, vc = x[: n * m].reshape(n, m), x[n * m:].reshape(m, n).T
    direct = (s.g0 * (vr - vc)).sum(0)
    assert np.abs(s.line_currents(v)[1][0] - direct).max() <= 1e-11 * np.abs(direct).max()


def test_transfer_follows_set_states():
    s = _solver("read_wires")
    s.transfer()
    flipped = ~s.parallel
    s.set_states(flipped)
    v = np.random.default_rng(6).uniform(0, 0.2, (2, s.rows))
    assert np.allclose(s.line_currents(v)[1], s.solve(v).col_currents, rtol=1e-9, atol=0)


@pytest.mark.parametrize("name", ["read_wires", "floating_far_near", "write_all_driven"])
def test_woodbury_update_equals_fresh_sweep(name):
    s = _solver(name)
    y_old = port_admittance(s._network)
    g_old = s.g0.copy()
    flipped = s.parallel.copy()
    cells = np.random.default_rng(7).choice(flipped.size, 5, replace=False)
    flipped.flat[cells] ^= True
    s.set_states(flipped)
    idx = np.argwhere(g_old != s.g0)
    y = woodbury_update(y_old, s._network, idx, (s.g0 - g_old)[idx[:, 0], idx[:, 1]], 1e-13, 500)
    fresh = port_admittance(_solver(name, parallel=flipped)._network)
    assert np.abs(y - fresh).max() <= 1e-9 * np.abs(fresh).max()


def test_woodbury_path_of_the_solver():
    s = _solver("read_wires")
    s.woodbury_max_cells = 8
    s.transfer()
    flipped = s.parallel.copy()
    flipped.flat[[3, 40, 77]] ^= True
    s.set_states(flipped)
    fresh = _solver("read_wires", parallel=flipped).transfer().y
    assert np.abs(s.transfer().y - fresh).max() <= 1e-9 * np.abs(fresh).max()


def test_bias_dependent_line_currents_are_the_newton_solve():
    n, m, circuit, _, _ = CASES["read_wires"]
    parallel = np.random.default_rng(8).random((n, m)) < 0.5
    s = CircuitSolver(parallel, r_p=R_P, tmr0=TMR0, v_h=V_H, circuit=CircuitConfig(**circuit))
    v = np.random.default_rng(9).uniform(0, 0.3, (2, n))
    rows, cols = s.line_currents(v)
    sol = s.solve(v)
    assert np.allclose(cols, sol.col_currents, rtol=1e-12, atol=0)
    assert np.allclose(rows, sol.row_currents, rtol=1e-12, atol=0)


def test_line_currents_switch_to_the_transfer_after_a_few_vectors():
    s = _solver("read_wires")
    s.transfer_after_vectors = 3
    v = np.random.default_rng(10).uniform(0, 0.2, (4, s.rows))
    first = s.line_currents(v[:1])[1]  # one vector: a CG solve, no transfer yet
    assert s._transfer is None
    later = s.line_currents(v)[1]  # 5 vectors with these states: the transfer
    assert s._transfer is not None
    assert np.allclose(first[0], later[0], rtol=1e-9, atol=0)
    s.set_states(~s.parallel)
    assert s._vectors_read == 0
