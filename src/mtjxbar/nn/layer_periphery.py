"""The periphery of one crossbar-backed layer: what it computes before and after its array's reads.

Shared by :class:`~mtjxbar.nn.linear.MTJLinear` (one array) and :class:`~mtjxbar.nn.chips.MTJLinearChips`
(K chips at once): the array reads differ, the arithmetic around them does not.

Forward: inputs -> DAC -> row voltages; column currents -> signed logical currents (mapping, against
the reference) -> ADC -> ``y = gain * D / (v_read * k * g_unit)``, which is ``gain * x @ W / input_range``
for an ideal array. Backward: the error is driven onto the columns scaled to the DAC range per sample and
scaled back digitally after the transposed read.
"""

from __future__ import annotations

import torch

from ..crossbar.config import series_resistance
from ..periphery import PulseEncoder, SynapseMapping, adc, dac
from .config import HardwareConfig

__all__ = ["LayerPeriphery"]


class LayerPeriphery:
    """DAC, ADC, synapse mapping, reference column, output scale and pulse encoder of one layer."""

    def __init__(self, in_features: int, out_features: int, hardware: HardwareConfig, gain: float,
                 device: str | torch.device = "cpu") -> None:
        if in_features < 1 or out_features < 1:
            raise ValueError(f"layer size {in_features}x{out_features}: sizes must be >= 1")
        if not gain > 0:
            raise ValueError(f"gain = {gain}: must be > 0")
        self.gain, self.converters = float(gain), hardware.converters
        self.mapping = SynapseMapping(out_features, hardware.mapping, device=device)
        self.encoder = PulseEncoder(hardware.encoder, hardware.device)
        self.encoder.limit_currents(hardware.array)  # what the drivers can push through a cell
        r_on, dev = series_resistance(hardware.array), hardware.device
        g_p, g_ap = 1.0 / (dev.r_p + r_on), 1.0 / (dev.r_ap + r_on)
        self.g_ref = 0.5 * (g_p + g_ap)
        self.g_unit = self.mapping.unit_conductance(g_p, g_ap)
        conv = self.converters
        self.scale = conv.v_read * self.mapping.k * self.g_unit  # signed current of one unit of x.W
        self._adc_fs = conv.adc_full_scale * in_features * self.scale  # forward: sums over rows
        self._adc_fs_t = conv.adc_full_scale * out_features * self.scale  # transposed: over outputs

    def voltages(self, x: torch.Tensor) -> torch.Tensor:
        """Row voltages (V) of inputs ``x`` (the DAC)."""
        conv = self.converters
        return dac(x, conv.input_range, conv.v_read, conv.dac_bits)

    def outputs(self, currents: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Layer outputs from the physical column currents of a read driven with ``v``."""
        signed = self.mapping.group(currents) - self.mapping.reference_current(v, self.g_ref)
        return adc(signed, self._adc_fs, self.converters.adc_bits) * (self.gain / self.scale)

    def error_drive(self, delta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Column voltages for the transposed read of output errors ``delta``: ``(per physical column,
        per output, the per-sample scale)``."""
        scale = delta.abs().amax(dim=-1, keepdim=True).clamp(min=torch.finfo(delta.dtype).tiny)
        u = dac(delta / scale, 1.0, self.converters.v_read, self.converters.dac_bits)
        return self.mapping.expand(u), u, scale

    def input_errors(self, rows: torch.Tensor, u: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """``gain * W @ delta / input_range`` from the row currents of the transposed read."""
        conv = self.converters
        signed = adc(self.mapping.combine_transposed(rows, u, self.g_ref), self._adc_fs_t, conv.adc_bits)
        return signed * (scale * self.gain / (self.scale * conv.input_range))
