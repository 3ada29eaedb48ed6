"""Current-voltage law of one crossbar cell (MTJ, optionally in series with an access transistor), numpy.

The MTJ follows :mod:`mtjxbar.device.resistance`: ``R_P`` ohmic, ``R_AP(V_m) = R_P (1 + TMR0 / (1 +
(V_m/V_h)^2))`` at junction voltage ``V_m``. With an access resistance ``r_a`` in series, the junction
voltage of a cell at voltage ``V`` solves ``V_m (1 + r_a / R(V_m)) = V``; the left side is strictly
increasing (R_AP falls with |V_m| more slowly than 1/|V_m|), so Newton's method from ``V R(0)/(R(0)+r_a)``
converges; 8 steps reach machine precision for |V| up to several volts (checked in tests).
"""

from __future__ import annotations

import numpy as np

__all__ = ["cell_current", "zero_bias_conductance"]


def zero_bias_conductance(parallel: np.ndarray, r_p, tmr0, r_access) -> np.ndarray:
    """Conductance (S) of each cell at zero bias: ``1 / (R + r_access)`` with R = R_P or R_AP(0)."""
    r = np.where(parallel, r_p, r_p * (1.0 + tmr0))
    return 1.0 / (r + r_access)


def _ap_resistance(vm, r_p, tmr0, v_h):
    return r_p * (1.0 + tmr0 / (1.0 + (vm / v_h) ** 2))


def cell_current(v: np.ndarray, parallel: np.ndarray, r_p, tmr0, v_h, r_access,
                 iterations: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Current (A) through each cell at cell voltage ``v`` (V) and its differential conductance dI/dV (S).

    ``v`` may carry leading batch dimensions; ``parallel``, the parameters and ``r_access`` (ohm, a scalar or
    per cell: transistor and, for the lumped read model, wires) broadcast against it.
    """
    r_ap0 = r_p * (1.0 + tmr0)
    if np.any(np.asarray(r_access) > 0.0):
        vm = v * (r_ap0 / (r_ap0 + r_access))
        for _ in range(iterations):
            x2 = (vm / v_h) ** 2
            r = r_p * (1.0 + tmr0 / (1.0 + x2))
            dr = -r_p * tmr0 * 2.0 * vm / (v_h * v_h * (1.0 + x2) ** 2)
            h = vm * (1.0 + r_access / r) - v
            dh = 1.0 + r_access * (r - vm * dr) / (r * r)
            vm = vm - h / dh
    else:
        vm = v
    x2 = (vm / v_h) ** 2
    r = r_p * (1.0 + tmr0 / (1.0 + x2))
    dr = -r_p * tmr0 * 2.0 * vm / (v_h * v_h * (1.0 + x2) ** 2)
    g_junction = (r - vm * dr) / (r * r)  # dI/dV_m of the AP junction
    g_ap = 1.0 / (1.0 / g_junction + r_access)
    i_ap = vm / r
    g_p = 1.0 / (r_p + r_access)
    current = np.where(parallel, v * g_p, i_ap)
    slope = np.where(parallel, g_p, g_ap)
    return current, np.broadcast_to(slope, current.shape)
