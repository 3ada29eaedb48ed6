"""Latency and energy of each event an array reports, under the two in-situ schedules.

* **Read** (forward or transposed), the same under both schedules. Latency: DAC settling, line settling,
  the read pulse, the conversions of one ADC (``lines_per_adc`` of them one after the other; ADCs work in
  parallel) and ``read_ops_per_line`` digital operations (a digital unit per line). Energy: the cells'
  ``sum_i v_i I_i t_read`` from the actual driver currents (and the reference column's
  ``g_ref sum_i v_i^2 t_read`` on forward reads of arrays that have one), a DAC conversion per driven
  line, an ADC conversion and the digital operations per digitised line, and ``C V^2`` per driven line.
  The ADC digitises the signed current of a logical output (forward) or of a row (transposed), as
  ``nn/linear.py`` does, so an array of ``k`` MTJs per synapse converts ``out_features`` lines forward.
* **Write phase.** Energy ``sum t_i I_j^2 R_ij`` over every cell that sees current, switched or not;
  a DAC conversion per driven column (its current); ``C V_g^2`` per gated word line and ``C V^2`` per
  driven bit line, ``V`` the mean voltage across the column's gated cells (``I_j R_ij``). Parallel:
  every gated row at once, latency ``t_dac + t_settle + max t_i``. Row by row: one gated row at a time,
  latency ``t_dac + sum_i (t_settle + t_i)``, each row a write of its own that charges the driven bit
  lines again (to ``I_j R_ij`` of that row's cells).
* **Write** (once per update, either schedule): ``encode_ops_per_line`` digital operations on every row
  and column (pulse widths and currents), in parallel across lines.
* **Column read** of a transfer (:func:`column_read_cost`; one-hot transposed read of one column of a
  transfer layer's array, every row sensed and compared with the reference, initial or verify): the
  cells' actual ``sum v I t_read``, one DAC conversion (the one driven column), ``C V^2`` of that column,
  and per sensed row a one-bit decision (the first comparison of its SAR ADC: ``FoM_W 2^1`` and
  ``t_adc / adc_bits``); a verify read also compares each row's bit with its target (one integer operation
  per row, ``counter_op_energy``, ``t_op``). The carry between the reads and the writes is one integer
  operation per row (:func:`carry_cost`). A transfer's column writes are write phases (above) with one
  driven column; their pulses are fixed by the config (``hardware.transfer``), so they need no encoding.

:func:`fused_tallies` is the same accounting from the sums the fused training loop keeps per sample and layer
instead of events (every formula above is linear in them, or a maximum per phase that the loop keeps).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..crossbar.config import ARRAY_KINDS, READ_CALIBRATIONS
from ..crossbar.events import PhaseEvent, ReadEvent, WriteEvent
from .config import CostConfig, ScheduleConfig

__all__ = ["COMPONENTS", "Tally", "ArraySpec", "read_cost", "column_read_cost", "carry_cost", "phase_cost",
           "write_cost", "fused_tallies"]

#: Energy components. ``cells_write``: the cells a write phase aims at (1T1MTJ: every gated cell); a passive
#: array's phases also heat ``cells_half_selected`` and ``cells_unselected`` cells, ``wires`` and the
#: ``drivers``' output resistances (:mod:`.passive`); its reads' ``cells_read`` is all the read sources deliver.
COMPONENTS = ("cells_read", "cells_write", "cells_half_selected", "cells_unselected", "wires", "drivers", "dac", "adc",
              "lines", "digital", "software", "programming")


@dataclass
class Tally:
    """Latency (s) and energy (J, by component) of some operations."""

    latency: float = 0.0
    energy: dict[str, float] = field(default_factory=lambda: dict.fromkeys(COMPONENTS, 0.0))

    @property
    def energy_total(self) -> float:
        return sum(self.energy.values())

    def add(self, other: Tally, scale: float = 1.0) -> None:
        self.latency += scale * other.latency
        for key, value in other.energy.items():
            self.energy[key] += scale * value

    def as_dict(self, per: float = 1.0) -> dict:
        return {"latency_s": self.latency / per, "energy_j": self.energy_total / per,
                "energy_breakdown_j": {k: v / per for k, v in self.energy.items() if v}}


@dataclass(frozen=True)
class ArraySpec:
    """What the cost model needs to know of one array beyond its events."""

    rows: int  # physical rows (= logical inputs)
    cols: int  # physical columns
    in_features: int
    out_features: int
    reference_conductance: float = 0.0  # S per row of the reference column(s), k x g_ref, forward reads (0: none)
    backward: bool = True  # the layer propagates errors to its inputs (a transposed read per update)
    adc_bits: int | None = None  # ADC resolution (None: CostConfig.adc_bits)
    layer: int | None = None  # the layer the array belongs to (None: its own index, one array per layer)
    name: str = ""  # the array's name within its layer (``layer.arrays()``: "" the main array, "bit0", ...)
    kind: str = "1t1mtj"  # ArrayConfig.kind: "passive" arrays are costed by :mod:`.passive`
    tiles: tuple[int, int] = (1, 1)  # (row tiles, column tiles): each tile has its own drivers and ADCs
    calibration: str = "off"  # passive reads: the periphery's read calibration (ArrayConfig.read_calibration)

    def __post_init__(self) -> None:
        if self.kind not in ARRAY_KINDS:
            raise ValueError(f"ArraySpec.kind = {self.kind!r}: must be one of {ARRAY_KINDS}")
        if len(self.tiles) != 2 or min(self.tiles) < 1:
            raise ValueError(f"ArraySpec.tiles = {self.tiles!r}: must be (row tiles, column tiles), each >= 1")
        if self.calibration not in READ_CALIBRATIONS:
            raise ValueError(f"ArraySpec.calibration = {self.calibration!r}: must be one of {READ_CALIBRATIONS}")

    def digitised_lines(self, transposed: bool) -> int:
        """Lines one read converts: a row each (transposed) or a logical output each (forward)."""
        return self.rows if transposed else self.out_features


def _energy(**parts: float) -> dict[str, float]:
    out = dict.fromkeys(COMPONENTS, 0.0)
    out.update(parts)
    return out


def read_cost(event: ReadEvent, spec: ArraySpec, cost: CostConfig, schedule: ScheduleConfig) -> Tally:
    """Cost of one read event (one vector or a batch, read one after the other)."""
    n = event.vectors
    lines = spec.digitised_lines(event.transposed)
    v = event.voltages.double()
    v2 = float((v * v).sum())
    cells = float((v * event.driver_currents.double()).sum())
    if not event.transposed and spec.reference_conductance > 0:
        cells += spec.reference_conductance * v2
    latency = n * (cost.dac_time + cost.line_settle_time + cost.read_pulse_width
                   + min(schedule.lines_per_adc, lines) * cost.adc_time + cost.read_ops_per_line * cost.digital_op_time)
    energy = _energy(cells_read=cells * cost.read_pulse_width,
                     dac=n * event.driven * cost.dac_energy,
                     adc=n * lines * cost.adc_energy(spec.adc_bits),
                     lines=cost.line_capacitance_per_cell * event.sensed * v2,
                     digital=n * lines * cost.read_ops_per_line * cost.digital_op_energy)
    return Tally(latency, energy)


def column_read_cost(event: ReadEvent, spec: ArraySpec, cost: CostConfig, schedule: ScheduleConfig,
                     ops_per_line: int = 0) -> Tally:
    """Cost of one column read of a transfer: the driven column(s) at their voltage, each sensed line
    decided against the reference (one bit), then ``ops_per_line`` integer operations per line (1 for a
    verify read's compare)."""
    n = event.vectors
    lines = event.sensed
    v = event.voltages.double()
    v2 = float((v * v).sum())
    driven = int((v != 0).sum())  # DAC conversions: the driven lines of every vector
    bits = cost.adc_bits if spec.adc_bits is None else spec.adc_bits
    latency = n * (cost.dac_time + cost.line_settle_time + cost.read_pulse_width
                   + min(schedule.lines_per_adc, lines) * cost.adc_time / bits + ops_per_line * cost.digital_op_time)
    energy = _energy(cells_read=float((v * event.driver_currents.double()).sum()) * cost.read_pulse_width,
                     dac=driven * cost.dac_energy,
                     adc=n * lines * cost.adc_energy(1),
                     lines=cost.line_capacitance_per_cell * lines * v2,
                     digital=n * lines * ops_per_line * cost.counter_op_energy)
    return Tally(latency, energy)


def carry_cost(rows: int, cost: CostConfig) -> Tally:
    """The per-row carry of one column transfer: one integer operation per row, all rows in parallel."""
    return Tally(cost.digital_op_time, _energy(digital=rows * cost.counter_op_energy))


def phase_cost(event: PhaseEvent, spec: ArraySpec, cost: CostConfig) -> tuple[Tally, Tally]:
    """Cost of one write phase: (parallel schedule, row-by-row schedule)."""
    rows, cols = event.active_rows, event.active_cols
    if rows == 0 or cols == 0:
        return Tally(), Tally()
    resistance = event.resistance  # (gated rows, cols), the array's dtype: matrix-vector products only
    widths = event.row_widths.index_select(0, event.rows).to(resistance.dtype)
    current = event.col_currents.to(resistance.dtype)
    i2 = current * current
    cells = float(widths @ (resistance @ i2))  # sum_k t_k sum_j I_j^2 R_kj
    c_word = cost.line_capacitance_per_cell * spec.cols  # a word line crosses every column
    c_bit = cost.line_capacitance_per_cell * spec.rows  # a bit line crosses every row
    word = rows * c_word * cost.gate_voltage**2
    # bit lines charged to the voltage across their gated cells, I_j R_kj: once at the mean (parallel),
    # or once per row (row by row)
    bit_parallel = c_bit * float((current * resistance.mean(dim=0)).square().sum())
    bit_rowwise = c_bit * float((resistance * resistance).sum(dim=0) @ i2)
    dac = cols * cost.dac_energy
    parallel = Tally(cost.dac_time + cost.line_settle_time + float(widths.max()),
                     _energy(cells_write=cells, dac=dac, lines=word + bit_parallel))
    rowwise = Tally(cost.dac_time + rows * cost.line_settle_time + float(widths.sum()),
                    _energy(cells_write=cells, dac=dac, lines=word + bit_rowwise))
    return parallel, rowwise


def write_cost(event: WriteEvent, cost: CostConfig) -> Tally:
    """Digital encoding of one update (pulse widths of the rows, currents of the columns)."""
    return Tally(cost.encode_ops_per_line * cost.digital_op_time,
                 _energy(digital=(event.rows + event.cols) * cost.encode_ops_per_line * cost.digital_op_energy))



def fused_tallies(sums: Mapping[str, np.ndarray], specs: Sequence[ArraySpec], cost: CostConfig,
                  schedule: ScheduleConfig) -> tuple[dict, dict]:
    """Per sample, the in-situ latency and energy (``insitu_parallel``, ``insitu_rowwise``) of samples the fused
    loop ran, without and of the transfers, from its per-sample, per-layer sums (arrays (n, layers); keys as
    ``training.fused.kernels.METER_FIELDS``): each sample's forward read of every array, its transposed reads
    (``bwd_reads`` the layer's first array, ``tile_bwd_reads`` every other), each written layer's encoding
    (``writes``) and write phases, costed as :func:`read_cost`, :func:`write_cost` and :func:`phase_cost`
    cost the eager events; a layer's arrays read at once (the slowest counts), a sample's layers write at the
    same time (``layers_update_concurrently``: the longest counts) or one after the other. A layer's other
    arrays (``specs`` with the same ``layer``: a transfer layer's bit tiles) share its inputs. Transfers:
    :func:`column_read_cost`, :func:`carry_cost` and :func:`phase_cost` of the kernel's per-column sums
    (``t_*``), latencies as the kernel added them up; layers transfer concurrently or in turn as they write.
    Returns ``(in_situ, transfers)``, each ``{schedule: (latency (n,), {component: energy (n,)})}``: per
    sample, so that a meter adds them up one sample after the other whatever chunks they came in."""
    n, layers = sums["writes"].shape
    groups: list[list[ArraySpec]] = [[] for _ in range(layers)]
    for i, spec in enumerate(specs):
        groups[i if spec.layer is None else spec.layer].append(spec)
    zero = np.zeros(n)
    ones = np.ones(n)
    read_latency = zero.copy()
    write_par, write_row = np.zeros((n, layers)), np.zeros((n, layers))
    energy = {k: zero.copy() for k in COMPONENTS}
    par_lines, row_lines = zero.copy(), zero.copy()
    t_energy = {k: zero.copy() for k in COMPONENTS}
    t_par_lines, t_row_lines = zero.copy(), zero.copy()
    c = cost.line_capacitance_per_cell

    def read_time(spec: ArraySpec, transposed: bool) -> float:
        lines = spec.digitised_lines(transposed)
        return (cost.dac_time + cost.line_settle_time + cost.read_pulse_width
                + min(schedule.lines_per_adc, lines) * cost.adc_time + cost.read_ops_per_line * cost.digital_op_time)

    def read(reads: np.ndarray, v2: np.ndarray, cells: np.ndarray, spec: ArraySpec, transposed: bool) -> None:
        lines = spec.digitised_lines(transposed)
        driven, sensed = (spec.cols, spec.rows) if transposed else (spec.rows, spec.cols)
        if not transposed and spec.reference_conductance > 0:
            cells = cells + spec.reference_conductance * v2
        energy["cells_read"] += cells * cost.read_pulse_width
        energy["dac"] += reads * (driven * cost.dac_energy)
        energy["adc"] += reads * (lines * cost.adc_energy(spec.adc_bits))
        energy["lines"] += (c * sensed) * v2
        energy["digital"] += reads * (lines * cost.read_ops_per_line * cost.digital_op_energy)

    for ly, group in enumerate(groups):
        col = {k: np.asarray(v[:, ly], dtype=np.float64) for k, v in sums.items() if np.ndim(v) == 2}
        first, tiles = group[0], group[1:]
        # forward reads: every array, every sample; transposed reads where the arrays propagated an error
        read(ones, col["fwd_v2"], col["fwd_cells"], first, False)
        read(col["bwd_reads"], col["bwd_v2"], col["bwd_cells"], first, True)
        for t, spec in enumerate(tiles):  # the tiles' sums are over all tiles: put them in with the first
            read(ones, col["fwd_v2"], col["tile_fwd_cells"] if t == 0 else zero, spec, False)
            read(col["tile_bwd_reads"], col["tile_bwd_v2"], col["tile_bwd_cells"] if t == 0 else zero, spec, True)
        read_latency += max(read_time(spec, False) for spec in group)
        backward = np.maximum(col["bwd_reads"], col["tile_bwd_reads"]) if tiles else col["bwd_reads"]
        read_latency += backward * max(read_time(spec, True) for spec in group)
        # encodings and write phases (the first array: a transfer layer's buffer)
        writes, phases = col["writes"], col["phases"]
        encode = writes * (cost.encode_ops_per_line * cost.digital_op_time)
        energy["digital"] += writes * ((first.rows + first.cols) * cost.encode_ops_per_line * cost.digital_op_energy)
        write_par[:, ly] = encode + phases * (cost.dac_time + cost.line_settle_time) + col["width_max"]
        write_row[:, ly] = encode + phases * cost.dac_time + col["rows"] * cost.line_settle_time + col["width_sum"]
        energy["cells_write"] += col["cells"]
        energy["dac"] += col["cols"] * cost.dac_energy
        word = col["rows"] * (c * first.cols * cost.gate_voltage**2)
        c_bit = c * first.rows
        par_lines += word + c_bit * col["bit_mean"]
        row_lines += word + c_bit * col["bit_rows"]
        if tiles:  # column transfers
            v = sums["v_read"]
            reads = col["t_reads"]
            t_energy["cells_read"] += col["t_read_cells"] * cost.read_pulse_width
            t_energy["dac"] += (reads + col["t_phases"]) * cost.dac_energy
            t_energy["adc"] += reads * (first.rows * cost.adc_energy(1))
            t_energy["digital"] += (col["t_verifies"] + col["t_columns"]) * (first.rows * cost.counter_op_energy)
            t_energy["cells_write"] += col["t_cells"]
            t_energy["lines"] += reads * (c * first.rows * v * v)
            word = (col["t_word_buffer"] * first.cols + col["t_word_tiles"] * tiles[0].cols) \
                * (c * cost.gate_voltage**2)
            t_par_lines += word + c_bit * col["t_bit_mean"]
            t_row_lines += word + c_bit * col["t_bit_rows"]
    out, transfer = {}, {}
    for name, write, lines, t_lines, latency_key in (
            ("insitu_parallel", write_par, par_lines, t_par_lines, "t_latency_parallel"),
            ("insitu_rowwise", write_row, row_lines, t_row_lines, "t_latency_rowwise")):
        latency = write.max(axis=1) if schedule.layers_update_concurrently else write.sum(axis=1)
        out[name] = (read_latency + latency, {k: e + lines if k == "lines" else e for k, e in energy.items()})
        t = np.asarray(sums[latency_key], dtype=np.float64)
        t_latency = t.max(axis=1) if schedule.layers_update_concurrently else t.sum(axis=1)
        transfer[name] = (t_latency, {k: e + t_lines if k == "lines" else e for k, e in t_energy.items()})
    return out, transfer
