"""The cycle-to-cycle spread of Ic0 is one factor per cell and write, against its analytic average.

A cell whose Ic0 is multiplied by a factor ``f`` for the whole pulse switches with ``1 - exp(-t rho(f))``;
averaged over the factor's distribution (the truncated normal of :mod:`mtjxbar.device.variation`) that is
``P = E_f[1 - exp(-t rho(f))]``, computed here by quadrature. Drawing the factor per switching attempt
instead (per candidate event of the sparse sampler) gives ``1 - exp(-t E_f[rho(f)])``, larger by Jensen's
inequality: at P = 0.3 and a 5 % spread by 0.03 to 0.045 (4 % to 15 % relative), about 10 standard errors
of the test below.
"""

from __future__ import annotations

import pytest
import torch

from mtjxbar.crossbar import Crossbar
from mtjxbar.crossbar.chips import ChipArrays, ChipPlan
from mtjxbar.crossbar.plan import OuterPlan
from mtjxbar.device import MTJParams
from mtjxbar.device.variation import VariationConfig, normal_truncation

F64 = torch.float64
SPREAD = 0.05  # relative sd of the cycle-to-cycle factor on Ic0 (normal family, truncated at 3 sd)
WIDTH = 10e-9
TARGETS = (0.1, 0.2, 0.3, 0.45)  # per-cell switching probabilities of the columns, per polarity
ROWS, DRAWS = 256, 64  # 16384 samples per column: SE 0.0036 at P = 0.3


def _quadrature(spread: float, points: int = 4001) -> tuple[torch.Tensor, torch.Tensor]:
    """Factors and weights of the truncated normal (trapezoid on a uniform grid of the standard normal
    over [-k, k]; the normalised weights make the sum an average; error far below 1e-6 here)."""
    k, sd = normal_truncation(spread)
    z = torch.linspace(-k, k, points, dtype=F64)
    w = torch.exp(-0.5 * z * z)
    w[0] *= 0.5
    w[-1] *= 0.5
    return 1.0 + spread * z / sd, w / w.sum()


def _per_cell(current: torch.Tensor, ic0: float, tau0: float, delta: float, n: float) -> tuple[torch.Tensor, ...]:
    """(P per cell: E_f[1 - exp(-t rho(f))], P if drawn per event: 1 - exp(-t E_f[rho(f)])) per current."""
    f, w = _quadrature(SPREAD)
    u = torch.clamp(1.0 - current[:, None] / (ic0 * f[None, :]), min=0.0)
    hazard = WIDTH * torch.exp(-delta * u**n) / tau0
    return (w * -torch.expm1(-hazard)).sum(1), -torch.expm1(-(w * hazard).sum(1))


def _currents_for(targets, ic0: float, tau0: float, delta: float, n: float) -> torch.Tensor:
    """Currents whose per-cell probability is each target (bisection on the monotone quadrature)."""
    lo = torch.full((len(targets),), 0.3 * ic0, dtype=F64)
    hi = torch.full((len(targets),), 0.99 * ic0, dtype=F64)
    want = torch.tensor(targets, dtype=F64)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        above = _per_cell(mid, ic0, tau0, delta, n)[0] > want
        hi, lo = torch.where(above, mid, hi), torch.where(above, lo, mid)
    return 0.5 * (lo + hi)


@pytest.mark.parametrize("sampler", ["sparse", "dense", "chips"])
def test_c2c_factor_is_per_cell_not_per_event(asymmetric_device, sampler):
    """Flip frequencies per column against the analytic per-cell probability averaged over the c2c
    factor, on an asymmetric device, both polarities, P from 0.1 to 0.45: each column within 4 binomial
    standard errors (SE = sqrt(P (1 - P) / 16384) <= 0.004). The per-event alternative lies 7 to 13 SE
    away at P >= 0.3 (asserted, so the test keeps the power to tell them apart). ``chips``: the batched
    chips' own sparse sampler (4 chips of ROWS / 4 rows, the same samples)."""
    dev: MTJParams = asymmetric_device
    cols_per_pol = len(TARGETS)
    currents, p_cell, p_event = [], [], []
    for direction in ("ap2p", "p2ap"):  # TO_P columns first, then TO_AP
        sw = dev.switching(direction)
        i = _currents_for(TARGETS, sw["ic0"], sw["tau0"], sw["delta"], sw["n"])
        cell, event = _per_cell(i, sw["ic0"], sw["tau0"], sw["delta"], sw["n"])
        currents.append(i)
        p_cell.append(cell)
        p_event.append(event)
    p_cell, p_event = torch.cat(p_cell), torch.cat(p_event)
    torch.testing.assert_close(p_cell, torch.tensor(TARGETS * 2, dtype=F64), rtol=1e-9, atol=0.0)
    cols = 2 * cols_per_pol
    col_sign = torch.tensor([1.0] * cols_per_pol + [-1.0] * cols_per_pol, dtype=F64)
    col_currents = torch.zeros(2, cols, dtype=F64)
    col_currents[0, :cols_per_pol] = currents[0]
    col_currents[1, cols_per_pol:] = currents[1]
    plan = OuterPlan(torch.full((ROWS,), WIDTH, dtype=F64), torch.ones(ROWS, dtype=F64), col_sign, col_currents)
    start = (col_sign < 0)[None, :].expand(ROWS, -1).clone()  # TO_P columns start AP, TO_AP columns P
    gen = torch.Generator().manual_seed(2121)
    counts = torch.zeros(ROWS, cols, dtype=F64)
    if sampler == "chips":
        k = 4
        chips = ChipArrays(k, ROWS // k, cols, dev)  # float32, as in training
        chips.manufacture(VariationConfig(ic0_c2c=SPREAD), [torch.Generator()] * k, [torch.Generator()] * k)
        chips.sparse_max_events_per_cell = 1e9
        batch = ChipPlan(*(t.view(k, ROWS // k) for t in (plan.row_widths, plan.row_sign)),
                         plan.col_sign.expand(k, -1), plan.col_currents.expand(k, -1, -1).float())
        for _ in range(DRAWS):
            chips.set_states(start.view(k, ROWS // k, cols))
            chips.write(batch, gen)
            counts += (chips.parallel != start.view(k, ROWS // k, cols)).view(ROWS, cols)
    else:
        xb = Crossbar(ROWS, cols, dev, sampler=sampler, dtype=F64)
        xb.set_c2c(VariationConfig(ic0_c2c=SPREAD))
        xb.sparse_max_events_per_cell = 1e9  # the sparse sampler at these probabilities too
        if sampler == "sparse":
            assert xb._write_outer(plan, torch.Generator().manual_seed(0)) is not None, "the sparse sampler runs"
        for _ in range(DRAWS):
            xb.set_states(start)
            counts.view(-1)[xb.write(plan, gen).flipped_cells] += 1.0
    n = ROWS * DRAWS
    freq = counts.sum(0) / n
    se = torch.sqrt(p_cell * (1.0 - p_cell) / n)
    z = (freq - p_cell) / se
    assert bool(((p_event - p_cell) / se)[p_cell >= 0.29].min() > 7.0), "the test could not tell per event"
    assert float(z.abs().max()) < 4.0, f"flip frequencies {freq.tolist()} vs per cell {p_cell.tolist()} " \
        f"(per event: {p_event.tolist()}); z = {z.tolist()}"
