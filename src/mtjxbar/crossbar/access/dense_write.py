"""Dense writes of a 1T1MTJ array: one uniform draw per reached cell per group of phases (the reference).

During a phase, cell (i, j) sees the column current ``I_j`` for its row's pulse width ``t_i`` (its
transistor is on for ``t_i``; cells of ungated rows see nothing: no half-select in a 1T1MTJ array); a cell
whose state the phase's polarity can change switches with the device model's probability
(:func:`mtjxbar.device.switching_probability`, with its own parameters and this write's cycle-to-cycle
factor on Ic0), sampled with the caller's ``torch.Generator``. Phases that gate the same rows for the same
widths and drive disjoint columns share one draw per cell (every cell sees current from at most one of
them). This sampler takes any :class:`~mtjxbar.crossbar.plan.UpdatePlan`; the sparse sampler
(:mod:`.sparse_write`) samples the same distribution faster for the encoder's outer-product plans.
"""

from __future__ import annotations

import torch

from ...device import physics, switching_probability
from ...device.variation import sample_ic0_c2c
from ..events import WriteEvent
from ..plan import TO_P, UpdatePlan, WriteResult
from .events import phase_event

__all__ = ["DenseWrites"]


def _same_rows(a, b) -> bool:
    """Whether two phases gate the same rows for the same widths (same tensor, or equal values)."""
    return a.row_widths is b.row_widths or torch.equal(a.row_widths, b.row_widths)


class DenseWrites:
    """The dense-sampler methods of :class:`~mtjxbar.crossbar.access.Crossbar` (kept in their own module)."""

    def switching_probabilities(self, plan: UpdatePlan) -> torch.Tensor:
        """Per-cell switching probability of each phase, shape (phases, rows, cols) (cells that the
        phase does not reach or whose state its polarity cannot change get 0): what :meth:`write` samples."""
        out = torch.zeros(len(plan), self.rows, self.cols, dtype=self.dtype, device=self.device)
        for k, phase in enumerate(plan.phases):
            rows = torch.nonzero(phase.row_widths > 0).flatten()
            if rows.numel():
                out[k].index_copy_(0, rows, self._phase_probability(phase, rows))
        return out

    def _phase_probability(self, phase, rows: torch.Tensor, factor: torch.Tensor | None = None) -> torch.Tensor:
        """Switching probability of the cells of the active ``rows`` that the phase can flip; ``factor``
        (rows, cols): this write's cycle-to-cycle factors on Ic0 (None: none). Stuck cells get 0."""
        self._check_phase(phase)
        widths = phase.row_widths.index_select(0, rows).to(self.dtype)[:, None]
        currents = phase.col_currents.to(self.dtype)
        to_p = phase.polarity == TO_P
        suffix = "ap2p" if to_p else "p2ap"
        fixed = {"n": self.device_params.n_exponent, "tau_d": self.device_params.tau_d}
        if self._uniform:
            kw = {"ic0": self.nominal(f"ic0_{suffix}"), "tau0": self.nominal(f"tau0_{suffix}"),
                  "delta": self.nominal("delta")}
        else:
            kw = {"ic0": self.params[f"ic0_{suffix}"].index_select(0, rows),
                  "tau0": self.params[f"tau0_{suffix}"].index_select(0, rows),
                  "delta": self.params["delta"].index_select(0, rows)}
        if factor is not None:
            kw["ic0"] = kw["ic0"] * factor.index_select(0, rows)
        if self._uniform and factor is None and not bool((currents > kw["ic0"]).any()):
            p = self._thermal_probability(currents, widths, **kw, n=fixed["n"])
        else:
            p = switching_probability(currents[None, :], widths, **kw, **fixed)
        states = self.parallel.index_select(0, rows)
        can_flip = (~states if to_p else states) & (currents > 0)[None, :] & self._free_rows(rows)
        return torch.where(can_flip, p, torch.zeros_like(p))

    def _free_rows(self, rows: torch.Tensor) -> torch.Tensor | bool:
        """Which cells of ``rows`` are not stuck (True where there are no faults)."""
        if self._frozen is None:
            return True
        return ~self._frozen.view(self.rows, self.cols).index_select(0, rows)

    @staticmethod
    def _thermal_probability(currents, widths, *, ic0: float, tau0: float, delta: float, n: float):
        """:func:`switching_probability` for a uniform array when every current is at most Ic0: the
        hazard is the product ``t_i * rate_j`` (precessional term at its constant floor), so only the
        product and one expm1 run over the cells."""
        rate = physics.thermal_rate(currents, ic0, tau0, delta, n)
        return -torch.expm1(physics.precessional_log_floor(delta) - widths * rate[None, :])

    def _check_phase(self, phase) -> None:
        self._check_phase_shapes(phase.row_widths.numel(), phase.col_currents.numel())

    def _check_phase_shapes(self, rows: int, cols: int) -> None:
        if rows != self.rows or cols != self.cols:
            raise ValueError(f"write: a phase of {rows} rows x {cols} columns for a {self.rows}x{self.cols} array")

    def _groups(self, plan: UpdatePlan) -> list[list]:
        """Consecutive phases that gate the same rows with the same widths and drive disjoint columns.

        Every cell of a group sees current from at most one of its phases, so one draw per cell
        samples the whole group exactly as separate phases would.
        """
        groups: list[list] = []
        union = None
        for phase in plan.phases:
            self._check_phase(phase)
            cols = phase.col_currents > 0
            if groups and _same_rows(phase, groups[-1][0]) and not bool((cols & union).any()):
                groups[-1].append(phase)
                union = union | cols
            else:
                groups.append([phase])
                union = cols
        return groups

    def _group_probability(self, group: list, rows: torch.Tensor, factor: torch.Tensor | None = None) -> torch.Tensor:
        """Switching probability of the cells of ``rows`` under a group of phases (see :meth:`_groups`)."""
        if len(group) > 1 and self._uniform and factor is None:
            currents = torch.stack([ph.col_currents for ph in group]).sum(0).to(self.dtype)
            to_p = torch.zeros(self.cols, dtype=torch.bool, device=self.device)
            for ph in group:
                if ph.polarity == TO_P:
                    to_p |= ph.col_currents > 0
            nominal = self.nominal
            ic0 = torch.where(to_p, nominal("ic0_ap2p"), nominal("ic0_p2ap")).to(self.dtype)
            if not bool((currents > ic0).any()):
                tau0 = torch.where(to_p, nominal("tau0_ap2p"), nominal("tau0_p2ap")).to(self.dtype)
                widths = group[0].row_widths.index_select(0, rows).to(self.dtype)[:, None]
                p = self._thermal_probability(currents, widths, ic0=ic0, tau0=tau0, delta=nominal("delta"),
                                              n=self.device_params.n_exponent)
                can_flip = (self.parallel.index_select(0, rows) ^ to_p[None, :]) & (currents > 0)[None, :]
                can_flip &= self._free_rows(rows)
                return torch.where(can_flip, p, torch.zeros_like(p))
        if not self._uniform or factor is not None:  # one evaluation for the group, each cell its polarity's
            return self._merged_probability(group, rows, factor)
        return torch.stack([self._phase_probability(ph, rows, factor) for ph in group]).sum(0)

    def _merged_probability(self, group: list, rows: torch.Tensor, factor: torch.Tensor | None) -> torch.Tensor:
        """:meth:`_group_probability` with per-cell parameters: the phases of a group drive disjoint columns,
        so each cell takes the parameters of the polarity its column is driven with and the device formula
        runs once over the rows (not once per phase over every column)."""
        for phase in group:
            self._check_phase(phase)
        currents = torch.stack([ph.col_currents for ph in group]).sum(0).to(self.dtype)
        to_p = torch.zeros(self.cols, dtype=torch.bool, device=self.device)
        for ph in group:
            if ph.polarity == TO_P:
                to_p |= ph.col_currents > 0

        def pick(a: str, b: str) -> torch.Tensor:
            params = self.params
            return torch.where(to_p[None, :], params[a].index_select(0, rows), params[b].index_select(0, rows))

        ic0 = pick("ic0_ap2p", "ic0_p2ap")
        if factor is not None:
            ic0 = ic0 * factor.index_select(0, rows)
        widths = group[0].row_widths.index_select(0, rows).to(self.dtype)[:, None]
        p = switching_probability(currents[None, :], widths, ic0=ic0, tau0=pick("tau0_ap2p", "tau0_p2ap"),
                                  delta=self.params["delta"].index_select(0, rows), n=self.device_params.n_exponent,
                                  tau_d=self.device_params.tau_d)
        can_flip = (self.parallel.index_select(0, rows) ^ to_p[None, :]) & (currents > 0)[None, :]
        can_flip &= self._free_rows(rows)
        return torch.where(can_flip, p, torch.zeros_like(p))

    def _dense_c2c(self, plan, generator: torch.Generator) -> torch.Tensor | None:
        """This write's cycle-to-cycle factors on Ic0 (rows, cols), drawn for the cells of every reached
        row (ones elsewhere); None without a cycle-to-cycle spread (nothing drawn)."""
        if self.c2c.ic0_c2c <= 0:
            return None
        reached = torch.zeros(self.rows, dtype=torch.bool, device=self.device)
        for phase in plan.phases:
            reached |= phase.row_widths > 0
        rows = torch.nonzero(reached).flatten()
        factor = torch.ones(self.rows, self.cols, dtype=self.dtype, device=self.device)
        if rows.numel():
            draw = sample_ic0_c2c(self.c2c, (rows.numel(), self.cols), generator, dtype=self.dtype)
            factor.index_copy_(0, rows, draw.to(self.device))
        return factor

    def _write_dense(self, plan, generator: torch.Generator) -> WriteResult:
        flipped = []
        counts = {True: 0, False: 0}
        factor = self._dense_c2c(plan, generator)
        for group in self._groups(plan):
            rows = torch.nonzero(group[0].row_widths > 0).flatten()
            if self.events is not None:
                for phase in group:
                    self.events.append(phase_event(self, phase, rows))
            if rows.numel() == 0:
                continue
            p = self._group_probability(group, rows, factor)
            draw = torch.rand(p.shape, generator=generator, dtype=self.dtype, device=self.device)
            where = torch.nonzero(draw < p)
            if where.numel():
                cells = rows[where[:, 0]] * self.cols + where[:, 1]
                to_p = self.parallel.view(-1)[cells].logical_not()  # AP before the flip: switched to P
                self.parallel.view(-1)[cells] ^= True
                flipped.append(cells)
                n_to_p = int(to_p.sum())
                counts[True] += n_to_p
                counts[False] += cells.numel() - n_to_p
        cells = torch.cat(flipped) if flipped else torch.zeros(0, dtype=torch.long, device=self.device)
        if flipped:
            self._state_float = None
            self._states_changed(cells)
        if self.events is not None:
            self.events.append(WriteEvent(rows=self.rows, cols=self.cols, phases=len(plan.phases),
                                          flips_to_p=counts[True], flips_to_ap=counts[False]))
        return WriteResult(flipped_cells=cells, flips_to_p=counts[True], flips_to_ap=counts[False],
                           phases=len(plan.phases))
