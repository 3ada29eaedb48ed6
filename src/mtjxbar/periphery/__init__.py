"""Periphery: DAC/ADC, binary-state <-> signed-weight mapping, the pulse encoder, and the algorithms it runs
on passive arrays (read calibration :mod:`.passive_calibration`, IR-drop write compensation
:mod:`.passive_compensation`); :func:`.arrays.make_array` builds a layer's array with them."""

from .config import ConverterConfig, EncoderConfig, MappingConfig, TransferConfig
from .converters import adc, dac, quantize
from .encoder import PulseEncoder
from .mapping import SynapseMapping

__all__ = ["ConverterConfig", "EncoderConfig", "MappingConfig", "TransferConfig", "adc", "dac", "quantize",
           "PulseEncoder", "SynapseMapping"]
