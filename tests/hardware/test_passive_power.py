"""Where a passive array's power goes, against references: a closed form on one cell, a hand-built dense
nodal solve of a 2x2 tile (numpy), energy conservation against the source power of the library's dense
circuit solver on tiled arrays, and a read's source power against its dissipation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mtjxbar.crossbar import ArrayConfig, CircuitSolver, PassiveCrossbar
from mtjxbar.crossbar.circuit import solve_tiles_cells
from mtjxbar.crossbar.config import CircuitConfig, CircuitSolverConfig
from mtjxbar.crossbar.passive.power import circuit_power
from mtjxbar.device import MTJParams

DEV = MTJParams()
PARAMS = {"r_p": DEV.r_p, "tmr0": DEV.tmr0, "v_h": DEV.v_h}


def _power(volts, parallel, circuit: CircuitConfig, *, bias=True, row_starts=None, col_starts=None,
           r_row_port=None, r_col_port=None):
    n, m = parallel.shape
    return circuit_power(volts, parallel, PARAMS, bias_dependent=bias,
                         row_starts=np.array([0, n]) if row_starts is None else row_starts,
                         col_starts=np.array([0, m]) if col_starts is None else col_starts,
                         r_wire_row=circuit.r_wire_row, r_wire_col=circuit.r_wire_col,
                         r_row_port=circuit.r_driver if r_row_port is None else r_row_port,
                         r_col_port=circuit.r_driver if r_col_port is None else r_col_port,
                         row_far=circuit.row_port == "far", col_far=circuit.col_port == "far")


def test_one_cell_closed_form():
    """One P cell between a row and a column driver: a series loop, I = V / (R_P + 2 r_w + 2 r_d)."""
    r_w, r_d, v = 2.5, 40.0, 0.7
    circuit = CircuitConfig(r_wire_row=r_w, r_wire_col=r_w, r_driver=r_d)
    sol = CircuitSolver(np.ones((1, 1), bool), **PARAMS, circuit=circuit, row_modes="driven",
                        col_modes="driven").solve([v], [0.0])
    current = v / (DEV.r_p + 2 * r_w + 2 * r_d)
    p = _power(sol.cell_voltage, np.ones((1, 1), bool), circuit)
    assert p.cells.sum() == pytest.approx(current**2 * DEV.r_p, rel=1e-9)
    assert p.row_wires.sum() == pytest.approx(current**2 * r_w, rel=1e-9)
    assert p.col_wires.sum() == pytest.approx(current**2 * r_w, rel=1e-9)
    assert p.row_ports.sum() + p.col_ports.sum() == pytest.approx(2 * current**2 * r_d, rel=1e-9)
    assert p.total[0] == pytest.approx(v * current, rel=1e-9)


def _dense_2x2(g: np.ndarray, r_w: float, r_d: float, src_r: np.ndarray, src_c: np.ndarray):
    """Nodal analysis by hand: 8 nodes (row i at column j: 2i + j; column j at row i: 4 + 2j + i), rows' ports
    at column 0 (near), columns' at row 1 (far), each behind one segment and the driver. Returns the node
    voltages and, from them, the power of every element."""
    a, b = np.zeros((8, 8)), np.zeros(8)
    w, e = 1.0 / r_w, 1.0 / (r_w + r_d)

    def link(p, q, c):
        a[p, p] += c
        a[q, q] += c
        a[p, q] -= c
        a[q, p] -= c

    for i in range(2):
        link(2 * i, 2 * i + 1, w)  # row i's segment between its two nodes
        for j in range(2):
            link(2 * i + j, 4 + 2 * j + i, g[i, j])
        a[2 * i, 2 * i] += e  # row port at node (i, 0)
        b[2 * i] += e * src_r[i]
    for j in range(2):
        link(4 + 2 * j, 4 + 2 * j + 1, w)  # column j's segment between rows 0 and 1
        a[4 + 2 * j + 1, 4 + 2 * j + 1] += e  # column port at node (1, j)
        b[4 + 2 * j + 1] += e * src_c[j]
    x = np.linalg.solve(a, b)
    row_end = np.array([x[0], x[2]])
    col_end = np.array([x[5], x[7]])
    i_row, i_col = (src_r - row_end) * e, (src_c - col_end) * e
    source = float(src_r @ i_row + src_c @ i_col)
    volts = np.array([[x[2 * i + j] - x[4 + 2 * j + i] for j in range(2)] for i in range(2)])
    cells = g * volts**2
    wires = w * (sum((x[2 * i] - x[2 * i + 1]) ** 2 for i in range(2)) + sum((x[4 + 2 * j] - x[5 + 2 * j]) ** 2
                                                                            for j in range(2)))
    wires += r_w * float((i_row**2).sum() + (i_col**2).sum())  # the port segments
    ports = r_d * float((i_row**2).sum() + (i_col**2).sum())
    return volts, source, float(cells.sum()), wires, ports


def test_two_by_two_against_a_dense_nodal_solve():
    """Linear cells (zero-bias conductances), every line driven: the split from the cell voltages alone equals
    the power of each element of the hand-built nodal solve, and their sum the sources' power."""
    parallel = np.array([[True, False], [False, True]])
    g = np.where(parallel, 1 / DEV.r_p, 1 / (DEV.r_p * (1 + DEV.tmr0)))
    r_w, r_d = 3.0, 25.0
    src_r, src_c = np.array([0.8, 0.4]), np.array([-0.3, 0.1])
    volts, source, cells, wires, ports = _dense_2x2(g, r_w, r_d, src_r, src_c)
    circuit = CircuitConfig(r_wire_row=r_w, r_wire_col=r_w, r_driver=r_d, row_port="near", col_port="far")
    p = _power(volts[None], parallel, circuit, bias=False)
    assert p.cells.sum() == pytest.approx(cells, rel=1e-12)
    assert p.row_wires.sum() + p.col_wires.sum() == pytest.approx(wires, rel=1e-12)
    assert p.row_ports.sum() + p.col_ports.sum() == pytest.approx(ports, rel=1e-12)
    assert p.total[0] == pytest.approx(source, rel=1e-12)


@pytest.mark.parametrize("ports", [("near", "far"), ("far", "near"), ("far", "far")], ids="-".join)
def test_tiled_array_conserves_energy(ports):
    """Cells + wires + ports of every tile equal what the tiles' sources deliver (each tile solved on its own
    by the dense solver, bias-dependent TMR): the chains are cut at the tiles' edges, ports at either end."""
    rng = np.random.default_rng(3)
    circuit = CircuitConfig(r_wire_row=1.5, r_wire_col=2.5, r_driver=30.0, row_port=ports[0], col_port=ports[1])
    array = PassiveCrossbar(7, 9, DEV, ArrayConfig(kind="passive", circuit=circuit, tile_rows=4, tile_cols=5,
                                                   read_calibration="off", write_compensation=0),
                            CircuitSolverConfig(write_solver="exact"), dtype=torch.float64)
    array.set_states(torch.from_numpy(rng.random((7, 9)) < 0.5))
    parallel = array.parallel.numpy()
    src_r, src_c = rng.normal(size=(2, 7)), rng.normal(size=(2, 9))
    volts, source = np.zeros((2, 7, 9)), np.zeros(2)
    for rs in array.row_tiles:
        for cs in array.col_tiles:
            sol = CircuitSolver(parallel[rs, cs], **PARAMS, circuit=circuit, row_modes="driven",
                                col_modes="driven").solve(src_r[:, rs], src_c[:, cs])
            volts[:, rs, cs] = sol.cell_voltage
            source += (src_r[:, rs] * -sol.row_currents).sum(-1) + (src_c[:, cs] * -sol.col_currents).sum(-1)
    p = array.circuit_power(volts, "write")
    np.testing.assert_allclose(p.total, source, rtol=1e-9)
    assert (p.row_wires.sum() > 0) and (p.col_ports.sum() > 0)


def test_read_source_power_is_its_whole_dissipation():
    """A read's ``sum v I_driver`` (what the meter charges as ``cells_read``) is the cells', the sneak paths',
    the wires' and the sense side's power of the same circuit (raw circuit: no calibration)."""
    rng = np.random.default_rng(5)
    circuit = CircuitConfig(r_wire_row=1.0, r_wire_col=1.0, r_driver=20.0, r_sense=10.0)
    array = PassiveCrossbar(10, 12, DEV, ArrayConfig(kind="passive", circuit=circuit, tile_rows=6, tile_cols=8,
                                                     read_calibration="off", write_compensation=0),
                            dtype=torch.float64)
    array.set_states(torch.from_numpy(rng.random((10, 12)) < 0.5))
    events: list = []
    array.events = events
    v = torch.from_numpy(rng.uniform(-0.2, 0.2, 10))
    array.read(v)
    source = float((events[0].voltages * events[0].driver_currents).sum())
    volts = solve_tiles_cells(v.numpy()[None], np.zeros((1, 12)), array.parallel.numpy(), PARAMS,
                              array.line_ends("read"), *array.tile_starts, tolerance=1e-13)
    p = array.circuit_power(volts, "read")
    assert p.total[0] == pytest.approx(source, rel=1e-7)
    assert p.row_wires.sum() + p.col_wires.sum() + p.row_ports.sum() + p.col_ports.sum() > 1e-3 * p.total[0]
