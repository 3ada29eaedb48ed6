"""examples/passive_bias_blind_error.py: how far a linear model of a passive write that knows the states, at one
(chord) conductance per junction, is from the exact circuit with the TMR roll-off."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mtjxbar.crossbar import TO_AP, TO_P, WritePhase
from mtjxbar.device import MTJParams, physics


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("examples/passive_bias_blind_error.py")


def test_errors_count_the_switchable_pairs_of_each_class(script):
    """Only (draw, cell) pairs in the state the phase switches from count; relative errors only at FLOOR
    or more (V/2 leaves unselected cells near 0 V)."""
    phase = WritePhase(row_widths=torch.tensor([1e-8, 0.0], dtype=torch.float64),
                       col_currents=torch.tensor([5e-5, 0.0], dtype=torch.float64), polarity=TO_P)
    exact = np.array([[[0.40, 0.20], [0.10, 0.01]], [[0.40, 0.20], [0.10, 0.01]]])
    linear = exact + np.array([[[0.004, 0.001], [0.002, 0.001]], [[0.1, 0.0], [0.0, 0.0]]])
    states = np.zeros((2, 2, 2), dtype=bool)  # AP everywhere, switchable in a to-P phase
    states[1, 0, 0] = True  # the second draw finds the selected cell in P: its 0.1 V error does not count
    out = script.errors(exact, linear, states, phase)
    err, rel, volts = out["selected"]
    assert err == pytest.approx([0.004]) and rel == pytest.approx([0.01]) and volts == pytest.approx([0.40])
    assert out["half-selected, selected row"][1] == pytest.approx([0.005, 0.0])
    assert out["half-selected, selected column"][1] == pytest.approx([0.02, 0.0])
    assert out["unselected"][0] == pytest.approx([0.001, 0.0])
    assert out["unselected"][1].size == 0  # 10 mV: under the floor
    to_ap = WritePhase(row_widths=phase.row_widths, col_currents=phase.col_currents, polarity=TO_AP)
    assert script.errors(exact, linear, states, to_ap)["selected"][0] == pytest.approx([0.1])  # P cells now


def test_own_path_correction_solves_an_isolated_cell(script):
    """One AP cell behind a path R from a source V: the linear voltage V / (1 + g0 R), g0 the cell's chord
    conductance, corrected for the cell's own roll-off solves v (1 + g(v) R) = V whatever the chord; with no
    path it is the linear voltage."""
    dev, r, v_src = MTJParams(), np.array([[2000.0]]), 0.6
    states = np.array([[False]])
    for chord in (0.0, 0.3):
        g0 = 1.0 / physics.ap_resistance(chord, dev.r_p, dev.tmr0, dev.v_h)
        linear = np.array([[v_src / (1.0 + g0 * r[0, 0])]])
        v = script.own_path_corrected(linear, states, r, dev, chord, rounds=60)[0, 0]
        g = 1.0 / physics.ap_resistance(v, dev.r_p, dev.tmr0, dev.v_h)
        assert v * (1.0 + g * r[0, 0]) == pytest.approx(v_src, rel=1e-9)
        assert script.own_path_corrected(linear, states, np.zeros((1, 1)), dev, chord)[0, 0] == linear[0, 0]
    zero = np.array([[v_src / (1.0 + r[0, 0] / physics.ap_resistance_zero_bias(dev.r_p, dev.tmr0))]])
    assert script.own_path_corrected(zero, states, r, dev)[0, 0] < zero[0, 0]  # a biased AP cell draws more


def test_the_sources_and_the_exact_solve_are_the_arrays_own(script):
    """held_sources + solve_held(None) reproduce the array's own write solve of the held pattern; with every
    cell P (no junction rolls off) every chord gives the exact voltages."""
    phase = script.test_phase(64, TO_P)
    array = script.tile(1.0, "v3")
    rows, cols = script.held_sources(array, phase)
    array.set_states(torch.rand(64, 64, generator=torch.Generator().manual_seed(5)) < 0.5)
    own = array.phase_cell_voltages(phase)[0].numpy()
    assert np.abs(script.solve_held(array, rows, cols, None) - own).max() < 1e-12
    array.set_states(torch.ones(64, 64, dtype=torch.bool))
    exact = script.solve_held(array, rows, cols, None)
    for chord in (0.0, 0.3):
        assert np.abs(script.solve_held(array, rows, cols, chord) - exact).max() < 1e-9


def test_the_roll_off_and_the_chord(script):
    """At 1 ohm a zero-bias model misses most aimed AP cells of a to-P phase by more than 0.5 % (the committed
    table: median about 1.5 %), more than the aimed P cells of a to-AP phase, and it gives them *more* voltage
    (less current on the lines). A chord near their bias with the own-path correction brings their median
    under 0.5 %; without roll-off (v_h far above any write voltage) every model is exact."""
    medians = {}
    for polarity in (TO_P, TO_AP):
        phase = script.test_phase(64, polarity)
        exact, linear, states, path = script.held_voltages(1.0, "v3", phase, 2, (0.0, 0.3))
        rel = script.errors(exact, linear[0.0], states, phase)["selected"][1]
        assert rel.size > 500
        medians[polarity] = np.median(rel)
        if polarity == TO_P:
            aimed = (~states) & ((phase.row_widths > 0).numpy()[:, None] & (phase.col_currents > 0).numpy())[None]
            assert np.median(np.abs(linear[0.0][aimed]) - np.abs(exact[aimed])) > 0
            fixed = script.own_path_corrected(linear[0.3], states, path, MTJParams(), 0.3)
            assert np.median(script.errors(exact, fixed, states, phase)["selected"][1]) < script.LIMIT
    assert medians[TO_P] > script.LIMIT and medians[TO_P] > 2 * medians[TO_AP]
    phase = script.test_phase(64, TO_P)
    exact, linear, _, _ = script.held_voltages(1.0, "v3", phase, 1, (0.0, 0.3), device=MTJParams(v_h=1e4))
    assert max(np.abs(v - exact).max() for v in linear.values()) < 1e-8
