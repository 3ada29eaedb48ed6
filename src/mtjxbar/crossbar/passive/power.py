"""Where a passive tile's power goes: cells, wire segments and ports, from the cell voltages of a solved circuit.

Every line of a tile is a chain (:mod:`mtjxbar.crossbar.circuit`): its port (driver or sense side, behind
``r_port``) at one end, one wire segment ``r_wire`` to the first node, one segment between neighbouring
nodes, the far end open. The current of a line's segment is therefore the sum of the currents of its cells
beyond that segment (the wires conserve current), so a solved circuit's cell voltages alone give every
dissipation exactly: a cell ``V I(V)``; a line's wires ``r_wire sum_k S_k^2`` over its segments' currents
``S_k``; its port ``r_port S_port^2``. Their sum is the power the sources deliver, ``sum V_src I_src``
(Tellegen: ``tests/hardware/test_passive_power.py`` holds them equal against the dense
:class:`~mtjxbar.crossbar.circuit.CircuitSolver`). Tiles are separate circuits with their own ports: a line
that crosses several tiles is one chain per tile. One compiled pass over the cells (Numba) does it all, so
metering a write phase costs a small fraction of its solves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from ...device import physics

__all__ = ["CircuitPower", "circuit_power"]


@dataclass(frozen=True, eq=False)
class CircuitPower:
    """Power (W) dissipated in a batch of solved tiles: ``cells`` (B, N, M); per logical row line (summed over
    the tiles it crosses) ``row_wires`` and ``row_ports`` (B, N); per column ``col_wires``, ``col_ports``
    (B, M)."""

    cells: np.ndarray
    row_wires: np.ndarray
    row_ports: np.ndarray
    col_wires: np.ndarray
    col_ports: np.ndarray

    @property
    def total(self) -> np.ndarray:
        """Everything the sources deliver, per batch entry (B,)."""
        return (self.cells.sum((-2, -1)) + self.row_wires.sum(-1) + self.row_ports.sum(-1)
                + self.col_wires.sum(-1) + self.col_ports.sum(-1))


@njit(cache=True, error_model="numpy")  # positive denominators; no zero check per division, so the loops vectorise
def _power(volts, parallel, r_p, tmr0, v_h, bias, row_starts, col_starts, row_far, col_far, cells, row_seg,
           row_port, col_seg, col_port):
    """One pass over the cells, row by row: each row's cell currents and powers, its row chains (``sum_k
    S_k^2`` and ``P^2`` of each tile's chain, walked from the open end toward the port), and the column
    chains' running currents, all columns at once (the rows visited from each column chain's open end toward
    its port), so that every access is along a row. Adds ``S_k^2`` sums to ``row_seg`` / ``col_seg`` and
    ``P^2`` to ``row_port`` / ``col_port`` (per line)."""
    batch, n, m = volts.shape
    current, total, acc = np.empty(m), np.empty(m), np.empty(m)
    for b in range(batch):
        for ti in range(row_starts.size - 1):
            r0, r1 = row_starts[ti], row_starts[ti + 1]
            for j in range(m):
                total[j] = 0.0
                acc[j] = 0.0
            for step in range(r1 - r0):
                i = r0 + step if col_far else r1 - 1 - step  # from the column chains' open end toward the port
                vi, ci, pi, rpi, tmi, vhi = volts[b, i], cells[b, i], parallel[i], r_p[i], tmr0[i], v_h[i]
                for j in range(m):
                    v = vi[j]
                    g_ap = physics.ap_conductance(v * bias, rpi[j], tmi[j], vhi[j])
                    g = 1.0 / rpi[j] if pi[j] else g_ap
                    current[j] = g * v
                    ci[j] = g * v * v
                    total[j] += current[j]
                    acc[j] += total[j] * total[j]
                for tj in range(col_starts.size - 1):  # the row's chain in each column tile
                    c0, c1 = col_starts[tj], col_starts[tj + 1]
                    run, sq = 0.0, 0.0
                    for k in range(c1 - c0):
                        run += current[c0 + k if row_far else c1 - 1 - k]
                        sq += run * run
                    row_seg[b, i] += sq
                    row_port[b, i] += run * run
            for j in range(m):
                col_seg[b, j] += acc[j]
                col_port[b, j] += total[j] * total[j]


def circuit_power(volts: np.ndarray, parallel: np.ndarray, params: dict[str, np.ndarray], *, bias_dependent: bool,
                  row_starts: np.ndarray, col_starts: np.ndarray, r_wire_row: float, r_wire_col: float,
                  r_row_port: float, r_col_port: float, row_far: bool, col_far: bool) -> CircuitPower:
    """:class:`CircuitPower` of tiles whose cells (states ``parallel`` (N, M), per-cell ``r_p``, ``tmr0``,
    ``v_h``) sit at ``volts`` (B, N, M), row node minus column node, as the circuit solvers return them;
    ``bias_dependent`` as the solve was (False: every cell at its zero-bias conductance); ``row_starts`` /
    ``col_starts``: where the tiles start (each ending with the line count)."""
    volts = np.ascontiguousarray(volts, dtype=np.float64)
    batch, n, m = volts.shape

    def field(x):
        return np.ascontiguousarray(np.broadcast_to(x, (n, m)), dtype=np.float64)

    cells = np.empty_like(volts)
    row_seg, row_port, col_seg, col_port = np.zeros((batch, n)), np.zeros((batch, n)), np.zeros((batch, m)), \
        np.zeros((batch, m))
    _power(volts, np.ascontiguousarray(np.broadcast_to(parallel, (n, m)), dtype=np.bool_), field(params["r_p"]),
           field(params["tmr0"]), field(params["v_h"]), bool(bias_dependent),
           np.ascontiguousarray(row_starts, dtype=np.int64), np.ascontiguousarray(col_starts, dtype=np.int64),
           bool(row_far), bool(col_far), cells, row_seg, row_port, col_seg, col_port)
    return CircuitPower(cells=cells, row_wires=r_wire_row * row_seg, row_ports=r_row_port * row_port,
                        col_wires=r_wire_col * col_seg, col_ports=r_col_port * col_port)
