"""The hardware description one crossbar-backed layer needs (device, array, solver, periphery)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import validate
from ..crossbar import ArrayConfig, BiasSolverConfig, CircuitSolverConfig
from ..device import MTJParams, VariationConfig
from ..periphery import ConverterConfig, EncoderConfig, MappingConfig

__all__ = ["HardwareConfig"]


@dataclass(frozen=True)
class HardwareConfig:
    """Everything physical and peripheral about a layer's arrays; each part goes to its own component."""

    device: MTJParams = field(default_factory=MTJParams)
    variation: VariationConfig = field(default_factory=VariationConfig)  # spreads and faults (default: none)
    array: ArrayConfig = field(default_factory=ArrayConfig)
    solver: BiasSolverConfig = field(default_factory=BiasSolverConfig)
    circuit_solver: CircuitSolverConfig = field(default_factory=CircuitSolverConfig)  # passive arrays only
    converters: ConverterConfig = field(default_factory=ConverterConfig)
    mapping: MappingConfig = field(default_factory=MappingConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)

    def __post_init__(self) -> None:
        validate(self)
