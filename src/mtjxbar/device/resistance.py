"""MTJ resistance with bias-dependent TMR: R_AP(V) = R_P (1 + TMR0 / (1 + (V/V_h)^2)); R_P is ohmic."""

from __future__ import annotations

import torch

from . import physics

__all__ = ["resistance_ap", "resistance"]


def resistance_ap(voltage, *, r_p, tmr0, v_h) -> torch.Tensor:
    """Antiparallel resistance (ohm) at ``voltage`` (V) across the junction."""
    if not (isinstance(voltage, torch.Tensor) and voltage.is_floating_point()):
        voltage = torch.as_tensor(voltage, dtype=torch.float64)
    return physics.ap_resistance(voltage, r_p, tmr0, v_h)


def resistance(parallel, voltage, *, r_p, tmr0, v_h) -> torch.Tensor:
    """Resistance (ohm) of junctions in state ``parallel`` (bool) at ``voltage`` (V) across them."""
    parallel = torch.as_tensor(parallel, dtype=torch.bool)
    r_ap = resistance_ap(voltage, r_p=r_p, tmr0=tmr0, v_h=v_h)
    return torch.where(parallel, torch.as_tensor(r_p, dtype=r_ap.dtype).expand_as(r_ap), r_ap)
