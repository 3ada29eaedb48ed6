"""Periphery: DAC/ADC, binary-state <-> signed-weight mapping, and the pulse encoder."""

from .config import ConverterConfig, EncoderConfig, MappingConfig, TransferConfig
from .converters import adc, dac, quantize
from .encoder import PulseEncoder
from .mapping import SynapseMapping

__all__ = ["ConverterConfig", "EncoderConfig", "MappingConfig", "TransferConfig", "adc", "dac", "quantize",
           "PulseEncoder", "SynapseMapping"]
