"""The hardware description one crossbar-backed layer needs (device, array, solver, periphery)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import ConfigError, validate
from ..crossbar import ArrayConfig, BiasSolverConfig, CircuitSolverConfig
from ..device import MTJParams, VariationConfig
from ..periphery import ConverterConfig, EncoderConfig, MappingConfig, TransferConfig

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
    transfer: TransferConfig = field(default_factory=TransferConfig)  # buffer + counter synapses (default: off)

    def __post_init__(self) -> None:
        validate(self)
        if self.transfer.enabled and self.mapping != MappingConfig():
            raise ConfigError(f"mapping = {self.mapping}: with transfer.counter_bits > 0 every array has its own "
                              "mapping (bit tiles one MTJ, the buffer transfer.buffer_mtjs, against the reference "
                              "column); leave mapping at its default")
        t = self.transfer
        if t.enabled and t.sense == "two_bias":
            from ..periphery.counter import two_bias_ratio

            if t.sense_bias <= self.converters.v_read:
                raise ConfigError(f"transfer.sense_bias = {t.sense_bias!r} V: must exceed converters.v_read = "
                                  f"{self.converters.v_read!r} V (the two-bias sense reads at both)")
            d = self.device
            ratio = two_bias_ratio(d.r_p, d.tmr0, d.v_h, self.array.r_access, self.converters.v_read, t.sense_bias)
            if ratio - 1.0 < 0.01:
                raise ConfigError(f"transfer.sense = 'two_bias': the nominal AP cell's conductance rises only "
                                  f"{100 * (ratio - 1):.2f} % from {self.converters.v_read} V to {t.sense_bias} V "
                                  "(at least 1 % needed to tell it from P); raise transfer.sense_bias or lower "
                                  "device.v_h, or use sense = 'threshold'")
