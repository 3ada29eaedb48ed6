"""MTJLinear on passive (0T1MTJ) arrays: the factory, reads through the circuit, no batched shortcut, disturbs."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from mtjxbar.crossbar import ArrayConfig, Crossbar, PassiveCrossbar, PassiveWriteResult, SeparableRead
from mtjxbar.crossbar.config import CircuitConfig, CircuitSolverConfig
from mtjxbar.device import MTJParams
from mtjxbar.nn import HardwareConfig, MTJLinear
from mtjxbar.training import EpochStats, InSituNetwork, TrainingConfig, build_architecture, train_step

F64 = torch.float64
WIRED = CircuitConfig(r_wire_row=1.0, r_wire_col=1.0)


def _layer(array: ArrayConfig, n_in: int = 24, n_out: int = 10, device: MTJParams | None = None) -> MTJLinear:
    hw = HardwareConfig(array=array, device=device or MTJParams())
    layer = MTJLinear(n_in, n_out, hw, gain=0.8, dtype=F64)
    layer.randomize(torch.Generator().manual_seed(0))
    return layer


def _x(batch: int, n: int) -> torch.Tensor:
    return torch.rand(batch, n, generator=torch.Generator().manual_seed(1), dtype=F64) * 2.0 - 1.0


def test_layer_builds_the_array_of_its_kind():
    assert type(_layer(ArrayConfig()).crossbar) is Crossbar
    passive = _layer(ArrayConfig(kind="passive", tile_rows=16, tile_cols=4)).crossbar
    assert isinstance(passive, PassiveCrossbar) and len(passive.row_tiles) == 2 and len(passive.col_tiles) == 3
    solver = CircuitSolverConfig(rtol=1e-9)
    hw = HardwareConfig(array=ArrayConfig(kind="passive"), circuit_solver=solver)
    assert MTJLinear(4, 3, hw, gain=1.0).crossbar.circuit_solver is solver


@pytest.mark.parametrize("fidelity", ["ideal", "exact"])
def test_ideal_wires_read_what_the_access_free_array_reads(fidelity):
    """Zero wire, driver and sense resistance: forward and backward of a passive layer equal those of a
    1T1MTJ layer without access resistance (the ideal G V of the same states), to rounding."""
    passive = _layer(ArrayConfig(kind="passive", fidelity=fidelity, tile_rows=16, tile_cols=8))
    ref = _layer(ArrayConfig(r_access=0.0))
    ref.crossbar.set_states(passive.crossbar.parallel)
    x = _x(3, 24)
    assert torch.allclose(passive(x), ref(x), rtol=1e-9, atol=1e-12)
    delta = _x(3, 10)
    assert torch.allclose(passive.backward(delta), ref.backward(delta), rtol=1e-9, atol=1e-12)
    w = passive.weights().double()
    assert torch.allclose(passive(x), 0.8 * x @ w, atol=0.05 * float((x @ w).abs().max()))


def test_wires_change_the_read_and_programmed_weights_go_through_the_circuit():
    wired = _layer(ArrayConfig(kind="passive", circuit=WIRED))
    ideal = _layer(ArrayConfig(kind="passive"))
    w = torch.sign(_x(24, 10))
    wired.program(w)
    ideal.program(w)
    x = _x(2, 24)
    assert torch.equal(wired.weights(), ideal.weights())
    assert not torch.allclose(wired(x), ideal(x), rtol=1e-3)


def test_passive_layers_have_no_batched_read_shortcut():
    passive = _layer(ArrayConfig(kind="passive"))
    assert not isinstance(passive.crossbar, SeparableRead)  # no drive_terms: its cells are coupled
    assert passive.prepare(_x(4, 24)) is None
    hw = HardwareConfig(array=ArrayConfig(kind="passive"))
    x = _x(5, 24).float()
    net = InSituNetwork(build_architecture(x, 4, (6,), TrainingConfig(outputs_per_class=1)), hw)
    assert net.prepare_inputs(x) is None


def test_train_step_counts_disturb_flips_apart():
    """Low-barrier junctions under V/3: half-selected cells flip too, and the step reports them."""
    device = dataclasses.replace(MTJParams(), delta=14.0)
    hw = HardwareConfig(device=device, array=ArrayConfig(kind="passive", write_scheme="v3"))
    gen = torch.Generator().manual_seed(2)
    x = torch.rand(40, 12, generator=gen) * 2 - 1
    config = TrainingConfig(lr=1.0, outputs_per_class=1)
    net = InSituNetwork(build_architecture(x, 4, (), config), hw)
    for layer in net.layers:
        layer.randomize(gen)
    stats = EpochStats(flips_per_layer=[0])
    results = []
    original = net.layers[0].write
    net.layers[0].write = lambda plan, g: results.append(original(plan, g)) or results[-1]
    for n in range(40):
        train_step(net, x[n], n % 4, config.lr, config, [gen], stats)
    assert all(isinstance(r, PassiveWriteResult) for r in results) and results
    assert stats.disturb_flips == sum(r.disturb_flips for r in results) > 0
    assert stats.flips == sum(r.intended_flips + r.disturb_flips for r in results) > stats.disturb_flips
