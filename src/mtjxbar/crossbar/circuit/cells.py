"""Current-voltage law of one crossbar cell (MTJ, optionally in series with an access transistor), numpy.

The MTJ follows :mod:`mtjxbar.device.resistance`: ``R_P`` ohmic, ``R_AP(V_m) = R_P (1 + TMR0 / (1 +
(V_m/V_h)^2))`` at junction voltage ``V_m``. With an access resistance ``r_a`` in series, the junction
voltage of a cell at voltage ``V`` solves ``V_m (1 + r_a / R(V_m)) = V``
(:func:`mtjxbar.device.physics.junction_voltage`, Newton's method to machine precision).
"""

from __future__ import annotations

import numpy as np

from ...device import physics

__all__ = ["cell_current", "zero_bias_conductance"]


def zero_bias_conductance(parallel: np.ndarray, r_p, tmr0, r_access) -> np.ndarray:
    """Conductance (S) of each cell at zero bias: ``1 / (R + r_access)`` with R = R_P or R_AP(0)."""
    r = np.where(parallel, r_p, physics.ap_resistance_zero_bias(r_p, tmr0))
    return 1.0 / (r + r_access)


def cell_current(v: np.ndarray, parallel: np.ndarray, r_p, tmr0, v_h, r_access) -> tuple[np.ndarray, np.ndarray]:
    """Current (A) through each cell at cell voltage ``v`` (V) and its differential conductance dI/dV (S).

    ``v`` may carry leading batch dimensions; ``parallel``, the parameters and ``r_access`` (ohm, a scalar or
    per cell: transistor and, for the lumped read model, wires) broadcast against it.
    """
    vm = physics.junction_voltage(v, r_p, tmr0, v_h, r_access) if np.any(np.asarray(r_access) > 0.0) else v
    r = physics.ap_resistance(vm, r_p, tmr0, v_h)
    dr = physics.ap_resistance_slope(vm, r_p, tmr0, v_h)
    g_junction = (r - vm * dr) / (r * r)  # dI/dV_m of the AP junction
    g_ap = 1.0 / (1.0 / g_junction + r_access)
    i_ap = vm / r
    g_p = 1.0 / (r_p + r_access)
    current = np.where(parallel, v * g_p, i_ap)
    slope = np.where(parallel, g_p, g_ap)
    return current, np.broadcast_to(slope, current.shape)
