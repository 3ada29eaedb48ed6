"""Neural-network layers backed by MTJ crossbars (activation and loss stay in the periphery), as torch
modules (fully connected and 2-D convolutions), and :func:`convert` to put a torch model's linear and
convolution layers on them."""

from .autograd import CrossbarRead, InSituLayer, in_situ_layer
from .config import HardwareConfig
from .conv import MTJConv2d
from .convert import convert
from .linear import MTJLinear, manufacture_layers
from .transfer_linear import TransferCounts, TransferLinear, make_layer

__all__ = ["HardwareConfig", "MTJLinear", "MTJConv2d", "manufacture_layers", "TransferLinear", "TransferCounts",
           "make_layer", "convert", "CrossbarRead", "InSituLayer", "in_situ_layer"]
