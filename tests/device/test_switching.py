"""Switching probability: closed forms of both regimes, continuity, monotonicity, inverses, retention."""

from __future__ import annotations

import math

import pytest
import torch

from mtjxbar.device import DIRECTIONS, MTJParams
from mtjxbar.device.switching import (
    current_for_probability,
    retention_flip_probability,
    switching_probability,
    thermal_tau,
    width_for_probability,
)

F64 = torch.float64
PARAMS = MTJParams()
IC0, TAU0, DELTA, TAU_D = 50e-6, 1e-9, 40.0, 1e-9


def kw(**over) -> dict:
    base = {"ic0": IC0, "tau0": TAU0, "delta": DELTA, "n": 2.0, "tau_d": TAU_D}
    base.update(over)
    return base


def t(x) -> torch.Tensor:
    return torch.as_tensor(x, dtype=F64)


def sun_joined(current: float, width: float, *, ic0: float, tau0: float, delta: float, tau_d: float) -> float:
    """The documented joined formula above Ic0: 1 - exp(-t/tau0) (1 - P_Sun), in plain float64 math."""
    p_sun = math.exp(-(math.pi**2 * delta / 4.0) * math.exp(-2.0 * width * (current / ic0 - 1.0) / tau_d))
    survive_thermal = math.exp(-width / tau0)
    return -math.expm1(-width / tau0) + survive_thermal * p_sun  # = 1 - exp(-t/tau0) (1 - P_Sun)


# ------------------------------------------------------------------------------------------ closed forms


@pytest.mark.parametrize("n", [1.0, 1.5, 2.0, 3.0])
@pytest.mark.parametrize("width", [1e-10, 1e-9, 1e-8, 1e-6, 1e-3])
def test_thermal_regime_is_the_neel_brown_formula(n, width):
    currents = torch.linspace(0.0, 0.9, 91, dtype=F64) * IC0
    tau = TAU0 * torch.exp(DELTA * (1.0 - currents / IC0) ** n)
    want = -torch.expm1(-width / tau)
    got = switching_probability(currents, t(width), **kw(n=n))
    torch.testing.assert_close(got, want, rtol=1e-12, atol=0.0)
    torch.testing.assert_close(thermal_tau(currents, ic0=IC0, tau0=TAU0, delta=DELTA, n=n), tau,
                               rtol=1e-14, atol=0.0)


@pytest.mark.parametrize("delta", [20.0, 40.0, 80.0])
def test_thermal_regime_other_barriers_and_attempt_times(delta):
    currents = t([0.0, 10e-6, 25e-6, 40e-6])
    for tau0 in (1e-10, 1e-9, 5e-9):
        width = 1e-7
        tau = tau0 * torch.exp(delta * (1.0 - currents / IC0) ** 2)
        got = switching_probability(currents, t(width), **kw(delta=delta, tau0=tau0))
        torch.testing.assert_close(got, -torch.expm1(-width / tau), rtol=1e-12, atol=0.0)


def test_thermal_tau_is_tau0_at_and_above_ic0():
    currents = t([1.0, 1.2, 3.0]) * IC0
    torch.testing.assert_close(thermal_tau(currents, ic0=IC0, tau0=TAU0, delta=DELTA, n=2.0),
                               torch.full((3,), TAU0, dtype=F64), rtol=0.0, atol=0.0)


@pytest.mark.parametrize("n", [1.0, 2.0])
@pytest.mark.parametrize("delta", [20.0, 40.0, 60.0])
def test_precessional_regime_matches_the_joined_sun_formula(n, delta):
    for ratio in (1.05, 1.5, 2.0, 3.0, 5.0):
        for width in (1e-11, 1e-10, 5e-10, 1e-9, 3e-9, 1e-8):
            current = ratio * IC0
            got = switching_probability(t(current), t(width), **kw(n=n, delta=delta)).item()
            want = sun_joined(current, width, ic0=IC0, tau0=TAU0, delta=delta, tau_d=TAU_D)
            assert got == pytest.approx(want, rel=1e-12, abs=1e-300), (ratio, width)


def test_short_pulses_well_above_ic0_are_the_sun_formula():
    """For t << tau0 the thermal hazard t/tau0 is the only difference: |P - P_Sun| <= t/tau0."""
    for ratio in (2.0, 3.0, 5.0):
        for width in (1e-11, 1e-10, 3e-10):
            current = ratio * IC0
            p_sun = math.exp(-(math.pi**2 * DELTA / 4.0) * math.exp(-2.0 * width * (ratio - 1.0) / TAU_D))
            got = switching_probability(t(current), t(width), **kw()).item()
            assert abs(got - p_sun) <= width / TAU0 + 1e-15
            assert got >= p_sun


def test_value_exactly_at_ic0():
    a = math.pi**2 * DELTA / 4.0
    for width in (1e-10, 1e-9, 1e-8):
        got = switching_probability(t(IC0), t(width), **kw()).item()
        assert got == pytest.approx(-math.expm1(-width / TAU0 + math.log1p(-math.exp(-a))), rel=1e-13)


def test_zero_width_gives_zero_and_negative_width_raises():
    assert switching_probability(t([0.0, IC0, 5 * IC0]), t(0.0), **kw()).eq(0).all()
    with pytest.raises(ValueError, match="width"):
        switching_probability(t(IC0), t(-1e-9), **kw())


# --------------------------------------------------------------------------- continuity and monotonicity


@pytest.mark.parametrize("n", [1.0, 1.5, 2.0, 3.0])
@pytest.mark.parametrize("width", [1e-10, 1e-9, 3e-9, 1e-8, 1e-7])
def test_continuous_across_ic0(n, width):
    steps = t([1e-12, 1e-9, 1e-6])
    for direction in DIRECTIONS:
        k = PARAMS.switching(direction) | {"n": n}
        ic0 = k["ic0"]
        p_lo = switching_probability(ic0 * (1.0 - steps), t(width), **k)
        p_hi = switching_probability(ic0 * (1.0 + steps), t(width), **k)
        p_at = switching_probability(t(ic0), t(width), **k)
        # |dP/d(I/Ic0)| is bounded near Ic0 (by ~ Delta n (t/tau0) + pi^2 Delta t/tau_d), so a relative step
        # eps changes P by O(eps): no jump between the regimes.
        slope = k["delta"] * n * width / k["tau0"] + math.pi**2 * k["delta"] * width / k["tau_d"] + 1.0
        bound = steps * slope
        assert torch.all((p_hi - p_lo).abs() <= bound)
        assert torch.all(p_lo <= p_at) and torch.all(p_at <= p_hi)


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("width", [1e-10, 1e-9, 3e-9, 1e-8, 1e-7, 1e-6])
def test_monotonic_in_current(direction, width):
    k = PARAMS.switching(direction)
    currents = torch.linspace(0.0, 6.0, 24001, dtype=F64) * k["ic0"]
    for n in (1.0, 2.0, 3.0):
        p = switching_probability(currents, t(width), **(k | {"n": n}))
        assert torch.all((p >= 0) & (p <= 1))
        assert torch.all(p[1:] >= p[:-1])


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("ratio", [0.0, 0.3, 0.7, 0.95, 1.0, 1.02, 1.5, 4.0])
def test_monotonic_in_width(direction, ratio):
    k = PARAMS.switching(direction)
    widths = torch.logspace(-13, -2, 22001, dtype=F64)
    for n in (1.0, 2.0):
        p = switching_probability(t(ratio * k["ic0"]), widths, **(k | {"n": n}))
        assert torch.all((p >= 0) & (p <= 1))
        assert torch.all(p[1:] >= p[:-1])


def test_precessional_regime_is_reached_and_saturates():
    k = PARAMS.switching("ap2p")
    assert switching_probability(t(0.3 * k["ic0"]), t(1e-9), **k).item() < 1e-6  # exp(-Delta 0.49)
    assert switching_probability(t(4.0 * k["ic0"]), t(3e-9), **k).item() > 1 - 1e-6


# --------------------------------------------------------------------------------------------- inverses

PROBS = torch.cat([torch.logspace(-8, math.log10(0.5), 40, dtype=F64),
                   1.0 - torch.logspace(math.log10(0.49), -9, 40, dtype=F64)])
WIDTHS = [1e-10, 3e-10, 1e-9, 3e-9, 1e-8, 1e-7, 1e-6]


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("width", WIDTHS)
def test_current_for_probability_round_trip(direction, width):
    k = PARAMS.switching(direction)
    current = current_for_probability(PROBS, t(width), **k)
    assert torch.all(current > 0) and torch.all(torch.isfinite(current))
    assert torch.all(current[1:] >= current[:-1])
    back = switching_probability(current, t(width), **k)
    torch.testing.assert_close(back, PROBS, rtol=1e-9, atol=0.0)


def test_current_round_trip_hits_both_regimes_and_other_exponents():
    below = above = 0
    for n in (1.0, 1.5, 2.0, 3.0):
        for width in WIDTHS:
            k = kw(n=n)
            current = current_for_probability(PROBS, t(width), **k)
            back = switching_probability(current, t(width), **k)
            torch.testing.assert_close(back, PROBS, rtol=1e-9, atol=0.0)
            below += int((current < IC0).sum())
            above += int((current > IC0).sum())
    assert below > 100 and above > 100


CURRENT_RATIOS = [0.0, 0.2, 0.5, 0.8, 0.95, 0.999, 1.0, 1.001, 1.05, 1.5, 2.0, 4.0]


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("ratio", CURRENT_RATIOS)
def test_width_for_probability_round_trip(direction, ratio):
    k = PARAMS.switching(direction) | {"delta": 25.0}  # keeps thermal widths at zero current finite
    current = t(ratio * k["ic0"])
    width = width_for_probability(PROBS, current, **k)
    assert torch.all(width > 0) and torch.all(torch.isfinite(width))
    assert torch.all(width[1:] >= width[:-1])
    back = switching_probability(current, width, **k)
    torch.testing.assert_close(back, PROBS, rtol=1e-9, atol=0.0)


@pytest.mark.parametrize("n", [1.0, 2.0, 3.0])
def test_width_round_trip_default_barrier(n):
    k = kw(n=n)
    currents = t([0.5, 0.9, 1.0, 1.1, 2.0, 5.0]).unsqueeze(1) * IC0
    width = width_for_probability(PROBS, currents, **k)
    assert width.shape == (6, len(PROBS))
    torch.testing.assert_close(switching_probability(currents, width, **k), PROBS.expand(6, -1),
                               rtol=1e-9, atol=0.0)


def test_inverse_edge_cases():
    k = kw()
    assert current_for_probability(t(0.0), t(1e-9), **k).item() == 0.0
    assert current_for_probability(t(1.0), t(1e-9), **k).item() == math.inf
    assert width_for_probability(t(0.0), t(IC0), **k).item() == 0.0
    assert width_for_probability(t(1.0), t(0.5 * IC0), **k).item() == math.inf
    assert width_for_probability(t(1.0), t(2 * IC0), **k).item() == math.inf
    mixed = current_for_probability(t([0.0, 0.5, 1.0]), t(1e-8), **k)
    assert mixed[0] == 0.0 and 0.0 < mixed[1] < math.inf and mixed[2] == math.inf


def test_probability_below_retention_floor_needs_no_current():
    k = kw(delta=15.0)  # retention flips within 1 us are ~3e-4 here
    width = 1e-6
    floor = retention_flip_probability(t(width), tau0=k["tau0"], delta=k["delta"]).item()
    assert current_for_probability(t([0.5 * floor, floor]), t(width), **k).eq(0).all()
    assert current_for_probability(t(2.0 * floor), t(width), **k).item() > 0


def test_current_for_probability_needs_positive_width():
    with pytest.raises(ValueError, match="width"):
        current_for_probability(t(0.5), t(0.0), **kw())


@pytest.mark.parametrize("bad", [-0.1, -1e-12, 1.0 + 1e-12, 2.0, math.nan])
def test_invalid_probability_raises(bad):
    with pytest.raises(ValueError, match="probability"):
        current_for_probability(t(bad), t(1e-9), **kw())
    with pytest.raises(ValueError, match="probability"):
        width_for_probability(t(bad), t(IC0), **kw())
    with pytest.raises(ValueError, match="probability"):
        current_for_probability(t([0.1, bad, 0.5]), t(1e-9), **kw())


# ------------------------------------------------------------------------------------ per-cell parameters


def test_per_cell_parameters_broadcast_in_the_forward_model():
    ic0 = t([[40e-6], [50e-6], [60e-6]])  # (3, 1) cells x (5,) currents
    tau0 = t([[1e-9], [2e-9], [0.5e-9]])
    currents = t([0.0, 20e-6, 45e-6, 55e-6, 100e-6])
    p = switching_probability(currents, t(3e-9), **kw(ic0=ic0, tau0=tau0))
    assert p.shape == (3, 5)
    for row in range(3):
        cell = kw(ic0=ic0[row, 0].item(), tau0=tau0[row, 0].item())
        want = switching_probability(currents, t(3e-9), **cell)
        torch.testing.assert_close(p[row], want, rtol=1e-14, atol=0.0)


def test_per_cell_parameters_broadcast_in_the_inverses():
    ic0 = t([[40e-6], [50e-6], [60e-6]])
    delta = t([[30.0], [40.0], [50.0]])
    probs = t([1e-6, 0.1, 0.5, 0.99])
    for width in (1e-10, 1e-9, 1e-7):
        current = current_for_probability(probs, t(width), **kw(ic0=ic0, delta=delta))
        assert current.shape == (3, 4)
        back = switching_probability(current, t(width), **kw(ic0=ic0, delta=delta))
        torch.testing.assert_close(back, probs.expand(3, -1), rtol=1e-9, atol=0.0)
        for row in range(3):
            alone = current_for_probability(probs, t(width), **kw(ic0=ic0[row, 0].item(),
                                                                  delta=delta[row, 0].item()))
            torch.testing.assert_close(current[row], alone, rtol=1e-14, atol=0.0)
    currents = t([0.5, 1.5]) * 50e-6  # below Ic0 of every cell, above the first two
    width = width_for_probability(t(0.5), currents, **kw(ic0=ic0, delta=delta))
    assert width.shape == (3, 2)
    back = switching_probability(currents, width, **kw(ic0=ic0, delta=delta))
    torch.testing.assert_close(back, torch.full((3, 2), 0.5, dtype=F64), rtol=1e-9, atol=0.0)


# ----------------------------------------------------------------------------------------------- retention


def test_retention_closed_form():
    intervals = t([1e-9, 1.0, 3.15e7, 3.15e8, 1e12])
    for delta in (20.0, 40.0, 60.0):
        for tau0 in (1e-10, 1e-9):
            mean_time = tau0 * math.exp(delta)
            got = retention_flip_probability(intervals, tau0=tau0, delta=delta)
            want = t([-math.expm1(-x / mean_time) for x in intervals.tolist()])  # 1 - exp(-t/(tau0 e^Delta))
            torch.testing.assert_close(got, want, rtol=1e-12, atol=0.0)
            small = intervals < 1e-6 * mean_time  # first order: t / (tau0 e^Delta)
            torch.testing.assert_close(got[small], intervals[small] / mean_time, rtol=1e-6, atol=0.0)
            assert retention_flip_probability(t(mean_time), tau0=tau0, delta=delta).item() == pytest.approx(
                1.0 - math.exp(-1.0), rel=1e-14)
    assert retention_flip_probability(t(0.0), tau0=TAU0, delta=DELTA).item() == 0.0


def test_retention_per_cell_and_invalid_interval():
    delta = t([30.0, 40.0, 50.0])
    p = retention_flip_probability(t(1.0), tau0=1e-9, delta=delta)
    assert p.shape == (3,) and torch.all(p[1:] < p[:-1])
    with pytest.raises(ValueError, match="interval"):
        retention_flip_probability(t(-1.0), tau0=1e-9, delta=40.0)


@pytest.mark.parametrize("delta", [20.0, 40.0, 60.0])
def test_zero_current_switching_equals_retention(delta):
    """Equal up to the precessional floor exp(-pi^2 Delta/4) of the joined model (< 4e-22 for Delta >= 20)."""
    floor = math.exp(-(math.pi**2) * delta / 4.0)
    assert floor < 4e-22
    widths = torch.logspace(-10, 9, 39, dtype=F64)
    for direction in DIRECTIONS:
        k = PARAMS.switching(direction) | {"delta": delta}
        p = switching_probability(t(0.0), widths, **k)
        r = retention_flip_probability(widths, tau0=k["tau0"], delta=delta)
        assert torch.all((p - r).abs() <= floor + 1e-15 * r)
        torch.testing.assert_close(p, r + (1.0 - r) * floor, rtol=1e-12, atol=0.0)
        if delta >= 40.0:
            torch.testing.assert_close(p, r, rtol=1e-12, atol=0.0)
