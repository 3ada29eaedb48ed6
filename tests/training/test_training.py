"""The in-situ loop and the baselines: learning, determinism, phase count, ex-situ consistency."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from mtjxbar.config import replace_path
from mtjxbar.experiments.config import ExperimentConfig
from mtjxbar.experiments.datasets import load_dataset
from mtjxbar.experiments.runner import run_experiment
from mtjxbar.nn import HardwareConfig
from mtjxbar.rng import generator
from mtjxbar.training import (
    EpochStats,
    InSituNetwork,
    SoftwareMLP,
    TrainingConfig,
    build_architecture,
    class_scores,
    evaluate,
    output_error,
    train_step,
)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _config(**paths) -> ExperimentConfig:
    config = ExperimentConfig()
    for path, value in paths.items():
        config = replace_path(config, path.replace("__", "."), value)
    return config


def test_insitu_learns_digits_well_above_chance(digits):
    """Two epochs of in-situ training on digits (64-64-80, k = 1): test accuracy far above 10 % chance."""
    config = _config(training__epochs=2, hidden=(64,), baselines__methods=())
    results = run_experiment(config, data=digits)
    assert results["accuracy"]["insitu"] > 0.6
    assert all(e["flips"] > 0 for e in results["insitu_epochs"])


def test_same_seed_same_result_other_seed_differs(digits):
    small = dataclasses.replace(digits, train_x=digits.train_x[:200], train_y=digits.train_y[:200])
    config = _config(training__epochs=1, hidden=(16,))
    a = run_experiment(config, data=small)
    b = run_experiment(config, data=small)
    c = run_experiment(replace_path(config, "seed", 1), data=small)
    assert a["history"] == b["history"] and a["insitu_epochs"] == b["insitu_epochs"]
    assert a["insitu_epochs"] != c["insitu_epochs"]


@pytest.mark.parametrize("hidden", [8, 300])
def test_phases_per_update_do_not_grow_with_the_array(digits, hidden):
    """Exactly 4 write phases per layer and sample (2 signs of the centred input or of tanh times 2 of the
    error), for a small and a large hidden layer: the count does not grow with the array."""
    cfg = TrainingConfig(center_inputs=True)
    arch = build_architecture(digits.train_x, 10, (hidden,), cfg)
    net = InSituNetwork(arch, HardwareConfig())
    for i, layer in enumerate(net.layers):
        layer.randomize(generator(0, f"l{i}"))
    gens = [generator(0, f"w{i}") for i in range(2)]
    for idx in range(20):
        stats = EpochStats(flips_per_layer=[0, 0])
        train_step(net, digits.train_x[idx], int(digits.train_y[idx]), 0.1, cfg, gens, stats)
        assert stats.phases == 4 * len(net.layers)


def test_margin_stops_learning(digits):
    """With a margin no score can reach, every sample updates; with margin 0, correct ones do not."""
    arch = build_architecture(digits.train_x, 10, (16,), TrainingConfig())
    net = InSituNetwork(arch, HardwareConfig())
    for i, layer in enumerate(net.layers):
        layer.randomize(generator(2, f"l{i}"))
    gens = [generator(2, f"w{i}") for i in range(2)]
    stats = EpochStats(flips_per_layer=[0, 0])
    right = sum(train_step(net, digits.train_x[i], int(digits.train_y[i]), 1e-9,
                           TrainingConfig(margin=0.0), gens, stats) for i in range(100))
    assert stats.updates == 100 - right
    unreachable = EpochStats(flips_per_layer=[0, 0])
    for i in range(100):
        train_step(net, digits.train_x[i], int(digits.train_y[i]), 1e-9, TrainingConfig(margin=1e9), gens,
                   unreachable)
    assert unreachable.updates == 100


def test_output_error_is_the_cross_entropy_gradient():
    arch = build_architecture(torch.rand(10, 4), 3, (5,), TrainingConfig(outputs_per_class=2))
    z = torch.randn(6, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(class_scores(z, arch)[None], torch.tensor([1]))
    (grad,) = torch.autograd.grad(loss, z)
    torch.testing.assert_close(output_error(z.detach(), 1, arch), grad)


def test_insitu_backward_matches_autograd_of_the_same_network(digits):
    """The hidden error from the transposed crossbar read equals autograd through a float network with
    the crossbar's own weights (ideal device: no TMR roll-off), to float32 precision."""
    hw = replace_path(HardwareConfig(), "device.v_h", 1e9)
    arch = build_architecture(digits.train_x, 10, (12,), TrainingConfig())
    net = InSituNetwork(arch, hw)
    for i, layer in enumerate(net.layers):
        layer.randomize(generator(4, f"l{i}"))
    model = SoftwareMLP(arch, net.weights(), hw.converters.input_range)
    x, label = digits.train_x[5], int(digits.train_y[5])
    acts = net.activations(x)
    delta_out = output_error(acts[-1], label, arch)
    hidden_err = net.layers[1].backward(delta_out)
    h = model.arch.prepare(x[None])
    z1 = (arch.gains[0] / hw.converters.input_range) * (h @ model.weights[0])
    h1 = torch.tanh(z1).detach().requires_grad_(True)
    z2 = (arch.gains[1] / hw.converters.input_range) * (h1 @ model.weights[1])
    loss = torch.nn.functional.cross_entropy(class_scores(z2, arch), torch.tensor([label]))
    (g,) = torch.autograd.grad(loss, h1)
    torch.testing.assert_close(hidden_err, g[0], rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(acts[1], h1[0].detach(), rtol=1e-5, atol=1e-6)


def test_exsitu_equals_binary_software_on_an_ideal_array(digits):
    """Programming the software-binary weights into an ideal crossbar (no TMR roll-off, ideal converters)
    reproduces the software network's predictions."""
    hw = replace_path(HardwareConfig(), "device.v_h", 1e9)
    arch = build_architecture(digits.train_x, 10, (32,), TrainingConfig())
    net = InSituNetwork(arch, hw)
    from mtjxbar.periphery import SynapseMapping

    levels = SynapseMapping(1, hw.mapping).levels
    shadow = [torch.rand(n_in, n_out, generator=generator(0, f"s{i}")) * 2 - 1
              for i, (n_in, n_out) in enumerate(zip(arch.sizes[:-1], arch.sizes[1:], strict=True))]
    model = SoftwareMLP(arch, shadow, hw.converters.input_range, quantizer=levels)
    for layer, w in zip(net.layers, model.quantized_weights(), strict=True):
        layer.program(w)
    agree = evaluate(net.predict, digits.test_x, model.predict(digits.test_x), 1000)
    assert agree > 0.99
