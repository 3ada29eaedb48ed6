"""Read calibration of passive arrays: per-tile drive and sense gains fitted on a state-blind model of a tile.

With resistive wires a passive tile's read loses current along its lines (IR drop) and into sneak paths, by
an amount that depends on where a cell sits along both of its lines. The periphery cannot see the states,
so it calibrates on a *model* of the tile (:func:`state_blind_model`: every cell at the mean of the nominal
P and AP conductances, linear) and sets, once per tile shape and read direction, the DAC value of each
driven line (drive gains) and the gain of each sensed line (``ArrayConfig.read_calibration``):

* ``columns``: sensed-line gains alone, the ideal-wire current over the modelled one with every driven line
  at 1 V (the average loss of a sensed line, weighted as if every input were equal);
* ``cells``: drive and sense gains together, fitted so that every cell's modelled transfer is its own
  conductance to within the fit's residual (see :meth:`ReadCalibration.tile_gains`);
* ``off``: none (the raw circuit).

This is the periphery's algorithm; the array applies the gains it is given
(:class:`mtjxbar.crossbar.passive.ReadGains`: ``crossbar`` sits below ``periphery`` and never imports it).
The model is the same wherever a tile sits, so each tile shape is fitted once per array and read direction.
``tests/crossbar/test_passive.py`` checks that the calibrated reads do not depend on the states and that a
cell-calibrated tile transfers every cell's own conductance.
"""

from __future__ import annotations

import weakref

import numpy as np

from ..crossbar.circuit import LineEnds, solve_tiles_currents
from ..crossbar.passive import PassiveCrossbar
from ..device import physics

__all__ = ["ReadCalibration", "state_blind_model"]


def state_blind_model(array: PassiveCrossbar, volts: np.ndarray | None = None) -> tuple[float, np.ndarray, dict]:
    """What the periphery knows of an array: every cell at the mean of the nominal P and AP conductances,
    linear (not the states): ``(g_mean, states, params)`` for the relaxation solver. ``volts`` (N, M): the
    voltage the periphery's own pattern puts across each cell; each model cell then takes the mean
    conductance at its voltage (the nominal TMR roll-off; ``g_mean`` is then the zero-bias value)."""
    dev = array.device_params
    g_mean = 0.5 * (1.0 / dev.r_p + 1.0 / dev.r_ap)
    g = g_mean
    if volts is not None:
        r_ap = physics.ap_resistance(np.asarray(volts, dtype=np.float64), dev.r_p, dev.tmr0, dev.v_h)
        g = 0.5 * (1.0 / dev.r_p + 1.0 / r_ap)
    return g_mean, np.ones((array.rows, array.cols), dtype=bool), {"r_p": 1.0 / g, "tmr0": 0.0, "v_h": 1.0}


class ReadCalibration:
    """The read gains of passive arrays (:class:`mtjxbar.crossbar.passive.ReadGains`), computed once per array
    and read direction (``ArrayConfig.read_calibration`` of the array decides which)."""

    def __init__(self) -> None:
        self._gains: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # array -> {purpose: gains}

    def gains(self, array: PassiveCrossbar, purpose: str) -> tuple[tuple, tuple] | None:
        """Read gains of ``purpose`` (``read`` / ``transposed``): ``(sense, drive)``, each ``(rows per column
        tile, columns per row tile)`` as :func:`~mtjxbar.crossbar.circuit.solve_tiles_currents` takes them;
        None without calibration (or with ideal wires). Every tile gets the gains of :meth:`tile_gains` for
        its shape: the periphery's model of a tile is the same wherever the tile sits."""
        if array.array.read_calibration == "off" or array.array.circuit.ideal_wires:
            return None
        known = self._gains.setdefault(array, {})
        if purpose in known:
            return known[purpose]
        transposed = purpose == "transposed"
        rows, cols = array.rows, array.cols
        sense = (np.ones((len(array.col_tiles), rows)), np.ones((len(array.row_tiles), cols)))
        drive = (np.ones((len(array.col_tiles), rows)), np.ones((len(array.row_tiles), cols)))
        shapes: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        for ti, rs in enumerate(array.row_tiles):
            for tj, cs in enumerate(array.col_tiles):
                shape = (rs.stop - rs.start, cs.stop - cs.start)
                if shape not in shapes:
                    shapes[shape] = self.tile_gains(array, *shape, purpose)
                d, g = shapes[shape]
                if transposed:  # columns driven, rows sensed
                    drive[1][ti, cs], sense[0][tj, rs] = d, g
                else:
                    drive[0][tj, rs], sense[1][ti, cs] = d, g
        known[purpose] = (sense, drive)
        return known[purpose]

    @staticmethod
    def tile_gains(array: PassiveCrossbar, n: int, m: int, purpose: str) -> tuple[np.ndarray, np.ndarray]:
        """Drive and sense gains of an ``n x m`` tile of ``array`` read for ``purpose``, from the periphery's
        model of it (every cell at the mean of the nominal P and AP conductances, linear; :func:`state_blind_model`).

        ``columns``: every driven line at 1 V; a sensed line's gain is its ideal-wire current over the modelled one
        (drive gains 1). This removes the average loss of a sensed line, weighted as if every input were equal.
        ``cells``: each driven line alone at 1 V gives the modelled transfer ``c_ab`` of every cell (driven line
        ``a``, sensed line ``b``: its current into the sense side, sneak losses into the other lines included);
        ``log(g / c_ab)`` is fitted by ``u_a + w_b`` (least squares, closed form) and line ``a`` is driven
        ``exp(u_a)`` times its voltage, line ``b`` sensed with gain ``exp(w_b)`` (drive gains of geometric mean 1).
        The model's transfer is then every cell's own conductance to within the fit's residual
        (docs/passive.md), for any input: the losses of a cell depend on where it sits along both of its lines,
        which sensed-line gains alone cannot follow."""
        g_mean, _, params = state_blind_model(array)
        mode = array.array.read_calibration
        transposed = purpose == "transposed"
        driven, sensed = (m, n) if transposed else (n, m)
        full = array.line_ends(purpose)
        ends = LineEnds(full.end_r[:n], full.end_c[:m], full.far_r, full.far_c, full.w_r, full.w_c)
        pattern = np.ones((1, driven)) if mode == "columns" else np.eye(driven)
        idle = np.zeros((pattern.shape[0], sensed))
        src_r, src_c = (idle, pattern) if transposed else (pattern, idle)
        out_r, out_c = solve_tiles_currents(src_r, src_c, np.ones((n, m), dtype=bool), params, ends,
                                            np.array([0, n]), np.array([0, m]), bias_dependent=False,
                                            tolerance=1e-12)
        currents = np.abs(out_r if transposed else out_c)  # (patterns, sensed)
        if mode == "columns":
            return np.ones(driven), driven * g_mean / currents[0]
        lg = np.log(g_mean / currents)  # (driven, sensed): what each cell's transfer lacks, in log
        u = lg.mean(1) - lg.mean()
        return np.exp(u), np.exp(lg.mean(0))
