"""Bias-dependent TMR: R_AP(V) = R_P (1 + TMR0 / (1 + (V/V_h)^2)); the parallel state is ohmic."""

from __future__ import annotations

import pytest
import torch

from mtjxbar.device import MTJParams, resistance, resistance_ap

F64 = torch.float64
P = MTJParams()
KW = {"r_p": P.r_p, "tmr0": P.tmr0, "v_h": P.v_h}


def v(x) -> torch.Tensor:
    return torch.as_tensor(x, dtype=F64)


def test_zero_bias_is_r_p_times_one_plus_tmr0():
    r = resistance_ap(v(0.0), **KW)
    assert r.dtype == F64
    assert r.item() == pytest.approx(P.r_p * (1.0 + P.tmr0), rel=1e-14)
    assert r.item() == pytest.approx(P.r_ap, rel=1e-14)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_tmr_halves_at_v_h(sign):
    r = resistance_ap(v(sign * P.v_h), **KW).item()
    assert r == pytest.approx(P.r_p * (1.0 + P.tmr0 / 2.0), rel=1e-14)
    assert (r - P.r_p) / P.r_p == pytest.approx(P.tmr0 / 2.0, rel=1e-13)


def test_closed_form_on_a_grid_and_other_params():
    volts = torch.linspace(-2.0, 2.0, 401, dtype=F64)
    for r_p, tmr0, v_h in [(5e3, 1.24, 0.5), (1e3, 2.0, 0.3), (20e3, 0.8, 0.9)]:
        got = resistance_ap(volts, r_p=r_p, tmr0=tmr0, v_h=v_h)
        want = r_p * (1.0 + tmr0 / (1.0 + (volts / v_h) ** 2))
        torch.testing.assert_close(got, want, rtol=1e-14, atol=0.0)


def test_symmetric_in_voltage_and_decreasing_in_magnitude():
    volts = torch.linspace(0.0, 3.0, 301, dtype=F64)
    r_pos = resistance_ap(volts, **KW)
    r_neg = resistance_ap(-volts, **KW)
    torch.testing.assert_close(r_pos, r_neg, rtol=0.0, atol=0.0)
    assert torch.all(r_pos[1:] < r_pos[:-1])
    assert torch.all(r_pos > P.r_p)  # AP stays above P at any bias
    assert r_pos[-1].item() < P.r_p * (1.0 + 0.05 * P.tmr0)  # TMR collapses at high bias


def test_parallel_state_is_ohmic():
    volts = torch.linspace(-1.5, 1.5, 31, dtype=F64)
    r = resistance(torch.ones(31, dtype=torch.bool), volts, **KW)
    assert r.dtype == F64
    torch.testing.assert_close(r, torch.full_like(volts, P.r_p), rtol=0.0, atol=0.0)
    # so the current is linear in the voltage
    torch.testing.assert_close(volts / r, volts / P.r_p, rtol=1e-15, atol=0.0)


def test_state_selects_p_or_ap_elementwise_with_broadcasting():
    state = torch.tensor([[True, False, True, False]])
    volts = v([[0.0], [0.1], [P.v_h]])  # (3, 1) broadcasts with (1, 4)
    r = resistance(state, volts, **KW)
    assert r.shape == (3, 4)
    r_ap = resistance_ap(volts, **KW).expand(3, 4)
    torch.testing.assert_close(r[:, [0, 2]], torch.full((3, 2), P.r_p, dtype=F64))
    torch.testing.assert_close(r[:, [1, 3]], r_ap[:, [1, 3]])


def test_per_cell_parameters_broadcast():
    r_p = torch.tensor([4e3, 5e3, 6e3], dtype=F64)
    tmr0 = torch.tensor([1.0, 1.2, 1.4], dtype=F64)
    r = resistance_ap(v(0.0), r_p=r_p, tmr0=tmr0, v_h=0.5)
    torch.testing.assert_close(r, r_p * (1.0 + tmr0))
    rr = resistance(torch.tensor([True, False, True]), v(0.0), r_p=r_p, tmr0=tmr0, v_h=0.5)
    torch.testing.assert_close(rr, torch.stack([r_p[0], r[1], r_p[2]]))
