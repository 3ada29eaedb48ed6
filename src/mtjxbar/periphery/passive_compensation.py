"""IR-drop compensation of passive writes: the sources of each phase moved so that the cells it aims at get
their voltage, on a state-blind model of the array.

With resistive wires the cells of a half-select write phase (:mod:`mtjxbar.crossbar.passive.scheme`) see
less than the voltage their column asks for, by an IR drop that depends on where they sit and on every
current the pattern draws. The periphery cannot see the states, so it compensates on a *model* of the array
(:func:`~.passive_calibration.state_blind_model`, every cell at the mean conductance at its own pattern
voltage), in ``ArrayConfig.write_compensation`` steps of a row-plus-column correction of the held row
sources and the column sources (:meth:`WriteCompensation.compensate`); 0 steps: the raw pattern.

This is the periphery's algorithm; the array asks for it through
:class:`mtjxbar.crossbar.passive.WriteSources` and solves its write circuit with the sources it gets back
(``crossbar`` sits below ``periphery`` and never imports it). ``tests/crossbar/test_passive.py`` checks that
compensation restores the selected cells' voltage, aims at the cells the phase can switch, and does not
read the states.
"""

from __future__ import annotations

import weakref
from dataclasses import replace

import numpy as np

from ..crossbar.circuit import lumped_series, solve_tiles_cells
from ..crossbar.passive import PassiveCrossbar
from ..device import physics
from .passive_calibration import state_blind_model
from .passive_response import TileResponses

__all__ = ["WriteCompensation", "write_path"]


def write_path(array: PassiveCrossbar) -> np.ndarray:
    """Resistance (ohm) of each cell's path to its two write drivers: the wire segments between the cell
    and its row's and its column's port within its tile, and both drivers (:func:`lumped_series`)."""
    c = array.array.circuit
    ports = replace(c, r_sense=c.r_driver)  # a write drives both lines
    path = np.zeros((array.rows, array.cols))
    for rs in array.row_tiles:
        for cs in array.col_tiles:
            path[rs, cs] = lumped_series(ports, rs.stop - rs.start, cs.stop - cs.start)
    return path


class WriteCompensation:
    """The write sources of passive arrays (:class:`mtjxbar.crossbar.passive.WriteSources`), in
    ``ArrayConfig.write_compensation`` steps of the array it compensates."""

    def __init__(self) -> None:
        self._paths: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # array -> write_path(array)
        self._responses: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # array -> TileResponses

    def compensate(self, array: PassiveCrossbar, rows_on: np.ndarray, cols: np.ndarray, sel_r: np.ndarray,
                   sel_c: np.ndarray, target: np.ndarray, sign: float) -> tuple[np.ndarray, np.ndarray]:
        """IR-drop compensation by the periphery: sources moved so that the selected cells of a *model* of
        the array (the same tiles and pattern, every cell at the mean of the nominal P and AP conductances at
        the voltage the uncompensated pattern puts across it, TMR roll-off included; the periphery does not
        know the states) see the voltage their column asks for. A cell the phase can switch is known to be in
        the state it switches from, so its modelled voltage is corrected for its own current through its
        path to the drivers (:func:`write_path`). Each step solves the model (or, with
        ``write_compensation_model = "response"``, takes it from the periphery's table of the model tile's linear
        response at one chord conductance, :mod:`.passive_response`) and fits the selected cells' shortfall
        ``d_ij = target_j - |V_ij|`` by ``a_i + b_j`` (least squares, closed form on the full grid; the common
        offset split evenly), then raises selected row ``i`` by ``a_i`` and column ``j``'s drive
        by ``b_j``, over-relaxed (first by target / achieved mean voltage, then by the secant of the previous
        step). A row-plus-column split fits the drop of a phase well because a selected row's drop profile is
        set by its columns' currents and a column's by its rows'; how close the switchable cells end after
        each step: docs/passive.md."""
        steps = array.array.write_compensation
        if not steps:
            return rows_on, cols
        rows_on, cols = rows_on.copy(), cols.copy()
        ri, cj = np.nonzero(sel_r)[0], np.nonzero(sel_c)[0]
        # a cell the phase can switch is in the state it switches from (AP for to_p, P for to_ap), not at the
        # mean: its own current through its lines' path resistance R changes its voltage by the factor
        # (1 + g_model R) / (1 + g_state R) (Thevenin: the rest of the tile as a source behind R)
        if array not in self._paths:
            self._paths[array] = write_path(array)
        dev, path = array.device_params, self._paths[array][np.ix_(ri, cj)]
        g_state = 1.0 / (physics.ap_resistance(target[cj], dev.r_p, dev.tmr0, dev.v_h) if sign > 0
                         else np.full(cj.size, dev.r_p))
        if array.array.write_compensation_model == "response":
            model_volts, r_model = self._response_model(array, target[cj].mean(), ri, cj)
        else:
            model_volts, r_model = self._solved_model(array, rows_on, cols, sel_r, sel_c, ri, cj)
        own = (1.0 + path / r_model) / (1.0 + path * g_state[None, :])
        previous = None  # (mean held voltage, mean shift) of the step before
        for _ in range(steps):
            held = sign * model_volts(rows_on, cols) * own
            # the shift itself draws more current through the same wires, so a selected cell gains only a
            # part of it: over-relax by the inverse of that part, estimated at first as |V| / target (at
            # 1 ohm on 64 x 64, ~1.4), then from what the previous step's mean shift did (secant)
            gain = target[cj].mean() / max(held.mean(), 1e-12)
            if previous is not None and held.mean() > previous[0]:
                gain = previous[1] / (held.mean() - previous[0])
            gain = float(np.clip(gain, 1.0, 3.0))
            short = gain * (target[None, cj] - held)
            # least-squares fit short_ij ~ a_i + b_j on the full grid of selected cells (closed form), the
            # common offset split evenly between rows and columns
            a = short.mean(1) - 0.5 * short.mean()
            b = short.mean(0) - 0.5 * short.mean()
            previous = (held.mean(), a.mean() + b.mean())
            rows_on[ri] += sign * a
            cols[cj] -= sign * b
        return rows_on, cols

    @staticmethod
    def _solved_model(array: PassiveCrossbar, rows_on: np.ndarray, cols: np.ndarray, sel_r: np.ndarray,
                      sel_c: np.ndarray, ri: np.ndarray, cj: np.ndarray):
        """The model solved for each step's sources (``write_compensation_model = "solve"``): a function of
        the sources giving the selected cells' model voltages, and the model cells' resistances (ohm) there."""
        # the model cells at the pattern's voltages |r_i - c_j|: the rows sit at a few levels, so each level's
        # row of conductances is evaluated once and repeated
        levels, level_of = np.unique(rows_on, return_inverse=True)
        _, model, params = state_blind_model(array, np.abs(levels[:, None] - cols[None, :]))
        params["r_p"] = params["r_p"][level_of.ravel()]
        ends = array.line_ends("write")
        kw = {**array.relaxation_settings("write"), "bias_dependent": False}
        # only the selected cells' modelled voltages enter the fit: tiles without one are not solved
        # (tiles are independent circuits: the others' solutions do not change)
        row_starts, col_starts = array.tile_starts
        tiles = (np.logical_or.reduceat(sel_r, row_starts[:-1])[:, None]
                 & np.logical_or.reduceat(sel_c, col_starts[:-1])[None, :])[None]

        def volts(rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
            v = solve_tiles_cells(rows[None], columns[None], model, params, ends, *array.tile_starts, tiles=tiles,
                                  **kw)[0]
            return v[np.ix_(ri, cj)]
        return volts, params["r_p"][np.ix_(ri, cj)]

    def _response_model(self, array: PassiveCrossbar, target_mean: float, ri: np.ndarray, cj: np.ndarray):
        """The model's linear response (``write_compensation_model = "response"``, :mod:`.passive_response`)
        at the chord of the phase's mean target: the same pair as :meth:`_solved_model`."""
        if array not in self._responses:
            self._responses[array] = TileResponses(array)
        responses = self._responses[array]
        index, g = responses.chord(float(target_mean))

        def volts(rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
            return responses.selected_voltages(index, rows, columns, ri, cj)
        return volts, 1.0 / g
