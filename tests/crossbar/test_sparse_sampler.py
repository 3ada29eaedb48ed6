"""The sparse (Poisson-event) write sampler against the dense reference sampler.

* exact: the intensities the sparse sampler thins to reproduce, cell by cell, the dense sampler's
  switching probabilities (the same device formula, 1e-6 relative in float32);
* statistical: per-cell flip counts over many writes of the same plan from the same states match the
  dense probabilities (each cell within 4.5 binomial standard errors, and a chi-square over all cells),
  on a uniform array and on one with per-cell parameters (thinning against the per-column bound);
* the CPU host path and the tensor path take identical decisions from the same random draws;
* OuterPlan's cheap phase count equals the number of phases it spells out and the number of (row sign,
  polarity) classes that reach a cell.
"""

from __future__ import annotations

import math

import pytest
import torch

from mtjxbar.crossbar import Crossbar
from mtjxbar.crossbar.plan import OuterPlan
from mtjxbar.crossbar.sampling import RateConstants, thermal_rate
from mtjxbar.device import MTJParams
from mtjxbar.periphery import PulseEncoder
from mtjxbar.periphery.config import EncoderConfig

P = MTJParams()
ROWS, COLS = 7, 6


def _plan(generator: torch.Generator, dtype=torch.float32, scale: float = 0.25) -> OuterPlan:
    """A plan from the encoder for a signed random request with probabilities up to ~``scale``."""
    r = torch.randn(ROWS, generator=generator, dtype=dtype)
    r[2] = 0.0  # an idle row
    c = torch.randn(COLS, generator=generator, dtype=dtype) * scale
    c[4] = 0.0  # an idle column
    return PulseEncoder(EncoderConfig(), P).encode(r / r.abs().max(), c, 2.0)


def _array(dtype=torch.float32, params: dict | None = None, seed: int = 0) -> Crossbar:
    xb = Crossbar(ROWS, COLS, P, cell_params=params, dtype=dtype)
    xb.set_states(torch.rand(ROWS, COLS, generator=torch.Generator().manual_seed(seed)) < 0.5)
    xb.sparse_max_events_per_cell = 1e9  # always sparse here, whatever the probabilities
    return xb


def _varied_params(seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    spread = {name: 1.0 + 0.05 * torch.randn(ROWS, COLS, generator=g, dtype=torch.float64)
              for name in ("ic0_ap2p", "ic0_p2ap", "delta", "tau0_ap2p", "tau0_p2ap")}
    base = {"r_p": P.r_p, "tmr0": P.tmr0, "v_h": P.v_h, "delta": P.delta, "ic0_p2ap": P.ic0_p2ap,
            "ic0_ap2p": P.ic0_ap2p, "tau0_p2ap": P.tau0_p2ap, "tau0_ap2p": P.tau0_ap2p}
    return {k: torch.tensor(v, dtype=torch.float64) * spread.get(k, 1.0) for k, v in base.items()}


def test_sparse_intensities_reproduce_the_dense_probabilities_exactly():
    plan = _plan(torch.Generator().manual_seed(1))
    xb = _array()
    dense = xb.switching_probabilities(plan).sum(0)  # each cell is reached by one phase at most
    currents = plan.col_currents
    rates = thermal_rate(currents, RateConstants(torch.tensor([[P.ic0_ap2p], [P.ic0_p2ap]]),
                                                 torch.tensor([[P.tau0_ap2p], [P.tau0_p2ap]]), P.delta), P.n_exponent)
    to_p = (plan.row_sign[:, None] * plan.col_sign[None, :]) > 0
    rate = torch.where(to_p, rates[0][None, :], rates[1][None, :])
    can_flip = xb.parallel != to_p
    reached = (plan.row_sign[:, None] != 0) & (plan.col_sign[None, :] != 0)
    implied = -torch.expm1(-plan.row_widths[:, None].double() * rate.double()) * (can_flip & reached)
    assert dense.max() > 0.05
    torch.testing.assert_close(implied, dense.double(), rtol=1e-5, atol=1e-12)


@pytest.mark.parametrize("varied", [False, True], ids=["uniform", "per-cell parameters"])
def test_flip_counts_per_cell_match_the_dense_probabilities(varied):
    plan = _plan(torch.Generator().manual_seed(2))
    params = _varied_params(3) if varied else None
    xb = _array(params=params)
    start = xb.parallel.clone()
    p = xb.switching_probabilities(plan).sum(0).double()
    draws = 20000
    counts = torch.zeros(ROWS, COLS, dtype=torch.float64)
    gen = torch.Generator().manual_seed(4)
    for _ in range(draws):
        xb.set_states(start)
        result = xb.write(plan, gen)
        counts.view(-1)[result.flipped_cells] += 1.0
    assert int(counts.sum()) > 2000, "the plan should flip often enough for a meaningful test"
    assert bool((counts[p == 0] == 0).all()), "cells that cannot switch never do"
    live = p > 0
    expected, var = draws * p[live], draws * p[live] * (1 - p[live])
    z = (counts[live] - expected) / var.sqrt()
    assert float(z.abs().max()) < 4.5
    chi2 = float((z**2).sum())
    dof = int(live.sum())
    # chi-square with dof degrees of freedom: mean dof, sd sqrt(2 dof); 5 sd is a p-value below ~1e-5
    assert chi2 < dof + 5 * math.sqrt(2 * dof)


def test_dense_and_sparse_agree_in_the_mean_over_whole_writes():
    """Two-sample check on the number of flips per write (sparse vs the dense reference sampler)."""
    plan = _plan(torch.Generator().manual_seed(5))
    sparse, dense = _array(), _array()
    dense.sampler = "dense"
    start = sparse.parallel.clone()
    totals = {}
    for name, xb, seed in (("sparse", sparse, 6), ("dense", dense, 7)):
        gen = torch.Generator().manual_seed(seed)
        n = []
        for _ in range(8000):
            xb.set_states(start)
            n.append(xb.write(plan, gen).flipped_cells.numel())
        totals[name] = torch.tensor(n, dtype=torch.float64)
    diff = totals["sparse"].mean() - totals["dense"].mean()
    se = math.sqrt(totals["sparse"].var() / 8000 + totals["dense"].var() / 8000)
    assert abs(float(diff)) < 4 * se


@pytest.mark.parametrize("varied", [False, True], ids=["uniform", "per-cell parameters"])
def test_host_and_tensor_event_paths_take_the_same_decisions(varied):
    params = _varied_params(8) if varied else None
    host, tensor = _array(torch.float64, params), _array(torch.float64, params)
    tensor.host_events_max = -1
    g_plan = torch.Generator().manual_seed(9)
    g_host, g_tensor = torch.Generator().manual_seed(10), torch.Generator().manual_seed(10)
    for _ in range(300):
        plan = _plan(g_plan, torch.float64)
        a, b = host.write(plan, g_host), tensor.write(plan, g_tensor)
        assert torch.equal(a.flipped_cells, b.flipped_cells)
        assert (a.flips_to_p, a.flips_to_ap, a.phases) == (b.flips_to_p, b.flips_to_ap, b.phases)
    assert torch.equal(host.parallel, tensor.parallel)


def test_the_sparse_sampler_steps_aside_for_large_probabilities_and_precessional_currents():
    plan = _plan(torch.Generator().manual_seed(11))
    xb = _array()
    xb.sparse_max_events_per_cell = 1e-12
    assert xb._write_outer(plan, torch.Generator()) is None  # too many expected events: dense
    xb.sparse_max_events_per_cell = 1e9
    hot = OuterPlan(plan.row_widths, plan.row_sign, plan.col_sign, plan.col_currents * 0 + 2 * P.ic0_p2ap)
    assert xb._write_outer(hot, torch.Generator()) is None  # above Ic0: not of product form
    assert xb.write(hot, torch.Generator().manual_seed(0)).phases == len(hot.phases)


def test_phase_count_equals_the_phases_spelled_out():
    g = torch.Generator().manual_seed(12)
    for _ in range(500):
        widths = torch.rand(5, generator=g) * (torch.rand(5, generator=g) > 0.3)
        row_sign = torch.randint(-1, 2, (5,), generator=g).float()
        col_sign = torch.randint(-1, 2, (4,), generator=g).float()
        currents = torch.rand(2, 4, generator=g) * (torch.rand(2, 4, generator=g) > 0.4)
        plan = OuterPlan(widths, row_sign, col_sign, currents)
        # the (row sign, polarity) classes that reach at least one cell, cell by cell
        reached = {(float(row_sign[i]), 0 if row_sign[i] * col_sign[j] > 0 else 1)
                   for i in range(5) for j in range(4)
                   if widths[i] > 0 and row_sign[i] * col_sign[j] != 0
                   and currents[0 if row_sign[i] * col_sign[j] > 0 else 1, j] > 0}
        assert plan.phase_count == len(plan.phases) == len(reached) <= 4
