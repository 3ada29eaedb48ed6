"""Crossbar arrays: cell states and per-cell parameters as tensors; read, transposed read, write."""

from .array import CELL_PARAMETERS, Crossbar, WriteResult
from .circuit import CircuitSolution, CircuitSolver
from .config import ArrayConfig, BiasSolverConfig, CircuitConfig, CircuitSolverConfig
from .passive import PassiveCrossbar, PassiveWriteResult
from .plan import POLARITIES, TO_AP, TO_P, UpdatePlan, WritePhase

__all__ = ["Crossbar", "WriteResult", "CELL_PARAMETERS", "ArrayConfig", "BiasSolverConfig",
           "UpdatePlan", "WritePhase", "TO_P", "TO_AP", "POLARITIES", "CircuitConfig", "CircuitSolverConfig",
           "CircuitSolver", "CircuitSolution", "PassiveCrossbar", "PassiveWriteResult"]
