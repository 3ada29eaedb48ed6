"""The ideal passive read (no wire, port or sense resistance): every cell at its driven line's voltage, its
current ``V / R(V)`` (R_P, or the bias-dependent :func:`~mtjxbar.device.physics.ap_resistance`), summed onto
the sensed lines tile by tile, as the periphery adds the tiles' partial sums (Numba: one pass over the cells
instead of a dozen array operations per tile; the same per-cell currents as
:func:`mtjxbar.crossbar.circuit.cell_current` without access resistance, bit for bit)."""

from __future__ import annotations

import numpy as np
from numba import njit

from ...device import physics
from .survival import float_field

__all__ = ["ideal_read"]


@njit(cache=True)
def _kernel(batch, parallel, r_p, tmr0, v_h, row_starts, col_starts, transposed, sensed, drivers):
    n_batch = batch.shape[0]
    part = np.empty(parallel.shape[1])
    for b in range(n_batch):
        for ti in range(row_starts.size - 1):
            r0, r1 = row_starts[ti], row_starts[ti + 1]
            for tj in range(col_starts.size - 1):
                c0, c1 = col_starts[tj], col_starts[tj + 1]
                for j in range(c0, c1):
                    part[j] = 0.0
                for i in range(r0, r1):
                    row = 0.0
                    for j in range(c0, c1):
                        v = -batch[b, j] if transposed else batch[b, i]
                        if parallel[i, j]:
                            cur = v * (1.0 / r_p[i, j])
                        else:
                            cur = v / physics.ap_resistance(v, r_p[i, j], tmr0[i, j], v_h[i, j])
                        part[j] += cur
                        row += cur
                    if transposed:
                        sensed[b, i] -= row
                    else:
                        drivers[b, i] += row
                for j in range(c0, c1):
                    if transposed:
                        drivers[b, j] -= part[j]
                    else:
                        sensed[b, j] += part[j]


def ideal_read(batch: np.ndarray, parallel: np.ndarray, params: dict[str, np.ndarray], row_starts: np.ndarray,
               col_starts: np.ndarray, transposed: bool) -> tuple[np.ndarray, np.ndarray]:
    """Sensed-line currents (B, sensed) and the currents the drivers deliver (B, driven) for driven-line
    voltages ``batch`` (B, driven): rows driven and columns sensed, or (``transposed``) columns driven and
    rows sensed (a cell then sits at minus its column's voltage). ``params``: per-cell ``r_p``, ``tmr0``,
    ``v_h`` (N, M); ``row_starts`` / ``col_starts``: the tiles (each ending with the line count)."""
    rows, cols = parallel.shape
    batch = np.ascontiguousarray(batch, dtype=np.float64)
    sensed = np.zeros((batch.shape[0], rows if transposed else cols))
    drivers = np.zeros_like(batch)
    fields = (float_field(params[k], (rows, cols)) for k in ("r_p", "tmr0", "v_h"))
    _kernel(batch, np.ascontiguousarray(parallel, dtype=np.bool_), *fields,
            np.ascontiguousarray(row_starts, dtype=np.int64), np.ascontiguousarray(col_starts, dtype=np.int64),
            bool(transposed), sensed, drivers)
    return sensed, drivers
