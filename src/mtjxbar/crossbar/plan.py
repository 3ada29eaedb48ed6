"""Write plans: what the periphery drives onto an array during one update (a few parallel phases)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch

__all__ = ["TO_P", "TO_AP", "POLARITIES", "WritePhase", "UpdatePlan", "OuterPlan", "WriteResult"]

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


@dataclass(frozen=True)
class WriteResult:
    """What one update did: which cells flipped, per direction and per phase."""

    flipped_cells: torch.Tensor  # flat (row * cols + col) indices of the cells that flipped
    flips_to_p: int
    flips_to_ap: int
    phases: int
    disturb_flips: int = 0  # of the flips: cells the write did not aim at (half-select disturbs of passive arrays)
