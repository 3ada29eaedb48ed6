"""Cost of in-situ training for any array or network size, from a short run on random data.

No data set or trained network is needed: arrays of the requested sizes (random states) go through the
same read, transposed read, encode and write code as training, with the meter attached, for a few
samples of a stated representative activity (:class:`ActivityConfig`):

* every layer's inputs: non-zero with probability ``input_density``, uniform in the full DAC range;
* every error vector (transposed reads): standard normal, scaled to the DAC range per sample as
  ``nn/linear.py`` does;
* every update: rank one, rows from the inputs, columns asking the cells of the strongest row for a
  switching probability uniform in ``[0, 2 update_probability]`` with a random sign.

A single ``rows x cols`` array is costed as a layer inside a network (forward read, transposed read,
update), one MTJ per weight against a reference column; a network (``layers``) uses the configured
mapping, and its first layer has no transposed read.

**Transfer layers** (``hardware.transfer.counter_bits`` > 0, networks only): every layer is an
``nn.TransferLinear``: a buffer and ``counter_bits`` bit tiles (random counters, neutral buffers), all read
in every sample; the update goes to the buffer, asked for the same logical change as a plain layer's cells
(the activity's probability times the layer's ``request_scale``, capped at the encoder's ``p_max``). The
transfers are costed at their configured rate, ``out_features / samples_per_sweep`` columns per sample and
layer: the buffer first takes ``samples_per_sweep`` samples of the activity's updates (a sweep, the time
between two transfers of a column; not metered), then ``max(samples, samples x columns per sample)``
columns (at most every column) are transferred through the layer's own read, carry, write-verify and reset,
metered, and their mean cost per column scaled to the rate. Layers transfer at the same time or one after
the other as ``ScheduleConfig.layers_update_concurrently`` says.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..config import param, to_dict, validate
from ..crossbar.config import series_resistance
from ..crossbar.events import ReadEvent
from ..periphery import MappingConfig, PulseEncoder, SynapseMapping, dac
from ..periphery.arrays import make_array
from ..periphery.encoder import check_drivers
from .config import CostConfig, ScheduleConfig
from .ledger import ArraySpec, Tally
from .meter import INSITU, TRANSFER_COUNTS, CostMeter, with_transfers
from .passive import read_power_split, spec_fields

__all__ = ["ActivityConfig", "estimate", "check_costed"]


@dataclass(frozen=True)
class ActivityConfig:
    """The representative activity of an estimate (what the random training samples look like)."""

    samples: int = param(4, "1", "training samples simulated (per-sample figures are their mean)", lo=1,
                         hi=100000)
    input_density: float = param(1.0, "1", "fraction of a layer's inputs that are non-zero (uniform in the "
                                 "full DAC range); 1: dense inputs", lo=0.0, lo_open=True, hi=1.0)
    update_probability: float = param(1e-3, "1", "mean switching probability an update asks of the cells of "
                                      "its strongest row (column targets uniform in [0, 2x]); 1e-3: the "
                                      "representative activity of docs/cost.md (first epochs of one-MTJ "
                                      "runs)", lo=0.0, lo_open=True,
                                      hi=0.5)
    seed: int = param(0, "1", "seed of the random states and activity", lo=0, hi=2**63 - 1)

    def __post_init__(self) -> None:
        validate(self)


def _sizes(layers: Sequence[int] | None, rows: int | None, cols: int | None) -> tuple[list[int], bool]:
    if layers is not None:
        if len(layers) < 2 or any(n < 1 for n in layers):
            raise ValueError(f"layers = {list(layers)}: give at least two sizes >= 1, e.g. 784,256,10")
        if rows is not None or cols is not None:
            raise ValueError("give either layers or rows and cols, not both")
        return list(layers), True
    if rows is None or cols is None:
        raise ValueError("give the size of an array (rows and cols) or of a network (layers)")
    if rows < 1 or cols < 1:
        raise ValueError(f"rows = {rows}, cols = {cols}: an array needs rows >= 1 and cols >= 1")
    return [rows, cols], False


@dataclass
class _Layer:
    """One layer of an estimate: its arrays (the first takes the updates), their mappings, and the
    ``nn.TransferLinear`` behind them (None for a plain layer)."""

    n_in: int
    n_out: int
    arrays: list  # crossbars
    mappings: list  # SynapseMapping of each
    transfer: Any = None
    request_scale: float = 1.0


def _build(hardware: Any, sizes: list[int], mapping_cfg: MappingConfig, transfer: bool,
           gen: torch.Generator) -> list[_Layer]:
    dev = hardware.device
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        if transfer:
            from ..nn import TransferLinear  # nn imports this package: not at module level

            layer = TransferLinear(n_in, n_out, hardware, 1.0)
            parts = [layer.buffer, *layer.tiles]
            for tile in layer.tiles:
                tile.crossbar.set_states(torch.rand(n_in, tile.crossbar.cols, generator=gen) < 0.5)
            layer.reset_buffer()
            layers.append(_Layer(n_in, n_out, [p.crossbar for p in parts], [p.mapping for p in parts], layer,
                                 layer.request_scale))
        else:
            mapping = SynapseMapping(n_out, mapping_cfg)
            xb = make_array(n_in, mapping.physical_cols, dev, hardware.array, hardware.solver,
                            hardware.circuit_solver)
            xb.set_states(torch.rand(xb.rows, xb.cols, generator=gen) < 0.5)
            layers.append(_Layer(n_in, n_out, [xb], [mapping]))
    return layers


def _inputs(n: int, conv: Any, activity: ActivityConfig, gen: torch.Generator) -> torch.Tensor:
    x = (torch.rand(n, generator=gen) * 2.0 - 1.0) * conv.input_range
    return x * (torch.rand(n, generator=gen) < activity.input_density)


def _update(layer: _Layer, x: torch.Tensor, encoder: PulseEncoder, activity: ActivityConfig,
            gen: torch.Generator, columns: int | None = None) -> None:
    """The activity's rank-one update of the layer's first array (only its first ``columns`` outputs)."""
    mapping, xb = layer.mappings[0], layer.arrays[0]
    q = torch.rand(mapping.n_out, generator=gen) * (2.0 * activity.update_probability)
    sign = torch.where(torch.rand(mapping.n_out, generator=gen) < 0.5, -1.0, 1.0)
    if columns is not None:
        q[columns:] = 0.0
    r_max = float(x.abs().max())
    if r_max > 0:
        col = sign * q * (layer.request_scale * mapping.full_swing / r_max)
        xb.write(encoder.encode(x, mapping.expand(col), mapping.full_swing), gen)


def _transfers(layers: list[_Layer], specs: list[ArraySpec], hardware: Any, cost: CostConfig | None,
               schedule: ScheduleConfig, activity: ActivityConfig, encoder: PulseEncoder,
               gen: torch.Generator) -> dict:
    """The transfer block of a summary (per sample, at the configured rate): see the module docstring."""
    conv = hardware.converters
    per_layer = []
    for i, layer in enumerate(layers):
        t = layer.transfer.config
        rate = layer.n_out / t.samples_per_sweep  # columns per sample
        columns = min(layer.n_out, max(activity.samples, math.ceil(activity.samples * rate)))
        for xb in layer.arrays:
            xb.events = None
        layer.transfer.reset_buffer()
        for _ in range(t.samples_per_sweep):  # one sweep of updates since the columns' last transfer
            _update(layer, _inputs(layer.n_in, conv, activity, gen), encoder, activity, gen, columns)
        meter = CostMeter([s for s in specs if s.layer == i], hardware, cost, schedule)
        meter.attach(layer.arrays)
        with meter.epoch():
            for col in range(columns):
                layer.transfer.transfer_column(col, gen)
        measured = meter.summary()["transfer"]  # one "sample": the sums over the columns
        per_layer.append((measured, rate / columns))
    out: dict[str, Any] = {k: sum(m[k] * scale for m, scale in per_layer) for k in TRANSFER_COUNTS}
    for s in INSITU:
        tally = Tally()
        for m, scale in per_layer:
            tally.energy.update({k: tally.energy[k] + v * scale for k, v in m[s]["energy_breakdown_j"].items()})
        lat = [m[s]["latency_s"] * scale for m, scale in per_layer]
        tally.latency = max(lat) if schedule.layers_update_concurrently else sum(lat)
        out[s] = tally.as_dict()
    out["columns_measured"] = [round(m["columns"]) for m, _ in per_layer]
    return out


class _ReadsToo:
    """An array's event sink that also hands its read events to a second sink."""

    def __init__(self, sink: Any, reads: Any) -> None:
        self.sink, self.reads = sink, reads

    def append(self, event: object) -> None:
        self.sink.append(event)
        if isinstance(event, ReadEvent):
            self.reads.append(event)


def check_costed(hardware: Any) -> None:
    """Refuse hardware the cost model does not describe: 1T1MTJ arrays are costed, and passive ones
    (:mod:`.passive`) with the current-coded encoder and plain layers; a passive array's column transfers
    (buffer-and-counter layers) and coincidence writes are not."""
    array = hardware.array
    if array.kind != "passive":
        return
    transfer = hardware.transfer.enabled if hasattr(hardware, "transfer") else False
    if transfer:
        raise ValueError(f"hardware.transfer.counter_bits = {hardware.transfer.counter_bits}: transfer layers on "
                         "passive arrays are not costed (their column transfers are half-select writes the meter "
                         "does not schedule); use counter_bits = 0 or hardware.array.kind = '1t1mtj'")
    if hardware.encoder.scheme != "current":
        raise ValueError(f"hardware.encoder.scheme = {hardware.encoder.scheme!r}: passive arrays write with the "
                         "current-coded scheme only; use hardware.encoder.scheme = 'current'")


def estimate(hardware: Any, *, layers: Sequence[int] | None = None, rows: int | None = None,
             cols: int | None = None, cost: CostConfig | None = None, schedule: ScheduleConfig | None = None,
             activity: ActivityConfig | None = None) -> dict:
    """Per-sample latency and energy of the three schedules for a network (``layers``) or an array.

    ``hardware`` is an ``nn.HardwareConfig`` (device, array, solver, converters, mapping, encoder,
    transfer). Returns :meth:`CostMeter.summary` (ex-situ programming amortised over
    ``schedule.training_samples``; with transfer layers, the in-situ figures include the transfers at their
    rate, ``"without_transfers"`` and ``"transfer"`` give them apart) plus ``"network"`` and ``"activity"``;
    without transfer layers ``"reads_writes"``: per in-situ schedule the latency and energy of the samples'
    reads (forward and transposed) and of the rest (encoding and write phases); for passive arrays also
    ``"passive_read_split"``: the fractions of a forward read's power (the last sample's,
    all layers) in the cells, wires, drivers and sense side (:func:`.passive.read_power_split`).
    """
    check_costed(hardware)
    check_drivers(hardware)
    sizes, is_network = _sizes(layers, rows, cols)
    transfer = hardware.transfer.enabled if hasattr(hardware, "transfer") else False
    if transfer and not is_network:
        raise ValueError("hardware.transfer.counter_bits > 0 makes transfer layers: give a network (layers, "
                         "--layers), not a single array")
    schedule, activity = schedule or ScheduleConfig(), activity or ActivityConfig()
    gen = torch.Generator().manual_seed(activity.seed)
    dev, conv = hardware.device, hardware.converters
    r_series = series_resistance(hardware.array)
    g_p, g_ap = 1.0 / (dev.r_p + r_series), 1.0 / (dev.r_ap + r_series)
    mapping_cfg = hardware.mapping if is_network else MappingConfig()
    encoder = PulseEncoder(hardware.encoder, dev)
    encoder.limit_currents(hardware.array)
    built = _build(hardware, sizes, mapping_cfg, transfer, gen)
    specs, plain = [], []
    for i, layer in enumerate(built):
        backward = i > 0 or not is_network
        for m, (xb, mapping) in enumerate(zip(layer.arrays, layer.mappings, strict=True)):
            specs.append(ArraySpec(rows=layer.n_in, cols=xb.cols, in_features=layer.n_in, out_features=layer.n_out,
                                   reference_conductance=0.0 if mapping.differential
                                   else mapping.k * 0.5 * (g_p + g_ap),
                                   backward=backward, adc_bits=conv.adc_bits, layer=i,
                                   name=f"bit{m - 1}" if m else "", **spec_fields(xb)))
        cols_plain = SynapseMapping(layer.n_out, mapping_cfg).physical_cols
        plain.append(ArraySpec(rows=layer.n_in, cols=cols_plain, in_features=layer.n_in, out_features=layer.n_out,
                               backward=backward, adc_bits=conv.adc_bits, layer=i))
    meter = CostMeter(specs, hardware, cost, schedule, plain)
    reads = CostMeter(specs, hardware, cost, schedule, plain)  # the same samples' reads alone
    arrays = [xb for layer in built for xb in layer.arrays]
    reads.attach(arrays)
    read_sinks = [xb.events for xb in arrays]
    meter.attach(arrays)
    if not transfer:  # (a transfer layer enters its meter's transfer() through the sink: one meter only)
        for xb, read_sink in zip(arrays, read_sinks, strict=True):
            xb.events = _ReadsToo(xb.events, read_sink)
    with meter.epoch(), reads.epoch():
        for _ in range(activity.samples):
            inputs = []
            for layer in built:
                x = _inputs(layer.n_in, conv, activity, gen)
                inputs.append(x)
                v = dac(x, conv.input_range, conv.v_read, conv.dac_bits)
                for xb in layer.arrays:  # every array of the layer reads the same inputs
                    xb.read(v)
            for i, layer in reversed(list(enumerate(built))):
                if i > 0 or not is_network:
                    delta = torch.randn(layer.n_out, generator=gen)
                    u = dac(delta / delta.abs().max().clamp(min=1e-30), 1.0, conv.v_read, conv.dac_bits)
                    for xb, mapping in zip(layer.arrays, layer.mappings, strict=True):
                        xb.read_transposed(mapping.expand(u))
            for layer, x in zip(built, inputs, strict=True):
                _update(layer, x, encoder, activity, gen)
    out = meter.summary(amortise_over=schedule.training_samples)
    if hardware.array.kind == "passive":  # the last sample's forward reads, split by the raw circuit
        split: dict[str, float] = {}
        for layer, x in zip(built, inputs, strict=True):
            part = read_power_split(layer.arrays[0], dac(x, conv.input_range, conv.v_read, conv.dac_bits))
            split = {k: split.get(k, 0.0) + w for k, w in part.items()}
        total = sum(split.values()) or 1.0
        out["passive_read_split"] = {k: w / total for k, w in split.items()}
    if not transfer:
        read_summary = reads.summary()
        out["reads_writes"] = {s: {"reads": {k: read_summary[s][k] for k in ("latency_s", "energy_j")},
                                   "writes": {k: out[s][k] - read_summary[s][k] for k in ("latency_s", "energy_j")}}
                               for s in INSITU}
    if transfer:
        with_transfers(out, _transfers(built, specs, hardware, cost, schedule, activity, encoder, gen))
    out["network"] = {"sizes": sizes, "arrays": [[s.rows, s.cols] for s in specs], "kind": "network" if
                      is_network else "array", "array": to_dict(hardware.array), "mapping": to_dict(mapping_cfg),
                      "transfer": to_dict(hardware.transfer) if transfer else None}
    out["activity"] = to_dict(activity)
    return out
