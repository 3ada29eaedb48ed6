"""Neural-network layers backed by MTJ crossbars (activation and loss stay in the periphery)."""

from .config import HardwareConfig
from .linear import MTJLinear, manufacture_layers
from .transfer_linear import TransferCounts, TransferLinear, make_layer

__all__ = ["HardwareConfig", "MTJLinear", "manufacture_layers", "TransferLinear", "TransferCounts", "make_layer"]
