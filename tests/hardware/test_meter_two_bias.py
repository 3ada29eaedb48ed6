"""A two-bias transfer sense reads every line twice: the meter costs both reads in the same step (initial
or verify), so its read steps and reads are the layer's own counts, and the fused loop leaves such a metered
run to the eager one."""

from __future__ import annotations

import math

import torch

from mtjxbar.config import replace_path
from mtjxbar.hardware import attach_meter
from mtjxbar.nn import HardwareConfig
from mtjxbar.rng import generator
from mtjxbar.training import InSituNetwork, TrainingConfig, train_insitu
from mtjxbar.training.architecture import Architecture
from mtjxbar.training.fused import unsupported


def _hardware(sense: str) -> HardwareConfig:
    hw = HardwareConfig()
    for path, value in (("transfer.counter_bits", 3), ("transfer.buffer_mtjs", 2),
                        ("transfer.samples_per_sweep", 4), ("transfer.sense", sense)):
        hw = replace_path(hw, path, value)
    return hw


def _run(sense: str):
    hw = _hardware(sense)
    arch = Architecture(sizes=(12, 8, 6), gains=tuple(1.5 / math.sqrt(n) for n in (12, 8)), n_classes=3,
                        outputs_per_class=2, input_mean=None)
    net = InSituNetwork(arch, hw)
    for i, layer in enumerate(net.layers):
        layer.randomize(generator(0, f"init.layer{i}"))
    meter = attach_meter(net, hw)
    gen = torch.Generator().manual_seed(2)
    x, y = torch.rand(60, 12, generator=gen), torch.randint(0, 3, (60,), generator=gen)
    config = TrainingConfig(lr=30.0, margin=None)
    with meter.epoch():
        stats = train_insitu(net, x, y, config, 0, torch.arange(60),
                             [generator(0, f"write.layer{i}") for i in range(2)])
    return net, meter.summary()["totals"]["transfer"], stats


def test_two_bias_reads_are_one_step_each():
    for sense in ("threshold", "two_bias"):
        net, metered, stats = _run(sense)
        assert stats.engine == ("fused" if sense == "threshold" else "eager")
        assert metered["columns"] == stats.transfer["columns"] > 0
        assert metered["read_steps"] == stats.transfer["read_phases"], sense
        assert metered["reads"] == stats.transfer["reads"], sense
    assert "transfer.sense = 'two_bias'" in unsupported(net)
