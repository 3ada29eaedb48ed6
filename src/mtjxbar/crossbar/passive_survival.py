"""Survival of every cell of a passive array over one write phase, from its cell voltages (Numba).

The same physics as :func:`mtjxbar.device.switching_probability` applied to the current of
:func:`.circuit_cells.cell_current` (no access resistance), fused into one pass over the cells so that a
phase costs one loop instead of some thirty array operations: a cell at voltage ``V`` carries
``I = V / R(V)`` (R_P, or R_AP(V) = R_P (1 + TMR0 / (1 + (V/V_h)^2))); a positive current can switch an AP
cell to P, a negative one a P cell to AP; over an interval ``t`` it survives with
``log S = -(t / tau0) exp(-Delta max(1 - |I|/Ic0, 0)^n) + log(1 - P_prec)``,
``P_prec = exp(-(pi^2 Delta / 4) exp(-2 t max(|I|/Ic0 - 1, 0) / tau_d))``, with the direction's Ic0 and tau0,
and the log-survivals of the intervals add. ``tests/crossbar/test_passive.py`` checks it against the
tensor functions in both regimes.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["phase_log_survival"]

_PREC = math.pi ** 2 / 4.0


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
                    x = v / v_h[i, j]
                    current = v / (r_p[i, j] * (1.0 + tmr0[i, j] / (1.0 + x * x)))
                    ic0, tau0 = ic0_ap2p[i, j], tau0_ap2p[i, j]
                ratio = current / ic0
                u = max(1.0 - ratio, 0.0)
                thermal = (t / tau0) * math.exp(-delta[i, j] * u ** n)
                p_prec = math.exp(-_PREC * delta[i, j] * math.exp(-2.0 * t * max(ratio - 1.0, 0.0) / tau_d))
                total += -thermal + math.log1p(-p_prec)
            out[i, j] = total


def phase_log_survival(volts: np.ndarray, durations: np.ndarray, parallel: np.ndarray, params: dict[str, np.ndarray],
                       n: float, tau_d: float) -> np.ndarray:
    """log P(no flip) (rows, cols) of cells at voltages ``volts`` (intervals, rows, cols) for ``durations``
    (same shape, s), in states ``parallel``; ``params``: per-cell ``r_p, tmr0, v_h, ic0_ap2p, ic0_p2ap,
    tau0_ap2p, tau0_p2ap, delta`` (rows, cols); ``n`` and ``tau_d`` of the device."""
    def f64(a):
        return np.ascontiguousarray(np.broadcast_to(a, parallel.shape), dtype=np.float64)

    out = np.empty(parallel.shape)
    _kernel(np.ascontiguousarray(volts, dtype=np.float64), np.ascontiguousarray(durations, dtype=np.float64),
            np.ascontiguousarray(parallel, dtype=np.bool_),
            *(f64(params[k]) for k in ("r_p", "tmr0", "v_h", "ic0_ap2p", "ic0_p2ap", "tau0_ap2p", "tau0_p2ap",
                                       "delta")), float(n), float(tau_d), out)
    return out
