"""The line-relaxation solver of passive reads and writes against the Newton/CG solver and ngspice."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from mtjxbar.crossbar.circuit import DRIVEN, SENSED, CircuitSolver
from mtjxbar.crossbar.circuit.line_relaxation import LineEnds, solve_tiles_cells, solve_tiles_currents
from mtjxbar.crossbar.config import ArrayConfig, CircuitConfig, CircuitSolverConfig
from mtjxbar.crossbar.passive import PassiveCrossbar
from mtjxbar.device import MTJParams

from . import circuit_spice as spice

R_P, TMR0, V_H = 5e3, 1.24, 0.5
PARAMS = {"r_p": R_P, "tmr0": TMR0, "v_h": V_H}

# (rows, cols, r_wire, r_driver, r_sense, row_port, col_port, bias_dependent)
CASES = [
    (64, 64, 1.0, 0.0, 0.0, "near", "far", True),
    (64, 64, 2.5, 0.0, 0.0, "near", "far", True),
    (20, 33, 0.5, 25.0, 10.0, "far", "near", True),
    (17, 9, 1.0, 5.0, 0.0, "near", "near", False),
]


def _ends(n, m, r_w, r_row, r_col, row_port, col_port):
    return LineEnds(np.full(n, 1 / (r_row + r_w)), np.full(m, 1 / (r_col + r_w)), row_port == "far",
                    col_port == "far", 1 / r_w, 1 / r_w)


@pytest.mark.parametrize("case", CASES)
def test_write_cell_voltages_match_the_newton_solver(case):
    n, m, r_w, r_d, r_s, rp, cp, bias = case
    rng = np.random.default_rng(n * m)
    par = rng.random((n, m)) < 0.5
    circuit = CircuitConfig(r_wire_row=r_w, r_wire_col=r_w, r_driver=r_d, r_sense=r_s, row_port=rp, col_port=cp)
    ref = CircuitSolver(par, **PARAMS, circuit=circuit, solver=CircuitSolverConfig(bias_dependent=bias),
                        row_modes=DRIVEN, col_modes=DRIVEN)
    vr, vc = rng.uniform(-0.6, 0.6, (2, n)), rng.uniform(-0.6, 0.6, (2, m))
    sol = ref.solve(vr, vc)
    ours = solve_tiles_cells(vr, vc, par, PARAMS, _ends(n, m, r_w, r_d, r_d, rp, cp), [0, n], [0, m],
                             bias_dependent=bias, tolerance=1e-13)
    assert np.abs(ours - sol.cell_voltage).max() <= 1e-8 * np.abs(sol.cell_voltage).max()


@pytest.mark.parametrize("case", CASES)
def test_read_currents_match_the_newton_solver(case):
    n, m, r_w, r_d, r_s, rp, cp, bias = case
    rng = np.random.default_rng(n + m)
    par = rng.random((n, m)) < 0.5
    circuit = CircuitConfig(r_wire_row=r_w, r_wire_col=r_w, r_driver=r_d, r_sense=r_s, row_port=rp, col_port=cp)
    ref = CircuitSolver(par, **PARAMS, circuit=circuit, solver=CircuitSolverConfig(bias_dependent=bias),
                        row_modes=DRIVEN, col_modes=SENSED)
    vr = rng.uniform(0.0, 0.2, (3, n))
    sol = ref.solve(vr)
    out_r, out_c = solve_tiles_currents(vr, np.zeros((3, m)), par, PARAMS, _ends(n, m, r_w, r_d, r_s, rp, cp),
                                        [0, n], [0, m], bias_dependent=bias, tolerance=1e-13)
    assert np.abs(out_c - sol.col_currents).max() <= 1e-8 * np.abs(sol.col_currents).max()
    assert np.abs(out_r - sol.row_currents).max() <= 1e-8 * np.abs(sol.row_currents).max()


def test_tiles_are_independent_circuits():
    rng = np.random.default_rng(3)
    par = rng.random((40, 30)) < 0.5
    ends = _ends(40, 30, 1.0, 0.0, 0.0, "near", "far")
    vr, vc = rng.uniform(-0.5, 0.5, (1, 40)), rng.uniform(-0.5, 0.5, (1, 30))
    whole = solve_tiles_cells(vr, vc, par, PARAMS, ends, [0, 25, 40], [0, 16, 30], tolerance=1e-13)
    for r0, r1 in ((0, 25), (25, 40)):
        for c0, c1 in ((0, 16), (16, 30)):
            part = solve_tiles_cells(vr[:, r0:r1], vc[:, c0:c1], par[r0:r1, c0:c1], PARAMS,
                                     _ends(r1 - r0, c1 - c0, 1.0, 0.0, 0.0, "near", "far"), [0, r1 - r0],
                                     [0, c1 - c0], tolerance=1e-13)
            np.testing.assert_allclose(whole[:, r0:r1, c0:c1], part, rtol=0, atol=1e-14)


def test_idle_tiles_are_skipped_and_zero():
    par = np.ones((8, 8), dtype=bool)
    vr = np.zeros((1, 8))
    vr[0, :4] = 0.3
    out = solve_tiles_cells(vr, np.zeros((1, 8)), par, PARAMS, _ends(8, 8, 1.0, 0.0, 0.0, "near", "far"),
                            [0, 4, 8], [0, 8])
    assert np.all(out[0, 4:] == 0.0) and np.all(out[0, :4] > 0.29)


def test_no_convergence_is_an_error_not_a_result():
    par = np.ones((16, 16), dtype=bool)
    with pytest.raises(np.linalg.LinAlgError, match="no convergence"):
        solve_tiles_cells(np.full((1, 16), 0.5), np.zeros((1, 16)), par, PARAMS,
                          _ends(16, 16, 5.0, 0.0, 0.0, "near", "far"), [0, 16], [0, 16], tolerance=1e-15,
                          max_sweeps=2)


@pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice not installed")
def test_half_select_write_matches_ngspice(tmp_path):
    """A V/3 write pattern on a 24 x 20 array with 1 ohm segments and driver resistance: every line driven."""
    rng = np.random.default_rng(11)
    n, m = 24, 20
    par = rng.random((n, m)) < 0.5
    circuit = CircuitConfig(r_wire_row=1.0, r_wire_col=1.0, r_driver=20.0, r_sense=0.0)
    v = 0.6
    vr = np.where(rng.random(n) < 0.3, v, v / 3)
    vc = np.where(rng.random(m) < 0.3, 0.0, 2 * v / 3)
    rows, cols = [DRIVEN] * n, [DRIVEN] * m
    text = spice.netlist(par, r_p=R_P, tmr0=TMR0, v_h=V_H, circuit=circuit, row_modes=rows, col_modes=cols,
                         v_rows=vr, v_cols=vc)
    nodes_r, nodes_c, _, _ = spice.unpack(spice.run(text, tmp_path), n, m, rows, cols)
    ours = solve_tiles_cells(vr[None], vc[None], par, PARAMS, _ends(n, m, 1.0, 20.0, 20.0, "near", "far"),
                             [0, n], [0, m], tolerance=1e-13)[0]
    assert np.abs(ours - (nodes_r - nodes_c)).max() <= 1e-6 * v


def test_passive_exact_read_is_the_sum_of_tile_circuits():
    torch.manual_seed(0)
    circuit = CircuitConfig(r_wire_row=1.0, r_wire_col=1.0)
    arr = ArrayConfig(kind="passive", tile_rows=16, tile_cols=12, fidelity="exact", circuit=circuit,
                      read_calibration="off", write_compensation=0)  # the raw circuit currents (reads only)
    xb = PassiveCrossbar(40, 20, MTJParams(), arr)
    xb.parallel.copy_(torch.rand(40, 20, generator=torch.Generator().manual_seed(1)) < 0.5)
    v = torch.rand(2, 40, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) * 0.1
    got = xb.read(v).double().numpy()
    want = np.zeros((2, 20))
    par = xb.parallel.numpy()
    for r0, r1 in ((0, 16), (16, 32), (32, 40)):
        for c0, c1 in ((0, 12), (12, 20)):
            ref = CircuitSolver(par[r0:r1, c0:c1], **PARAMS, circuit=circuit, row_modes=DRIVEN, col_modes=SENSED)
            want[:, c0:c1] += ref.solve(v[:, r0:r1].numpy()).col_currents
    assert np.abs(got - want).max() <= 1e-6 * np.abs(want).max()
