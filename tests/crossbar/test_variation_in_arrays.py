"""Variation wired into the arrays: stuck cells, cycle-to-cycle spread of Ic0, per-cell reads, same seed.

* stuck cells never flip: through many writes (sparse and dense samplers), programming and set_states;
* statistical: per-cell flip counts of the sparse sampler against the dense reference sampler (two-sample,
  each cell within 4.5 standard errors and a chi-square over all cells) with stuck cells and with a
  cycle-to-cycle spread (the sparse path really runs: its bound covers the truncated normal's tail);
* the lognormal cycle-to-cycle spread (unbounded below) leaves the write to the dense sampler;
* per-cell reads (Chebyshev fit) equal the exact per-cell solve, also after writes;
* the same seed gives the same chip; the masks round-trip through state_dict.
"""

from __future__ import annotations

import math

import pytest
import torch

from mtjxbar.crossbar import Crossbar
from mtjxbar.device import MTJParams, VariationConfig
from mtjxbar.nn import HardwareConfig, MTJLinear, manufacture_layers
from mtjxbar.periphery import PulseEncoder
from mtjxbar.periphery.config import EncoderConfig

P = MTJParams()
ROWS, COLS = 7, 6
SPREAD = VariationConfig(r_p_dtod=0.2, tmr0_dtod=0.2, ic0_p2ap_dtod=0.1, ic0_ap2p_dtod=0.1, delta_dtod=0.05)


def _plan(seed: int, scale: float = 0.25):
    g = torch.Generator().manual_seed(seed)
    r = torch.randn(ROWS, generator=g)
    r[2] = 0.0
    c = torch.randn(COLS, generator=g) * scale
    return PulseEncoder(EncoderConfig(), P).encode(r / r.abs().max(), c, 2.0)


def _array(variation: VariationConfig, seed: int = 0, rows: int = ROWS, cols: int = COLS, dtype=torch.float32):
    xb = Crossbar(rows, cols, P, dtype=dtype)
    xb.set_states(torch.rand(rows, cols, generator=torch.Generator().manual_seed(seed)) < 0.5)
    xb.manufacture(variation, torch.Generator().manual_seed(seed + 1), torch.Generator().manual_seed(seed + 2))
    xb.sparse_max_events_per_cell = 1e9
    return xb


@pytest.mark.parametrize("sampler", ["sparse", "dense"])
def test_stuck_cells_never_flip_through_writes_programming_and_set_states(sampler):
    xb = _array(VariationConfig(stuck_p_rate=0.2, stuck_ap_rate=0.2, ic0_c2c=0.03), rows=20, cols=16)
    xb.sampler = sampler
    assert bool(xb.stuck_p.any()) and bool(xb.stuck_ap.any())
    assert bool(xb.parallel[xb.stuck_p].all()) and not bool(xb.parallel[xb.stuck_ap].any())
    free = ~(xb.stuck_p | xb.stuck_ap)
    g = torch.Generator().manual_seed(3)
    enc = PulseEncoder(EncoderConfig(), P)
    flips = 0
    for step in range(300):
        plan = enc.encode(torch.randn(20, generator=g).clamp(-1, 1), torch.randn(16, generator=g) * 0.5, 2.0)
        before = xb.parallel.clone()
        result = xb.write(plan, g)
        flips += result.flipped_cells.numel()
        assert torch.equal(xb.parallel[~free], before[~free])
        if step % 50 == 0:
            xb.set_states(~xb.parallel)  # programming everything the other way
            assert bool(xb.parallel[xb.stuck_p].all()) and not bool(xb.parallel[xb.stuck_ap].any())
    assert flips > 200, "the free cells do switch"
    assert bool(xb.parallel[xb.stuck_p].all()) and not bool(xb.parallel[xb.stuck_ap].any())


def test_a_layer_programs_around_its_stuck_cells():
    hw = HardwareConfig(variation=VariationConfig(stuck_p_rate=0.1, stuck_ap_rate=0.1))
    layer = MTJLinear(30, 5, hw, 1.0)
    manufacture_layers([layer], seed=4)
    for sign in (1.0, -1.0):
        layer.program(torch.full((30, 5), sign))
        xb = layer.crossbar
        assert bool(xb.parallel[xb.stuck_p].all()) and not bool(xb.parallel[xb.stuck_ap].any())


def _counts(xb: Crossbar, plan, start, draws: int, seed: int) -> torch.Tensor:
    counts = torch.zeros(xb.rows, xb.cols, dtype=torch.float64)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(draws):
        xb.set_states(start)
        counts.view(-1)[xb.write(plan, gen).flipped_cells] += 1.0
    return counts


@pytest.mark.parametrize("variation", [
    VariationConfig(stuck_p_rate=0.15, stuck_ap_rate=0.15),
    VariationConfig(ic0_c2c=0.05),
    VariationConfig(ic0_c2c=0.05, ic0_p2ap_dtod=0.05, ic0_ap2p_dtod=0.05, delta_dtod=0.05, stuck_p_rate=0.1),
], ids=["stuck", "c2c", "c2c+dtod+stuck"])
def test_sparse_flip_counts_per_cell_match_the_dense_sampler(variation):
    plan = _plan(5, scale=0.15)
    sparse, dense = _array(variation, seed=6), _array(variation, seed=6)
    dense.sampler = "dense"
    assert sparse._write_outer(plan, torch.Generator().manual_seed(0)) is not None, "the sparse path runs"
    start = sparse.parallel.clone()
    draws = 6000
    a, b = _counts(sparse, plan, start, draws, 7), _counts(dense, plan, start, draws, 8)
    assert float(a.sum()) > 1500, "the plan should flip often enough for a meaningful test"
    if sparse.frozen_mask is not None:
        frozen = sparse.frozen_mask.view(ROWS, COLS)
        assert float(a[frozen].sum()) == float(b[frozen].sum()) == 0.0
    live = (a + b) > 0
    pooled = (a[live] + b[live]) / (2 * draws)
    z = (a[live] - b[live]) / torch.sqrt(2 * draws * pooled * (1 - pooled))
    assert float(z.abs().max()) < 4.5
    dof = int(live.sum())
    assert float((z**2).sum()) < dof + 5 * math.sqrt(2 * dof)


def test_c2c_changes_the_flip_probabilities_and_its_lognormal_form_goes_dense():
    plan = _plan(9, scale=0.15)
    plain, c2c = _array(VariationConfig(), seed=10), _array(VariationConfig(ic0_c2c=0.05), seed=10)
    start = plain.parallel.clone()
    n_plain, n_c2c = _counts(plain, plan, start, 4000, 11).sum(), _counts(c2c, plan, start, 4000, 12).sum()
    assert float(n_c2c) > 1.1 * float(n_plain), "Jensen: a spread threshold switches more often on average"
    lognormal = _array(VariationConfig(ic0_c2c=0.05, distribution="lognormal"), seed=10)
    assert lognormal._write_outer(plan, torch.Generator()) is None
    assert lognormal.write(plan, torch.Generator().manual_seed(0)).phases == len(plan.phases)


def test_no_c2c_draws_nothing_extra():
    plan = _plan(13)
    a, b = _array(VariationConfig(), seed=14), _array(VariationConfig(stuck_p_rate=0.0), seed=14)
    ga, gb = torch.Generator().manual_seed(15), torch.Generator().manual_seed(15)
    for _ in range(50):
        assert torch.equal(a.write(plan, ga).flipped_cells, b.write(plan, gb).flipped_cells)
    assert torch.equal(ga.get_state(), gb.get_state())


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_per_cell_reads_match_the_exact_solve_also_after_writes(dtype):
    xb = _array(SPREAD, seed=16, rows=40, cols=12, dtype=dtype)
    ref = _array(SPREAD, seed=16, rows=40, cols=12, dtype=torch.float64)
    g = torch.Generator().manual_seed(17)
    rtol = 1e-10 if dtype == torch.float64 else 2e-5
    enc = PulseEncoder(EncoderConfig(), P)
    for _ in range(5):
        v = (torch.rand(3, 40, generator=g, dtype=torch.float64) * 0.2 - 0.1)
        ref.set_states(xb.parallel)
        exact = ref._drive_exact(v, False)
        torch.testing.assert_close(xb.read(v.to(dtype), 0.1).double(), exact, rtol=rtol, atol=rtol * 1e-5)
        vt = torch.rand(12, generator=g, dtype=torch.float64) * 0.1
        torch.testing.assert_close(xb.read_transposed(vt.to(dtype), 0.1).double(), ref._drive_exact(vt, True),
                                   rtol=rtol, atol=rtol * 1e-5)
        plan = enc.encode(torch.randn(40, generator=g, dtype=dtype).clamp(-1, 1),
                          torch.randn(12, generator=g, dtype=dtype), 2.0)
        assert xb.write(plan, g).flipped_cells.numel() > 0


def test_the_same_seed_gives_the_same_chip_and_the_masks_round_trip():
    hw = HardwareConfig(variation=VariationConfig(r_p_dtod=0.1, tmr0_dtod=0.1, stuck_p_rate=0.05,
                                                  stuck_ap_rate=0.05))
    a, b, c = ([MTJLinear(20, 6, hw, 1.0), MTJLinear(6, 3, hw, 1.0)] for _ in range(3))
    manufacture_layers(a, 1)
    manufacture_layers(b, 1)
    manufacture_layers(c, 2)
    for la, lb, lc in zip(a, b, c, strict=True):
        sa, sb, sc = la.crossbar.state_dict(), lb.crossbar.state_dict(), lc.crossbar.state_dict()
        assert all(torch.equal(sa["params"][k], sb["params"][k]) for k in sa["params"])
        assert torch.equal(sa["stuck"]["p"], sb["stuck"]["p"]) and torch.equal(sa["stuck"]["ap"], sb["stuck"]["ap"])
        assert not torch.equal(sa["params"]["r_p"], sc["params"]["r_p"])
    assert not torch.equal(a[0].crossbar.params["r_p"][:6, :6], a[1].crossbar.params["r_p"][:6, :6])
    fresh = MTJLinear(20, 6, HardwareConfig(), 1.0)
    fresh.crossbar.load_state_dict(a[0].crossbar.state_dict())
    assert torch.equal(fresh.crossbar.stuck_p, a[0].crossbar.stuck_p)
    assert torch.equal(fresh.crossbar.parallel, a[0].crossbar.parallel)
