"""The periphery's compensation table (:mod:`mtjxbar.periphery.passive_response`) against the circuit solve of
the same linear model, on an array of four tile shapes with unequal row and column wires (a swapped layout
fails)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from mtjxbar.config import ConfigError
from mtjxbar.crossbar import ArrayConfig, BiasSolverConfig, CircuitSolverConfig, PassiveCrossbar
from mtjxbar.crossbar.circuit import solve_tiles_cells
from mtjxbar.crossbar.config import CircuitConfig
from mtjxbar.device import MTJParams, physics
from mtjxbar.periphery.arrays import make_array
from mtjxbar.periphery.passive_calibration import ReadCalibration
from mtjxbar.periphery.passive_compensation import WriteCompensation
from mtjxbar.periphery.passive_response import CHORD_STEP, TileResponses

DEV = MTJParams()


def _array(rows=80, cols=70, tile=32):
    config = ArrayConfig(kind="passive", circuit=CircuitConfig(r_wire_row=1.0, r_wire_col=2.5, r_driver=10.0),
                         tile_rows=tile, tile_cols=tile, write_compensation=2, write_compensation_model="response")
    return PassiveCrossbar(rows, cols, DEV, config, calibration=ReadCalibration(), compensation=WriteCompensation(),
                           dtype=torch.float64)


def _pattern(array, seed, off_r=0.2, off_c=0.3):
    """Random selected lines (sorted indices) with random sources; the others at one level per side."""
    rng = np.random.default_rng(seed)
    sel_r, sel_c = rng.random(array.rows) < 0.4, rng.random(array.cols) < 0.5
    rows = np.where(sel_r, 0.4 + 0.2 * rng.random(array.rows), off_r)
    cols = np.where(sel_c, -0.1 * rng.random(array.cols), off_c)
    return rows, cols, np.nonzero(sel_r)[0], np.nonzero(sel_c)[0]


@pytest.mark.parametrize(("seed", "every"), [(0, ""), (1, ""), (2, "rows"), (3, "cols"), (4, "both")])
def test_table_voltages_are_the_solved_linear_model(seed, every):
    """Every selected cell's voltage from the table equals the line relaxation's solve of the model (every
    cell at the chord's conductance, the array's write ports and wires, tile by tile) to 1e-9 relative; also
    with every row, every column or both selected (no line left at an unselected level)."""
    array = _array()
    responses = TileResponses(array)
    index, g = responses.chord(0.33)
    rows, cols, ri, cj = _pattern(array, seed)
    rng = np.random.default_rng(seed)
    if every in ("rows", "both"):
        ri = np.arange(array.rows)
        rows = 0.4 + 0.2 * rng.random(array.rows)
    if every in ("cols", "both"):
        cj = np.arange(array.cols)
        cols = -0.1 * rng.random(array.cols)
    got = responses.selected_voltages(index, rows, cols, ri, cj)
    want = solve_tiles_cells(rows[None], cols[None], np.ones((array.rows, array.cols), dtype=bool),
                             {"r_p": 1.0 / g, "tmr0": 0.0, "v_h": 1.0}, array.line_ends("write"),
                             *array.tile_starts, bias_dependent=False, tolerance=1e-14, max_sweeps=5000)[0]
    want = want[np.ix_(ri, cj)]
    assert np.abs(want).min() > 0.1  # the cells see the pattern, and the wires move them:
    assert np.abs(want - (rows[ri, None] - cols[None, cj])).max() > 1e-3
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_chords_follow_the_target_on_a_grid():
    """The chord is the phase's mean target rounded to the grid; the model cell there has the mean of the
    nominal P and AP conductances, which rises with the chord (TMR roll-off)."""
    responses = TileResponses(_array())
    index, g = responses.chord(0.31)
    assert index == round(0.31 / CHORD_STEP)
    r_ap = float(physics.ap_resistance(np.asarray(index * CHORD_STEP), DEV.r_p, DEV.tmr0, DEV.v_h))
    assert g == pytest.approx(0.5 * (1 / DEV.r_p + 1 / r_ap), rel=1e-12)
    assert responses.chord(0.0)[1] < g < responses.chord(0.6)[1]


def test_lines_off_their_level_are_refused():
    """The table adds the selected lines' departures to the unselected levels: an unselected line at another
    level would be lost, so it is an error, not a wrong voltage."""
    array = _array()
    responses = TileResponses(array)
    rows, cols, ri, cj = _pattern(array, 0)
    rows[np.setdiff1d(np.arange(array.rows), ri)[3]] += 0.01
    with pytest.raises(ValueError, match="one level"):
        responses.selected_voltages(responses.chord(0.3)[0], rows, cols, ri, cj)
    rows, cols, ri, cj = _pattern(array, 0)
    with pytest.raises(ValueError, match="sorted"):
        responses.selected_voltages(responses.chord(0.3)[0], rows, cols, ri[::-1], cj)


def test_response_tables_are_for_tiles_of_at_most_128():
    """A table grows as the tile side to the fourth power: an array whose tiles are larger is refused when
    built, naming the tiles (a smaller array under a large tile_rows is fine: its tiles are its size)."""
    config = ArrayConfig(kind="passive", write_compensation_model="response")  # tiles of up to 256
    with pytest.raises(ConfigError, match="tiles of 200 x 70 .*at most 128 x 128"):
        make_array(200, 70, DEV, config, BiasSolverConfig(), CircuitSolverConfig())
    make_array(100, 70, DEV, config, BiasSolverConfig(), CircuitSolverConfig())
    make_array(200, 70, DEV, dataclasses.replace(config, write_compensation_model="solve"), BiasSolverConfig(),
               CircuitSolverConfig())  # the solved model has no such limit
