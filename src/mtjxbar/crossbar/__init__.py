"""Crossbar arrays: cell states and per-cell parameters as tensors; read, transposed read, write."""

from .array import CELL_PARAMETERS, Crossbar, WriteResult
from .config import ArrayConfig, BiasSolverConfig
from .plan import POLARITIES, TO_AP, TO_P, UpdatePlan, WritePhase

__all__ = ["Crossbar", "WriteResult", "CELL_PARAMETERS", "ArrayConfig", "BiasSolverConfig",
           "UpdatePlan", "WritePhase", "TO_P", "TO_AP", "POLARITIES"]
