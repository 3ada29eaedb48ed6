"""A fully connected layer whose weights are binary MTJs in a crossbar (1T1MTJ or passive, by
``hardware.array.kind``).

Forward: inputs -> DAC -> row voltages -> column currents -> signed logical currents (mapping, against
the reference) -> ADC -> ``y = gain * D / (v_read * k * g_unit)``, which is ``gain * x @ W / input_range``
for an ideal array (``W`` the logical weights in [-1, 1]). Backward: the error is driven onto the columns
(scaled to the DAC range per sample and scaled back digitally), the rows are sensed: the transposed read
``gain * W @ delta / input_range``. Update: a rank-1 request goes through the pulse encoder to a write plan
that the array applies with its stochastic device physics.
"""

from __future__ import annotations

import torch

from ..crossbar import UpdatePlan, WriteResult
from ..crossbar.factory import make_array, series_resistance
from ..crossbar.plan import OuterPlan
from ..periphery import PulseEncoder, SynapseMapping, adc, dac
from ..rng import generator
from .config import HardwareConfig

__all__ = ["MTJLinear", "manufacture_layers"]


def manufacture_layers(layers: list[MTJLinear], seed: int) -> None:
    """Give each layer's array its chip from ``hardware.variation``: layer ``i`` draws its per-cell parameters
    with ``generator(seed, "variation.layer{i}")`` and its stuck cells with ``"faults.layer{i}"`` (CPU
    generators, so a CUDA run meets the same chip). Networks built from the same seed (the in-situ and the
    ex-situ network of a run) get the same chip. Nothing is drawn for a nominal variation."""
    for i, layer in enumerate(layers):
        variation = layer.hardware.variation
        if variation.is_nominal:
            continue
        layer.crossbar.manufacture(variation, generator(seed, f"variation.layer{i}"),
                                   generator(seed, f"faults.layer{i}"))


class MTJLinear(torch.nn.Module):
    """``in_features -> out_features`` on one crossbar of ``in_features x mapping.physical_cols`` cells."""

    def __init__(self, in_features: int, out_features: int, hardware: HardwareConfig, gain: float,
                 *, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ValueError(f"layer size {in_features}x{out_features}: sizes must be >= 1")
        if not gain > 0:
            raise ValueError(f"gain = {gain}: must be > 0")
        self.in_features, self.out_features, self.gain = in_features, out_features, float(gain)
        self.hardware = hardware
        self.mapping = SynapseMapping(out_features, hardware.mapping, device=device)
        self.crossbar = make_array(in_features, self.mapping.physical_cols, hardware.device, hardware.array,
                                   hardware.solver, hardware.circuit_solver, dtype=dtype, device=device)
        self.encoder = PulseEncoder(hardware.encoder, hardware.device)
        r_on, dev = series_resistance(hardware.array), hardware.device
        g_p, g_ap = 1.0 / (dev.r_p + r_on), 1.0 / (dev.r_ap + r_on)
        self.g_ref = 0.5 * (g_p + g_ap)
        self.g_unit = self.mapping.unit_conductance(g_p, g_ap)
        conv = hardware.converters
        self._scale = conv.v_read * self.mapping.k * self.g_unit  # signed current of one unit of x.W
        self._adc_fs = conv.adc_full_scale * in_features * self._scale  # forward: sums over rows
        self._adc_fs_t = conv.adc_full_scale * out_features * self._scale  # transposed: over outputs

    # ------------------------------------------------------------------------------------------- state
    def randomize(self, generator: torch.Generator) -> None:
        """Random initial states: each MTJ parallel with probability 1/2."""
        draw = torch.rand(self.crossbar.rows, self.crossbar.cols, generator=generator, device=generator.device)
        self.crossbar.set_states((draw < 0.5).to(self.crossbar.device))

    def program(self, weights: torch.Tensor) -> None:
        """Set the states to hold the nearest representable weights (ideal write-verify programming;
        stuck cells keep their stuck state)."""
        if weights.shape != (self.in_features, self.out_features):
            raise ValueError(f"weights of shape {tuple(weights.shape)}: expected "
                             f"({self.in_features}, {self.out_features})")
        self.crossbar.set_states(self.mapping.states_for(weights.to(self.crossbar.device)))

    def weights(self) -> torch.Tensor:
        """Logical weights in [-1, 1] that the states hold, shape (in_features, out_features)."""
        return self.mapping.weights(self.crossbar.parallel)

    # --------------------------------------------------------------------------------------- compute
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv = self.hardware.converters
        v = dac(x, conv.input_range, conv.v_read, conv.dac_bits)
        signed = self.mapping.group(self.crossbar.read(v, conv.v_read)) - self.mapping.reference_current(v, self.g_ref)
        signed = adc(signed, self._adc_fs, conv.adc_bits)
        return signed * (self.gain / self._scale)

    def prepare(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None] | None:
        """Everything of :meth:`forward` that depends on the inputs only, for a batch of inputs ``x``
        (batch, in_features) at once: terms with ``forward(x[n]) == forward_prepared(*terms[n])`` up to
        float rounding. The DAC, the voltage-dependent AP conductance, the reference column and the output
        scale are folded in (all linear in the column currents); the states are not. None where it does
        not apply (cells with their own parameters, a quantising ADC, a reporting array): use
        :meth:`forward` there."""
        conv = self.hardware.converters
        if conv.adc_bits is not None or self.crossbar.events is not None:
            return None
        v = dac(x, conv.input_range, conv.v_read, conv.dac_bits)
        terms = self.crossbar.drive_terms(v, conv.v_read)
        if terms is None:
            return None
        scale = self.gain / self._scale
        base, extra = terms
        ref = self.mapping.reference_current(v, self.g_ref)
        if self.mapping.per_output == 1:  # one column per output: the reference folds into the base
            return (base - ref) * scale, extra * scale, None
        return base * scale, extra * scale, ref * scale

    def forward_prepared(self, base: torch.Tensor, extra: torch.Tensor, ref: torch.Tensor | None) -> torch.Tensor:
        """:meth:`forward` of one input from its :meth:`prepare` terms: one matrix-vector product."""
        out = self.crossbar.read_terms(base, extra)
        return out if ref is None else self.mapping.group(out) - ref

    def backward(self, delta: torch.Tensor) -> torch.Tensor:
        """Error at the inputs, ``gain * W @ delta / input_range``, by a transposed read."""
        conv = self.hardware.converters
        scale = delta.abs().amax(dim=-1, keepdim=True).clamp(min=torch.finfo(delta.dtype).tiny)
        u = dac(delta / scale, 1.0, conv.v_read, conv.dac_bits)
        rows = self.crossbar.read_transposed(self.mapping.expand(u), conv.v_read)
        signed = adc(self.mapping.combine_transposed(rows, u, self.g_ref), self._adc_fs_t, conv.adc_bits)
        return signed * (scale * self.gain / (self._scale * conv.input_range))

    # ---------------------------------------------------------------------------------------- update
    def plan(self, row_factor: torch.Tensor, col_factor: torch.Tensor, rows=None) -> OuterPlan:
        """Write plan for the requested change ``dW = outer(row_factor, col_factor)`` (logical W); ``rows``:
        the row pulses of ``row_factor`` if already computed (:meth:`PulseEncoder.row_pulses`)."""
        return self.encoder.encode(row_factor, self.mapping.expand(col_factor), self.mapping.full_swing, rows)

    def write(self, plan: UpdatePlan | OuterPlan, generator: torch.Generator) -> WriteResult:
        """Apply ``plan`` to the array: flips sampled from the device model with ``generator``."""
        return self.crossbar.write(plan, generator)
