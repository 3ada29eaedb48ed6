"""Layers and networks over K chips (nn/chips.py, training/chips.py) against single-chip networks."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from mtjxbar.device import VariationConfig
from mtjxbar.experiments.config import ExperimentConfig
from mtjxbar.experiments.datasets import load_dataset
from mtjxbar.nn import manufacture_layers
from mtjxbar.rng import generator
from mtjxbar.training import InSituNetwork, build_architecture
from mtjxbar.training.chips import ChipNetwork, evaluate_chips, train_chips

SEEDS = [3, 4, 5]


def _setup(variation: VariationConfig, hidden: int = 16):
    data = load_dataset("digits")
    config = ExperimentConfig()
    config = replace(config, hardware=replace(config.hardware, variation=variation))
    arch = build_architecture(data.train_x, 10, (hidden,), config.training)
    return data, config, arch


@pytest.mark.parametrize("variation", [VariationConfig(r_p_dtod=0.1, tmr0_dtod=0.1, ic0_p2ap_dtod=0.1,
                                                       stuck_p_rate=0.05), VariationConfig(stuck_ap_rate=0.05)],
                         ids=["varied", "faults only"])
def test_each_chip_computes_what_the_single_network_of_its_seed_computes(variation):
    data, config, arch = _setup(variation)
    chips = ChipNetwork(arch, config.hardware, SEEDS)
    x = data.train_x[:6]
    z = chips.forward(x)[-1]  # (K, 6, outputs)
    prepared = chips.prepare_inputs(x)
    for k, seed in enumerate(SEEDS):
        net = InSituNetwork(arch, config.hardware)
        for i, layer in enumerate(net.layers):
            layer.randomize(generator(seed, f"init.layer{i}"))
        manufacture_layers(net.layers, seed)
        for single, batched in zip(net.layers, chips.layers, strict=True):
            assert torch.equal(single.crossbar.parallel, batched.arrays.parallel[k])
        want = net.activations(x)[-1]
        torch.testing.assert_close(z[k], want, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(chips.forward(x[2], prepared[2])[-1][k], want[2], rtol=1e-4, atol=1e-5)
        delta = torch.randn(arch.sizes[-1], generator=torch.Generator().manual_seed(seed))
        got = chips.layers[1].backward(delta.expand(len(SEEDS), -1))[k]
        torch.testing.assert_close(got, net.layers[1].backward(delta), rtol=1e-4, atol=1e-4 * float(got.abs().max()))


def test_batched_training_learns_and_the_same_seeds_give_the_same_chips_and_results():
    data, config, arch = _setup(VariationConfig(r_p_dtod=0.05, tmr0_dtod=0.05, stuck_p_rate=0.01))
    order = torch.randperm(400, generator=torch.Generator().manual_seed(0))
    results = []
    for _ in range(2):
        chips = ChipNetwork(arch, config.hardware, SEEDS)
        before = evaluate_chips(chips, data.test_x, data.test_y, 256)
        stats = train_chips(chips, data.train_x, data.train_y, config.training, 0, order)
        after = evaluate_chips(chips, data.test_x, data.test_y, 256)
        results.append((after, stats.flips.tolist(), [layer.arrays.parallel.clone() for layer in chips.layers]))
    assert results[0][0] == results[1][0] and results[0][1] == results[1][1]
    assert all(torch.equal(a, b) for a, b in zip(results[0][2], results[1][2], strict=True))
    assert min(after) > max(before) and min(after) > 0.3, (before, after)
    assert all(f > 0 for f in stats.flips.tolist()) and bool((stats.updates <= 400).all())
