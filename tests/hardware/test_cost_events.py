"""Array events and their costs against hand-computed figures: one 2x2 array, one read, one write phase.

Ohmic cells (``v_h`` huge: no TMR roll-off) with round numbers: R_P = 1 kOhm, R_AP = 2 kOhm, a 1 kOhm
access transistor, so a cell is 2 kOhm (P) or 3 kOhm (AP). Every expected number below is written out by
hand from the formulas in ``hardware/ledger.py``'s docstring.
"""

from __future__ import annotations

import pytest
import torch

from mtjxbar.crossbar import TO_AP, ArrayConfig, Crossbar, UpdatePlan, WritePhase
from mtjxbar.crossbar.events import PhaseEvent, ReadEvent, WriteEvent, ap_resistance_at_current
from mtjxbar.device import MTJParams
from mtjxbar.hardware import ArraySpec, CostConfig, CostMeter, ScheduleConfig, phase_cost, read_cost, write_cost

F64 = torch.float64
DEV = MTJParams(r_p=1e3, tmr0=1.0, v_h=1e12)
ARRAY = ArrayConfig(r_access=1e3)
COST = CostConfig(read_pulse_width=10e-9, line_capacitance_per_cell=1e-15, line_settle_time=1e-9, gate_voltage=1.0,
                  dac_energy=1e-12, dac_time=1e-9, adc_energy_per_step=1e-15, adc_bits=4, adc_time=5e-9,
                  digital_op_energy=2e-12, digital_op_time=0.5e-9, read_ops_per_line=3, encode_ops_per_line=2)
G_REF = 0.5 * (1 / 2000 + 1 / 3000)  # a reference column at the mid conductance
SPEC = ArraySpec(rows=2, cols=2, in_features=2, out_features=2, reference_conductance=G_REF)
STATES = torch.tensor([[True, False], [False, False]])  # (0, 0) parallel, the rest antiparallel
V = torch.tensor([0.2, -0.1], dtype=F64)
PHASE = WritePhase(row_widths=torch.tensor([10e-9, 4e-9], dtype=F64),
                   col_currents=torch.tensor([30e-6, 20e-6], dtype=F64), polarity=TO_AP)


def make(events=None) -> Crossbar:
    xb = Crossbar(2, 2, DEV, ARRAY, dtype=F64)
    xb.set_states(STATES)
    xb.events = events
    return xb


def test_read_event_carries_voltages_and_currents():
    events: list = []
    xb = make(events)
    currents = xb.read(V)
    (ev,) = events
    assert isinstance(ev, ReadEvent) and not ev.transposed and ev.cells == 4 and ev.vectors == 1
    # sensed: I_0 = 0.2/2000 - 0.1/3000, I_1 = 0.2/3000 - 0.1/3000
    assert ev.currents.tolist() == pytest.approx([0.2 / 2000 - 0.1 / 3000, 0.1 / 3000], rel=1e-12)
    assert torch.equal(ev.currents, currents)
    # drivers: row 0 feeds a P and an AP cell, row 1 two AP cells
    assert ev.driver_currents.tolist() == pytest.approx([0.2 / 2000 + 0.2 / 3000, -0.2 / 3000], rel=1e-12)
    xb.read_transposed(torch.tensor([0.1, 0.05], dtype=F64))
    assert events[1].transposed
    assert events[1].driver_currents.tolist() == pytest.approx([0.1 / 2000 + 0.1 / 3000, 0.1 / 3000], rel=1e-12)


def test_read_cost_by_hand():
    events: list = []
    make(events).read(V)
    tally = read_cost(events[0], SPEC, COST, ScheduleConfig())
    # cells: 10 ns * (0.2^2 (1/2000 + 1/3000) + 0.1^2 * 2/3000) = 4.0e-13 J, reference column
    # 10 ns * G_REF * (0.04 + 0.01) = 2.0833e-13 J
    assert tally.energy["cells_read"] == pytest.approx(4.0e-13 + 1e-8 * G_REF * 0.05, rel=1e-12)
    assert tally.energy["cells_read"] == pytest.approx(6.083333333e-13, rel=1e-9)
    assert tally.energy["dac"] == pytest.approx(2e-12)  # two driven rows, 1 pJ each
    assert tally.energy["adc"] == pytest.approx(2 * 16e-15)  # two outputs, 1 fJ * 2^4
    assert tally.energy["lines"] == pytest.approx(1e-15 * 2 * 0.05)  # C per cell * 2 cells * sum v^2
    assert tally.energy["digital"] == pytest.approx(2 * 3 * 2e-12)  # 2 lines * 3 ops * 2 pJ
    # dac 1 + settle 1 + pulse 10 + one conversion 5 + 3 ops * 0.5 = 18.5 ns
    assert tally.latency == pytest.approx(18.5e-9, rel=1e-12)


def test_write_phase_event_and_cost_by_hand():
    events: list = []
    xb = make(events)
    result = xb.write(UpdatePlan(phases=(PHASE,)), torch.Generator().manual_seed(0))
    phase, done = events
    assert isinstance(phase, PhaseEvent) and isinstance(done, WriteEvent)
    assert phase.cells == 4 and phase.rows.tolist() == [0, 1]
    assert phase.resistance.tolist() == [[2000.0, 3000.0], [3000.0, 3000.0]]  # states before the phase
    assert (done.phases, done.flips_to_p, done.flips_to_ap) == (1, result.flips_to_p, result.flips_to_ap)
    parallel, rowwise = phase_cost(phase, SPEC, COST)
    # row 0: 10 ns (30e-6^2 2000 + 20e-6^2 3000) = 3.0e-14; row 1: 4 ns (30e-6^2 + 20e-6^2) 3000 = 1.56e-14
    assert parallel.energy["cells_write"] == pytest.approx(4.56e-14, rel=1e-12)
    assert rowwise.energy["cells_write"] == parallel.energy["cells_write"]
    assert parallel.energy["dac"] == pytest.approx(2e-12)  # one current DAC per driven column
    # word lines: 2 rows * (1 fF * 2 cells) * 1 V^2 = 4e-15 J. Bit lines (1 fF * 2 cells) charged to the
    # mean cell voltage: column 0 30 uA * (2000 + 3000)/2 = 0.075 V, column 1 20 uA * 3000 = 0.06 V;
    # row by row, to each row's cell voltages: (0.06^2 + 0.06^2) + (0.09^2 + 0.06^2)
    assert parallel.energy["lines"] == pytest.approx(4e-15 + 2e-15 * (0.075**2 + 0.06**2), rel=1e-12)
    assert rowwise.energy["lines"] == pytest.approx(4e-15 + 2e-15 * (0.0072 + 0.0117), rel=1e-12)
    assert parallel.latency == pytest.approx(1e-9 + 1e-9 + 10e-9)  # dac + settle + longest pulse
    assert rowwise.latency == pytest.approx(1e-9 + 2 * 1e-9 + 14e-9)  # dac + per row (settle + pulse)
    enc = write_cost(done, COST)
    assert enc.latency == pytest.approx(2 * 0.5e-9)
    assert enc.energy["digital"] == pytest.approx((2 + 2) * 2 * 2e-12)


def test_meter_sample_by_hand():
    meter = CostMeter([SPEC], hardware=None, cost=COST)
    xb = make()
    meter.attach([xb])
    with meter.epoch():
        xb.read(V)
        xb.write(UpdatePlan(phases=(PHASE,)), torch.Generator().manual_seed(0))
    (epoch,) = meter.epochs
    assert epoch.samples == 1 and epoch.phases == 1 and epoch.row_phases == 2
    par, row = epoch.tallies["insitu_parallel"], epoch.tallies["insitu_rowwise"]
    assert par.latency == pytest.approx(18.5e-9 + 1e-9 + 12e-9)
    assert row.latency == pytest.approx(18.5e-9 + 1e-9 + 17e-9)
    read = 6.083333333e-13 + 2e-12 + 32e-15 + 1e-16 + 12e-12
    write = 4.56e-14 + 2e-12 + 16e-12
    assert par.energy_total == pytest.approx(read + write + 4e-15 + 1.845e-17, rel=1e-9)
    assert row.energy_total == pytest.approx(read + write + 4e-15 + 3.78e-17, rel=1e-9)
    xb.read(V)  # outside an epoch: not metered
    assert sum(e.samples for e in meter.epochs) == 1


def test_no_sink_no_events_and_same_results():
    plain, recorded = make(), make([])
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    big = WritePhase(row_widths=torch.tensor([10e-9, 10e-9], dtype=F64),
                     col_currents=torch.tensor([55e-6, 55e-6], dtype=F64), polarity=TO_AP)
    for _ in range(5):
        assert torch.equal(plain.read(V), recorded.read(V))
        a = plain.write(UpdatePlan(phases=(big,)), g1)
        b = recorded.write(UpdatePlan(phases=(big,)), g2)
        assert torch.equal(a.flipped_cells, b.flipped_cells)
    assert plain.events is None and torch.equal(plain.parallel, recorded.parallel)


def _ap_resistance_scalar(i: float, p: MTJParams) -> float:
    """Independent solve of R = R_AP(I R) by plain fixed-point iteration in Python floats."""
    r = p.r_ap
    for _ in range(500):
        r = p.r_p * (1.0 + p.tmr0 / (1.0 + (i * r / p.v_h) ** 2))
    return r


@pytest.mark.parametrize("current", [0.0, 10e-6, 45e-6, 80e-6])
def test_ap_resistance_at_current_bias_dependent(current):
    p = MTJParams()
    got = float(ap_resistance_at_current(torch.tensor(current, dtype=F64), r_p=p.r_p, tmr0=p.tmr0, v_h=p.v_h))
    assert got == pytest.approx(_ap_resistance_scalar(current, p), rel=1e-12)


def test_per_cell_parameters_path():
    r_p = torch.tensor([[1000.0, 1500.0], [1200.0, 800.0]], dtype=F64)
    xb = Crossbar(2, 2, DEV, ARRAY, dtype=F64, cell_params={"r_p": r_p})
    xb.set_states(STATES)
    events: list = []
    xb.events = events
    xb.read(V)
    xb.write(UpdatePlan(phases=(PHASE,)), torch.Generator().manual_seed(0))
    cell = torch.where(STATES, r_p, 2.0 * r_p) + 1e3  # ohmic: R_AP = 2 R_P
    assert events[0].driver_currents.tolist() == pytest.approx((V * (1.0 / cell).sum(1)).tolist(), rel=1e-12)
    assert events[1].resistance.flatten().tolist() == pytest.approx(cell.flatten().tolist(), rel=1e-12)


def test_uniform_table_matches_exact_bias_dependent_resistance():
    p = MTJParams()
    xb = Crossbar(1, 4, p, ArrayConfig(), dtype=F64)  # all cells antiparallel
    events: list = []
    xb.events = events
    currents = torch.tensor([0.0, 10e-6, 40e-6, 70e-6], dtype=F64)
    phase = WritePhase(row_widths=torch.tensor([1e-12], dtype=F64), col_currents=currents, polarity=TO_AP)
    xb.write(UpdatePlan(phases=(phase,)), torch.Generator().manual_seed(0))
    exact = ap_resistance_at_current(currents, r_p=p.r_p, tmr0=p.tmr0, v_h=p.v_h) + ArrayConfig().r_access
    assert events[0].resistance[0].tolist() == pytest.approx(exact.tolist(), rel=1e-7)
    assert exact[3] < exact[1] < p.r_ap + ArrayConfig().r_access  # the TMR rolls off with the bias I R
