"""Neural-network layers backed by MTJ crossbars (activation and loss stay in the periphery)."""

from .config import HardwareConfig
from .linear import MTJLinear, manufacture_layers

__all__ = ["HardwareConfig", "MTJLinear", "manufacture_layers"]
