"""The coincidence scheme's encoder: config checks, plan structure, and the mean update it realises.

:func:`test_mean_update_equals_request` is the statistical check: on the nominal device the mean
weight change over many sampled updates equals the request within 4 standard errors (every row for
``slots = 1``; the largest-|r| row, and every row against the documented ``1 - (1 - a y)^BL``, for
``slots = 8``).
"""

from __future__ import annotations

import math

import pytest
import torch

from mtjxbar.config import ConfigError
from mtjxbar.crossbar import Crossbar
from mtjxbar.crossbar.plan import CoincidencePlan
from mtjxbar.device import MTJParams, switching_probability
from mtjxbar.periphery import EncoderConfig, PulseEncoder
from mtjxbar.periphery.coincidence import pulse_probabilities

F64 = torch.float64
P = MTJParams()


def coincidence(**kw) -> EncoderConfig:
    return EncoderConfig(**{"scheme": "coincidence", **kw})


@pytest.mark.parametrize(("field", "value"), [("scheme", "voltage"), ("slots", 0), ("slots", 65), ("slots", 2.5),
                                              ("overdrive", 1.0), ("overdrive", 11.0), ("slot_width", 0.0),
                                              ("slot_width", -1e-9)])
def test_invalid_config_names_the_field(field, value):
    with pytest.raises(ConfigError, match=field):
        coincidence(**{field: value})


def test_weak_pulse_is_refused_naming_the_fields():
    """A pulse that cannot reach p_max within the slots is an error that names overdrive and slot width."""
    with pytest.raises(ValueError, match="overdrive.*slot_width"):
        PulseEncoder(coincidence(overdrive=1.01, slot_width=1e-10, slots=1), P)


def test_current_scheme_is_the_default_and_unchanged():
    assert EncoderConfig().scheme == "current"
    enc = PulseEncoder(EncoderConfig(), P)
    assert enc.coincidence is None
    gen = torch.Generator().manual_seed(0)
    r, c = torch.randn(5, generator=gen, dtype=F64), 0.1 * torch.randn(3, generator=gen, dtype=F64)
    assert type(enc.encode(r, c, 2.0)).__name__ == "OuterPlan"


def test_pulse_is_the_device_model_at_overdrive():
    cfg = coincidence(overdrive=1.5, slot_width=3e-9)
    (i_p, i_ap), (p_p, p_ap) = pulse_probabilities(cfg, P)
    assert i_p == pytest.approx(1.5 * P.ic0_ap2p) and i_ap == pytest.approx(1.5 * P.ic0_p2ap)
    assert p_p == pytest.approx(float(switching_probability(i_p, 3e-9, **P.switching("ap2p"))), rel=1e-12)
    assert p_ap == pytest.approx(float(switching_probability(i_ap, 3e-9, **P.switching("p2ap"))), rel=1e-12)


@pytest.mark.parametrize("slots", [1, 8, 64])
def test_phase_count_does_not_grow_with_the_array(slots):
    enc = PulseEncoder(coincidence(slots=slots), P)
    gen = torch.Generator().manual_seed(1)
    counts = []
    for rows, cols in ((4, 4), (64, 32), (1024, 512)):
        r = torch.randn(rows, generator=gen, dtype=F64)
        c = 0.05 * torch.randn(cols, generator=gen, dtype=F64)
        r[:2], c[:2] = torch.tensor([1.0, -1.0]), torch.tensor([0.05, -0.05])  # every (sign, polarity) class
        plan = enc.encode(r, c, 2.0)
        counts.append(len(plan))
        drawn = plan.draw(gen)
        assert len(drawn.phases) <= len(plan) == slots * 4
    assert counts == [slots * 4] * 3


def test_plan_probabilities_follow_the_derivation():
    """Largest row: per-slot coincidence x_kj with 1 - (1 - x p0)^BL = T_j; rows scaled by a_i; the two
    factors balanced (max row probability = max column probability)."""
    cfg = coincidence(slots=8, overdrive=1.3, slot_width=2e-9)
    enc = PulseEncoder(cfg, P)
    _, p0 = pulse_probabilities(cfg, P)
    r = torch.tensor([0.5, -1.0, 0.25, 0.0], dtype=F64)
    c = torch.tensor([0.3, -0.1, 2.0, 1e-12], dtype=F64)
    plan = enc.encode(r, c, 2.0)
    target = torch.clamp(c.abs() * 1.0 / 2.0, max=cfg.p_max)
    target = torch.where(target >= cfg.p_min, target, 0.0)
    s = plan.attempt_probability()
    bl = cfg.slots
    for i, a in enumerate((0.5, 1.0, 0.25, 0.0)):
        for j in range(4):
            k = 0 if r[i] * c[j] > 0 else 1
            got = -math.expm1(bl * math.log1p(-float(s[i, j]) * p0[k]))  # nominal cell, BL slots
            y = -math.expm1(math.log1p(-float(target[j])) / bl)  # per-slot switching of the largest row
            assert got == pytest.approx(-math.expm1(bl * math.log1p(-a * y)), rel=1e-12, abs=1e-15)
            assert got >= a * float(target[j]) - 1e-15  # the approximation only over-shoots
            if a == 1.0:
                assert got == pytest.approx(float(target[j]), rel=1e-12, abs=1e-15)
    assert float(plan.row_prob.max()) == pytest.approx(float(plan.col_prob.max()), rel=1e-12)
    assert float(plan.col_prob[:, 3].max()) == 0.0  # below p_min: idle
    assert float(plan.row_prob[3]) == 0.0


def test_zero_request_gives_an_idle_plan():
    enc = PulseEncoder(coincidence(), P)
    plan = enc.encode(torch.zeros(5, dtype=F64), torch.ones(3, dtype=F64), 2.0)
    xb = Crossbar(5, 3, P, dtype=F64)
    res = xb.write(plan, torch.Generator().manual_seed(0))
    assert res.flipped_cells.numel() == 0


def test_generator_draws_in_the_encoder():
    enc = PulseEncoder(coincidence(), P)
    r, c = torch.randn(6, dtype=F64), 0.2 * torch.randn(4, dtype=F64)
    a = enc.encode(r, c, 2.0, generator=torch.Generator().manual_seed(3))
    b = enc.encode(r, c, 2.0).draw(torch.Generator().manual_seed(3))
    assert isinstance(a, CoincidencePlan) and a.is_drawn
    assert torch.equal(a.row_on, b.row_on) and torch.equal(a.col_on, b.col_on)


def test_column_currents_belong_to_the_current_scheme():
    with pytest.raises(ValueError, match="coincidence"):
        PulseEncoder(coincidence(), P).column_currents(torch.tensor([0.1]))


@pytest.mark.parametrize("slots", [1, 8])
def test_mean_update_equals_request(slots):
    """Nominal device, k = 1 (swing 2): over many updates the mean signed change of each weight is the
    request (rows at a = 1 always; every row for slots = 1) within 4 standard errors, and every row's
    matches the documented ``1 - (1 - a y)^BL``. Cells start on the side opposite to the push (all can move)."""
    cfg = coincidence(slots=slots, overdrive=2.0, slot_width=1e-8)
    enc = PulseEncoder(cfg, P)
    r = torch.tensor([1.0, -0.6, 0.3, -1.0], dtype=F64)
    c = torch.tensor([0.02, -0.2, 0.5, -0.8, 1.5], dtype=F64)
    plan = enc.encode(r, c, 2.0)
    request = r[:, None] * c[None, :]
    target = torch.clamp(request.abs() / 2.0, max=cfg.p_max * r.abs()[:, None])  # a_i * min(T_j, p_max)
    start = request < 0  # parallel where the push is towards AP
    xb = Crossbar(4, 5, P, dtype=F64)
    gen = torch.Generator().manual_seed(11)
    n = 6000
    change = torch.zeros(4, 5, dtype=F64)
    for _ in range(n):
        xb.set_states(start)
        flipped = xb.write(plan, gen).flipped_cells
        change.view(-1)[flipped] += 1.0
    freq = change / n
    se = torch.sqrt(torch.clamp(target * (1 - target), min=1e-6) / n)
    a = r.abs()[:, None]
    y = -torch.expm1(torch.log1p(-torch.clamp(c.abs() / 2.0, max=cfg.p_max)) / slots)[None, :]
    documented = -torch.expm1(slots * torch.log1p(-a * y))
    assert float(((freq - documented).abs() / se).max()) < 4.0
    exact_rows = slice(None) if slots == 1 else [0, 3]
    mean_dw = 2.0 * freq * torch.sign(request)
    assert float(((mean_dw - 2.0 * target * torch.sign(request)).abs() / (2 * se))[exact_rows].max()) < 4.0


def test_insitu_training_with_the_coincidence_scheme_learns_digits():
    """End to end through the eager loop (the encoder, plan and writer of this package; the fused loop has
    its own compiled twin, tested in tests/training): two epochs on digits, 64-64-80, with a 20 % spread of
    Ic0 too: far above 10 % chance, and the phase count is the fixed BL x 4 per update at most."""
    from mtjxbar.config import replace_path
    from mtjxbar.experiments.config import ExperimentConfig
    from mtjxbar.experiments.datasets import load_dataset
    from mtjxbar.experiments.runner import run_experiment

    assert PulseEncoder(coincidence(), P).thermal_only is False
    config = ExperimentConfig()
    for path, value in [("training.epochs", 2), ("hidden", (64,)), ("baselines.methods", ()),
                        ("training.engine", "eager"), ("hardware.encoder.scheme", "coincidence"),
                        ("hardware.encoder.slots", 2),
                        ("hardware.variation.ic0_p2ap_dtod", 0.2), ("hardware.variation.ic0_ap2p_dtod", 0.2)]:
        config = replace_path(config, path, value)
    results = run_experiment(config, data=load_dataset("digits"), meter=False)
    assert results["accuracy"]["insitu"] > 0.6
    for epoch in results["insitu_epochs"]:
        assert epoch["flips"] > 0 and epoch["phases"] <= epoch["updates"] * 2 * 2 * 4
