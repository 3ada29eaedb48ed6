"""A layer's array, built with the periphery's algorithms it needs: :func:`make_array`.

Layers call :func:`make_array` instead of a class, so ``ArrayConfig.kind`` alone decides which physics a
network runs on (in-situ and ex-situ networks built from the same configs get the same kind of array). A
passive array gets the periphery's read calibration (:mod:`.passive_calibration`) and write compensation
(:mod:`.passive_compensation`), which ``ArrayConfig.read_calibration`` and ``write_compensation`` switch;
the 1T1MTJ array needs neither. The factory sits here, not in ``crossbar``, because it joins the two layers:
``crossbar`` defines what an array asks of its periphery, ``periphery`` provides it.
"""

from __future__ import annotations

import torch

from ..crossbar import ArrayConfig, BiasSolverConfig, CircuitSolverConfig, Crossbar, CrossbarArray, PassiveCrossbar
from ..device import MTJParams
from .passive_calibration import ReadCalibration
from .passive_compensation import WriteCompensation
from .passive_response import check_response_tiles

__all__ = ["make_array"]


def make_array(rows: int, cols: int, device_params: MTJParams, array: ArrayConfig, solver: BiasSolverConfig,
               circuit_solver: CircuitSolverConfig, *, dtype: torch.dtype = torch.float32,
               device: str | torch.device = "cpu") -> CrossbarArray:
    """A ``rows x cols`` array of kind ``array.kind``: ``1t1mtj`` uses ``solver`` (per-cell bias solve),
    ``passive`` uses ``circuit_solver`` (nodal analysis of its tiles) and the periphery's calibration and
    compensation."""
    if array.kind == "passive":
        check_response_tiles(rows, cols, array)
        return PassiveCrossbar(rows, cols, device_params, array, circuit_solver, calibration=ReadCalibration(),
                               compensation=WriteCompensation(), dtype=dtype, device=device)
    return Crossbar(rows, cols, device_params, array, solver, dtype=dtype, device=device)
