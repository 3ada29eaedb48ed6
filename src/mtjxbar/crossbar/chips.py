"""K independent 1T1MTJ arrays of one shape (K chips), held and operated as one batch of tensors.

A Monte Carlo study over chips runs K arrays through the same steps; one set of tensor operations per step
for all K (instead of K sets) is where the time goes on the per-sample path, which is latency-bound.

* states ``parallel`` (K, rows, cols); per-cell parameters (K, rows, cols) each; stuck masks (K, rows, cols).
  :meth:`ChipArrays.manufacture` draws chip ``k`` with its own generators, exactly as
  :meth:`~mtjxbar.crossbar.cells.CellArray.manufacture` draws one array: chip ``k`` is the same chip a
  single run with those generators meets.
* reads: every chip's G_AP(v) as a per-cell Chebyshev series (:mod:`.access.cell_reads`); a read is one batched
  matrix product, forward ``(K, ..., rows) -> (K, ..., cols)`` and transposed.
* writes of outer-product requests (:class:`ChipPlan`: per-chip row widths and signs, column signs and
  currents of both polarities) by the exact sparse sampler of :mod:`.sampling`, batched: per-chip Poisson
  counts, per-chip multinomial rows and columns (drawn to the largest count and masked), thinning against
  each chip's own per-column bound (cycle-to-cycle factors drawn per distinct candidate cell, as in
  :meth:`Crossbar._write_outer`), stuck cells rejected. Chips whose write is outside the sparse sampler's
  domain (a current above the thermal regime, too many expected events, an unbounded c2c spread) are sampled
  by the dense reference formula (one uniform per cell). One generator draws for the whole batch: the chips
  are independent in distribution, not bit-identical to K single runs.

Modelling assumptions: those of the 1T1MTJ array (:mod:`mtjxbar.crossbar.access`: isolated cells, ideal
wires, the column driver delivering its current to every reached cell), per chip. Not here: the dense
sampler's general :class:`~mtjxbar.crossbar.plan.UpdatePlan`, column writes, coincidence writes, events and
checkpoints; a batch is not an array and does not honour :class:`~mtjxbar.crossbar.protocol.CrossbarArray`.
One module, not a subpackage: one class and its plan. ``tests/crossbar/test_chips.py`` checks K chips
against K single arrays (reads, and flips in distribution) and ``tests/crossbar/test_c2c_per_cell.py``
the cycle-to-cycle factor per cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..device import MTJParams, VariationConfig, physics, switching_probability
from ..device.variation import normal_truncation, sample_cell_params, sample_ic0_c2c, sample_stuck
from .access import access_ap_conductance
from .access.cell_reads import chebyshev_terms, chebyshev_weights, fit_ap_conductance
from .access.sparse_write import SPARSE_MAX_EVENTS_PER_CELL, VARIED_SPARSE_FACTOR
from .cells import CELL_PARAMETERS
from .config import ArrayConfig, BiasSolverConfig
from .sampling import RateConstants, thermal_rate

__all__ = ["ChipArrays", "ChipPlan"]


@dataclass(frozen=True)
class ChipPlan:
    """One outer-product write per chip: ``row_widths``, ``row_sign`` (K, rows); ``col_sign`` (K, cols);
    ``col_currents`` (K, 2, cols), TO_P first (the polarity of a cell is that of ``row_sign * col_sign``)."""

    row_widths: torch.Tensor
    row_sign: torch.Tensor
    col_sign: torch.Tensor
    col_currents: torch.Tensor


class ChipArrays:
    """``chips`` arrays of ``rows x cols`` cells (see the module docstring)."""

    def __init__(self, chips: int, rows: int, cols: int, device_params: MTJParams, array: ArrayConfig | None = None,
                 solver: BiasSolverConfig | None = None, *, v_max: float = 1.0, dtype: torch.dtype = torch.float32,
                 device: str | torch.device = "cpu") -> None:
        """``v_max``: the largest |line voltage| a read will apply (the converters' ``v_read``)."""
        if chips < 1 or rows < 1 or cols < 1:
            raise ValueError(f"{chips} chips of {rows}x{cols}: every size must be >= 1")
        self.chips, self.rows, self.cols = chips, rows, cols
        self.device_params, self.array = device_params, array or ArrayConfig()
        self.solver = solver or BiasSolverConfig()
        self._span = 1.05 * v_max
        self.dtype, self.device = dtype, torch.device(device)
        self.sparse_max_events_per_cell = SPARSE_MAX_EVENTS_PER_CELL * VARIED_SPARSE_FACTOR  # per-cell dense path
        self.parallel = torch.zeros(chips, rows, cols, dtype=torch.bool, device=self.device)
        self.frozen: torch.Tensor | None = None  # (K, rows, cols) stuck cells
        self.stuck_p: torch.Tensor | None = None
        self.c2c = VariationConfig()
        self._c2c_min: float | None = None
        shape = (chips, rows, cols)
        self.set_cell_params({n: torch.full(shape, float(getattr(device_params, n)), dtype=torch.float64)
                              for n in CELL_PARAMETERS})

    # -------------------------------------------------------------------------------- chips and states
    def manufacture(self, variation: VariationConfig, params_generators: list[torch.Generator],
                    faults_generators: list[torch.Generator]) -> None:
        """Chip ``k`` from ``params_generators[k]`` and ``faults_generators[k]`` (what
        :meth:`Crossbar.manufacture` draws for one array with them)."""
        if len(params_generators) != self.chips or len(faults_generators) != self.chips:
            raise ValueError(f"manufacture: {self.chips} chips need {self.chips} generators of each kind")
        if variation.has_dtod:
            per_chip = [sample_cell_params(self.device_params, variation, self.rows, self.cols, g)
                        for g in params_generators]
            self.set_cell_params({n: torch.stack([c[n] for c in per_chip]) for n in CELL_PARAMETERS})
        if variation.has_faults:
            masks = [sample_stuck(variation, self.rows, self.cols, g) for g in faults_generators]
            self.stuck_p = torch.stack([m[0] for m in masks]).to(self.device)
            self.frozen = self.stuck_p | torch.stack([m[1] for m in masks]).to(self.device)
        self.c2c = VariationConfig(distribution=variation.distribution, ic0_c2c=variation.ic0_c2c)
        self._c2c_min = None
        if variation.ic0_c2c > 0 and variation.distribution == "normal":
            k, sd = normal_truncation(variation.ic0_c2c)
            self._c2c_min = 1.0 - variation.ic0_c2c * k / sd
        self._prepare_write_bounds()
        self.set_states(self.parallel)

    def set_cell_params(self, params: dict[str, torch.Tensor]) -> None:
        """Per-cell parameters, each (K, rows, cols) (or broadcastable to it)."""
        shape = (self.chips, self.rows, self.cols)
        self.params = {n: torch.as_tensor(params[n], dtype=torch.float64).to(self.device).expand(shape).clone()
                       for n in CELL_PARAMETERS}
        p = self.params
        tolerance = 1e-12 if self.dtype == torch.float64 else 1e-7
        # uniform (every cell of every chip the nominal device: faults only): one G_AP(v) for all cells
        self._uniform = all(bool((v == v.flatten()[0]).all()) for v in p.values())
        cells = [(0, slice(0, 1), slice(0, 1))] if self._uniform else [(k, slice(None), slice(None))
                                                                          for k in range(self.chips)]
        fits = []
        for k, rs, cs in cells:  # chip by chip: the exact solve of all chips at once is large
            sub = {n: self.params[n][k, rs, cs] for n in ("r_p", "tmr0", "v_h")}
            coef = fit_ap_conductance(lambda v, sub=sub: self._ap_conductance(v[:, None, None], sub), self._span,
                                      tolerance, self.device)
            if coef is None:
                raise ValueError(f"chip {k}: per-cell G_AP(v) could not be fitted to {tolerance} on |v| <= "
                                 f"{self._span} V")
            fits.append(coef)
        self._degree = max(c.shape[0] for c in fits) - 1
        # a lower-degree series is the same polynomial with zero higher coefficients
        ap = torch.stack([torch.cat([c, c.new_zeros(self._degree + 1 - c.shape[0], *c.shape[1:])]) for c in fits])
        ap = ap.to(self.dtype)  # (K, D, rows, cols), or (1, D, 1, 1) for a uniform batch
        ohmic = torch.zeros_like(ap)
        ohmic[:, 0] = (1.0 / (p["r_p"][:ap.shape[0], :ap.shape[2], :ap.shape[3]] + self.array.r_access)).to(self.dtype)
        self._ap, self._ohmic = ap, ohmic
        self._table = None
        self._prepare_write_bounds()
        self.set_states(self.parallel)

    def _ap_conductance(self, v: torch.Tensor, p: dict[str, torch.Tensor]) -> torch.Tensor:
        """G_AP (junction + transistor, self-consistent junction voltage) of cells ``p`` at ``v``."""
        return access_ap_conductance(v, p["r_p"], p["tmr0"], p["v_h"], self.array.r_access, self.solver)

    def _prepare_write_bounds(self) -> None:
        p = self.params
        ic0 = torch.stack([p["ic0_ap2p"], p["ic0_p2ap"]], dim=1).to(self.dtype)  # (K, 2, rows, cols)
        tau0 = torch.stack([p["tau0_ap2p"], p["tau0_p2ap"]], dim=1).to(self.dtype)
        self._pol_ic0, self._pol_tau0 = ic0.flatten(2), tau0.flatten(2)  # (K, 2, cells)
        self._delta = p["delta"].to(self.dtype).flatten(1)  # (K, cells)
        col_ic0 = ic0.amin(2)  # (K, 2, cols)
        scale = self._c2c_min if self.c2c.ic0_c2c > 0 and self._c2c_min is not None else 1.0
        self._threshold = col_ic0 * scale
        col_delta = p["delta"].to(self.dtype).amin(1)[:, None, :]  # (K, 1, cols)
        self._bound_constants = RateConstants(col_ic0 * scale, tau0.amin(2), col_delta)
        delta_min = p["delta"].flatten(1).amin(1)
        self._floor_bound = -physics.precessional_log_floor(delta_min).to(self.dtype)  # (K,)

    def set_states(self, parallel: torch.Tensor) -> None:
        """Program every chip (K, rows, cols) (or one pattern for all); stuck cells keep their state."""
        state = parallel.to(dtype=torch.bool, device=self.device).expand(self.chips, self.rows, self.cols).clone()
        if self.frozen is not None:
            state = torch.where(self.frozen, self.stuck_p, state)
        self.parallel = state
        if self._uniform:
            self._states = state.to(self.dtype)
            self._matrices = None
        else:
            self._matrices = torch.where(state[:, None], self._ohmic, self._ap).contiguous()  # (K, D, rows, cols)

    def _refresh(self, cells: torch.Tensor) -> None:
        """Rewrite the read matrices of ``cells`` (flat indices over K * rows * cols)."""
        if self._uniform:
            self._states.view(-1)[cells] = self.parallel.view(-1).take(cells).to(self.dtype)
            return
        n = self.rows * self.cols
        chip, cell = cells // n, cells % n
        state = self.parallel.view(-1).take(cells)[:, None]
        m = self._matrices.view(self.chips, self._degree + 1, n)
        m[chip, :, cell] = torch.where(state, self._ohmic.view(self.chips, -1, n)[chip, :, cell],
                                       self._ap.view(self.chips, -1, n)[chip, :, cell])

    # ------------------------------------------------------------------------------------------- reads
    def _check_span(self, v: torch.Tensor, v_max: float | None) -> None:
        bound = v_max if v_max is not None else float(v.abs().max())
        if bound > self._span:
            raise ValueError(f"read: |v| up to {bound} V; chip arrays read at most {self._span} V")

    def read(self, v_rows: torch.Tensor, v_max: float | None = None, *, shared: bool = False) -> torch.Tensor:
        """Column currents (K, ..., cols) for row voltages (K, ..., rows), or with ``shared`` for voltages
        (..., rows) applied to every chip."""
        self._check_span(v_rows, v_max)
        if self._uniform:
            base, extra = self._uniform_terms(v_rows.to(self.dtype))
            if shared:
                return base + torch.matmul(extra if extra.dim() == 1 else extra.unsqueeze(-3), self._states)
            if extra.dim() == 2:
                return base + torch.bmm(extra[:, None, :], self._states)[:, 0]
            return base + torch.matmul(extra, self._states if extra.dim() == 3 else self._states[:, None])
        w = chebyshev_weights(v_rows.to(self.dtype), self._span, self._degree).flatten(-2)  # (.., D * rows)
        m = self._matrices.view(self.chips, -1, self.cols)
        if shared:
            return torch.matmul(w, m) if w.dim() <= 2 else torch.matmul(w.unsqueeze(-3), m)
        if w.shape[0] != self.chips:
            raise ValueError(f"read: voltages of shape {tuple(v_rows.shape)} for {self.chips} chips")
        if w.dim() == 2:
            return torch.bmm(w[:, None, :], m)[:, 0]
        return torch.matmul(w, m if w.dim() == 3 else m[:, None])

    def prepare_shared(self, v_rows: torch.Tensor, v_max: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The state-independent part of :meth:`read` with ``shared`` voltages, for a batch (B, rows) at once:
        ``read(v[n], shared=True) == read_prepared(terms[0][n], terms[1][n])``."""
        self._check_span(v_rows, v_max)
        v = v_rows.to(self.dtype)
        if self._uniform:
            return self._uniform_terms(v)
        w = chebyshev_weights(v, self._span, self._degree).flatten(-2)
        return torch.zeros(v.shape[0], 1, dtype=self.dtype, device=self.device), w

    def read_prepared(self, base: torch.Tensor, extra: torch.Tensor) -> torch.Tensor:
        """:meth:`read` of one shared input from its :meth:`prepare_shared` terms: (K, cols)."""
        if self._uniform:
            return torch.matmul(extra, self._states).add_(base)
        return torch.matmul(extra, self._matrices.view(self.chips, -1, self.cols))

    def read_transposed(self, v_cols: torch.Tensor, v_max: float | None = None) -> torch.Tensor:
        """Row currents (K, rows) for column voltages (K, cols)."""
        self._check_span(v_cols, v_max)
        if self._uniform:
            base, extra = self._uniform_terms(v_cols.to(self.dtype))
            return base + torch.bmm(self._states, extra[:, :, None])[..., 0]
        w = chebyshev_weights(v_cols.to(self.dtype), self._span, self._degree)  # (K, D, cols)
        m = self._matrices.view(self.chips, -1, self.rows, self.cols)
        return torch.einsum("kdc,kdrc->kr", w, m)

    def _uniform_terms(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A uniform batch reads ``sum_i v_i G_AP(v_i) + sum_i v_i (G_P - G_AP(v_i)) s_ij``: (base (..., 1), extra).
        G_AP(v) comes from a table of the fitted series on 32769 points (linear interpolation, as the single
        array's uniform reads)."""
        if self._table is None:
            grid = torch.linspace(-self._span, self._span, 32769, dtype=torch.float64, device=self.device)
            x = (grid / self._span).square() * 2.0 - 1.0
            g = chebyshev_terms(x, self._degree).T @ self._ap[0, :, 0, 0].double()
            table = g.to(self.dtype)
            self._table = (table, torch.cat([table[1:] - table[:-1], table[-1:] * 0]), 32768 / (2 * self._span))
        table, slope, scale = self._table
        pos = (v + self._span) * scale
        lo = pos.long().clamp_(max=table.numel() - 2)
        i_ap = torch.addcmul(table[lo], pos - lo, slope[lo]).mul_(v)
        return i_ap.sum(-1, keepdim=True), v * float(self._ohmic[0, 0, 0, 0]) - i_ap

    # ------------------------------------------------------------------------------------------ writes
    def write(self, plan: ChipPlan, generator: torch.Generator) -> torch.Tensor:
        """Apply one outer-product write per chip; returns the number of flips per chip (K,)."""
        currents = plan.col_currents.to(self.dtype)
        widths = plan.row_widths.to(self.dtype) * (plan.row_sign != 0)
        c2c = self.c2c.ic0_c2c > 0
        rate_pol = thermal_rate(currents, self._bound_constants, self.device_params.n_exponent)  # (K, 2, cols)
        bound = rate_pol.amax(1) * (plan.col_sign != 0)  # (K, cols)
        lam = widths.sum(1, dtype=torch.float64) * bound.sum(1, dtype=torch.float64)
        dense = (currents > self._threshold).flatten(1).any(1) | (lam > self.sparse_max_events_per_cell
                                                                   * self.rows * self.cols)
        if c2c and self._c2c_min is None:
            dense = torch.ones_like(dense)
        flips = torch.zeros(self.chips, dtype=torch.long, device=self.device)
        if bool(dense.any()):
            flips = flips + self._write_dense(plan, generator, dense)
        lam = torch.where(dense, 0.0, lam)
        floor = torch.where(dense, 0.0, self._floor_bound.double() * (self.rows * self.cols))
        counts = torch.poisson(torch.stack([lam, floor], 1), generator=generator).long()  # (K, 2)
        n_max = counts.amax(0).tolist()
        cells, targets = [], []
        if n_max[0]:
            r, c = _draw(widths, bound, n_max[0], generator)
            u = torch.rand(r.shape, generator=generator, dtype=self.dtype, device=self.device)
            valid = torch.arange(n_max[0], device=self.device)[None, :] < counts[:, :1]
            chip = torch.arange(self.chips, device=self.device)[:, None].expand_as(r)
            flat = r * self.cols + c
            key = chip * (self.rows * self.cols) + flat
            to_p = (plan.row_sign.gather(1, r) * plan.col_sign.gather(1, c)) > 0
            pol = (~to_p).long()
            if self._uniform and not c2c:  # the column bound is every cell's exact rate
                exact = rate_pol[chip, pol, c]
            else:
                ic0 = self._pol_ic0[chip, pol, flat]
                if c2c:  # one factor per distinct candidate cell, shared by its events
                    distinct, inverse = torch.unique(key[valid], return_inverse=True)
                    factor = torch.ones_like(ic0)
                    draw = sample_ic0_c2c(self.c2c, (distinct.numel(),), generator, dtype=self.dtype)
                    factor[valid] = draw[inverse]
                    ic0 = ic0 * factor
                constants = RateConstants(ic0, self._pol_tau0[chip, pol, flat], self._delta[chip, flat])
                exact = thermal_rate(currents[chip, pol, c], constants, self.device_params.n_exponent)
            col_bound = bound.gather(1, c)
            # zero-weight rows and columns are never drawn (up to rounding at the top of the cumulative sums)
            keep = valid & (u * col_bound < exact) & (col_bound > 0) & (widths.gather(1, r) > 0)
            cells.append(key[keep])
            targets.append(to_p[keep])
        if n_max[1]:  # precessional-floor events (~1e-43 per cell at Delta = 40), kept for exactness
            self._floor_events(plan, counts[:, 1], generator, cells, targets)
        if cells:
            cell, to_p = torch.cat(cells), torch.cat(targets)
            if self.frozen is not None:
                free = ~self.frozen.view(-1).take(cell)
                cell, to_p = cell[free], to_p[free]
            state = self.parallel.view(-1)
            change = state.take(cell) != to_p
            cell, to_p = cell[change], to_p[change]
            state[cell] = to_p  # duplicates of a cell carry the same target
            cell = torch.unique(cell)
            self._refresh(cell)
            flips = flips + torch.bincount(cell // (self.rows * self.cols), minlength=self.chips)
        return flips

    def _floor_events(self, plan, counts, generator, cells, targets) -> None:
        for k in torch.nonzero(counts).flatten().tolist():
            n = int(counts[k])
            r = torch.randint(self.rows, (n,), generator=generator, device=self.device)
            c = torch.randint(self.cols, (n,), generator=generator, device=self.device)
            u = torch.rand(n, generator=generator, dtype=self.dtype, device=self.device)
            flat = r * self.cols + c
            delta = self._delta[k].take(flat)
            hazard = -physics.precessional_log_floor(delta)
            to_p = (plan.row_sign[k].take(r) * plan.col_sign[k].take(c)) > 0
            reached = (plan.row_widths[k].take(r) > 0) & (plan.col_currents[k, (~to_p).long(), c] > 0)
            keep = (u * self._floor_bound[k] < hazard) & reached & (plan.col_sign[k].take(c) != 0)
            cells.append((k * self.rows * self.cols + flat)[keep])
            targets.append(to_p[keep])

    def _write_dense(self, plan: ChipPlan, generator: torch.Generator, chips: torch.Tensor) -> torch.Tensor:
        """The dense reference sampler for the chips in ``chips`` (bool (K,)): one uniform per cell."""
        idx = torch.nonzero(chips).flatten()
        n = len(idx)
        to_p = (plan.row_sign[idx, :, None] * plan.col_sign[idx, None, :]) > 0  # (n, rows, cols)
        currents = plan.col_currents[idx].to(self.dtype)
        current = torch.where(to_p, currents[:, 0, None, :], currents[:, 1, None, :])
        ic0 = self._pol_ic0[idx].view(n, 2, self.rows, self.cols)
        tau0 = self._pol_tau0[idx].view(n, 2, self.rows, self.cols)
        ic0 = torch.where(to_p, ic0[:, 0], ic0[:, 1])
        tau0 = torch.where(to_p, tau0[:, 0], tau0[:, 1])
        if self.c2c.ic0_c2c > 0:
            ic0 = ic0 * sample_ic0_c2c(self.c2c, tuple(ic0.shape), generator, dtype=self.dtype)
        widths = plan.row_widths[idx].to(self.dtype)[:, :, None]
        p = switching_probability(current, widths, ic0=ic0, tau0=tau0,
                                  delta=self._delta[idx].view(n, self.rows, self.cols),
                                  n=self.device_params.n_exponent, tau_d=self.device_params.tau_d)
        state = self.parallel[idx]
        can = (state != to_p) & (current > 0) & (widths > 0) & (plan.row_sign[idx, :, None] != 0) \
            & (plan.col_sign[idx, None, :] != 0)
        if self.frozen is not None:
            can &= ~self.frozen[idx]
        flip = can & (torch.rand(p.shape, generator=generator, dtype=self.dtype, device=self.device) < p)
        self.parallel[idx] = state ^ flip
        where = torch.nonzero(flip.flatten(1))
        self._refresh(idx[where[:, 0]] * (self.rows * self.cols) + where[:, 1])
        out = torch.zeros(self.chips, dtype=torch.long, device=self.device)
        out[idx] = flip.flatten(1).sum(1)
        return out


def _draw(rows: torch.Tensor, cols: torch.Tensor, count: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    """``count`` row and column indices per chip, drawn with probabilities proportional to ``rows`` (K, rows)
    and ``cols`` (K, cols) (inverse CDF: a uniform times the total, located in the cumulative sums). Chips
    of weight 0 draw no events (the caller masks them); their indices are 0."""
    u = torch.rand(2, rows.shape[0], count, generator=generator, dtype=torch.float64, device=rows.device)
    out = []
    for k, weights in enumerate((rows, cols)):
        cdf = weights.to(torch.float64).cumsum(1)
        idx = torch.searchsorted(cdf, u[k].mul_(cdf[:, -1:]), right=True)
        out.append(idx.clamp_(max=weights.shape[1] - 1))
    return tuple(out)
