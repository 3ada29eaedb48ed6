"""The periphery's compensation table for passive writes: the linear response of its state-blind tile model.

The write compensation (:mod:`.passive_compensation`) needs, in each of its steps, the voltages its model of
the array puts across the selected cells of a phase. ``write_compensation_model = "solve"`` solves the model
circuit of every phase. ``"response"`` instead holds, per tile shape, the model tile's cell voltages as a linear
function of its ``n + m`` line sources (``n + m`` solves once, every model cell at one conductance), and takes
each selected cell's voltage as a product with the phase's sources: what a periphery could store, instead of
solving a circuit per phase.

The model cells' conductance is the mean of the nominal P and AP conductances at a *chord* voltage, the
phase's mean target (the voltage the selected cells are asked for, where the TMR roll-off matters most),
rounded to a grid of :data:`CHORD_STEP`; a table is built the first time a chord is asked for. What the
solved model has and this one lacks is each model cell's own roll-off at its own pattern voltage;
docs/passive.md (tenth round) measures what that costs the compensated cells.

Tiles sit in the array as independent circuits whose ports are the same for every line of a purpose
(:meth:`~mtjxbar.crossbar.passive.PassiveCrossbar.line_ends`), so tiles of one shape share one table.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..config import ConfigError
from ..crossbar import ArrayConfig
from ..crossbar.circuit import LineEnds, solve_tiles_cells
from ..crossbar.passive import PassiveCrossbar
from ..device import physics

__all__ = ["CHORD_STEP", "RESPONSE_TILE_MAX", "TileResponses", "check_response_tiles"]

CHORD_STEP = 0.02  # V: grid of the model's chord voltages
RESPONSE_TILE_MAX = 128  # largest tile side of write_compensation_model = "response" (its tables grow as side^4)
_TOLERANCE = 1e-13  # V per 1 V source: the tables are the model's exact linear response


def check_response_tiles(rows: int, cols: int, array: ArrayConfig) -> None:
    """Refuse the compensation's response tables (``write_compensation_model = "response"``) on tiles larger
    than :data:`RESPONSE_TILE_MAX` a side: a table holds side^4 values a shape and chord."""
    n, m = min(rows, array.tile_rows), min(cols, array.tile_cols)
    if array.write_compensation_model == "response" and max(n, m) > RESPONSE_TILE_MAX:
        raise ConfigError(f"write_compensation_model = 'response' with tiles of {n} x {m} (tile_rows = "
                          f"{array.tile_rows}, tile_cols = {array.tile_cols}, a {rows} x {cols} array): its tables "
                          f"need tiles of at most {RESPONSE_TILE_MAX} x {RESPONSE_TILE_MAX} (a 256 x 256 shape takes "
                          "270 MB a chord); use smaller tiles (--tile-size) or write_compensation_model = 'solve'")


@njit(cache=True)
def _selected_voltages(table, base_r, base_c, shape_of, row_starts, col_starts, n_of, m_of, ri, cj, rows, cols,
                       ref_r, ref_c, out):
    """``out[p, q]``: the model voltage of cell (``ri[p]``, ``cj[q]``) (both sorted; every line not in them
    sits at ``ref_r`` / ``ref_c``). Per tile and selected row ``a``: the row of voltages at the reference
    levels (``base_r`` / ``base_c``: the responses to all rows / all columns at 1 V), plus each selected
    line's departure from its level times its response (``table[shape, a, line]``, contiguous over the
    tile's columns: the tile's rows first, its columns from ``n_max``); the selected columns read off."""
    n_max = table.shape[1]
    acc = np.empty(table.shape[3])
    p0 = 0
    for ti in range(row_starts.size - 1):
        r0, r1 = row_starts[ti], row_starts[ti + 1]
        p1 = p0
        while p1 < ri.size and ri[p1] < r1:
            p1 += 1
        q0 = 0
        for tj in range(col_starts.size - 1):
            c0, c1 = col_starts[tj], col_starts[tj + 1]
            q1 = q0
            while q1 < cj.size and cj[q1] < c1:
                q1 += 1
            if p1 > p0 and q1 > q0:
                k = shape_of[ti, tj]
                m = m_of[k]
                for p in range(p0, p1):
                    a = ri[p] - r0
                    resp, br, bc = table[k, a], base_r[k, a], base_c[k, a]
                    for b in range(m):
                        acc[b] = ref_r * br[b] + ref_c * bc[b]
                    for pp in range(p0, p1):
                        d = rows[ri[pp]] - ref_r
                        line = resp[ri[pp] - r0]
                        for b in range(m):
                            acc[b] += d * line[b]
                    for qq in range(q0, q1):
                        d = cols[cj[qq]] - ref_c
                        line = resp[n_max + cj[qq] - c0]
                        for b in range(m):
                            acc[b] += d * line[b]
                    for q in range(q0, q1):
                        out[p, q] = acc[cj[q] - c0]
            q0 = q1
        p0 = p1


class TileResponses:
    """The linear responses of one array's model tiles (one table per chord voltage, built when first asked
    for), and the selected cells' model voltages from them."""

    def __init__(self, array: PassiveCrossbar) -> None:
        check_response_tiles(array.rows, array.cols, array.array)
        # what the tables depend on, not the array itself (the compensation keys its tables weakly by array)
        self._device, self._ends = array.device_params, array.line_ends("write")
        self._max_sweeps = array.circuit_solver.max_sweeps
        row_starts, col_starts = array.tile_starts
        self._starts = (np.ascontiguousarray(row_starts), np.ascontiguousarray(col_starts))
        heights, widths = np.diff(row_starts), np.diff(col_starts)
        self._shapes = sorted({(int(h), int(w)) for h in heights for w in widths})
        index = {shape: k for k, shape in enumerate(self._shapes)}
        self._shape_of = np.array([[index[(int(h), int(w))] for w in widths] for h in heights], dtype=np.int64)
        self._n_of = np.array([s[0] for s in self._shapes], dtype=np.int64)
        self._m_of = np.array([s[1] for s in self._shapes], dtype=np.int64)
        self._tables: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def chord(self, target_mean: float) -> tuple[int, float]:
        """The grid chord (its index) for a phase whose selected cells are asked for ``target_mean`` (V) on
        average, and the model cells' conductance (S) there: the mean of the nominal P and AP conductances."""
        index = int(round(max(target_mean, 0.0) / CHORD_STEP))
        dev = self._device
        r_ap = float(physics.ap_resistance(np.asarray(index * CHORD_STEP), dev.r_p, dev.tmr0, dev.v_h))
        return index, 0.5 * (1.0 / dev.r_p + 1.0 / r_ap)

    def table(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The tables of chord ``index``: (shapes, n_max, n_max + m_max, m_max), cell (a, b) of a tile of
        each shape per volt on each of its row lines, then each of its column lines (zero-padded), and the
        responses (shapes, n_max, m_max) to every row, and to every column, at 1 V."""
        if index not in self._tables:
            _, g = self.chord(index * CHORD_STEP)
            n_max, m_max = int(self._n_of.max()), int(self._m_of.max())
            out = np.zeros((len(self._shapes), n_max, n_max + m_max, m_max))
            ends = self._ends
            for k, (n, m) in enumerate(self._shapes):
                tile_ends = LineEnds(ends.end_r[:n], ends.end_c[:m], ends.far_r, ends.far_c, ends.w_r, ends.w_c)
                unit = np.eye(n + m)
                volts = solve_tiles_cells(unit[:, :n], unit[:, n:], np.ones((n, m), dtype=bool),
                                          {"r_p": 1.0 / g, "tmr0": 0.0, "v_h": 1.0}, tile_ends,
                                          np.array([0, n]), np.array([0, m]), bias_dependent=False,
                                          tolerance=_TOLERANCE, max_sweeps=self._max_sweeps,
                                          over_relax=True)
                out[k, :n, :n, :m] = volts[:n].transpose(1, 0, 2)
                out[k, :n, n_max:n_max + m, :m] = volts[n:].transpose(1, 0, 2)
            self._tables[index] = (out, np.ascontiguousarray(out[:, :, :n_max].sum(2)),
                                   np.ascontiguousarray(out[:, :, n_max:].sum(2)))
        return self._tables[index]

    def selected_voltages(self, index: int, rows: np.ndarray, cols: np.ndarray, ri: np.ndarray,
                          cj: np.ndarray) -> np.ndarray:
        """Model voltages (``ri.size``, ``cj.size``) of the cells on rows ``ri`` and columns ``cj`` (sorted)
        with row sources ``rows`` (N,) and column sources ``cols`` (M,), on chord ``index``'s tables; every
        other line must sit at one level (the pattern's unselected row and column levels)."""
        if np.any(np.diff(ri) <= 0) or np.any(np.diff(cj) <= 0):
            raise ValueError("response model: the selected rows and columns must be sorted and distinct")
        off_r, off_c = np.delete(rows, ri), np.delete(cols, cj)
        ref_r = float(off_r[0]) if off_r.size else 0.0
        ref_c = float(off_c[0]) if off_c.size else 0.0
        if np.any(off_r != ref_r) or np.any(off_c != ref_c):
            raise ValueError("response model: the lines outside the selected rows and columns must sit at one "
                             "level each")
        out = np.empty((ri.size, cj.size))
        _selected_voltages(*self.table(index), self._shape_of, *self._starts, self._n_of, self._m_of,
                           np.ascontiguousarray(ri, dtype=np.int64), np.ascontiguousarray(cj, dtype=np.int64),
                           np.ascontiguousarray(rows, dtype=np.float64), np.ascontiguousarray(cols, dtype=np.float64),
                           ref_r, ref_c, out)
        return out
