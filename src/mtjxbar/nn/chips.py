""":class:`~mtjxbar.nn.linear.MTJLinear` over K chips at once (:class:`~mtjxbar.crossbar.chips.ChipArrays`).

Every operation takes and returns a leading chip dimension: ``forward`` (K, in) -> (K, out) (or one input
for all chips: (in,) -> (K, out)), ``backward`` (K, out) -> (K, in), ``plan`` per-chip requests -> one
:class:`~mtjxbar.crossbar.chips.ChipPlan`. The periphery (DAC, ADC, mapping, pulse encoder) is the single
layer's, applied to the batch; chip ``k`` computes what ``MTJLinear`` computes on an array holding chip ``k``.
"""

from __future__ import annotations

import torch

from ..crossbar.chips import ChipArrays, ChipPlan
from ..rng import generator
from .config import HardwareConfig
from .layer_periphery import LayerPeriphery

__all__ = ["MTJLinearChips"]


class MTJLinearChips:
    """``in_features -> out_features`` on K chips of ``in_features x mapping.physical_cols`` cells."""

    def __init__(self, chips: int, in_features: int, out_features: int, hardware: HardwareConfig, gain: float, *,
                 device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> None:
        self.periphery = LayerPeriphery(in_features, out_features, hardware, gain, device)
        self.chips, self.in_features, self.out_features, self.gain = chips, in_features, out_features, float(gain)
        self.hardware = hardware
        self.mapping, self.encoder = self.periphery.mapping, self.periphery.encoder
        self.arrays = ChipArrays(chips, in_features, self.mapping.physical_cols, hardware.device, hardware.array,
                                 hardware.solver, v_max=hardware.converters.v_read, dtype=dtype, device=device)

    # ------------------------------------------------------------------------------------------- state
    def manufacture(self, seeds: list[int], index: int) -> None:
        """Chip ``k`` is the chip a single run of seed ``seeds[k]`` gives layer ``index``
        (:func:`~mtjxbar.nn.linear.manufacture_layers`): the same generator names."""
        variation = self.hardware.variation
        if variation.is_nominal:
            return
        self.arrays.manufacture(variation, [generator(s, f"variation.layer{index}") for s in seeds],
                                [generator(s, f"faults.layer{index}") for s in seeds])

    def randomize(self, generators: list[torch.Generator]) -> None:
        """Random initial states per chip (each MTJ parallel with probability 1/2), as ``MTJLinear.randomize``
        with chip ``k``'s generator."""
        shape = (self.arrays.rows, self.arrays.cols)
        draws = [torch.rand(shape, generator=g, device=g.device) < 0.5 for g in generators]
        self.arrays.set_states(torch.stack(draws).to(self.arrays.device))

    def weights(self) -> torch.Tensor:
        """Logical weights (K, in_features, out_features)."""
        return torch.stack([self.mapping.weights(p) for p in self.arrays.parallel])

    # --------------------------------------------------------------------------------------- compute
    def forward(self, x: torch.Tensor, shared: bool = False) -> torch.Tensor:
        """Outputs (K, ..., out) for inputs (K, ..., in), or with ``shared`` inputs (..., in) for every chip."""
        v = self.periphery.voltages(x)
        return self.periphery.outputs(self.arrays.read(v, self.hardware.converters.v_read, shared=shared), v)

    __call__ = forward

    def prepare(self, x: torch.Tensor) -> tuple[torch.Tensor, ...] | None:
        """For a batch of inputs (B, in) shared by every chip: per-input terms for :meth:`forward_prepared`
        (DAC, voltage-dependent read terms, reference column); None with a quantising ADC."""
        conv = self.hardware.converters
        if conv.adc_bits is not None:
            return None
        v = self.periphery.voltages(x)
        base, extra = self.arrays.prepare_shared(v, conv.v_read)
        return base, extra, self.mapping.reference_current(v, self.periphery.g_ref)

    def forward_prepared(self, base: torch.Tensor, extra: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` (shared input) of one input from its :meth:`prepare` terms: (K, out)."""
        out = self.mapping.group(self.arrays.read_prepared(base, extra)) - ref
        return out * (self.gain / self.periphery.scale)

    def backward(self, delta: torch.Tensor) -> torch.Tensor:
        """Error at the inputs (K, in_features) for output errors ``delta`` (K, out_features)."""
        cols, u, scale = self.periphery.error_drive(delta)
        rows = self.arrays.read_transposed(cols, self.hardware.converters.v_read)
        return self.periphery.input_errors(rows, u, scale)

    # ---------------------------------------------------------------------------------------- update
    def plan(self, col_factor: torch.Tensor, rows: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> ChipPlan:
        """Plans for ``dW = outer(row_factor_k, col_factor_k)`` per chip; ``rows``: the encoder's
        :meth:`~PulseEncoder.row_pulses` of the row factors, shapes (K, in), (K, in), (K, 1) (or without the
        chip dimension when every chip shares its row factor)."""
        widths, row_sign, r_max = rows
        cols = self.mapping.expand(col_factor)  # (K, physical cols)
        q = cols.abs() * (r_max / self.mapping.full_swing)
        currents = self.encoder.column_currents(q)  # (K, 2, cols): each chip's row as if alone
        # (r_max = 0 gives q = 0 and so no current: the encoder's zero plan)
        shape = (self.chips, self.in_features)
        return ChipPlan(row_widths=widths.expand(shape), row_sign=row_sign.expand(shape),
                        col_sign=torch.sign(cols), col_currents=currents)

    def write(self, plan: ChipPlan, generator: torch.Generator) -> torch.Tensor:
        """Apply the plans; flips per chip (K,)."""
        return self.arrays.write(plan, generator)
