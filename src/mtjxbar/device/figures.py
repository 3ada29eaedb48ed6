"""The key figures of an MTJ parameter set, for reports and a quick sanity check of a configuration."""

from __future__ import annotations

import math

import torch

from .params import DIRECTIONS, MTJParams
from .resistance import resistance_ap
from .switching import current_for_probability

__all__ = ["device_figures", "FIGURE_BIASES", "FIGURE_WIDTHS", "SECONDS_PER_YEAR"]

FIGURE_BIASES = (0.0, 0.1, 0.3)  # V
FIGURE_WIDTHS = (1e-9, 10e-9, 100e-9)  # s
SECONDS_PER_YEAR = 365.25 * 24 * 3600.0


def device_figures(params: MTJParams) -> dict[str, float]:
    """Key figures of ``params``; each key carries its unit (``_ohm``, ``_uA``, ``_years``; none if unitless).

    * ``r_p_{V}V_ohm``, ``r_ap_{V}V_ohm``, ``tmr_{V}V``: resistances and TMR at 0, 0.1 and 0.3 V
      (R_P is ohmic); ``tmr0`` the zero-bias TMR.
    * ``ic0_{dir}_uA``: critical currents; ``delta``: thermal stability factor.
    * ``retention_tau_{dir}_years``: mean time to a spontaneous flip, tau0 e^Delta.
    * ``i50_{dir}_{w}ns_uA``: current that switches with 50 % probability in a pulse of 1, 10 and 100 ns.

    ``dir`` is ``p2ap`` or ``ap2p``.
    """
    out: dict[str, float] = {}
    volts = torch.tensor(FIGURE_BIASES, dtype=torch.float64)
    r_ap = resistance_ap(volts, r_p=params.r_p, tmr0=params.tmr0, v_h=params.v_h).tolist()
    for v, r in zip(FIGURE_BIASES, r_ap, strict=True):
        out[f"r_p_{v:g}V_ohm"] = params.r_p
        out[f"r_ap_{v:g}V_ohm"] = r
        out[f"tmr_{v:g}V"] = (r - params.r_p) / params.r_p
    out["tmr0"] = params.tmr0
    out["delta"] = params.delta
    widths = torch.tensor(FIGURE_WIDTHS, dtype=torch.float64)
    for direction in DIRECTIONS:
        kw = params.switching(direction)
        out[f"ic0_{direction}_uA"] = kw["ic0"] * 1e6
        out[f"retention_tau_{direction}_years"] = kw["tau0"] * math.exp(params.delta) / SECONDS_PER_YEAR
        half = current_for_probability(torch.tensor(0.5, dtype=torch.float64), widths, **kw).tolist()
        for w, i in zip(FIGURE_WIDTHS, half, strict=True):
            out[f"i50_{direction}_{w * 1e9:g}ns_uA"] = i * 1e6
    return out
