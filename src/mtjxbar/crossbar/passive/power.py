"""Where a passive tile's power goes: cells, wire segments and ports, from the cell voltages of a solved circuit.

Every line of a tile is a chain (:mod:`mtjxbar.crossbar.circuit`): its port (driver or sense side, behind
``r_port``) at one end, one wire segment ``r_wire`` to the first node, one segment between neighbouring
nodes, the far end open. The current of a line's segment is therefore the sum of the currents of its cells
beyond that segment (the wires conserve current), so a solved circuit's cell voltages alone give every
dissipation exactly: a cell ``V I(V)``; a line's wires ``r_wire sum_k S_k^2`` over its segments' currents
``S_k``; its port ``r_port S_port^2``. Their sum is the power the sources deliver, ``sum V_src I_src``
(Tellegen: ``tests/hardware/test_passive_power.py`` holds them equal against the dense
:class:`~mtjxbar.crossbar.circuit.CircuitSolver`). Tiles are separate circuits with their own ports: a line
that crosses several tiles is one chain per tile.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..circuit import cell_current, zero_bias_conductance

__all__ = ["CircuitPower", "circuit_power", "chain_losses"]


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


def chain_losses(current: np.ndarray, starts: np.ndarray, far: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(sum_k S_k^2, sum_t P_t^2)`` per line of currents ``current`` (..., L) that cells push into the lines
    (toward their ports), the lines cut into chains at ``starts`` (tile starts, ending with ``L``): ``S_k`` the
    current of segment ``k`` (the cells beyond it within its chain), ``P_t`` the current of chain ``t``'s
    port; the port at each chain's start (``far`` False) or end. Multiply by the segment and port resistance."""
    length = current.shape[-1]
    cum = np.concatenate([np.zeros((*current.shape[:-1], 1)), np.cumsum(current, axis=-1)], axis=-1)
    k = np.arange(length)
    tile = np.searchsorted(starts, k, side="right") - 1
    first, end = starts[tile], starts[tile + 1]
    segments = cum[..., k + 1] - cum[..., first] if far else cum[..., end] - cum[..., k]
    ports = cum[..., starts[1:]] - cum[..., starts[:-1]]
    return (segments * segments).sum(-1), (ports * ports).sum(-1)


def circuit_power(volts: np.ndarray, parallel: np.ndarray, params: dict[str, np.ndarray], *, bias_dependent: bool,
                  row_starts: np.ndarray, col_starts: np.ndarray, r_wire_row: float, r_wire_col: float,
                  r_row_port: float, r_col_port: float, row_far: bool, col_far: bool) -> CircuitPower:
    """:class:`CircuitPower` of tiles whose cells (states ``parallel`` (N, M), per-cell ``r_p``, ``tmr0``,
    ``v_h``) sit at ``volts`` (B, N, M), row node minus column node, as the circuit solvers return them;
    ``bias_dependent`` as the solve was (False: every cell at its zero-bias conductance)."""
    volts = np.asarray(volts, dtype=np.float64)
    if bias_dependent:
        current, _ = cell_current(volts, parallel, params["r_p"], params["tmr0"], params["v_h"], 0.0)
    else:
        current = volts * zero_bias_conductance(parallel, params["r_p"], params["tmr0"], 0.0)
    row_seg, row_port = chain_losses(current, np.asarray(col_starts), row_far)
    col_seg, col_port = chain_losses(np.swapaxes(current, -1, -2), np.asarray(row_starts), col_far)
    return CircuitPower(cells=volts * current, row_wires=r_wire_row * row_seg, row_ports=r_row_port * row_port,
                        col_wires=r_wire_col * col_seg, col_ports=r_col_port * col_port)
