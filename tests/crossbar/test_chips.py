"""K chips in one batch (crossbar/chips.py) against K single arrays.

* chip k is the array ``Crossbar.manufacture`` gives with the same generators (parameters, stuck cells);
* reads and transposed reads equal the single arrays' (float64), uniform and per-cell batches;
* statistical: per-cell flip counts of the batched sampler (sparse and forced dense) against the single
  arrays' switching probabilities (each cell within 4.5 binomial standard errors, chi-square), with
  device-to-device spread and stuck cells; with a cycle-to-cycle spread, batched sparse against batched
  dense (two-sample); flips per chip are counted right;
* stuck cells never flip.
"""

from __future__ import annotations

import math

import pytest
import torch

from mtjxbar.crossbar import Crossbar
from mtjxbar.crossbar.chips import ChipArrays, ChipPlan
from mtjxbar.device import MTJParams, VariationConfig
from mtjxbar.periphery import PulseEncoder
from mtjxbar.periphery.config import EncoderConfig

P = MTJParams()
K, ROWS, COLS = 3, 7, 6
VARIED = VariationConfig(r_p_dtod=0.2, tmr0_dtod=0.2, ic0_p2ap_dtod=0.1, ic0_ap2p_dtod=0.1, stuck_p_rate=0.1,
                         stuck_ap_rate=0.05, ic0_c2c=0.03)
NO_C2C = VariationConfig(r_p_dtod=0.2, tmr0_dtod=0.2, ic0_p2ap_dtod=0.1, ic0_ap2p_dtod=0.1, delta_dtod=0.05,
                         stuck_p_rate=0.1)
FAULTS = VariationConfig(stuck_p_rate=0.1, stuck_ap_rate=0.1)


def _gens(base: int) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(base + k) for k in range(K)]


def _pair(variation: VariationConfig, dtype=torch.float32):
    chips = ChipArrays(K, ROWS, COLS, P, v_max=0.1, dtype=dtype)
    chips.manufacture(variation, _gens(10), _gens(20))
    chips.set_states(torch.rand(K, ROWS, COLS, generator=torch.Generator().manual_seed(1)) < 0.5)
    singles = []
    for k in range(K):
        xb = Crossbar(ROWS, COLS, P, dtype=dtype)
        xb.manufacture(variation, torch.Generator().manual_seed(10 + k), torch.Generator().manual_seed(20 + k))
        xb.set_states(chips.parallel[k])
        singles.append(xb)
    return chips, singles


def _plan(seed: int):
    g = torch.Generator().manual_seed(seed)
    enc = PulseEncoder(EncoderConfig(), P)
    plans = [enc.encode(torch.randn(ROWS, generator=g).clamp(-1, 1), torch.randn(COLS, generator=g) * 0.15, 2.0)
             for _ in range(K)]
    return plans, ChipPlan(*(torch.stack([getattr(p, f) for p in plans])
                             for f in ("row_widths", "row_sign", "col_sign", "col_currents")))


@pytest.mark.parametrize("variation", [VARIED, FAULTS], ids=["varied", "faults only"])
def test_chips_are_the_single_arrays_and_read_the_same(variation):
    chips, singles = _pair(variation, torch.float64)
    rtol = 1e-10 if variation.has_dtod else 1e-8  # uniform arrays (both) interpolate G_AP(v) in a table
    g = torch.Generator().manual_seed(2)
    for k, xb in enumerate(singles):
        assert all(torch.equal(chips.params[n][k], xb.params[n]) for n in xb.params)
        assert torch.equal(chips.stuck_p[k], xb.stuck_p) and torch.equal(chips.frozen[k], xb.stuck_p | xb.stuck_ap)
    v = torch.rand(K, 4, ROWS, generator=g, dtype=torch.float64) * 0.2 - 0.1
    vt = torch.rand(K, COLS, generator=g, dtype=torch.float64) * 0.1
    want = torch.stack([xb.read(v[k], 0.1) for k, xb in enumerate(singles)])
    torch.testing.assert_close(chips.read(v, 0.1), want, rtol=rtol, atol=1e-16)
    torch.testing.assert_close(chips.read(v[:, 0], 0.1), want[:, 0], rtol=rtol, atol=1e-16)
    shared = torch.stack([xb.read(v[0], 0.1) for xb in singles])
    torch.testing.assert_close(chips.read(v[0], 0.1, shared=True), shared, rtol=rtol, atol=1e-16)
    base, extra = chips.prepare_shared(v[0], 0.1)
    torch.testing.assert_close(chips.read_prepared(base[1], extra[1]), shared[:, 1], rtol=rtol, atol=1e-16)
    want_t = torch.stack([xb.read_transposed(vt[k], 0.1) for k, xb in enumerate(singles)])
    torch.testing.assert_close(chips.read_transposed(vt, 0.1), want_t, rtol=rtol, atol=1e-16)


def _counts(chips: ChipArrays, plan: ChipPlan, start: torch.Tensor, draws: int, seed: int) -> torch.Tensor:
    counts = torch.zeros(K, ROWS, COLS, dtype=torch.float64)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(draws):
        chips.set_states(start)
        flips = chips.write(plan, gen)
        changed = chips.parallel != start
        assert torch.equal(flips, changed.flatten(1).sum(1)), "flips per chip"
        counts += changed.double()
    return counts


@pytest.mark.parametrize("variation", [NO_C2C, FAULTS], ids=["varied", "faults only"])
@pytest.mark.parametrize("sampler", ["sparse", "dense"])
def test_batched_flip_counts_per_cell_match_the_single_arrays_probabilities(variation, sampler):
    chips, singles = _pair(variation)
    plans, plan = _plan(3)
    chips.sparse_max_events_per_cell = 1e9 if sampler == "sparse" else -1.0
    p = torch.stack([xb.switching_probabilities(pl).sum(0) for xb, pl in zip(singles, plans, strict=True)]).double()
    draws = 3000
    counts = _counts(chips, plan, chips.parallel.clone(), draws, 4)
    assert float(counts.sum()) > 1000
    assert bool((counts[p == 0] == 0).all()), "cells that cannot switch (stuck ones included) never do"
    live = p > 0
    z = (counts[live] - draws * p[live]) / (draws * p[live] * (1 - p[live])).sqrt()
    assert float(z.abs().max()) < 4.5
    dof = int(live.sum())
    assert float((z**2).sum()) < dof + 5 * math.sqrt(2 * dof)


def test_batched_sparse_and_dense_agree_with_a_cycle_to_cycle_spread():
    chips, _ = _pair(VARIED)
    _, plan = _plan(5)
    start = chips.parallel.clone()
    chips.sparse_max_events_per_cell = 1e9
    a = _counts(chips, plan, start, 3000, 6)
    chips.sparse_max_events_per_cell = -1.0
    b = _counts(chips, plan, start, 3000, 7)
    assert float(a[chips.frozen].sum()) == float(b[chips.frozen].sum()) == 0.0, "stuck cells never flip"
    live = (a + b) > 0
    pooled = (a[live] + b[live]) / 6000
    z = (a[live] - b[live]) / torch.sqrt(6000 * pooled * (1 - pooled))
    assert float(z.abs().max()) < 4.5
    dof = int(live.sum())
    assert float((z**2).sum()) < dof + 5 * math.sqrt(2 * dof)


def test_reads_follow_the_states_through_writes():
    chips, _ = _pair(VARIED, torch.float64)
    _, plan = _plan(6)
    gen = torch.Generator().manual_seed(7)
    v = torch.rand(K, ROWS, generator=gen, dtype=torch.float64) * 0.1
    for _ in range(20):
        chips.write(plan, gen)
    fresh = ChipArrays(K, ROWS, COLS, P, v_max=0.1, dtype=torch.float64)
    fresh.set_cell_params(chips.params)
    fresh.set_states(chips.parallel)
    torch.testing.assert_close(chips.read(v, 0.1), fresh.read(v, 0.1), rtol=1e-12, atol=0.0)
