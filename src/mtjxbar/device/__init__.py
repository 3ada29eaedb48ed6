"""MTJ device physics: pure, vectorised tensor functions in SI units (no torch.nn here)."""

from .params import DIRECTIONS, MTJParams
from .resistance import resistance, resistance_ap
from .switching import (
    current_for_probability,
    retention_flip_probability,
    switching_probability,
    thermal_tau,
    width_for_probability,
)
from .variation import VariationConfig, sample_cell_params, sample_ic0_c2c, sample_stuck

__all__ = [
    "DIRECTIONS",
    "MTJParams",
    "resistance",
    "resistance_ap",
    "switching_probability",
    "current_for_probability",
    "width_for_probability",
    "retention_flip_probability",
    "thermal_tau",
    "VariationConfig",
    "sample_cell_params",
    "sample_stuck",
    "sample_ic0_c2c",
]
