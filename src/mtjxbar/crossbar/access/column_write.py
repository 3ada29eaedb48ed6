"""Writing chosen cells of one column of a 1T1MTJ array: the phase of a periphery read-modify-write.

A phase that drives one column ``col`` with ``current`` in ``polarity`` and gates the rows ``rows`` for
``width`` is an ordinary :class:`~mtjxbar.crossbar.plan.WritePhase`; on a 1T1MTJ array (cells isolated by
their transistors) only that column's gated cells see current, so its flips are sampled over those cells
alone: the same device model, per-cell parameters, cycle-to-cycle factor and stuck cells as
:meth:`Crossbar.write` of the full phase (tested against it), at a cost of O(rows) instead of O(rows x cols).
"""

from __future__ import annotations

import torch

from ...device import switching_probability
from ...device.variation import sample_ic0_c2c
from ..events import WriteEvent
from ..plan import TO_P, WriteResult, column_phase
from .events import phase_event

__all__ = ["ColumnWrites"]


class ColumnWrites:
    """The column-write method of :class:`~mtjxbar.crossbar.access.Crossbar` (kept in its own module)."""

    def write_column(self, col: int, gated: torch.Tensor, width: float, current: float, polarity: str,
                     generator: torch.Generator) -> WriteResult:
        """Apply one phase to the cells ``(i, col)`` with ``gated[i]``; each flips with the device model's
        probability for a pulse of ``current`` (A) and ``width`` (s) in ``polarity`` unless it is in that
        state already or stuck. One uniform draw per gated cell from ``generator``."""
        rows = torch.nonzero(gated.to(self.device)).flatten()
        if self.events is not None:
            phase = column_phase(self.rows, self.cols, col, gated.cpu(), width, current, polarity)
            self.events.append(phase_event(self, phase, rows.to(self.device)))
        to_p = polarity == TO_P
        cells = torch.zeros(0, dtype=torch.long, device=self.device)
        if rows.numel() and current > 0.0:
            suffix = "ap2p" if to_p else "p2ap"
            if self.uniform and not self.c2c.ic0_c2c > 0:  # every gated cell has the same probability
                p = self._uniform_column_probability(current, width, suffix)
            else:
                ic0 = self.params[f"ic0_{suffix}"][rows, col].to(torch.float64)
                if self.c2c.ic0_c2c > 0:
                    factor = sample_ic0_c2c(self.c2c, (rows.numel(),), generator, dtype=torch.float64)
                    ic0 = ic0 * factor.to(self.device)
                p = self._column_probability(current, width, suffix, ic0, rows, col)
            movable = self.parallel[rows, col] != to_p
            if self._frozen is not None:
                movable &= ~self._frozen.view(self.rows, self.cols)[rows, col]
            draw = torch.rand(rows.numel(), generator=generator, dtype=torch.float64, device=generator.device)
            cells = rows[(draw.to(self.device) < p) & movable] * self.cols + col
        if cells.numel():
            self.parallel.view(-1)[cells] = to_p
            self._state_float = None
            self._states_changed(cells)
        n = int(cells.numel())
        result = WriteResult(flipped_cells=cells, flips_to_p=n if to_p else 0, flips_to_ap=0 if to_p else n,
                             phases=1)
        if self.events is not None:
            self.events.append(WriteEvent(rows=self.rows, cols=self.cols, phases=1, flips_to_p=result.flips_to_p,
                                          flips_to_ap=result.flips_to_ap))
        return result

    def _column_probability(self, current: float, width: float, suffix: str, ic0: torch.Tensor,
                            rows: torch.Tensor, col: int) -> torch.Tensor:
        """Switching probability of the cells ``(rows, col)`` (float64) with thresholds ``ic0``."""
        return switching_probability(torch.tensor(current, dtype=torch.float64, device=self.device),
                                     torch.tensor(width, dtype=torch.float64, device=self.device), ic0=ic0,
                                     tau0=self.params[f"tau0_{suffix}"][rows, col].to(torch.float64),
                                     delta=self.params["delta"][rows, col].to(torch.float64),
                                     n=self.device_params.n_exponent, tau_d=self.device_params.tau_d)

    def _uniform_column_probability(self, current: float, width: float, suffix: str) -> float:
        """:meth:`_column_probability` of any cell of a uniform array without c2c spread, one number; kept
        per (current, width, direction) until the parameters change (a transfer writes with a few fixed
        pulses, thousands of times)."""
        key = (float(current), float(width), suffix)
        cache = self._column_p_cache
        if key not in cache:
            origin = torch.zeros(1, dtype=torch.long, device=self.device)
            ic0 = self.params[f"ic0_{suffix}"][origin, 0].to(torch.float64)
            cache[key] = float(self._column_probability(current, width, suffix, ic0, origin, 0)[0])
        return cache[key]
