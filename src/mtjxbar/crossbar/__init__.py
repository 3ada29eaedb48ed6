"""Crossbar arrays: cell states and per-cell parameters as tensors; read, transposed read, write.

Rooms (each opens with the modelling assumptions it makes):

* shared: :mod:`.config` (what an array is built from), :mod:`.plan` (write plans and results),
  :mod:`.events` (what arrays report to the cost model), :mod:`.sampling` (the exact sparse sampler's
  mathematics), :mod:`.cells` (the base both kinds inherit: states, per-cell parameters, variation, stuck
  cells, checkpoints) and :mod:`.protocol` (the contract both kinds honour: :class:`CrossbarArray`);
* :mod:`.access`: the 1T1MTJ array (:class:`Crossbar`), an access transistor in series with every MTJ;
* :mod:`.passive`: the passive array (:class:`PassiveCrossbar`), read and written through its circuit;
* :mod:`.circuit`: the circuit solvers (nodal analysis, line relaxation);
* :mod:`.chips`: K 1T1MTJ arrays as one batch of tensors.

The algorithms the periphery runs on an array (the passive array's read calibration and IR-drop write
compensation) are in :mod:`mtjxbar.periphery`, which also builds a layer's array
(:func:`mtjxbar.periphery.arrays.make_array`).
"""

from .access import Crossbar, KernelView
from .cells import CELL_PARAMETERS, CellArray
from .circuit import CircuitSolution, CircuitSolver
from .config import ArrayConfig, BiasSolverConfig, CircuitConfig, CircuitSolverConfig
from .passive import PassiveCrossbar, PassiveWriteResult
from .plan import POLARITIES, TO_AP, TO_P, OuterPlans, StreamResult, UpdatePlan, WritePhase, WriteResult
from .protocol import CrossbarArray, SeparableRead

__all__ = ["Crossbar", "WriteResult", "CELL_PARAMETERS", "ArrayConfig", "BiasSolverConfig",
           "UpdatePlan", "WritePhase", "TO_P", "TO_AP", "POLARITIES", "CircuitConfig", "CircuitSolverConfig",
           "CircuitSolver", "CircuitSolution", "PassiveCrossbar", "PassiveWriteResult", "CellArray", "KernelView",
           "CrossbarArray", "SeparableRead", "OuterPlans", "StreamResult"]
