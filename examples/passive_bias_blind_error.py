"""How far from the exact passive write is a linear model that knows the states, at one conductance per
junction? A measurement for issue 23.

The ninth round of docs/passive.md costs a fast write path built on per-tile linear responses: the cell
voltages as a linear function of the line sources, in the tile's current states. A response built once per
state pattern is linear, so each junction has one conductance, whatever the pattern's bias. The exact write
circuit has bias-dependent TMR: an AP junction's resistance falls with its voltage, and a pattern's aimed,
half-selected and unselected AP cells sit at different points of that curve. This script measures what that
costs such a model: the circuit solved exactly with every AP junction at its *chord* conductance ``g(V_ref)``
(the conductance it has at ``V_ref``; ``V_ref = 0``: zero bias), against the exact solve with the roll-off,
with the same sources (the held pattern's, after the periphery's compensation, which sees neither the states
nor the roll-off). The chord is what a response can be built at; which ``V_ref`` to build it at is the
choice the table informs (``--chords``).

Each linear solve is also shown after a cheap per-cell correction, :func:`own_path_corrected`: each cell's
*own* roll-off put back through its path to the drivers. What remains is the roll-off of the *other* AP
cells, carried by the shared lines, which only an iteration over the lines (a relaxation sweep) restores.

The phase and the state patterns are ``passive_state_blind_bound.py``'s: one 64 x 64 tile, half of the rows
at 2-10 ns, 40 % of the columns at 30-60 uA, ``--draws`` random state patterns (half AP), the periphery's
write compensation (2 steps). Per class of cells, over the (draw, cell) pairs that find the cell in the state
the phase switches from and at 50 mV or more: the median of ``|V_linear - V_exact| / |V_exact|`` and the share
above the issue's 0.5 %. A to-AP phase switches P cells, whose own conductance does not roll off: the
correction leaves them as they are.

    python examples/passive_bias_blind_error.py        # 1 and 2.5 ohm, V/2 and V/3, both polarities (~20 s)

Writes ``docs/results/passive_bias_blind_error.md`` (``--out``).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import torch
from passive_state_blind_bound import CLASSES, LIMIT, class_masks, switchable, test_phase, write_markdown

from mtjxbar.crossbar import TO_AP, TO_P, ArrayConfig, PassiveCrossbar, WritePhase
from mtjxbar.crossbar.circuit import solve_tiles_cells
from mtjxbar.crossbar.config import CircuitConfig, CircuitSolverConfig
from mtjxbar.crossbar.passive.scheme import column_write_voltages, phase_levels
from mtjxbar.device import MTJParams, physics
from mtjxbar.periphery.passive_calibration import ReadCalibration
from mtjxbar.periphery.passive_compensation import WriteCompensation, write_path

ROOT = Path(__file__).resolve().parents[1]
FLOOR = 0.05  # V: the least |V| a relative error is taken at (V/2 leaves unselected cells near 0 V)


CHORDS = (0.0, 0.2, 0.3, 0.4)  # V: the chord voltages of the table


def tile(ohm: float, scheme: str, size: int = 64, device: MTJParams | None = None) -> PassiveCrossbar:
    """One ``size`` x ``size`` tile with wires of ``ohm`` a segment, the write ``scheme``, the periphery's
    compensation (2 steps) and the reference write solver."""
    config = ArrayConfig(kind="passive", circuit=CircuitConfig(r_wire_row=ohm, r_wire_col=ohm), tile_rows=64,
                         tile_cols=64, write_compensation=2, write_scheme=scheme)
    return PassiveCrossbar(size, size, device or MTJParams(), config, calibration=ReadCalibration(),
                           compensation=WriteCompensation(), dtype=torch.float64,
                           solver=CircuitSolverConfig(write_solver="exact"))


def held_sources(array: PassiveCrossbar, phase: WritePhase) -> tuple[np.ndarray, np.ndarray]:
    """The held pattern's row and column sources (V) of ``phase``, compensated as the array's writes are (the
    periphery sees neither the states nor the roll-off: one set for every draw and every model)."""
    v_cols = column_write_voltages(phase, v_max=array.array.write_voltage_max, **array.mean_params())
    on, _, cols = phase_levels(array.array.write_scheme, phase.row_widths > 0, v_cols, phase.polarity)
    sign = 1.0 if phase.polarity == TO_P else -1.0
    return array.compensation.compensate(array, on.numpy().copy(), cols.numpy().copy(),
                                         (phase.row_widths > 0).numpy(), v_cols.numpy() > 0, v_cols.numpy(), sign)


def solve_held(array: PassiveCrossbar, rows: np.ndarray, cols: np.ndarray, chord: float | None) -> np.ndarray:
    """Cell voltages (N, M) of the write circuit in the array's states, exact: with the TMR roll-off
    (``chord`` None), or with every AP junction fixed at its conductance at ``chord`` volts (P junctions at
    ``r_p`` either way)."""
    params = array.cell_params_np()
    params = {k: params[k] for k in ("r_p", "tmr0", "v_h")}
    settings = array.relaxation_settings("write")
    if chord is not None:
        params["tmr0"] = physics.ap_resistance(chord, params["r_p"], params["tmr0"], params["v_h"]) / params["r_p"] - 1
        settings["bias_dependent"] = False
    return solve_tiles_cells(rows[None], cols[None], array.parallel.numpy(), params, array.line_ends("write"),
                             *array.tile_starts, **settings)[0]


def held_voltages(ohm: float, scheme: str, phase: WritePhase, draws: int, chords=CHORDS, size: int = 64,
                  device: MTJParams | None = None) -> tuple[np.ndarray, dict, np.ndarray, np.ndarray]:
    """The held pattern's cell voltages (draws, size, size) of ``phase`` on one tile, exact with the roll-off
    and exact at each chord (a dict by chord voltage), the states (True: P) of each draw, and each cell's path
    resistance to its drivers (:func:`write_path`, ohm)."""
    array = tile(ohm, scheme, size, device)
    rows, cols = held_sources(array, phase)
    exact, linear, states = [], {c: [] for c in chords}, []
    for d in range(draws):
        parallel = torch.rand(size, size, generator=torch.Generator().manual_seed(100 + d)) < 0.5
        array.set_states(parallel)
        exact.append(solve_held(array, rows, cols, None))
        for c in chords:
            linear[c].append(solve_held(array, rows, cols, c))
        states.append(parallel.numpy())
    return np.stack(exact), {c: np.stack(v) for c, v in linear.items()}, np.stack(states), write_path(array)


def own_path_corrected(linear: np.ndarray, states: np.ndarray, path: np.ndarray, device: MTJParams,
                       chord: float = 0.0, rounds: int = 3) -> np.ndarray:
    """The linear voltages (solved with AP junctions at their ``chord`` conductance ``g0``) with each cell's
    *own* roll-off put back, a cheap per-cell correction: seen from the cell, the rest of the tile is a source
    behind its path resistance ``R`` (Thevenin, as the compensation's own-current correction), so
    ``v = v_lin (1 + g0 R) / (1 + g(v) R)`` with ``g(v)`` its biased conductance, solved by ``rounds``
    fixed-point steps. ``R`` is :func:`write_path`'s wire path, an upper bound on the true Thevenin resistance
    (the other cells add parallel paths; some 15-20 % lower on a 64 x 64 tile at 1 ohm), and the device is
    the nominal one (no variation). What it leaves is the other cells' roll-off, carried by the lines."""
    g0 = np.where(states, 1.0 / device.r_p, 1.0 / physics.ap_resistance(chord, device.r_p, device.tmr0, device.v_h))
    v = linear.copy()
    for _ in range(rounds):
        g = np.where(states, 1.0 / device.r_p, 1.0 / physics.ap_resistance(np.abs(v), device.r_p, device.tmr0,
                                                                            device.v_h))
        v = linear * (1.0 + g0 * path) / (1.0 + g * path)
    return v


def errors(exact: np.ndarray, linear: np.ndarray, states: np.ndarray,
           phase: WritePhase) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per class, over the (draw, cell) pairs that find the cell in the state the phase switches from: the
    absolute errors (V), the relative errors of the pairs with ``|V_exact| >= FLOOR``, and ``|V_exact|``."""
    masks, own = class_masks(phase), switchable(states, phase)
    err, size = np.abs(linear - exact), np.abs(exact)
    out = {}
    for name, m in masks.items():
        pick = own & m[None]
        big = pick & (size >= FLOOR)
        out[name] = (err[pick], err[big] / size[big], size[pick])
    return out


MIN_PAIRS = 20  # fewer pairs in a class: no figure (V/2 leaves unselected cells near 0 V)


def _cell(rel: np.ndarray) -> str:
    return f"{100 * np.median(rel):.2f} % ({100 * np.mean(rel > LIMIT):.0f} %)" if rel.size >= MIN_PAIRS else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=6, help="state patterns per phase (at least 1)")
    parser.add_argument("--ohms", type=float, nargs="+", default=[1.0, 2.5], help="wire resistance per segment")
    parser.add_argument("--chords", type=float, nargs="+", default=list(CHORDS), help="chord voltages (V, >= 0)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "passive_bias_blind_error.md")
    args = parser.parse_args()
    if args.draws < 1:
        parser.error(f"--draws {args.draws}: at least 1 state pattern")
    if any(not (ohm > 0 and math.isfinite(ohm)) for ohm in args.ohms):
        parser.error(f"--ohms {args.ohms}: wire resistances must be finite and > 0 (with ideal wires nothing is "
                     "solved)")
    if any(not (c >= 0 and math.isfinite(c)) for c in args.chords):
        parser.error(f"--chords {args.chords}: chord voltages must be finite and >= 0")
    torch.set_num_threads(1)
    device = MTJParams()
    chords = " | ".join(f"{c:g} V + own path" for c in args.chords)
    lines = ["# How far a linear model that knows the states is from the exact passive write (issue 23)", "",
             "`python examples/passive_bias_blind_error.py` (module docstring): one write phase of a 64 x 64 tile "
             "(half of the rows selected, 2-10 ns; 40 % of the columns, 30-60 uA), the periphery's write "
             f"compensation (2 steps), {args.draws} random state patterns (half AP). The circuit solved exactly with "
             "every AP junction at one chord conductance, its conductance at `V_ref` (0 V: zero bias), against the "
             "exact solve with the TMR roll-off, same sources; `+ own path`: after each cell's own roll-off is put "
             "back through its path to the drivers (`own_path_corrected`). Counted: the (draw, cell) pairs that find "
             f"the cell in the state the phase switches from, at {1e3 * FLOOR:.0f} mV or more. Each entry: the median "
             f"relative error (the share above the issue's {100 * LIMIT:.1f} %); `-`: fewer than {MIN_PAIRS} "
             "pairs.", "",
             f"| wire (ohm / segment) | scheme | polarity | cells | pairs | mean abs. V (mV) | 0 V | {chords} |",
             "|---" * (7 + len(args.chords)) + "|"]
    for ohm in args.ohms:
        for scheme in ("v2", "v3"):
            for polarity in (TO_P, TO_AP):
                phase = test_phase(64, polarity)
                solved = tuple(sorted({0.0, *args.chords}))  # zero bias, the reference column, always
                exact, linear, states, path = held_voltages(ohm, scheme, phase, args.draws, solved, device=device)
                raw = errors(exact, linear[0.0], states, phase)
                fixed = [errors(exact, own_path_corrected(linear[c], states, path, device, c), states, phase)
                         for c in args.chords]
                for name in CLASSES:
                    _, rel, volts = raw[name]
                    lines.append(f"| {ohm:g} | {scheme.upper().replace('V', 'V/')} | {polarity} | {name} | "
                                 f"{rel.size} | {1e3 * volts.mean():.0f} | {_cell(rel)} | "
                                 + " | ".join(_cell(f[name][1]) for f in fixed) + " |")
                    print(lines[-1], flush=True)
    write_markdown(args.out, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
