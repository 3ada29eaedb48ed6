"""Build the array a layer asks for from its configs: a 1T1MTJ :class:`Crossbar` or a :class:`PassiveCrossbar`.

Layers call :func:`make_array` instead of a class, so ``ArrayConfig.kind`` alone decides which physics a
network runs on (in-situ and ex-situ networks built from the same configs get the same kind of array).
"""

from __future__ import annotations

import torch

from ..device import MTJParams
from .access import Crossbar
from .config import ArrayConfig, BiasSolverConfig, CircuitSolverConfig
from .passive import PassiveCrossbar

__all__ = ["make_array", "series_resistance"]


def make_array(rows: int, cols: int, device_params: MTJParams, array: ArrayConfig, solver: BiasSolverConfig,
               circuit_solver: CircuitSolverConfig, *, dtype: torch.dtype = torch.float32,
               device: str | torch.device = "cpu") -> Crossbar:
    """A ``rows x cols`` array of kind ``array.kind``: ``1t1mtj`` uses ``solver`` (per-cell bias solve),
    ``passive`` uses ``circuit_solver`` (nodal analysis of its tiles)."""
    if array.kind == "passive":
        return PassiveCrossbar(rows, cols, device_params, array, circuit_solver, dtype=dtype, device=device)
    return Crossbar(rows, cols, device_params, array, solver, dtype=dtype, device=device)


def series_resistance(array: ArrayConfig) -> float:
    """Resistance (ohm) in series with each junction of a cell: the access transistor's on-resistance of a
    1T1MTJ array, none in a passive one (what the periphery's unit and reference conductances assume)."""
    return 0.0 if array.kind == "passive" else array.r_access
