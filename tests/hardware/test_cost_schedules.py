"""The three schedules: scaling with array size, the ex-situ programming model, and a metered training run."""

from __future__ import annotations

import math

import pytest
import torch

from mtjxbar.device import switching_probability
from mtjxbar.hardware import (
    ActivityConfig,
    CostConfig,
    ScheduleConfig,
    attach_meter,
    estimate,
    expected_rounds,
    software_macs,
)
from mtjxbar.nn import HardwareConfig

HW = HardwareConfig()
ACTIVITY = ActivityConfig(samples=2)


@pytest.fixture(scope="module")
def square():
    return {n: estimate(HW, rows=n, cols=n, activity=ACTIVITY) for n in (16, 64, 256)}


def test_parallel_latency_is_flat(square):
    lat = {n: s["insitu_parallel"]["latency_s"] for n, s in square.items()}
    assert lat[256] / lat[16] == pytest.approx(1.0, abs=0.05)
    assert all(s["insitu_parallel"]["phases"] == 4 for s in square.values())


def test_rowwise_latency_is_linear(square):
    lat = {n: s["insitu_rowwise"]["latency_s"] for n, s in square.items()}
    slope_hi = (lat[256] - lat[64]) / (256 - 64)
    slope_lo = (lat[64] - lat[16]) / (64 - 16)
    assert slope_hi == pytest.approx(slope_lo, rel=0.15)
    assert lat[256] > 8 * lat[16]
    # each row is pulsed once per polarity: about 2 n row phases
    assert square[256]["insitu_rowwise"]["phases"] == pytest.approx(2 * 256, rel=0.1)


def test_energy_grows_with_cells(square):
    e = {n: s["insitu_parallel"]["energy_breakdown_j"]["cells_write"] for n, s in square.items()}
    assert e[256] / e[64] == pytest.approx(16, rel=0.25)  # every cell sees one pulse per update


def test_exsitu_software_and_programming(square):
    s = square[64]
    assert s["exsitu"]["software_macs"] == 3 * 64 * 64 == software_macs([_spec(64)])
    cost = CostConfig()
    assert s["exsitu"]["software_energy_j"] == pytest.approx(3 * 64 * 64 * cost.reference_mac_energy)
    prog = s["programming"]
    assert prog["cells"] == 64 * 64 and prog["cells_changed"] == pytest.approx(0.5 * 64 * 64)
    amortised = prog["energy_j"] / ScheduleConfig().training_samples
    assert s["exsitu"]["programming_energy_j"] == pytest.approx(amortised)


def _spec(n):
    from mtjxbar.hardware import ArraySpec

    return ArraySpec(rows=n, cols=n, in_features=n, out_features=n)


def test_programming_pulses_follow_switching_model():
    schedule = ScheduleConfig(program_current_ratio=0.7)
    s = estimate(HW, rows=16, cols=16, schedule=schedule, activity=ActivityConfig(samples=1))
    dev = HW.device
    for d in ("ap2p", "p2ap"):
        kw = dev.switching(d)
        p = float(switching_probability(0.7 * kw["ic0"], 10e-9, **kw))
        assert s["programming"]["directions"][d]["pulses_per_changed_cell"] == pytest.approx(1.0 / p)
        assert 1.0 / p > 3.0  # a sub-critical pulse: several attempts
    assert s["programming"]["pulses_per_cell"] == pytest.approx(0.5 * s["programming"]["pulses_per_changed_cell"])


@pytest.mark.parametrize(("m", "p"), [(1, 0.3), (10, 0.3), (7.0, 0.9), (64, 0.05)])
def test_expected_rounds_against_monte_carlo(m, p):
    if m == 1:
        assert expected_rounds(1, p) == pytest.approx(1.0 / p, rel=1e-12)
    u = torch.rand(200000, int(m), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    trials = torch.ceil(torch.log1p(-u) / math.log1p(-p)).clamp(min=1.0)  # geometric: trials until success
    mc = float(trials.max(dim=1).values.mean())
    assert expected_rounds(m, p) == pytest.approx(mc, rel=0.02)


def test_expected_rounds_asymptote_matches_series():
    m, p = 100.0, 3e-5  # beyond the series cut-off: Eisenberg's asymptote
    k = torch.arange(2_500_000, dtype=torch.float64)
    exact = float((-torch.expm1(m * torch.log1p(-torch.exp(k * math.log1p(-p))))).sum())
    assert expected_rounds(m, p) == pytest.approx(exact, rel=1e-3)
    assert expected_rounds(0, 0.5) == 0.0 and expected_rounds(5, 1.0) == 1.0


def test_meter_on_a_training_run():
    from mtjxbar.experiments.datasets import load_dataset
    from mtjxbar.rng import generator
    from mtjxbar.training import InSituNetwork, TrainingConfig, build_architecture, evaluate, train_insitu

    data = load_dataset("digits", max_train=40, max_test=20)
    config = TrainingConfig(outputs_per_class=2)
    arch = build_architecture(data.train_x, data.n_classes, (16,), config)
    net = InSituNetwork(arch, HW)
    for i, layer in enumerate(net.layers):
        layer.randomize(generator(0, f"init.layer{i}"))
    gens = [generator(0, f"write.layer{i}") for i in range(len(net.layers))]
    meter = attach_meter(net, HW)
    all_stats = []
    for epoch in range(2):
        with meter.epoch():
            stats = train_insitu(net, data.train_x, data.train_y, config, epoch, torch.arange(40), gens)
        evaluate(net.predict, data.test_x, data.test_y, 10)  # not metered
        all_stats.append(stats)
    out = meter.summary()
    assert out["samples"] == 80 and [e["samples"] for e in out["epochs"]] == [40, 40]
    assert [e["flips"] for e in out["epochs"]] == [s.flips for s in all_stats]
    assert [e["phases"] for e in out["epochs"]] == [s.phases for s in all_stats]
    assert out["exsitu"]["amortised_over_samples"] == 80
    for key in ("insitu_parallel", "insitu_rowwise", "exsitu"):
        assert out[key]["latency_s"] > 0 and out[key]["energy_j"] > 0
    total = out["totals"]["insitu_parallel"]["energy_j"]
    assert total == pytest.approx(sum(e["insitu_parallel"]["energy_j"] for e in out["epochs"]))
    assert out["insitu_parallel"]["latency_s"] < out["insitu_rowwise"]["latency_s"]
