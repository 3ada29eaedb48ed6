"""The passive cost model: a phase's energy under both schedules by hand, the events of a real write against
its solved circuit, monotonicity (wire resistance, V/3 against V/2), and ``mtjxbar cost`` / results.json
giving passive figures (not a 1T1MTJ array's) for passive configurations, with clear refusals."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from mtjxbar.cli.main import main
from mtjxbar.config import replace_path
from mtjxbar.crossbar import TO_P, ArrayConfig, PassiveCrossbar, UpdatePlan, WritePhase
from mtjxbar.crossbar.config import CircuitConfig, CircuitSolverConfig
from mtjxbar.crossbar.events import PassivePhaseEvent, WriteEvent
from mtjxbar.device import MTJParams
from mtjxbar.experiments.config import ExperimentConfig
from mtjxbar.experiments.datasets import load_dataset
from mtjxbar.experiments.runner import run_experiment
from mtjxbar.hardware import ArraySpec, CostConfig, estimate
from mtjxbar.hardware.passive import passive_phase_cost
from mtjxbar.nn import HardwareConfig

F64 = torch.float64
DEV = MTJParams()
COST = CostConfig(dac_energy=1e-12, dac_time=1e-9, line_settle_time=2e-9, line_capacitance_per_cell=1e-15)
SPEC = ArraySpec(rows=4, cols=3, in_features=4, out_features=3, kind="passive", tiles=(2, 1))


def test_phase_cost_by_hand():
    """Rows 1 and 3 selected for 2 and 6 ns (T = 6 ns, mean 4 ns, sum 8 ns); powers in round watts."""
    held = torch.tensor([[1.0, 2.0], [0.5, 0.5], [0.0, 0.0], [0.1, 0.2], [0.01, 0.02]], dtype=F64)  # (parts, rows)
    released = torch.tensor([[0.0, 0.0], [0.3, 0.3], [0.0, 0.0], [0.05, 0.05], [0.0, 0.0]], dtype=F64)
    rest = torch.tensor([[0.0, 4.0, 1.0, 2.0, 0.1], [0.0, 3.0, 1.0, 1.0, 0.1]], dtype=F64)
    event = PassivePhaseEvent(row_widths=torch.tensor([0.0, 2e-9, 0.0, 6e-9], dtype=F64), polarity=TO_P,
                              rows=torch.tensor([1, 3]), row_power=torch.stack([held, released]), rest_power=rest,
                              line_v2=10.0, selected_cols=2, tiles=(2, 1), compensated=True)
    parallel, rowwise = passive_phase_cost(event, SPEC, COST)
    ns = 1e-9
    # parallel: own rows held t_i and released T - t_i; the rest held 4 ns, released 2 ns
    assert parallel.energy["cells_write"] == pytest.approx((1.0 * 2 + 2.0 * 6) * ns)
    assert parallel.energy["cells_half_selected"] == pytest.approx((0.5 * 2 + 0.5 * 6 + 0.3 * 4 + 0.3 * 0) * ns
                                                                   + (4.0 * 4 + 3.0 * 2) * ns)
    assert parallel.energy["cells_unselected"] == pytest.approx(1.0 * 6 * ns)
    assert parallel.energy["wires"] == pytest.approx((0.1 * 2 + 0.2 * 6 + 0.05 * 4) * ns + (2.0 * 4 + 1.0 * 2) * ns)
    assert parallel.energy["drivers"] == pytest.approx((0.01 * 2 + 0.02 * 6) * ns + 0.1 * 6 * ns)
    # DACs: 2 selected columns x 2 row tiles + (compensated: own row levels) 2 selected rows x 1 column tile;
    # lines C x line_v2
    assert parallel.energy["dac"] == pytest.approx(6e-12) and parallel.energy["lines"] == pytest.approx(1e-14)
    common = passive_phase_cost(dataclasses.replace(event, compensated=False), SPEC, COST)[0]
    assert common.energy["dac"] == pytest.approx(4e-12)
    assert parallel.latency == pytest.approx((1 + 2 + 6) * ns)
    # row by row: L = 8 ns; own rows held t_i, released L - t_i; rest released L plus (held - released) L / 2
    assert rowwise.energy["cells_half_selected"] == pytest.approx(
        (0.5 * 2 + 0.5 * 6 + 0.3 * 6 + 0.3 * 2) * ns + (3.0 * 8 + 1.0 * 4) * ns)
    assert rowwise.energy["wires"] == pytest.approx((0.1 * 2 + 0.2 * 6 + 0.05 * 6 + 0.05 * 2) * ns
                                                    + (1.0 * 8 + 1.0 * 4) * ns)
    assert rowwise.latency == pytest.approx((1 + 2 * 2 + 8) * ns)


@pytest.mark.parametrize("field, value", [("kind", "0t1mtj"), ("tiles", (0, 1)), ("calibration", "rows")])
def test_array_spec_names_a_bad_field(field, value):
    with pytest.raises(ValueError, match=f"ArraySpec.{field} = "):
        ArraySpec(rows=2, cols=2, in_features=2, out_features=2, **{field: value})


def _array(r_wire: float, scheme: str, compensation: int = 0) -> PassiveCrossbar:
    circuit = CircuitConfig(r_wire_row=r_wire, r_wire_col=r_wire) if r_wire else CircuitConfig()
    from mtjxbar.periphery.arrays import make_array

    array = ArrayConfig(kind="passive", circuit=circuit, tile_rows=8, tile_cols=8, write_scheme=scheme,
                        write_compensation=compensation, read_calibration="off")
    xb = make_array(12, 10, DEV, array, None, CircuitSolverConfig(write_solver="exact"), dtype=F64)
    xb.set_states(torch.from_numpy(np.random.default_rng(1).random((12, 10)) < 0.5))
    return xb


def _phase(widths=None) -> WritePhase:
    w = torch.zeros(12, dtype=F64)
    w[[1, 4, 9]] = torch.tensor([3e-9, 3e-9, 3e-9], dtype=F64) if widths is None else widths
    c = torch.zeros(10, dtype=F64)
    c[[0, 5, 7]] = torch.tensor([60e-6, 55e-6, 58e-6], dtype=F64)
    return WritePhase(row_widths=w, col_currents=c, polarity=TO_P)


def _events(xb: PassiveCrossbar, phase: WritePhase) -> list:
    events: list = []
    xb.events = events
    xb.write(UpdatePlan((phase,)), torch.Generator().manual_seed(0))
    xb.events = None
    return events


@pytest.mark.parametrize("scheme", ["v2", "v3"])
def test_write_events_hold_the_solved_circuits_power(scheme):
    """One event per phase before the write's outcome; its held and released powers add up to the circuit power
    of the phase's own cell voltages; with one width for every selected row the parallel energy is each
    pattern's power over its time (exact)."""
    xb = _array(1.0, scheme, compensation=2)
    phase = _phase()
    held, released = xb.phase_cell_voltages(phase)  # no sink: no event
    power = xb.circuit_power(np.stack([held.numpy(), released.numpy()]), "write").total  # states before the write
    events = _events(xb, phase)
    assert [type(e) for e in events] == [PassivePhaseEvent, WriteEvent]
    ev = events[0]
    assert ev.rows.tolist() == [1, 4, 9] and ev.selected_cols == 3 and ev.cells == 9 and ev.tiles == (2, 2)
    total = ev.row_power.sum((1, 2)) + ev.rest_power.sum(1)
    np.testing.assert_allclose(total.numpy(), power, rtol=1e-12)
    parallel, _ = passive_phase_cost(ev, ArraySpec(rows=12, cols=10, in_features=12, out_features=10,
                                                   kind="passive", tiles=(2, 2)), COST)
    circuit = sum(parallel.energy[k] for k in ("cells_write", "cells_half_selected", "cells_unselected", "wires",
                                                "drivers"))
    assert circuit == pytest.approx(power[0] * 3e-9, rel=1e-12)
    assert ev.row_power[0, 0].sum() > 0 and ev.row_power[1, 0].sum() == 0  # released: nothing selected


def _phase_energy(r_wire: float, scheme: str) -> dict:
    xb = _array(r_wire, scheme)
    ev = _events(xb, _phase(torch.tensor([2e-9, 5e-9, 4e-9], dtype=F64)))[0]
    parallel, _ = passive_phase_cost(ev, ArraySpec(rows=12, cols=10, in_features=12, out_features=10,
                                                   kind="passive", tiles=(2, 2)), COST)
    return parallel.energy


def test_more_wire_resistance_more_wire_loss_and_v3_heats_unselected_cells():
    wires = [_phase_energy(r, "v2")["wires"] for r in (0.0, 0.5, 1.0, 2.5)]
    assert wires[0] == 0.0 and wires[1] < wires[2] < wires[3]
    for r in (0.0, 1.0):
        v2, v3 = _phase_energy(r, "v2"), _phase_energy(r, "v3")
        assert v3["cells_unselected"] > 10 * v2["cells_unselected"]
    assert _phase_energy(0.0, "v2")["cells_unselected"] == 0.0  # ideal V/2: unselected cells at 0 V


def _passive(hw: HardwareConfig, r_wire: float = 1.0, scheme: str = "v2") -> HardwareConfig:
    circuit = CircuitConfig(r_wire_row=r_wire, r_wire_col=r_wire) if r_wire else CircuitConfig()
    return dataclasses.replace(hw, array=dataclasses.replace(hw.array, kind="passive", tile_rows=16, tile_cols=16,
                                                             circuit=circuit, write_scheme=scheme))


def test_a_passive_estimate_is_not_the_1t1mtj_one():
    layers = [40, 24, 8]
    one = estimate(HardwareConfig(), layers=layers)
    hw = _passive(HardwareConfig())
    passive = estimate(hw, layers=layers)
    assert one["array_kind"] == "1t1mtj" and passive["array_kind"] == "passive"
    assert passive["network"]["array"]["kind"] == "passive" and "note" in passive["programming"]
    p, o = passive["insitu_parallel"]["energy_breakdown_j"], one["insitu_parallel"]["energy_breakdown_j"]
    assert {"cells_half_selected", "wires"} <= set(p) and "cells_half_selected" not in o
    assert passive["insitu_parallel"]["energy_j"] != pytest.approx(one["insitu_parallel"]["energy_j"], rel=1e-3)
    # ADCs per tile: forward 24 outputs x 3 row tiles + 8 x 2; transposed (layer 2) 24 rows x 1 column tile
    adc = CostConfig().adc_energy(None)
    assert p["adc"] == pytest.approx(adc * (24 * 3 + 8 * 2 + 24))
    assert o["adc"] == pytest.approx(adc * (24 + 8 + 24))
    split = passive["passive_read_split"]  # a forward read's power: cells, wires, ports (ideal: 0 ohm)
    assert sum(split.values()) == pytest.approx(1.0) and 0 < split["wires"] < split["cells"]
    assert "passive_read_split" not in one
    rw = passive["reads_writes"]["insitu_parallel"]  # ADCs only read; the write circuit only writes
    assert rw["reads"]["energy_j"] >= p["adc"] + p["cells_read"]
    assert rw["writes"]["energy_j"] >= p["cells_write"] + p["cells_half_selected"] + p["wires"]
    assert rw["reads"]["energy_j"] + rw["writes"]["energy_j"] == pytest.approx(passive["insitu_parallel"]["energy_j"])


@pytest.mark.parametrize("path, value, needle", [
    ("transfer.counter_bits", 4, "hardware.transfer.counter_bits = 4"),
    ("encoder.scheme", "coincidence", "hardware.encoder.scheme = 'coincidence'"),
])
def test_passive_estimate_refuses_what_it_does_not_model(path, value, needle):
    hw = replace_path(_passive(HardwareConfig()), path, value)
    with pytest.raises(ValueError, match=needle.replace("(", r"\(")):
        estimate(hw, layers=[8, 4])


def test_cost_cli_prints_passive_figures(capsys):
    argv = ["cost", "--layers", "20,16,8", "--array", "passive", "--tile-size", "16", "--wire-resistance", "1",
            "--write-scheme", "v3", "--samples", "2"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "array kind: passive (0T1MTJ)" in out and "V/3" in out and "cells_half_selected" in out
    assert main([*argv, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["array_kind"] == "passive" and summary["network"]["array"]["circuit"]["r_wire_row"] == 1.0


@pytest.mark.parametrize("argv, needle", [
    (["--wire-resistance", "1"], "--wire-resistance: only for passive arrays"),
    (["--array", "passive", "--wire-resistance", "-1"], "r_wire_row"),
    (["--array", "passive", "--tile-size", "0"], "tile_rows"),
    (["--array", "passive", "--tile-size", "4", "--set", "hardware.array.kind=1t1mtj"],
     "--tile-size: only for passive arrays"),
])
def test_cost_cli_refuses_bad_passive_flags_in_one_line(capsys, argv, needle):
    assert main(["cost", "--layers", "8,4", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]


def test_passive_run_reports_passive_hardware_figures():
    config = ExperimentConfig()
    for path, value in (("hidden", (8,)), ("training.epochs", 1), ("data.max_train", 12), ("data.max_test", 10),
                        ("hardware.array.kind", "passive"), ("hardware.array.tile_rows", 32),
                        ("hardware.array.tile_cols", 32)):
        config = replace_path(config, path, value)
    results = run_experiment(config, data=load_dataset("digits", max_train=12, max_test=10), meter=True)
    hw = results["hardware"]
    assert hw["array_kind"] == "passive" and hw["samples"] == 12
    breakdown = hw["insitu_parallel"]["energy_breakdown_j"]
    assert breakdown["cells_half_selected"] > 0 and breakdown["cells_read"] > 0
    passive_transfer = replace_path(config, "hardware.transfer.counter_bits", 2)
    assert "not costed" in run_experiment(passive_transfer, data=load_dataset("digits", max_train=4, max_test=4),
                                          meter=True)["hardware"]["note"]
