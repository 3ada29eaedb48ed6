"""Write plans: what the periphery drives onto an array during one update (a few parallel phases)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property

import torch

__all__ = ["TO_P", "TO_AP", "POLARITIES", "WritePhase", "UpdatePlan", "OuterPlan", "OuterPlans", "CoincidencePlan",
           "WriteResult", "StreamResult", "column_phase"]

TO_P = "to_p"  # current direction that switches AP -> P (raises conductance)
TO_AP = "to_ap"  # current direction that switches P -> AP (lowers conductance)
POLARITIES = (TO_P, TO_AP)


@dataclass(frozen=True)
class WritePhase:
    """One write phase applied to the whole array at once.

    Each row ``i`` gates its cells for ``row_widths[i]`` seconds (0: row off); each column ``j`` drives
    ``col_currents[j]`` amperes (0: column idle) in the direction ``polarity``. Cell (i, j) therefore sees
    a pulse of current ``col_currents[j]`` and width ``row_widths[i]``.
    """

    row_widths: torch.Tensor  # (rows,) s
    col_currents: torch.Tensor  # (cols,) A
    polarity: str

    def __post_init__(self) -> None:
        if self.polarity not in POLARITIES:
            raise ValueError(f"polarity = {self.polarity!r}: must be one of {POLARITIES}")
        if self.row_widths.dim() != 1 or self.col_currents.dim() != 1:
            raise ValueError("row_widths and col_currents must be 1-D tensors (one value per line)")

    @property
    def active_rows(self) -> int:
        return int((self.row_widths > 0).sum())

    @property
    def active_cols(self) -> int:
        return int((self.col_currents > 0).sum())

    def __repr__(self) -> str:
        w = self.row_widths[self.row_widths > 0]
        c = self.col_currents[self.col_currents > 0]
        wmax = f"{w.max().item() * 1e9:.3g} ns" if w.numel() else "-"
        cmax = f"{c.max().item() * 1e6:.3g} uA" if c.numel() else "-"
        return (f"WritePhase({self.polarity}, rows {self.active_rows}/{self.row_widths.numel()} up to {wmax}, "
                f"cols {self.active_cols}/{self.col_currents.numel()} up to {cmax})")


def column_phase(rows: int, cols: int, col: int, gated: torch.Tensor, width: float, current: float,
                 polarity: str) -> WritePhase:
    """The full :class:`WritePhase` of a column write (``write_column`` of either array kind): ``gated`` rows
    held for ``width``, column ``col`` driven with ``current`` (what a cost meter and a passive array need)."""
    widths = torch.where(gated, width, 0.0).to(torch.float64)
    currents = torch.zeros(cols, dtype=torch.float64)
    currents[col] = current
    return WritePhase(row_widths=widths.cpu(), col_currents=currents, polarity=polarity)


@dataclass(frozen=True)
class UpdatePlan:
    """A frozen record of the phases of one in-situ update (the thing the cost model counts)."""

    phases: tuple[WritePhase, ...]

    def __len__(self) -> int:
        return len(self.phases)

    def __repr__(self) -> str:
        inner = ", ".join(repr(p) for p in self.phases)
        return f"UpdatePlan([{inner}])"


@dataclass(frozen=True, eq=False)
class OuterPlan:
    """The signed outer-product update of in-situ training, held compactly (at most 4 phases).

    Row ``i`` is gated for ``row_widths[i]`` s during the phases of its sign ``row_sign[i]`` (+1 or -1;
    0: the row stays off). Column ``j`` (sign ``col_sign[j]``, 0: idle) drives ``col_currents[0, j]`` A
    in the ``TO_P`` polarity to the rows of its own sign, and ``col_currents[1, j]`` A in the ``TO_AP``
    polarity to the rows of the opposite sign. So cell (i, j) is reached by exactly one phase: towards P
    when ``row_sign[i] * col_sign[j] > 0``, towards AP when it is < 0; this is what lets an array sample
    all phases in one pass. :attr:`phases` spells the same plan out as :class:`WritePhase` s (rows split
    by sign, times the two polarities; phases that reach no cell left out), in that order.
    """

    row_widths: torch.Tensor  # (rows,) s, >= 0
    row_sign: torch.Tensor  # (rows,) +1, -1 or 0
    col_sign: torch.Tensor  # (cols,) +1, -1 or 0
    col_currents: torch.Tensor  # (2, cols) A: [TO_P, TO_AP]

    def __post_init__(self) -> None:
        rows, cols = self.row_widths.shape, self.col_sign.shape
        if self.row_widths.dim() != 1 or self.row_sign.shape != rows or self.col_sign.dim() != 1 \
                or self.col_currents.shape != (2, *cols):
            raise ValueError(f"OuterPlan: row_widths and row_sign must be (rows,), col_sign (cols,) and "
                             f"col_currents (2, cols); got {tuple(self.row_widths.shape)}, "
                             f"{tuple(self.row_sign.shape)}, {tuple(self.col_sign.shape)}, "
                             f"{tuple(self.col_currents.shape)}")

    @cached_property
    def phases(self) -> tuple[WritePhase, ...]:
        zero_rows, zero_cols = torch.zeros_like(self.row_widths), torch.zeros_like(self.col_currents[0])
        out = []
        for row_sign in (1.0, -1.0):
            rows_on = (self.row_sign == row_sign) & (self.row_widths > 0)
            if not bool(rows_on.any()):
                continue
            widths = torch.where(rows_on, self.row_widths, zero_rows)
            for k, polarity in enumerate(POLARITIES):
                col_sign = row_sign if polarity == TO_P else -row_sign
                cols_on = (self.col_sign == col_sign) & (self.col_currents[k] > 0)
                if bool(cols_on.any()):
                    out.append(WritePhase(row_widths=widths, col_currents=torch.where(cols_on, self.col_currents[k],
                                                                                      zero_cols),
                                          polarity=polarity))
        return tuple(out)

    @cached_property
    def phase_count(self) -> int:
        """``len(self.phases)`` without building them: which of the four (row sign, polarity) classes
        reach at least one cell (TO_P: rows of the column's sign; TO_AP: rows of the opposite sign)."""
        if self.row_widths.device.type == "cpu":  # NumPy views: a few microseconds, it runs every sample
            rows = self.row_sign.numpy() * (self.row_widths.numpy() > 0)
            driven = self.col_sign.numpy() * (self.col_currents.numpy() > 0)  # (2, cols): sign where driven
            r_pos, r_neg = bool(rows.max() > 0), bool(rows.min() < 0)
            d_pos, d_neg = driven.max(axis=1) > 0, driven.min(axis=1) < 0
            return int(r_pos) * (int(d_pos[0]) + int(d_neg[1])) + int(r_neg) * (int(d_neg[0]) + int(d_pos[1]))
        on = self.row_widths > 0
        cs, driven = self.col_sign, self.col_currents > 0
        flags = torch.stack([((self.row_sign > 0) & on).any(), ((self.row_sign < 0) & on).any(),
                             (driven[0] & (cs > 0)).any(), (driven[0] & (cs < 0)).any(),
                             (driven[1] & (cs < 0)).any(), (driven[1] & (cs > 0)).any()]).tolist()
        return int(sum(flags[k] * (flags[2 + k] + flags[4 + k]) for k in (0, 1)))

    def __len__(self) -> int:
        return self.phase_count

    def __repr__(self) -> str:
        return "Outer" + repr(UpdatePlan(self.phases))


@dataclass(frozen=True, eq=False)
class OuterPlans:
    """A stream of :class:`OuterPlan` s for one array, stacked: plan ``p`` is ``self[p]``, applied in the
    order of ``p`` (a convolution's output positions, each on the states the previous one left). The
    fields are :class:`OuterPlan` 's with a leading axis of length ``len(self)``."""

    row_widths: torch.Tensor  # (plans, rows) s
    row_sign: torch.Tensor  # (plans, rows)
    col_sign: torch.Tensor  # (plans, cols)
    col_currents: torch.Tensor  # (plans, 2, cols) A: [TO_P, TO_AP]

    def __post_init__(self) -> None:
        n, rows = self.row_widths.shape[0], self.row_widths.shape[1:]
        if self.row_widths.dim() != 2 or self.row_sign.shape != self.row_widths.shape or self.col_sign.dim() != 2 \
                or self.col_sign.shape[0] != n or self.col_currents.shape != (n, 2, self.col_sign.shape[1]):
            raise ValueError(f"OuterPlans: row_widths and row_sign must be (plans, rows), col_sign (plans, cols) and "
                             f"col_currents (plans, 2, cols); got {tuple(self.row_widths.shape)}, "
                             f"{tuple(self.row_sign.shape)}, {tuple(self.col_sign.shape)}, "
                             f"{tuple(self.col_currents.shape)} ({rows} rows)")

    def __len__(self) -> int:
        return self.row_widths.shape[0]

    def __getitem__(self, p: int) -> OuterPlan:
        return OuterPlan(row_widths=self.row_widths[p], row_sign=self.row_sign[p], col_sign=self.col_sign[p],
                         col_currents=self.col_currents[p])


@dataclass(frozen=True)
class WriteResult:
    """What one update did: which cells flipped, per direction and per phase."""

    flipped_cells: torch.Tensor  # flat (row * cols + col) indices of the cells that flipped
    flips_to_p: int
    flips_to_ap: int
    phases: int
    disturb_flips: int = 0  # of the flips: cells the write did not aim at (half-select disturbs of passive arrays)


@dataclass(frozen=True)
class StreamResult:
    """What a stream of writes (:class:`OuterPlans`) did: per plan, in order, its flips ``[to P, to AP]`` and
    its phase count (``len(plans[p])``), and the cells whose state differs after the stream from before it (a
    cell may flip and flip back)."""

    flips: torch.Tensor  # (plans, 2) int64: flips to P, flips to AP of each plan
    phases: torch.Tensor  # (plans,) int64: OuterPlan.phase_count of each plan
    changed_cells: torch.Tensor  # flat (row * cols + col) indices, ascending


@dataclass(frozen=True, eq=False)
class CoincidencePlan:
    """A stochastic pulse-coincidence update (Gokmen & Vlasov's RPU scheme with binary stochastic MTJs).

    The update has ``slots`` slots. In slot ``b`` row ``i`` fires (its transistors are gated for ``width``
    s during the phases of its sign ``row_sign[i]``) with probability ``row_prob[i]``; column ``j`` (sign
    ``col_sign[j]``) fires in the ``TO_P`` phase of the rows of its own sign with probability
    ``col_prob[0, j]`` and in the ``TO_AP`` phase of the rows of the opposite sign with ``col_prob[1, j]``,
    driving ``currents[0]`` resp. ``currents[1]`` A. So cell (i, j) is only ever pushed one way (towards P
    when ``row_sign[i] * col_sign[j] > 0``) and sees a pulse of fixed current and width at every
    *coincidence* of its row and its column; each coincidence switches it with the device model's
    probability for that pulse and its own parameters. Every draw is independent (rows, columns, slots).

    ``row_on`` (slots, rows) and ``col_on`` (slots, 2, cols) are the drawn pulse streams; a plan fresh from
    the encoder may leave them None, and :meth:`draw` fills them from a generator (the array's writer does
    this with the write generator). ``len(plan)`` is the clocked phase count, ``slots`` x the (row sign,
    polarity) classes that can reach a cell: fixed by the plan, whatever the array size and whatever the
    draw (an empty slot still takes its time); :attr:`phases` spells out the drawn phases that drive at
    least one cell.
    """

    row_prob: torch.Tensor  # (rows,) firing probability per slot, in [0, 1]
    row_sign: torch.Tensor  # (rows,) +1, -1 or 0
    col_prob: torch.Tensor  # (2, cols) firing probability per slot: [TO_P, TO_AP]
    col_sign: torch.Tensor  # (cols,) +1, -1 or 0
    currents: torch.Tensor  # (2,) A: [TO_P, TO_AP]
    width: float  # s, gate pulse of a fired row
    slots: int
    row_on: torch.Tensor | None = None  # (slots, rows) bool: drawn row streams
    col_on: torch.Tensor | None = None  # (slots, 2, cols) bool: drawn column streams

    def __post_init__(self) -> None:
        rows, cols = self.row_prob.shape, self.col_sign.shape
        if self.row_prob.dim() != 1 or self.row_sign.shape != rows or self.col_sign.dim() != 1 \
                or self.col_prob.shape != (2, *cols) or self.currents.shape != (2,):
            raise ValueError(f"CoincidencePlan: row_prob and row_sign must be (rows,), col_sign (cols,), col_prob "
                             f"(2, cols) and currents (2,); got {tuple(self.row_prob.shape)}, "
                             f"{tuple(self.row_sign.shape)}, {tuple(self.col_sign.shape)}, "
                             f"{tuple(self.col_prob.shape)}, {tuple(self.currents.shape)}")
        if not (isinstance(self.slots, int) and self.slots >= 1):
            raise ValueError(f"CoincidencePlan: slots = {self.slots!r}: must be an integer >= 1")
        if not self.width > 0:
            raise ValueError(f"CoincidencePlan: width = {self.width!r}: must be > 0 s")
        if (self.row_on is None) != (self.col_on is None):
            raise ValueError("CoincidencePlan: row_on and col_on are drawn together (both or neither)")
        if self.row_on is not None and (tuple(self.row_on.shape) != (self.slots, *rows)
                                        or tuple(self.col_on.shape) != (self.slots, 2, *cols)):
            raise ValueError(f"CoincidencePlan: row_on must be (slots, rows) and col_on (slots, 2, cols); got "
                             f"{tuple(self.row_on.shape)} and {tuple(self.col_on.shape)}")

    @property
    def rows(self) -> int:
        return self.row_prob.numel()

    @property
    def cols(self) -> int:
        return self.col_sign.numel()

    @property
    def is_drawn(self) -> bool:
        return self.row_on is not None

    def draw(self, generator: torch.Generator) -> CoincidencePlan:
        """This plan with its pulse streams drawn from ``generator`` (rows of every slot first, then columns);
        a row or column of sign 0 never fires. A plan already drawn is returned as it is."""
        if self.is_drawn:
            return self
        dev = generator.device
        u_rows = torch.rand((self.slots, self.rows), generator=generator, dtype=torch.float64, device=dev)
        u_cols = torch.rand((self.slots, 2, self.cols), generator=generator, dtype=torch.float64, device=dev)
        home = self.row_prob.device
        row_on = (u_rows.to(home) < self.row_prob.double()) & (self.row_sign != 0)
        col_on = (u_cols.to(home) < self.col_prob.double()) & (self.col_sign != 0)
        return dataclasses.replace(self, row_on=row_on, col_on=col_on)

    def attempt_probability(self) -> torch.Tensor:
        """Per-slot probability (rows, cols) that cell (i, j) sees a coincidence: ``row_prob[i] *
        col_prob[k, j]`` with k its polarity (0 where row or column is of sign 0)."""
        to_p = self.towards_p()
        q = torch.where(to_p, self.col_prob[0][None, :], self.col_prob[1][None, :])
        reached = (self.row_sign[:, None] * self.col_sign[None, :]) != 0
        return torch.where(reached, self.row_prob[:, None].to(q.dtype) * q, torch.zeros_like(q))

    def towards_p(self) -> torch.Tensor:
        """(rows, cols) bool: cells this plan pushes towards P (the others towards AP, or not at all)."""
        return (self.row_sign[:, None] * self.col_sign[None, :]) > 0

    @cached_property
    def phase_count(self) -> int:
        """``slots`` x the (row sign, polarity) classes that can reach a cell (see the class doc)."""
        rows_on = self.row_prob > 0
        cs, driven = self.col_sign, self.col_prob > 0
        flags = torch.stack([((self.row_sign > 0) & rows_on).any(), ((self.row_sign < 0) & rows_on).any(),
                             (driven[0] & (cs > 0)).any(), (driven[0] & (cs < 0)).any(),
                             (driven[1] & (cs < 0)).any(), (driven[1] & (cs > 0)).any()]).tolist()
        return self.slots * int(sum(flags[k] * (flags[2 + k] + flags[4 + k]) for k in (0, 1)))

    def __len__(self) -> int:
        return self.phase_count

    @cached_property
    def phases(self) -> tuple[WritePhase, ...]:
        """The drawn phases that drive at least one cell, slot by slot (rows split by sign, times the two
        polarities, as in :attr:`OuterPlan.phases`); needs the drawn streams (:meth:`draw`)."""
        if not self.is_drawn:
            raise ValueError("CoincidencePlan.phases: the pulse streams are not drawn yet (plan.draw(generator))")
        out = []
        zero_cols = torch.zeros(self.cols, dtype=torch.float64, device=self.col_sign.device)
        for b in range(self.slots):
            for row_sign in (1.0, -1.0):
                rows_on = self.row_on[b] & (self.row_sign == row_sign)
                if not bool(rows_on.any()):
                    continue
                widths = rows_on.double() * self.width
                for k, polarity in enumerate(POLARITIES):
                    col_sign = row_sign if polarity == TO_P else -row_sign
                    cols_on = self.col_on[b, k] & (self.col_sign == col_sign)
                    if bool(cols_on.any()):
                        out.append(WritePhase(row_widths=widths, polarity=polarity,
                                              col_currents=torch.where(cols_on, float(self.currents[k]), zero_cols)))
        return tuple(out)

    def __repr__(self) -> str:
        drawn = "drawn" if self.is_drawn else "not drawn"
        return (f"CoincidencePlan({self.rows}x{self.cols}, {self.slots} slots, {len(self)} phases, width "
                f"{self.width * 1e9:.3g} ns, currents {[round(float(c) * 1e6, 3) for c in self.currents]} uA, "
                f"{drawn})")
