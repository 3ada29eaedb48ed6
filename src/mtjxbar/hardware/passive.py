"""Latency and energy of passive (0T1MTJ) arrays, from the events they report.

A passive array is cut into tiles, each its own circuit with its own drivers and sense amplifiers
(:mod:`mtjxbar.crossbar.passive`); the circuit of every read and write phase is solved exactly (wires, ports,
sneak paths, bias-dependent TMR), and the events carry what the solves found, so no energy here is a guessed
per-cell constant:

* **Read** (:func:`passive_read_cost`): the sources' power ``sum v I_driver`` of the solved circuit, the
  current each driver sources including what leaks into sneak paths and what the wires and the sense side
  dissipate (``cells_read``; the driven lines at their nominal voltage: the calibration's drive gains, of
  geometric mean 1, are left out of this product). The periphery works per tile: a DAC per driven line in
  every tile it crosses, an ADC conversion per sensed line in every tile it crosses (the partial sums are
  digitised apart), ``tiles - 1`` digital adds per digitised line to join them (an adder tree:
  ``ceil(log2 tiles)`` cycles) and, with the read calibration, one multiply per tile line for its sense gain
  (``cells`` calibration: also one per driven tile line for its drive gain; one cycle each). The rest as
  :func:`.ledger.read_cost`.
* **Write phase** (:func:`passive_phase_cost`, a :class:`~mtjxbar.crossbar.events.PassivePhaseEvent`): the
  power of each part of the circuit (cells aimed at, half-selected and unselected cells, wires, drivers) in
  the phase's two patterns as the array solved them, the IR-drop compensation's moved sources included.
  Parallel schedule, phase length ``T = max t_i``: selected row ``i``'s cells and line in the held pattern
  for ``t_i`` and the released one for ``T - t_i``; everything else (unselected rows, column lines) held
  for the mean selected width ``tau`` and released for ``T - tau`` (exact when the selected rows share one
  width; otherwise the column lines' cross terms between rows released at different times are
  approximated). Row by row, phase length ``L = sum t_i``: row ``i`` held for ``t_i`` and released for
  ``L - t_i``; the rest released for ``L`` plus its held-minus-released power for ``L / n`` (one of the
  ``n`` selected rows held at a time: its share of the held increment, to first order). A DAC per selected
  column in every row tile (its level) and, where the IR-drop compensation gives each selected row its own
  held level, per selected row in every column tile (else the rows switch between the scheme's common
  levels), ``C V^2`` per line
  for the held levels and the selected rows' release, ``t_dac + t_settle + T`` (parallel) or ``t_dac +
  sum_i (t_settle + t_i)`` (row by row) as on 1T1MTJ arrays.
* **Write** (encoding) as :func:`.ledger.write_cost`.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ..crossbar.events import PASSIVE_PARTS, PassivePhaseEvent, ReadEvent
from .config import CostConfig, ScheduleConfig
from .ledger import COMPONENTS, ArraySpec, Tally, read_cost

__all__ = ["passive_read_cost", "passive_phase_cost", "spec_fields", "read_power_split", "PART_COMPONENT"]

#: The energy component (:data:`.ledger.COMPONENTS`) of each part of a passive phase's circuit.
PART_COMPONENT = dict(zip(PASSIVE_PARTS, ("cells_write", "cells_half_selected", "cells_unselected", "wires",
                                           "drivers"), strict=True))


def spec_fields(xb: Any) -> dict:
    """The :class:`.ledger.ArraySpec` fields that describe array ``xb`` (duck-typed: a passive array has
    ``row_tiles`` and ``col_tiles``): its kind, tiles and read calibration."""
    array = xb.array
    if array.kind != "passive":
        return {"kind": array.kind}
    calibration = "off" if array.circuit.ideal_wires else array.read_calibration
    return {"kind": "passive", "tiles": (len(xb.row_tiles), len(xb.col_tiles)), "calibration": calibration}


def passive_read_cost(event: ReadEvent, spec: ArraySpec, cost: CostConfig, schedule: ScheduleConfig) -> Tally:
    """Cost of one read of a passive array (module docstring): :func:`.ledger.read_cost` with the tiles'
    drivers, ADCs, partial-sum adds and calibration gains."""
    out = read_cost(event, spec, cost, schedule)
    rows, cols = spec.tiles
    across, along = (rows, cols) if event.transposed else (cols, rows)  # tiles a driven / a sensed line crosses
    n, lines = event.vectors, spec.digitised_lines(event.transposed)
    out.energy["dac"] *= across
    out.energy["adc"] *= along
    ops = lines * (along - 1)  # joining the partial sums
    cycles = math.ceil(math.log2(along)) if along > 1 else 0
    if spec.calibration != "off":
        ops += lines * along
        cycles += 1
        if spec.calibration == "cells":
            ops += event.driven * across
            cycles += 1
    out.energy["digital"] += n * ops * cost.digital_op_energy
    out.latency += n * cycles * cost.digital_op_time
    return out


def passive_phase_cost(event: PassivePhaseEvent, spec: ArraySpec, cost: CostConfig) -> tuple[Tally, Tally]:
    """Cost of one write phase of a passive array under the parallel and the row-by-row schedule (module
    docstring)."""
    if event.active_rows == 0:
        return Tally(), Tally()
    t = event.row_widths.double().index_select(0, event.rows)
    held, released = event.row_power[0].double(), event.row_power[1].double()  # (parts, rows)
    rest = event.rest_power.double()  # (2, parts)
    n = float(t.numel())
    length, tau, total = float(t.max()), float(t.mean()), float(t.sum())
    own_par = held @ t + released @ (length - t)
    own_row = held @ t + released @ (total - t)
    rest_par = rest[0] * tau + rest[1] * (length - tau)
    rest_row = rest[1] * total + (rest[0] - rest[1]) * (total / n)
    row_tiles, col_tiles = event.tiles
    fixed = dict.fromkeys(COMPONENTS, 0.0)
    row_dacs = event.active_rows * col_tiles if event.compensated else 0
    fixed["dac"] = (event.selected_cols * row_tiles + row_dacs) * cost.dac_energy
    fixed["lines"] = cost.line_capacitance_per_cell * event.line_v2

    def tally(latency: float, parts: torch.Tensor) -> Tally:
        energy = dict(fixed)
        for part, value in zip(PASSIVE_PARTS, parts.tolist(), strict=True):
            energy[PART_COMPONENT[part]] += value
        return Tally(latency, energy)

    parallel = tally(cost.dac_time + cost.line_settle_time + length, own_par + rest_par)
    rowwise = tally(cost.dac_time + n * cost.line_settle_time + total, own_row + rest_row)
    return parallel, rowwise


def read_power_split(xb: Any, v: torch.Tensor, transposed: bool = False) -> dict[str, float]:
    """Where the power of one read of passive array ``xb`` goes (W): ``cells``, ``wires``, ``drivers`` (the
    driven lines' ports) and ``sense`` (the sensed lines'), for driven-line voltages ``v``, from the raw read
    circuit (:meth:`~mtjxbar.crossbar.passive.PassiveCrossbar.read_cell_voltages`: one more solve, for
    estimates; the meter charges a read's whole source power as ``cells_read``)."""
    volts = xb.read_cell_voltages(v.detach().double().cpu().numpy().reshape(1, -1), transposed)
    p = xb.circuit_power(volts, "transposed" if transposed else "read")
    rows, cols = float(p.row_ports.sum()), float(p.col_ports.sum())
    return {"cells": float(p.cells.sum()), "wires": float(p.row_wires.sum() + p.col_wires.sum()),
            "drivers": cols if transposed else rows, "sense": rows if transposed else cols}
