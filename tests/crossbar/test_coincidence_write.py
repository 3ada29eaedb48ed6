"""Crossbar.write of a CoincidencePlan: flip frequencies against the analytic per-cell probability
(uniform and per-cell parameters, cycle-to-cycle spread), stuck cells, the coincidence listing, events."""

from __future__ import annotations

import pytest
import torch

from mtjxbar.crossbar import Crossbar, PassiveCrossbar
from mtjxbar.crossbar.access.coincidence_write import coincidence_probabilities, coincidences, pulse_probability
from mtjxbar.crossbar.events import PhaseEvent, WriteEvent
from mtjxbar.device import MTJParams, VariationConfig
from mtjxbar.periphery import EncoderConfig, PulseEncoder

F64 = torch.float64
P = MTJParams()
ROWS, COLS = 5, 4


def near_threshold_plan(slots: int = 3, seed: int = 0):
    """A plan whose pulse (1.1 x Ic0, 1.5 ns) switches a nominal cell with ~0.78: far from 0 and 1, so
    the device probability and the coincidence statistics both show in the flip frequencies."""
    enc = PulseEncoder(EncoderConfig(scheme="coincidence", slots=slots, overdrive=1.1, slot_width=1.5e-9), P)
    gen = torch.Generator().manual_seed(seed)
    r = torch.randn(ROWS, generator=gen, dtype=F64)
    c = 0.6 * torch.randn(COLS, generator=gen, dtype=F64)
    r[:2], c[:2] = torch.tensor([1.0, -0.7]), torch.tensor([0.8, -0.5])
    return enc.encode(r, c, 2.0)


def start_states(seed: int = 5) -> torch.Tensor:
    return torch.rand(ROWS, COLS, generator=torch.Generator().manual_seed(seed)) < 0.5


def flip_frequency(xb: Crossbar, plan, start: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    counts = torch.zeros(ROWS * COLS, dtype=F64)
    for _ in range(n):
        xb.set_states(start)
        counts[xb.write(plan, gen).flipped_cells] += 1.0
    return (counts / n).view(ROWS, COLS)


def assert_within_4_se(freq: torch.Tensor, p: torch.Tensor, n: int) -> None:
    se = torch.sqrt(torch.clamp(p * (1 - p), min=1e-4) / n)
    z = (freq - p).abs() / se
    assert float(z.max()) < 4.0, (freq, p)


def varied_params(xb: Crossbar, seed: int = 2) -> dict[str, torch.Tensor]:
    """Per-cell Ic0 (0.7-1.6 x nominal: pulses from below to above threshold), tau0 and Delta."""
    gen = torch.Generator().manual_seed(seed)
    out = {k: v.clone() for k, v in xb.params.items()}
    for name in ("ic0_p2ap", "ic0_ap2p"):
        out[name] = out[name] * (0.7 + 0.9 * torch.rand(ROWS, COLS, generator=gen, dtype=F64))
    for name in ("tau0_p2ap", "tau0_ap2p"):
        out[name] = out[name] * (0.5 + torch.rand(ROWS, COLS, generator=gen, dtype=F64))
    out["delta"] = out["delta"] * (0.8 + 0.4 * torch.rand(ROWS, COLS, generator=gen, dtype=F64))
    return out


@pytest.mark.parametrize("per_cell", [False, True])
def test_flip_frequency_matches_the_analytic_probability(per_cell):
    xb = Crossbar(ROWS, COLS, P, dtype=F64)
    if per_cell:
        xb.set_cell_params(varied_params(xb))
    plan, start = near_threshold_plan(), start_states()
    xb.set_states(start)
    p = coincidence_probabilities(xb, plan)
    if per_cell:  # the spread of Ic0 must show: some cells below, some above the nominal p0
        p0 = pulse_probability(xb, plan, torch.arange(ROWS * COLS), plan.towards_p().reshape(-1))
        assert float(p0.min()) < 0.2 and float(p0.max()) > 0.8
    n = 6000
    assert_within_4_se(flip_frequency(xb, plan, start, n, seed=1), p, n)


def test_drawn_plan_frequency_matches_its_coincidences():
    """A fixed draw: cell (i, j) with n_ij coincidences flips with 1 - (1 - p0_ij)^n_ij (per-cell parameters)."""
    xb = Crossbar(ROWS, COLS, P, dtype=F64)
    xb.set_cell_params(varied_params(xb, seed=4))
    plan = near_threshold_plan(slots=6).draw(torch.Generator().manual_seed(9))
    start = start_states(6)
    xb.set_states(start)
    p = coincidence_probabilities(xb, plan)
    assert float(p.max()) > 0.3
    n = 5000
    assert_within_4_se(flip_frequency(xb, plan, start, n, seed=2), p, n)


def test_cycle_to_cycle_spread_is_drawn_per_pulse():
    """With an Ic0 c2c spread each pulse switches with the device probability at a fresh factor: the
    frequency equals 1 - (1 - s E_f[p0(f Ic0)])^BL, the expectation taken over the spread's own draws."""
    variation = VariationConfig(ic0_c2c=0.3)
    xb = Crossbar(ROWS, COLS, P, dtype=F64)
    xb.set_c2c(variation)
    plan, start = near_threshold_plan(slots=2), start_states()
    from mtjxbar.device.variation import sample_ic0_c2c

    factors = sample_ic0_c2c(variation, (20000,), torch.Generator().manual_seed(7), dtype=F64)
    cells = torch.arange(ROWS * COLS)
    to_p = plan.towards_p().reshape(-1)
    m = factors.numel()
    mean_p0 = pulse_probability(xb, plan, cells.repeat(m), to_p.repeat(m), factors.repeat_interleave(ROWS * COLS))
    mean_p0 = mean_p0.view(m, ROWS, COLS).mean(0)
    xb.set_states(start)
    movable = (xb.parallel != plan.towards_p()) & ((plan.row_sign[:, None] * plan.col_sign[None, :]) != 0)
    s = plan.attempt_probability()
    p = torch.where(movable, -torch.expm1(plan.slots * torch.log1p(-s * mean_p0)), torch.zeros_like(s))
    nominal = coincidence_probabilities(xb, plan)
    assert float((p - nominal).abs().max()) > 0.01  # the spread changes the answer here
    n = 6000
    assert_within_4_se(flip_frequency(xb, plan, start, n, seed=3), p, n)


def test_stuck_cells_never_flip():
    enc = PulseEncoder(EncoderConfig(scheme="coincidence", slots=4), P)
    xb = Crossbar(ROWS, COLS, P, dtype=F64)
    stuck_p = torch.zeros(ROWS, COLS, dtype=torch.bool)
    stuck_ap = torch.zeros(ROWS, COLS, dtype=torch.bool)
    stuck_p[0, :2], stuck_ap[1, 2:], stuck_ap[3, 0] = True, True, True
    xb.set_stuck(stuck_p, stuck_ap)
    gen = torch.Generator().manual_seed(0)
    flipped = torch.zeros(ROWS * COLS, dtype=torch.bool)
    for k in range(300):
        r = torch.randn(ROWS, generator=gen, dtype=F64)
        c = 3.0 * torch.randn(COLS, generator=gen, dtype=F64)
        for sign in (1.0, -1.0):  # push both ways
            flipped[xb.write(enc.encode(sign * r, c, 2.0), gen).flipped_cells] = True
        assert bool(xb.parallel[stuck_p].all()) and not bool(xb.parallel[stuck_ap].any()), k
    assert bool(flipped[~(stuck_p | stuck_ap).view(-1)].any())


def test_coincidences_are_exactly_the_fired_pairs():
    """The O(coincidences) listing equals the dense (slot, row, column) reference, polarity included."""
    enc = PulseEncoder(EncoderConfig(scheme="coincidence", slots=7), P)
    gen = torch.Generator().manual_seed(3)
    rows, cols = 30, 20
    r, c = torch.randn(rows, generator=gen, dtype=F64), torch.randn(cols, generator=gen, dtype=F64)
    plan = enc.encode(r, c, 2.0).draw(gen)
    cells, to_p = coincidences(plan)
    towards = plan.towards_p()
    reached = (plan.row_sign[:, None] * plan.col_sign[None, :]) != 0
    dense_cells, dense_to_p = [], []
    for b in range(plan.slots):
        col = torch.where(towards, plan.col_on[b, 0][None, :], plan.col_on[b, 1][None, :])
        hit = plan.row_on[b][:, None] & col & reached
        idx = torch.nonzero(hit.view(-1)).flatten()
        dense_cells.append(idx)
        dense_to_p.append(towards.view(-1)[idx])
    dense_cells, dense_to_p = torch.cat(dense_cells), torch.cat(dense_to_p)
    assert cells.numel() == dense_cells.numel() > 0
    key = cells * 2 + to_p.long()
    dense_key = dense_cells * 2 + dense_to_p.long()
    assert torch.equal(torch.sort(key).values, torch.sort(dense_key).values)


def test_write_reports_its_phases_and_outcome():
    enc = PulseEncoder(EncoderConfig(scheme="coincidence", slots=3), P)
    xb = Crossbar(ROWS, COLS, P, dtype=F64)
    xb.events = []
    gen = torch.Generator().manual_seed(1)
    plan = enc.encode(torch.randn(ROWS, generator=gen, dtype=F64), torch.randn(COLS, generator=gen, dtype=F64),
                      2.0)
    res = xb.write(plan, gen)
    phases = [e for e in xb.events if isinstance(e, PhaseEvent)]
    write = [e for e in xb.events if isinstance(e, WriteEvent)]
    assert len(write) == 1 and write[0].phases == res.phases == len(plan)
    assert write[0].flips == res.flipped_cells.numel()
    assert 0 < len(phases) <= len(plan)
    assert all(float(e.row_widths.max()) == pytest.approx(10e-9) for e in phases)


def test_wrong_shape_and_passive_arrays_are_refused():
    enc = PulseEncoder(EncoderConfig(scheme="coincidence"), P)
    plan = enc.encode(torch.ones(3, dtype=F64), torch.ones(2, dtype=F64), 2.0)
    with pytest.raises(ValueError, match="3 rows x 2 columns"):
        Crossbar(4, 2, P, dtype=F64).write(plan, torch.Generator())
    with pytest.raises(ValueError, match="passive"):
        PassiveCrossbar(3, 2, P).write(plan, torch.Generator())
