"""The ex-situ schedule: software training on a reference processor, then write-verify programming.

**Software training**, per sample: forward ``sum n_in n_out`` multiply-accumulates, the error
propagated back through every layer that has one (``n_in n_out`` each; not the first layer of a
network), and the weight gradient fused with the update (``n_in n_out`` each), all on the reference
processor at its energy and time per operation (arithmetic only: data movement is in the constants).

**Write-verify programming**, once, of every cell of every array, row by row (all columns of a row in
parallel, each column driven until its cell reads right, then idle). A fraction
``program_changed_fraction`` of the cells must change state, half of them each way; each row first
reads its cells, then for each polarity repeats {pulse the cells still wrong, read the row} until all
are right. A pulse switches a cell with the device model's probability ``p`` at
``program_current_ratio * Ic0`` for ``program_pulse_width``, so a cell needs ``1/p`` pulses on average
(geometric) and a row of ``m`` such cells ``E[max of m geometric(p)] = sum_k 1 - (1 - (1-p)^k)^m``
rounds. Pulse energy is ``I^2 R t`` with the cell's resistance before it switches (AP at that current
for AP->P, P for P->AP) plus the bit line charged to ``I R`` per pulse and the word line per round;
verify reads drive one row at ``v_read`` and convert every column.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from ..crossbar import Crossbar
from ..crossbar.events import ap_resistance_at_current
from ..device import switching_probability
from .config import CostConfig, ScheduleConfig
from .ledger import COMPONENTS, ArraySpec, Tally

__all__ = ["software_macs", "software_cost", "expected_rounds", "programming_cost"]


def software_macs(specs: Sequence[ArraySpec]) -> int:
    """Multiply-accumulates of one per-sample software training step (forward, backward, update)."""
    return sum(s.in_features * s.out_features * (3 if s.backward else 2) for s in specs)


def software_cost(specs: Sequence[ArraySpec], cost: CostConfig) -> Tally:
    """Latency and energy of one software training step on the reference processor."""
    macs = software_macs(specs)
    energy = dict.fromkeys(COMPONENTS, 0.0)
    energy["software"] = macs * cost.reference_mac_energy
    return Tally(macs * cost.reference_mac_time, energy)


def expected_rounds(m: float, p: float) -> float:
    """Expected maximum of ``m`` independent geometric(p) trial counts (rounds until all succeed).

    Exact series ``sum_{k>=0} 1 - (1 - q^k)^m`` (``q = 1 - p``; real ``m`` allowed) while it converges
    within 10^6 terms; beyond, Eisenberg's asymptote ``H_m / -ln q + 1/2`` (Stat. Prob. Lett. 78, 135
    (2008)), exact to well under 1 % there.
    """
    if m <= 0:
        return 0.0
    if not p > 0:
        return math.inf
    if p >= 1:
        return 1.0
    q = 1.0 - p
    log_q = math.log(q)
    terms = max(math.ceil(math.log(1e-17 / m) / log_q) + 1, 1)
    if terms > 1_000_000:
        harmonic = math.log(m) + 0.5772156649015329 + 1.0 / (2.0 * m)
        return harmonic / -log_q + 0.5
    k = torch.arange(terms, dtype=torch.float64)
    return float((-torch.expm1(m * torch.log1p(-torch.exp(k * log_q).clamp(max=1.0)))).sum())


def _verify_read(cols: int, hardware: Any, cost: CostConfig, schedule: ScheduleConfig,
                 bits: int | None) -> Tally:
    """One verify read: one row at v_read, every column converted and compared (cells half P, half AP)."""
    v = hardware.converters.v_read
    probe = Crossbar(1, 2, hardware.device, hardware.array, hardware.solver, dtype=torch.float64)
    probe.set_states(torch.tensor([[True, False]]))
    per_cell = v * float(probe.read(torch.tensor([v], dtype=torch.float64)).mean()) * cost.read_pulse_width
    energy = dict.fromkeys(COMPONENTS, 0.0)
    energy.update(cells_read=cols * per_cell, dac=cost.dac_energy, adc=cols * cost.adc_energy(bits),
                  lines=cost.line_capacitance_per_cell * cols * v * v, digital=cols * cost.digital_op_energy)
    latency = (cost.dac_time + cost.line_settle_time + cost.read_pulse_width
               + min(schedule.lines_per_adc, cols) * cost.adc_time + cost.digital_op_time)
    return Tally(latency, energy)


def _direction(hardware: Any, direction: str, schedule: ScheduleConfig) -> dict[str, float]:
    """Current, switching probability and pulse energy of one programming direction."""
    dev, r_on = hardware.device, hardware.array.r_access
    kw = dev.switching(direction)
    current = schedule.program_current_ratio * kw["ic0"]
    width = schedule.program_pulse_width
    p = float(switching_probability(current, width, **kw))
    if direction == "ap2p":
        r = float(ap_resistance_at_current(torch.tensor(current, dtype=torch.float64), r_p=dev.r_p,
                                           tmr0=dev.tmr0, v_h=dev.v_h))
    else:
        r = dev.r_p
    return {"current_a": current, "switch_probability": p, "pulses_per_changed_cell": 1.0 / p if p > 0 else math.inf,
            "cell_resistance_ohm": r + r_on, "pulse_energy_j": current * current * (r + r_on) * width}


def programming_cost(specs: Sequence[ArraySpec], hardware: Any, cost: CostConfig,
                     schedule: ScheduleConfig) -> dict:
    """Expected latency, energy and pulses of write-verify programming every cell of ``specs`` once."""
    dirs = {d: _direction(hardware, d, schedule) for d in ("ap2p", "p2ap")}
    vg2, c_line = cost.gate_voltage**2, cost.line_capacitance_per_cell
    pulse_time = cost.dac_time + cost.line_settle_time + schedule.program_pulse_width
    total, arrays, pulses, cells = Tally(), [], 0.0, 0
    for spec in specs:
        verify = _verify_read(spec.cols, hardware, cost, schedule, spec.adc_bits)
        m = schedule.program_changed_fraction * spec.cols / 2.0  # cells to switch per row, per direction
        rounds = {d: expected_rounds(m, info["switch_probability"]) for d, info in dirs.items()}
        row = Tally()
        row.add(verify, 1.0 + sum(rounds.values()))  # the first read, then one after every round
        row.latency += sum(rounds.values()) * pulse_time
        for d, info in dirs.items():
            n_pulses = m * info["pulses_per_changed_cell"]
            row.energy["programming"] += n_pulses * info["pulse_energy_j"]
            row.energy["dac"] += n_pulses * cost.dac_energy  # the column's write current, per pulse
            bit_v = info["current_a"] * info["cell_resistance_ohm"]  # bit line charged to the cell's voltage
            row.energy["lines"] += n_pulses * c_line * spec.rows * bit_v**2 + rounds[d] * c_line * spec.cols * vg2
        array = Tally()
        array.add(row, spec.rows)
        total.add(array)
        arrays.append({"rows": spec.rows, "cols": spec.cols, "rounds_per_row": rounds, "latency_s": array.latency})
        pulses += spec.rows * sum(m * info["pulses_per_changed_cell"] for info in dirs.values())
        cells += spec.rows * spec.cols
    latencies = [a["latency_s"] for a in arrays]
    total.latency = (max(latencies) if schedule.layers_update_concurrently else sum(latencies)) if arrays else 0.0
    changed = schedule.program_changed_fraction * cells
    return {
        "cells": cells,
        "cells_changed": changed,
        "pulses": pulses,
        "pulses_per_changed_cell": pulses / changed if changed else 0.0,
        "pulses_per_cell": pulses / cells if cells else 0.0,
        "directions": dirs,
        "arrays": arrays,
        "latency_s": total.latency,
        "energy_j": total.energy_total,
        "energy_breakdown_j": {k: v for k, v in total.energy.items() if v},
    }
