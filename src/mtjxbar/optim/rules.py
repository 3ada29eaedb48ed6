"""In-situ training rules: pure functions from a layer's input and error to a rank-1 update request.

A rule returns ``(row_factor, col_factor)`` with the requested change of the logical weights
``dW_ij = row_factor[i] * col_factor[j]``; the layer's pulse encoder turns it into write pulses.
"""

from __future__ import annotations

import torch

__all__ = ["sgd_request"]


def sgd_request(x: torch.Tensor, delta: torch.Tensor, lr: float, gain: float,
                input_range: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Plain SGD: ``dW = -lr * dL/dW`` with ``dL/dW_ij = gain * x_i * delta_j / input_range`` (tensors or
    NumPy arrays, rows of many requests alike)."""
    return x, delta * (-lr * gain / input_range)
