"""Survival of every cell of a passive array over one write phase, from its cell voltages (Numba).

The same physics as :func:`mtjxbar.device.switching_probability` applied to the current of
:func:`mtjxbar.crossbar.circuit.cell_current` (no access resistance), fused into one pass over the cells so that a
phase costs one loop instead of some thirty array operations: a cell at voltage ``V`` carries
``I = V / R(V)`` (R_P, or :func:`~mtjxbar.device.physics.ap_resistance`); a positive current can switch an AP
cell to P, a negative one a P cell to AP; over an interval ``t`` it survives with
:func:`~mtjxbar.device.physics.log_survival` of ``|I|``, with the direction's Ic0 and tau0, and the
log-survivals of the intervals add. ``tests/crossbar/test_passive.py`` checks it against the
tensor functions in both regimes.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ...device import physics

__all__ = ["phase_log_survival"]

@njit(cache=True)
def _kernel(volts, durations, parallel, r_p, tmr0, v_h, ic0_ap2p, ic0_p2ap, tau0_ap2p, tau0_p2ap, delta, n, tau_d,
            out):
    intervals, rows, cols = volts.shape
    for i in range(rows):
        for j in range(cols):
            total = 0.0
            for k in range(intervals):
                v, t = volts[k, i, j], durations[k, i, j]
                if t <= 0.0 or v == 0.0 or (v > 0.0) == parallel[i, j]:
                    continue  # no time, no voltage, or driven towards the state the cell is in
                if parallel[i, j]:
                    current, ic0, tau0 = -v / r_p[i, j], ic0_p2ap[i, j], tau0_p2ap[i, j]
                else:
                    current = v * physics.ap_conductance(v, r_p[i, j], tmr0[i, j], v_h[i, j])
                    ic0, tau0 = ic0_ap2p[i, j], tau0_ap2p[i, j]
                total += physics.log_survival(current, t, ic0, tau0, delta[i, j], n, tau_d)
            out[i, j] = total


def phase_log_survival(volts: np.ndarray, durations: np.ndarray, parallel: np.ndarray, params: dict[str, np.ndarray],
                       n: float, tau_d: float) -> np.ndarray:
    """log P(no flip) (rows, cols) of cells at voltages ``volts`` (intervals, rows, cols) for ``durations``
    (same shape, or (intervals, rows): one per row, s), in states ``parallel``; ``params``: per-cell ``r_p,
    tmr0, v_h, ic0_ap2p, ic0_p2ap, tau0_ap2p, tau0_p2ap, delta`` (rows, cols); ``n`` and ``tau_d`` of the
    device."""
    def f64(a):
        return np.ascontiguousarray(np.broadcast_to(a, parallel.shape), dtype=np.float64)

    durations = np.asarray(durations, dtype=np.float64)
    if durations.ndim == 2:  # one per row: a view, not a copy
        durations = np.broadcast_to(durations[:, :, None], volts.shape)
    out = np.empty(parallel.shape)
    _kernel(np.ascontiguousarray(volts, dtype=np.float64), durations,
            np.ascontiguousarray(parallel, dtype=np.bool_),
            *(f64(params[k]) for k in ("r_p", "tmr0", "v_h", "ic0_ap2p", "ic0_p2ap", "tau0_ap2p", "tau0_p2ap",
                                       "delta")), float(n), float(tau_d), out)
    return out
