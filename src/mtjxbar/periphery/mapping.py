"""Binary MTJ states <-> signed weights.

A logical weight ``W`` in [-1, 1] is made of ``k`` MTJs (``b = +1`` for parallel, ``-1`` for
antiparallel):

* ``reference``: k physical columns per output, each MTJ's current read against a reference column of
  fixed resistors at the mid conductance ``g_ref = (G_P + G_AP)/2``; ``W = mean_m b_m``. One flip moves
  W by 2/k. The reference current of the forward read is ``g_ref * sum_i v_i`` (one extra column); in
  the transposed read the periphery subtracts ``g_ref * k * sum_j u_j`` digitally (a reference column
  cannot be driven with the sum of all column voltages).
* ``differential``: k pairs (plus, minus) of columns per output; ``W = mean_m (b+_m - b-_m)/2``,
  so each pair is ternary and one flip moves W by 1/k. No reference is needed.

Physical column ``c`` carries sign ``s_c`` (+1 for plain and plus columns, -1 for minus columns):
raising W means raising the conductance of plus columns and lowering that of minus columns.
"""

from __future__ import annotations

import torch

from .config import MappingConfig

__all__ = ["SynapseMapping"]


class SynapseMapping:
    """Layout of ``n_out`` logical outputs over physical columns, and its arithmetic."""

    def __init__(self, n_out: int, config: MappingConfig, device: str | torch.device = "cpu") -> None:
        if n_out < 1:
            raise ValueError(f"n_out = {n_out}: a layer needs at least one output")
        self.n_out = n_out
        self.k = config.mtjs_per_synapse
        self.scheme = config.scheme
        self.per_output = self.k * (2 if self.differential else 1)
        self.physical_cols = n_out * self.per_output
        sign = torch.ones(self.per_output)
        if self.differential:
            sign[1::2] = -1.0
        self.col_sign = sign.repeat(n_out).to(device)

    @property
    def differential(self) -> bool:
        return self.scheme == "differential"

    @property
    def flip_step(self) -> float:
        """Change of a logical weight when one of its MTJs flips."""
        return 1.0 / self.k if self.differential else 2.0 / self.k

    @property
    def full_swing(self) -> float:
        """Change of a logical weight when every MTJ of the synapse flips the same way (2 for both schemes).

        The encoder asks each MTJ for ``|dW| / full_swing``: the expected change of the synapse is then the
        request when all its MTJs can move that way, and shrinks linearly as the synapse nears its bound
        (``E[dW] = request * (1 -+ W) / 2``: a soft bound).
        """
        return self.flip_step * self.per_output

    def unit_conductance(self, g_p: float, g_ap: float) -> float:
        """Signed conductance (S) of one unit of W per MTJ (or pair)."""
        return (g_p - g_ap) if self.differential else 0.5 * (g_p - g_ap)

    def reference_current(self, v_rows: torch.Tensor, g_ref: float) -> torch.Tensor:
        """Current (A) of the reference column for row voltages ``v_rows``, shape (..., 1); 0 for pairs."""
        if self.differential:
            return torch.zeros_like(v_rows[..., :1])
        return (self.k * g_ref) * v_rows.sum(dim=-1, keepdim=True)

    def group(self, per_col: torch.Tensor) -> torch.Tensor:
        """Signed sum of each output's physical columns (``per_col`` currents), shape (..., n_out)."""
        return self._group(per_col)

    def _group(self, per_col: torch.Tensor) -> torch.Tensor:
        if self.per_output == 1:  # one plain column per output: nothing to combine
            return per_col
        return (per_col * self.col_sign.to(per_col.dtype)).unflatten(-1, (self.n_out, self.per_output)).sum(-1)

    def combine(self, col_currents: torch.Tensor, v_rows: torch.Tensor, g_ref: float) -> torch.Tensor:
        """Physical column currents -> signed logical currents (A), shape (..., n_out)."""
        signed = self._group(col_currents)
        if not self.differential:
            signed = signed - (self.k * g_ref) * v_rows.sum(dim=-1, keepdim=True)
        return signed

    def expand(self, per_output: torch.Tensor) -> torch.Tensor:
        """A signed value per logical output -> per physical column, times the column's sign."""
        if self.per_output == 1:
            return per_output
        return per_output.repeat_interleave(self.per_output, dim=-1) * self.col_sign.to(per_output.dtype)

    def combine_transposed(self, row_currents: torch.Tensor, u_out: torch.Tensor, g_ref: float) -> torch.Tensor:
        """Row currents of a transposed read driven with ``expand(u_out)`` -> signed row currents (A)."""
        if self.differential:
            return row_currents
        return row_currents - (self.k * g_ref) * u_out.sum(dim=-1, keepdim=True)

    def weights(self, parallel: torch.Tensor) -> torch.Tensor:
        """Logical weights in [-1, 1], shape (rows, n_out), from the cell states (rows, physical_cols)."""
        b = parallel.to(torch.float32) * 2.0 - 1.0
        w = self._group(b) / self.k
        return w * 0.5 if self.differential else w

    def levels(self, w: torch.Tensor) -> torch.Tensor:
        """Nearest weight each synapse can hold: k + 1 levels, or 2k + 1 for differential pairs."""
        steps = self.k if self.differential else self.k / 2
        scaled = torch.clamp(w, -1.0, 1.0) * steps
        if not self.differential and self.k % 2 == 1:
            # odd k: levels at half-integers of `scaled`
            return torch.clamp(torch.floor(scaled) + 0.5, -steps, steps) / steps
        return torch.round(scaled) / steps

    def states_for(self, w: torch.Tensor) -> torch.Tensor:
        """Cell states (rows, physical_cols) that hold the weights ``levels(w)`` exactly."""
        rows = w.shape[0]
        q = self.levels(w)
        slot = torch.arange(self.k, device=w.device)
        if self.differential:
            n_signed = torch.round(q * self.k)  # pairs pointing + (or - if negative)
            plus = slot[None, None, :] < n_signed[..., None]
            minus = slot[None, None, :] < (-n_signed)[..., None]
            cells = torch.stack([plus, minus], dim=-1)  # (rows, n_out, k, 2)
        else:
            n_p = torch.round((q + 1.0) * 0.5 * self.k)
            cells = slot[None, None, :] < n_p[..., None]
        return cells.reshape(rows, self.physical_cols)
