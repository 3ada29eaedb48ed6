"""Circuit solver: ideal wires give G V exactly, transposed reads, 1T1MTJ gating, flips, floating islands."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mtjxbar.crossbar import ArrayConfig, Crossbar
from mtjxbar.crossbar.circuit import CircuitSolver, lumped_series
from mtjxbar.crossbar.circuit.cells import cell_current
from mtjxbar.crossbar.config import CircuitConfig, CircuitSolverConfig
from mtjxbar.device import MTJParams

R_P, TMR0, V_H = 5.0e3, 1.0, 0.5


def _states(n, m, seed=0):
    return np.random.default_rng(seed).random((n, m)) < 0.5


@pytest.mark.parametrize("bias_dependent", [False, True])
def test_ideal_wires_reproduce_g_v(bias_dependent):
    parallel = _states(17, 23)
    v = np.random.default_rng(1).uniform(-0.4, 0.4, (5, 17))
    solver = CircuitSolver(parallel, r_p=R_P, tmr0=TMR0, v_h=V_H, circuit=CircuitConfig(),
                           solver=CircuitSolverConfig(bias_dependent=bias_dependent))
    sol = solver.solve(v)
    if bias_dependent:
        i, _ = cell_current(v[:, :, None] * np.ones((1, 1, 23)), parallel, R_P, TMR0, V_H, 0.0)
        expected = i.sum(1)
    else:
        g = np.where(parallel, 1 / R_P, 1 / (R_P * (1 + TMR0)))
        expected = v @ g
    assert np.abs(sol.col_currents - expected).max() <= 1e-12 * np.abs(expected).max()


def test_tiny_wires_approach_ideal():
    parallel = _states(12, 9)
    v = np.random.default_rng(2).uniform(0, 0.3, 12)
    ideal = CircuitSolver(parallel, r_p=R_P, tmr0=TMR0, v_h=V_H, circuit=CircuitConfig()).solve(v)
    wired = CircuitSolver(parallel, r_p=R_P, tmr0=TMR0, v_h=V_H,
                          circuit=CircuitConfig(r_wire_row=1e-6, r_wire_col=1e-6)).solve(v)
    assert np.allclose(wired.col_currents, ideal.col_currents, rtol=1e-7, atol=0)


@pytest.mark.parametrize("wire", [0.0, 2.0])
def test_transposed_read_equals_read_of_transposed_array(wire):
    parallel = _states(14, 19, seed=3)
    c = CircuitConfig(r_wire_row=wire, r_wire_col=1.5 * wire, r_driver=7.0, r_sense=3.0, row_port="near",
                      col_port="far")
    flipped = CircuitConfig(r_wire_row=1.5 * wire, r_wire_col=wire, r_driver=7.0, r_sense=3.0, row_port="far",
                            col_port="near")
    v = np.random.default_rng(4).uniform(-0.3, 0.3, (3, 19))
    a = CircuitSolver(parallel, r_p=R_P, tmr0=TMR0, v_h=V_H, circuit=c, row_modes="sensed", col_modes="driven")
    b = CircuitSolver(parallel.T, r_p=R_P, tmr0=TMR0, v_h=V_H, circuit=flipped)
    ra, rb = a.solve(np.zeros((3, 14)), v), b.solve(v)
    assert np.allclose(ra.row_currents, rb.col_currents, rtol=1e-9, atol=1e-15)
    assert np.allclose(ra.row_nodes, rb.col_nodes.transpose(0, 2, 1), rtol=1e-9, atol=1e-13)


def test_gated_1t1mtj_matches_crossbar_read():
    """Ideal wires, series access resistance: the circuit solver reads what the 1T1MTJ Crossbar reads."""
    p = MTJParams()
    parallel = torch.from_numpy(_states(8, 6, seed=5))
    xb = Crossbar(8, 6, p, ArrayConfig(), dtype=torch.float64)
    xb.set_states(parallel)
    v = torch.linspace(-0.3, 0.3, 8, dtype=torch.float64)
    solver = CircuitSolver(parallel.numpy(), r_p=p.r_p, tmr0=p.tmr0, v_h=p.v_h, circuit=CircuitConfig(),
                           r_access=ArrayConfig().r_access)
    assert np.allclose(solver.solve(v.numpy()).col_currents[0], xb.read(v).numpy(), rtol=1e-8, atol=0)


def test_gates_off_and_floating_islands():
    """Rows whose transistors are off carry no cell current; a floating row cut off entirely is pinned."""
    parallel = _states(6, 5, seed=6)
    gates = np.array([True, False, True, True, False, True])
    modes = ["driven", "floating", "driven", "driven", "driven", "driven"]
    for circuit in (CircuitConfig(), CircuitConfig(r_wire_row=1.0, r_wire_col=1.0)):
        s = CircuitSolver(parallel, r_p=R_P, tmr0=TMR0, v_h=V_H, circuit=circuit, r_access=1e3, row_gates=gates,
                          row_modes=modes)
        sol = s.solve(np.full(6, 0.2))
        assert np.all(sol.cell_current[0][~gates] == 0)
        assert np.isfinite(sol.row_nodes).all() and np.abs(sol.col_currents).max() > 0


def test_resolve_after_flips_is_warm_and_exact():
    parallel = _states(40, 40, seed=7)
    circuit = CircuitConfig(r_wire_row=1.0, r_wire_col=1.0)
    s = CircuitSolver(parallel, r_p=R_P, tmr0=TMR0, v_h=V_H, circuit=circuit)
    v = np.random.default_rng(8).uniform(0, 0.2, 40)
    first = s.solve(v)
    flipped = parallel.copy()
    flipped.flat[np.random.default_rng(9).choice(1600, 16, replace=False)] ^= True
    s.set_states(flipped)
    again = s.solve(v)
    fresh = CircuitSolver(flipped, r_p=R_P, tmr0=TMR0, v_h=V_H, circuit=circuit).solve(v)
    assert np.allclose(again.col_currents, fresh.col_currents, rtol=1e-9, atol=0)
    assert again.cg_iterations < first.cg_iterations


def test_lumped_series_counts_segments():
    r = lumped_series(CircuitConfig(r_wire_row=1.0, r_wire_col=2.0, r_driver=5.0, row_port="near", col_port="far"),
                      3, 4)
    assert r[0, 0] == 5.0 + 1.0 + 2.0 * 3 and r[2, 3] == 5.0 + 4.0 + 2.0
