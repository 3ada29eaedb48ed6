"""The learning rate: per epoch exactly as configured (with its decay), and the requested update scales
with it (deterministic checks of the write plans, not an accuracy threshold that lr / 10 still passes)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from mtjxbar.config import replace_path
from mtjxbar.device import switching_probability
from mtjxbar.experiments.config import ExperimentConfig
from mtjxbar.experiments.datasets import load_dataset
from mtjxbar.experiments.runner import run_experiment
from mtjxbar.nn import HardwareConfig
from mtjxbar.rng import generator
from mtjxbar.training import (
    EpochStats,
    InSituNetwork,
    TrainingConfig,
    build_architecture,
    insitu,
    output_error,
    train_step,
)
from mtjxbar.training import chips as chips_training

LR, DECAY = 0.37, 0.55  # not the defaults (0.3, 0.7): the values checked are the configured ones


def _schedule(epochs: int) -> list[float]:
    return [LR * DECAY**e for e in range(epochs)]


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_run_experiment_trains_each_epoch_at_lr_times_decay_to_the_epoch(digits, monkeypatch):
    """Through the runner (eager loop, 3 epochs of 12 samples): every step of epoch e gets exactly
    ``lr * lr_decay**e`` (rel 1e-12)."""
    seen: dict[float, int] = {}
    original = insitu.train_step

    def spy(net, x, label, lr, *args, **kwargs):
        seen[lr] = seen.get(lr, 0) + 1
        return original(net, x, label, lr, *args, **kwargs)

    monkeypatch.setattr(insitu, "train_step", spy)
    small = dataclasses.replace(digits, train_x=digits.train_x[:12], train_y=digits.train_y[:12],
                                test_x=digits.test_x[:20], test_y=digits.test_y[:20])
    config = ExperimentConfig()
    for path, value in (("training.epochs", 3), ("training.lr", LR), ("training.lr_decay", DECAY),
                        ("training.engine", "eager"), ("hidden", (8,)), ("baselines.methods", ())):
        config = replace_path(config, path, value)
    run_experiment(config, data=small)
    got = sorted(seen.items(), reverse=True)
    assert [n for _, n in got] == [12, 12, 12], got
    assert [lr for lr, _ in got] == pytest.approx(_schedule(3), rel=1e-12, abs=0.0)


def test_fused_loop_gets_the_same_schedule(digits, monkeypatch):
    """``train_insitu`` hands the fused loop ``lr * lr_decay**epoch`` too (the loop itself is replaced by
    a recorder: its equality with the eager loop at a given lr is tests/training/test_fused.py's)."""
    pytest.importorskip("numba")
    seen = []

    def record(fused, x, y, config, lr, order, *args, **kwargs):
        seen.append(lr)
        return EpochStats(flips_per_layer=[0, 0])

    monkeypatch.setattr(insitu, "_train_fused", record)
    cfg = TrainingConfig(lr=LR, lr_decay=DECAY, engine="fused")
    net = InSituNetwork(build_architecture(digits.train_x, 10, (8,), cfg), HardwareConfig())
    gens = [generator(0, f"w{i}") for i in range(2)]
    for epoch in range(3):
        insitu.train_insitu(net, digits.train_x[:4], digits.train_y[:4], cfg, epoch, torch.arange(4), gens)
    assert seen == pytest.approx(_schedule(3), rel=1e-12, abs=0.0)


def test_batched_chips_train_each_epoch_at_lr_times_decay_to_the_epoch(digits, monkeypatch):
    seen = []
    original = chips_training.train_step

    def spy(net, x, label, lr, *args, **kwargs):
        seen.append(lr)
        return original(net, x, label, lr, *args, **kwargs)

    monkeypatch.setattr(chips_training, "train_step", spy)
    cfg = TrainingConfig(lr=LR, lr_decay=DECAY)
    net = chips_training.ChipNetwork(build_architecture(digits.train_x, 10, (8,), cfg), HardwareConfig(), [0, 1])
    for epoch in range(3):
        chips_training.train_chips(net, digits.train_x, digits.train_y, cfg, epoch, torch.arange(2))
    assert seen == pytest.approx([lr for lr in _schedule(3) for _ in range(2)], rel=1e-12, abs=0.0)


def _plans(digits, lr: float, engine_step) -> tuple[list, InSituNetwork, list, int]:
    """The write plans of one eager step at ``lr`` (margin None: every sample writes), with the network,
    its activations before the write and the label."""
    cfg = TrainingConfig()
    arch = build_architecture(digits.train_x, 10, (16,), cfg)
    net = InSituNetwork(arch, HardwareConfig())
    for i, layer in enumerate(net.layers):
        layer.randomize(generator(5, f"l{i}"))
    plans = []
    for layer in net.layers:
        def write(plan, gen, _orig=layer.write):
            plans.append(plan)
            return _orig(plan, gen)
        layer.write = write
    x, label = digits.train_x[7], int(digits.train_y[7])
    acts = net.activations(x)
    engine_step(net, x, label, lr, cfg, [generator(5, f"w{i}") for i in range(2)],
                EpochStats(flips_per_layer=[0, 0]))
    return plans, net, acts, label


def _full_width_probabilities(plan, device) -> torch.Tensor:
    """Switching probability over the full pulse width of every driven column (both polarities), float64."""
    out = torch.zeros(plan.col_currents.shape[1], dtype=torch.float64)
    for k, direction in enumerate(("ap2p", "p2ap")):
        i = plan.col_currents[k].double()
        out += torch.where(i > 0, switching_probability(i, 10e-9, **device.switching(direction)), 0.0)
    return out


def test_the_output_layer_request_is_minus_lr_gain_delta_over_input_range(digits):
    """The output layer's plan is exactly the encoder's plan of ``dW = x_i * (-lr * gain * delta_j /
    input_range)`` with delta the cross-entropy error of the output (rel 1e-6: float32 rounding)."""
    lr = 0.05
    plans, net, acts, label = _plans(digits, lr, train_step)
    layer = net.layers[-1]
    col = output_error(acts[-1], label, net.arch) * (-lr * layer.gain / net.input_range)
    want = layer.plan(acts[-2], col)
    torch.testing.assert_close(plans[-1].col_currents, want.col_currents, rtol=1e-6, atol=0.0)
    torch.testing.assert_close(plans[-1].row_widths, want.row_widths, rtol=1e-6, atol=0.0)


def test_switching_probabilities_scale_with_lr(digits):
    """Every layer: the full-width switching probability of each column driven at both learning rates is
    10 times larger at lr = 0.02 than at 0.002 (rel 1e-4: the thermal inverse is exact, float32 currents
    move p by ~1e-6; below p_max = 0.5 by construction of the small lr)."""
    hi, _, _, _ = _plans(digits, 0.02, train_step)
    lo, net, _, _ = _plans(digits, 0.002, train_step)
    dev = net.layers[0].encoder.device_params
    for a, b in zip(hi, lo, strict=True):
        p_hi, p_lo = _full_width_probabilities(a, dev), _full_width_probabilities(b, dev)
        both = (p_hi > 0) & (p_lo > 0)
        assert int(both.sum()) >= 10 and float(p_hi.max()) < 0.5
        torch.testing.assert_close(p_hi[both], 10.0 * p_lo[both], rtol=1e-4, atol=0.0)


def test_batched_chips_request_is_minus_lr_gain_delta_over_input_range(digits):
    """The batched chips' output-layer request (the column factor their encoder turns into currents) is
    ``-lr * gain * delta_j / input_range`` of each chip's own output error, as the eager rule's (rel 1e-6)."""
    lr, label = 0.05, int(digits.train_y[3])
    cfg = TrainingConfig(lr=lr)
    net = chips_training.ChipNetwork(build_architecture(digits.train_x, 10, (8,), cfg), HardwareConfig(), [0, 1])
    x = digits.train_x[3]
    z = net.forward(x)[-1]  # (chips, outputs): reads are deterministic, so the step sees the same z
    seen = []
    layer = net.layers[-1]
    original = layer.plan
    layer.plan = lambda col, rows: seen.append(col.clone()) or original(col, rows)
    zeros = torch.zeros(2, dtype=torch.long)
    stats = chips_training.ChipEpochStats(correct=zeros.clone(), updates=zeros.clone(), flips=zeros.clone())
    chips_training.train_step(net, x, label, lr, cfg, stats)
    for k in range(2):
        want = output_error(z[k], label, net.arch) * (-lr * layer.gain / net.input_range)
        torch.testing.assert_close(seen[0][k], want.to(seen[0].dtype), rtol=1e-6, atol=1e-12)
