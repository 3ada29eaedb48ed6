"""Write plans: what the periphery drives onto an array during one update (a few parallel phases)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["TO_P", "TO_AP", "POLARITIES", "WritePhase", "UpdatePlan"]

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
