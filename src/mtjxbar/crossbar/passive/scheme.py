"""Half-select write schemes of passive (0T1MTJ) arrays: the line voltages of one write phase.

Sign convention: a positive cell voltage (row above column) drives current row -> column, which switches
AP -> P (:data:`TO_P`); a negative one switches P -> AP (:data:`TO_AP`).

An in-situ rank-1 plan phase (rows ``i`` with widths ``t_i``, columns ``j`` with currents ``I_j``, one
polarity) becomes one array-wide pattern, so a plan of at most 4 phases stays 4 phases whatever the size:

* each selected column ``j`` gets the voltage that puts ``V_j`` across a cell of the state the phase can
  switch (``V_j = I_j R_AP(V_j)`` for ``to_p``, ``I_j R_P`` for ``to_ap``): amplitude codes the column;
* each selected row is held at the select level for its own ``t_i`` and then returns to the unselected
  level (time codes the row), so a selected cell sees ``V_j`` for ``t_i``;
* unselected lines hold the scheme's levels; with ``V = max_j V_j`` (times the polarity sign ``s``):

  ========== ============== ================= ================= ==================
  scheme     selected row   selected column j unselected row    unselected column
  ========== ============== ================= ================= ==================
  ``v2``     ``s V/2``      ``s (V/2 - V_j)`` 0                 0
  ``v3``     ``s V``        ``s (V - V_j)``   ``s V/3``         ``s 2V/3``
  ========== ============== ================= ================= ==================

  For ``V_j = V`` these are the textbook V/2 and V/3 schemes: half-selected cells see ``V/2`` (v2) or
  ``V/3`` (v3), unselected cells 0 (v2) or ``-V/3`` (v3). Columns asking for less than ``V`` move their
  half-selected cells on unselected rows to ``V_j - V/2`` (v2, magnitude still at most ``V/2``) or
  ``V_j - 2V/3`` (v3, which reaches ``-2V/3`` as ``V_j -> 0``); the switching currents of one phase span a
  narrow range (thermal regime), so in practice ``V_j`` stays close to ``V``.
"""

from __future__ import annotations

import numpy as np
import torch

from ..events import ap_resistance_at_current
from ..plan import TO_P, WritePhase

__all__ = ["column_write_voltages", "phase_levels", "ideal_cell_voltages"]


def column_write_voltages(phase: WritePhase, *, r_p: float, tmr0: float, v_h: float, v_max: float) -> torch.Tensor:
    """|Cell voltage| (V) each column asks for: its current times the resistance, at that current, of the
    state the phase can switch (AP for ``to_p``, P for ``to_ap``), capped at ``v_max``; 0 if idle (float64,
    on the CPU; the Newton solve in numpy, a few hundred microseconds less per phase than in torch)."""
    current = phase.col_currents.double().cpu().numpy()
    r = ap_resistance_at_current(current, r_p=r_p, tmr0=tmr0, v_h=v_h) if phase.polarity == TO_P else r_p
    return torch.from_numpy(np.minimum(current * r, v_max))


def phase_levels(scheme: str, selected_rows: torch.Tensor, v_cols: torch.Tensor, polarity: str):
    """Source voltages (rows on, columns) and (rows released, columns) of a phase.

    ``selected_rows`` (N,) bool; ``v_cols`` (M,) the |cell voltage| each column asks for (0: unselected).
    Returns ``(rows_on, rows_off, cols)``: row sources while the selected rows are held, after they are
    released, and the column sources (unchanged during the phase).
    """
    sign = 1.0 if polarity == TO_P else -1.0
    v = float(v_cols.max()) if v_cols.numel() else 0.0
    selected_cols = v_cols > 0
    if scheme == "v2":
        row_sel, row_unsel, col_unsel = v / 2, 0.0, 0.0
        col_sel = v / 2 - v_cols
    elif scheme == "v3":
        row_sel, row_unsel, col_unsel = v, v / 3, 2 * v / 3
        col_sel = v - v_cols
    else:
        raise ValueError(f"scheme = {scheme!r}: must be 'v2' or 'v3'")
    rows_off = torch.full(selected_rows.shape, sign * row_unsel, dtype=torch.float64)
    rows_on = torch.where(selected_rows, torch.full_like(rows_off, sign * row_sel), rows_off)
    cols = sign * torch.where(selected_cols, col_sel, torch.full_like(col_sel, col_unsel))
    return rows_on, rows_off, cols


def ideal_cell_voltages(rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Cell voltages (N, M) of line sources ``rows`` and ``cols`` with ideal wires and drivers."""
    return rows[:, None] - cols[None, :]
