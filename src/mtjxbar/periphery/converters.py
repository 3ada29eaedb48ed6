"""DAC and ADC: symmetric uniform quantisers with clipping (ideal when bits is None)."""

from __future__ import annotations

import torch

__all__ = ["quantize", "dac", "adc"]


def quantize(x: torch.Tensor, full_scale: float, bits: int | None) -> torch.Tensor:
    """Clip to [-full_scale, full_scale] and round to 2^(bits-1) - 1 levels per sign (bits includes sign)."""
    x = torch.clamp(x, -full_scale, full_scale)
    if bits is None:
        return x
    levels = 2 ** (bits - 1) - 1
    step = full_scale / levels
    return torch.round(x / step) * step


def dac(x: torch.Tensor, input_range: float, v_read: float, bits: int | None) -> torch.Tensor:
    """Numbers in [-input_range, input_range] -> line voltages in [-v_read, v_read] (V)."""
    return quantize(x * (v_read / input_range), v_read, bits)


def adc(current: torch.Tensor, full_scale: float, bits: int | None) -> torch.Tensor:
    """Sensed currents (A) -> digitised currents (A), clipped at the full scale when bits is set."""
    if bits is None:
        return current
    return quantize(current, full_scale, bits)
