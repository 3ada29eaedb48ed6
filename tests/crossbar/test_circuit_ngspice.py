"""The nodal solver against ngspice: node voltages and line currents to 1e-6 relative (bias-dependent TMR
as B-sources in ngspice, so the comparison covers the self-consistent solve too)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from mtjxbar.crossbar.circuit import CircuitSolver
from mtjxbar.crossbar.config import CircuitConfig

_spec = importlib.util.spec_from_file_location("circuit_spice", Path(__file__).with_name("circuit_spice.py"))
spice = importlib.util.module_from_spec(_spec)
sys.modules["circuit_spice"] = spice
_spec.loader.exec_module(spice)

pytestmark = pytest.mark.skipif(spice.NGSPICE is None, reason="ngspice not installed (apt-get install ngspice)")

R_P, TMR0, V_H = 5.0e3, 1.0, 0.5


def _case(name: str, rng: np.random.Generator):
    if name == "read_32x32_wires":
        n, m = 32, 32
        circuit = CircuitConfig(r_wire_row=2.5, r_wire_col=1.5, r_driver=20.0, r_sense=0.0)
        rows, cols = ["driven"] * n, ["sensed"] * m
        v_rows, v_cols = rng.uniform(-0.3, 0.3, n), np.zeros(m)
    elif name == "floating_lines_24x28":
        n, m = 24, 28
        circuit = CircuitConfig(r_wire_row=1.0, r_wire_col=3.0, r_driver=5.0, r_sense=50.0, row_port="far",
                                col_port="near")
        rows = ["driven" if k % 3 else "floating" for k in range(n)]
        cols = ["sensed" if k % 4 else "floating" for k in range(m)]
        v_rows, v_cols = rng.uniform(0.0, 0.4, n), np.zeros(m)
    else:  # a V/2 half-select write pattern: selected rows at V, selected columns at 0, the rest at V/2
        n, m = 20, 30
        circuit = CircuitConfig(r_wire_row=1.0, r_wire_col=1.0, r_driver=10.0)
        rows, cols = ["driven"] * n, ["driven"] * m
        v = 0.9
        v_rows = np.where(rng.random(n) < 0.3, v, v / 2)
        v_cols = np.where(rng.random(m) < 0.3, 0.0, v / 2)
    parallel = rng.random((n, m)) < 0.5
    return parallel, circuit, rows, cols, v_rows, v_cols


@pytest.mark.parametrize("name", ["read_32x32_wires", "floating_lines_24x28", "half_select_write_20x30"])
def test_nodes_and_currents_match_ngspice(name, tmp_path):
    rng = np.random.default_rng(sum(map(ord, name)))
    parallel, circuit, rows, cols, v_rows, v_cols = _case(name, rng)
    n, m = parallel.shape
    solver = CircuitSolver(parallel, r_p=R_P, tmr0=TMR0, v_h=V_H, circuit=circuit, row_modes=rows, col_modes=cols)
    sol = solver.solve(v_rows, v_cols)
    text = spice.netlist(parallel, r_p=R_P, tmr0=TMR0, v_h=V_H, circuit=circuit, row_modes=rows, col_modes=cols,
                         v_rows=v_rows, v_cols=v_cols)
    vr, vc, ir, ic = spice.unpack(spice.run(text, tmp_path), n, m, rows, cols)
    scale_v = np.abs(np.concatenate([vr, vc])).max()
    assert np.abs(sol.row_nodes[0] - vr).max() <= 1e-6 * scale_v
    assert np.abs(sol.col_nodes[0] - vc).max() <= 1e-6 * scale_v
    for ours, theirs in ((sol.row_currents[0], ir), (sol.col_currents[0], ic)):
        on = ~np.isnan(theirs)
        if on.any():
            assert np.abs(ours[on] - theirs[on]).max() <= 1e-6 * np.abs(theirs[on]).max()
            assert np.abs(ours[~on]).max(initial=0.0) <= 1e-9 * np.abs(theirs[on]).max()  # floating: no current
