"""The cost of buffer-and-counter layers: every array metered, column transfers costed apart and counted as
the layer counts them, a column write's energy by hand, estimates at the transfer rate, results.json."""

from __future__ import annotations

import argparse
import dataclasses

import pytest
import torch

from mtjxbar.config import replace_path
from mtjxbar.crossbar import TO_AP, TO_P, ArrayConfig, Crossbar
from mtjxbar.device import MTJParams
from mtjxbar.experiments.config import ExperimentConfig
from mtjxbar.experiments.datasets import load_dataset
from mtjxbar.experiments.runner import run_experiment
from mtjxbar.hardware import (
    INSITU,
    TRANSFER_COUNTS,
    ActivityConfig,
    ArraySpec,
    CostConfig,
    CostMeter,
    attach_meter,
    estimate,
    format_table,
    software_macs,
)
from mtjxbar.nn import HardwareConfig
from mtjxbar.periphery import TransferConfig
from mtjxbar.rng import generator
from mtjxbar.training import InSituNetwork, TrainingConfig, build_architecture, train_insitu

F64 = torch.float64


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", max_train=60, max_test=20)


def _network(data, hardware: HardwareConfig, hidden=(8,)):
    config = TrainingConfig(outputs_per_class=2, engine="eager")
    arch = build_architecture(data.train_x, data.n_classes, hidden, config)
    net = InSituNetwork(arch, hardware)
    for i, layer in enumerate(net.layers):
        layer.randomize(generator(0, f"init.layer{i}"))
    return net, config


@pytest.mark.parametrize("buffer_mtjs", [1, 2])
def test_meter_counts_the_transfers_as_the_layer_does(digits, buffer_mtjs):
    """Every array reports; per sample, the meter's transfer reads, read steps, write phases, cell writes and
    flips are the layers' TransferCounts, and the reads are the column reads plus the verifies."""
    bits, sweep = 3, 8
    hw = HardwareConfig(transfer=TransferConfig(counter_bits=bits, buffer_mtjs=buffer_mtjs, samples_per_sweep=sweep))
    net, config = _network(digits, hw)
    meter = attach_meter(net, hw)
    assert len(meter.specs) == len(net.layers) * (1 + bits)
    assert [s.layer for s in meter.specs] == [i for i in range(len(net.layers)) for _ in range(1 + bits)]
    assert all(xb.events is not None for layer in net.layers for xb in layer.arrays().values())
    gens = [generator(0, f"write.layer{i}") for i in range(len(net.layers))]
    n = len(digits.train_x)
    with meter.epoch():
        stats = train_insitu(net, digits.train_x, digits.train_y, config, 0, torch.arange(n), gens)
    assert stats.engine == "eager"
    out = meter.summary()
    assert out["samples"] == n
    done, per_sample = stats.transfer, out["transfer"]
    assert done["columns"] == sum(layer.out_features for layer in net.layers) * n // sweep
    for key, layer_key in (("columns", "columns"), ("reads", "reads"), ("read_steps", "read_phases"),
                           ("write_phases", "write_phases"), ("cell_writes", "cell_writes"), ("flips", "flips")):
        assert per_sample[key] * n == pytest.approx(done[layer_key], abs=1e-9), key
        assert out["totals"]["transfer"][key] == done[layer_key]
    assert done["write_phases"] > 0 and done["cell_writes"] > 0
    initial = done["columns"] * (buffer_mtjs + bits)  # one column read of every array (k buffer columns)
    assert out["totals"]["transfer"]["verifies"] == done["reads"] - initial
    # the meter's per-sample figures include the transfers, and say what they are without them
    for s in INSITU:
        row, extra = out[s], out["transfer"][s]
        assert row["latency_s"] == pytest.approx(row["without_transfers"]["latency_s"] + extra["latency_s"])
        assert row["energy_j"] == pytest.approx(row["without_transfers"]["energy_j"] + extra["energy_j"])
        assert extra["latency_s"] > 0 and extra["energy_j"] > 0
    # ex situ: the plain network of one array per layer (as the run's ex-situ network), not every array
    assert out["exsitu"]["software_macs"] == software_macs(
        [ArraySpec(rows=layer.in_features, cols=layer.out_features, in_features=layer.in_features,
                   out_features=layer.out_features, backward=i > 0) for i, layer in enumerate(net.layers)])
    assert out["programming"]["cells"] == sum(layer.in_features * layer.out_features for layer in net.layers)


def test_meter_state_round_trips_and_reads_old_checkpoints(digits):
    hw = HardwareConfig(transfer=TransferConfig(counter_bits=2, samples_per_sweep=4))
    net, config = _network(digits, hw)
    meter = attach_meter(net, hw)
    gens = [generator(0, f"write.layer{i}") for i in range(len(net.layers))]
    with meter.epoch():
        train_insitu(net, digits.train_x[:20], digits.train_y[:20], config, 0, torch.arange(20), gens)
    state = meter.state_dict()
    again = attach_meter(net, hw)
    again.load_state_dict(state)
    assert again.summary() == meter.summary()
    for epoch in state["epochs"]:  # a checkpoint from before transfers were metered: no transfer keys
        del epoch["transfer"], epoch["transfer_tallies"]
    old = attach_meter(net, hw)
    old.load_state_dict(state)
    assert all(v == 0 for k, v in old.summary()["transfer"].items() if k in TRANSFER_COUNTS)


# ------------------------------------------------------------------------------------ by hand, one array
DEV = MTJParams(r_p=1e3, tmr0=1.0, v_h=1e12)  # ohmic: R_P = 1 kOhm, R_AP = 2 kOhm at any bias
ARRAY = ArrayConfig(r_access=1e3)  # a cell is 2 kOhm (P) or 3 kOhm (AP)
COST = CostConfig(read_pulse_width=10e-9, line_capacitance_per_cell=1e-15, line_settle_time=1e-9, gate_voltage=1.0,
                  dac_energy=1e-12, dac_time=1e-9, adc_energy_per_step=1e-15, adc_bits=4, adc_time=8e-9,
                  digital_op_energy=2e-12, digital_op_time=0.5e-9, counter_op_energy=0.1e-12)
HW = HardwareConfig(device=DEV, array=ARRAY)


def _xb(states) -> Crossbar:
    xb = Crossbar(len(states), len(states[0]), DEV, ARRAY, dtype=F64)
    xb.set_states(torch.tensor(states))
    return xb


def _read_column(xb: Crossbar, col: int, v: float = 0.1) -> None:
    drive = torch.zeros(xb.cols, dtype=F64)
    drive[col] = v
    xb.read_transposed(drive)


def test_column_write_energy_and_schedule_by_hand():
    """One column transfer of a 3x2 array: read column 1, write one cell to P, then all three to AP (one
    round, both polarities, as the layer orders them), verify. Cells: t I^2 R over the gated cells of the
    driven column, R in the state before the phase (and after the previous phase)."""
    xb = _xb([[True, True], [False, False], [True, False]])
    spec = ArraySpec(rows=3, cols=2, in_features=3, out_features=2)
    meter = CostMeter([spec], HW, COST)
    meter.attach([xb])
    i_ap, i_p, t_ap, t_p = 40e-6, 30e-6, 10e-9, 6e-9
    gen = torch.Generator().manual_seed(0)
    with meter.epoch(), meter.transfer():
        _read_column(xb, 1)
        xb.write_column(1, torch.tensor([False, True, False]), t_p, i_p, TO_P, gen)  # (1,1) AP 3k
        p11 = bool(xb.parallel[1, 1])  # did it switch? (2 kOhm for the next phase if so)
        xb.write_column(1, torch.tensor([True, True, True]), t_ap, i_ap, TO_AP, gen)  # (0,1) P 2k, (1,1), (2,1)
        _read_column(xb, 1)
    out = meter.summary()
    tr = out["transfer"]
    cells = t_p * i_p**2 * 3e3 + t_ap * i_ap**2 * (2e3 + (2e3 if p11 else 3e3) + 3e3)
    assert tr["insitu_parallel"]["energy_breakdown_j"]["cells_write"] == pytest.approx(cells, rel=1e-12)
    assert tr["insitu_rowwise"]["energy_breakdown_j"]["cells_write"] == pytest.approx(cells, rel=1e-12)
    assert (tr["columns"], tr["reads"], tr["verifies"], tr["read_steps"], tr["write_phases"], tr["cell_writes"]) \
        == (1, 2, 1, 2, 2, 4)
    # a column read: dac + settle + pulse + one comparison (t_adc / bits); the verify adds its compare
    read = 1e-9 + 1e-9 + 10e-9 + 8e-9 / 4
    phase_ap, phase_p = 1e-9 + 1e-9 + t_ap, 1e-9 + 1e-9 + t_p
    carry = 0.5e-9
    expected = read + carry + phase_p + phase_ap + (read + 0.5e-9)
    assert tr["insitu_parallel"]["latency_s"] == pytest.approx(expected, rel=1e-12)
    # rows sensed per read: a one-bit conversion each; the carry and the verify compare: one integer op per row
    assert tr["insitu_parallel"]["energy_breakdown_j"]["adc"] == pytest.approx(2 * 3 * 1e-15 * 2)
    assert tr["insitu_parallel"]["energy_breakdown_j"]["digital"] == pytest.approx((3 + 3) * 0.1e-12)
    # one driven column per read and per phase: one DAC conversion each
    assert tr["insitu_parallel"]["energy_breakdown_j"]["dac"] == pytest.approx(4 * 1e-12)
    # no sample of its own: the transfer is all the metered sample did
    assert out["insitu_parallel"]["without_transfers"]["energy_j"] == 0.0
    assert out["insitu_parallel"]["latency_s"] == pytest.approx(expected)


def test_arrays_of_a_column_work_at_once():
    """Two arrays of one layer: the step lasts as long as the slower array; two columns of one array (a
    two-MTJ buffer) take turns; layers are separate units."""
    a, b = _xb([[True, True], [True, True]]), _xb([[True, True], [True, True]])
    specs = [ArraySpec(rows=2, cols=2, in_features=2, out_features=1, layer=0, name=""),
             ArraySpec(rows=2, cols=2, in_features=2, out_features=1, layer=0, name="bit0")]
    meter = CostMeter(specs, HW, COST)
    meter.attach([a, b])
    gen = torch.Generator().manual_seed(0)
    gate = torch.tensor([True, False])
    with meter.epoch(), meter.transfer(), meter.transfer():  # re-entrant: one transfer
        _read_column(a, 0)
        _read_column(a, 1)  # a's two columns: one after the other
        _read_column(b, 0)
        a.write_column(0, gate, 4e-9, 40e-6, TO_AP, gen)
        a.write_column(1, gate, 3e-9, 40e-6, TO_AP, gen)  # same step, same array: after a's column 0
        b.write_column(0, gate, 10e-9, 40e-6, TO_AP, gen)  # same step, other array: at the same time
    tr = meter.summary()["transfer"]
    read = 1e-9 + 1e-9 + 10e-9 + 8e-9 / 4
    steps = 2 * read + 0.5e-9 + max((2e-9 + 4e-9) + (2e-9 + 3e-9), 2e-9 + 10e-9)
    assert tr["insitu_parallel"]["latency_s"] == pytest.approx(steps, rel=1e-12)
    assert (tr["reads"], tr["read_steps"], tr["write_phases"], tr["verifies"]) == (3, 1, 2, 0)


# ------------------------------------------------------------------------------------------- estimates
def test_estimate_adds_transfers_at_their_rate():
    bits, sweep, sizes = 3, 16, [24, 12, 10]
    hw = HardwareConfig(transfer=TransferConfig(counter_bits=bits, samples_per_sweep=sweep))
    s = estimate(hw, layers=sizes, activity=ActivityConfig(samples=2))
    tr = s["transfer"]
    assert tr["columns"] == pytest.approx((12 + 10) / sweep)
    assert tr["reads"] - tr["verifies"] == pytest.approx(tr["columns"] * (2 + bits))
    assert tr["write_phases"] > 0 and tr["cell_writes"] > 0
    for key in INSITU:
        row = s[key]
        assert row["latency_s"] > row["without_transfers"]["latency_s"]
        assert row["energy_j"] > row["without_transfers"]["energy_j"]
        assert row["latency_s"] == pytest.approx(row["without_transfers"]["latency_s"] + tr[key]["latency_s"])
    assert len(s["network"]["arrays"]) == 2 * (1 + bits) and s["network"]["transfer"]["counter_bits"] == bits
    # ex situ: the plain network
    plain = estimate(HardwareConfig(), layers=sizes, activity=ActivityConfig(samples=1))
    assert s["exsitu"]["software_macs"] == plain["exsitu"]["software_macs"]
    assert s["programming"]["cells"] == plain["programming"]["cells"]
    # a transfer layer reads more arrays than a plain one, and the table says both figures
    assert s["insitu_parallel"]["without_transfers"]["energy_j"] > plain["insitu_parallel"]["energy_j"]
    table = format_table(s)
    assert "transfers per sample" in table and "without transfers" in table
    assert "transfers per sample" not in format_table(plain)
    assert plain["transfer"]["columns"] == 0


def test_estimate_of_an_array_refuses_transfers():
    with pytest.raises(ValueError, match="give a network"):
        estimate(HardwareConfig(transfer=TransferConfig(counter_bits=2)), rows=8, cols=8)


def test_cost_cli_prints_transfers(capsys):
    from mtjxbar.cli import cost as cost_cli

    parser = argparse.ArgumentParser(prog="mtjxbar")
    cost_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["cost", "--layers", "16,12,10", "--samples", "1",
                              "--set", "hardware.transfer.counter_bits=2"])
    assert cost_cli.run(args) == 0
    out = capsys.readouterr().out
    assert "transfers per sample" in out and "without transfers" in out


# ---------------------------------------------------------------------------------------- results.json
def test_run_results_hardware_block_has_the_transfers():
    data = load_dataset("digits", max_train=120, max_test=30)
    config = replace_path(ExperimentConfig(), "hardware.transfer.counter_bits", 3)
    for path, value in (("hidden", (8,)), ("data.max_train", 120), ("training.epochs", 1),
                        ("training.engine", "eager"), ("baselines.methods", ())):
        config = replace_path(config, path, value)
    results = run_experiment(config, data=dataclasses.replace(data))
    hw, done = results["hardware"], results["insitu_epochs"][0]["transfer"]
    assert hw["samples"] == 120
    for key in TRANSFER_COUNTS:
        assert key in hw["transfer"] and key in hw["totals"]["transfer"]
    assert hw["totals"]["transfer"]["reads"] == done["reads"] > 0
    assert hw["totals"]["transfer"]["write_phases"] == done["write_phases"] > 0
    for s in INSITU:
        assert hw[s]["latency_s"] > hw[s]["without_transfers"]["latency_s"] > 0
        assert hw[s]["energy_j"] > hw[s]["without_transfers"]["energy_j"] > 0
        assert hw["transfer"][s]["latency_s"] > 0 and hw["transfer"][s]["energy_j"] > 0
    assert hw["epochs"][0]["transfer"]["columns"] == done["columns"]
