"""The passive (0T1MTJ) array (:class:`PassiveCrossbar`): bare junctions at the crossings, read and written
through the circuit of each tile.

What is modelled:

* **Tiles**: a logical array larger than ``tile_rows x tile_cols`` is split into tiles, each its own
  circuit with its own drivers and sense amplifiers; the periphery adds the partial column sums of the tiles
  that share columns (and the partial row sums of a transposed read).
* **Reads** (:mod:`.array`, ``ArrayConfig.fidelity``): ``ideal`` (every cell at its row voltage, wires
  ignored), ``lumped`` (each cell's own path resistance in series) or ``exact`` (every tile's circuit solved,
  sneak paths and IR drop included, bias-dependent TMR: :mod:`mtjxbar.crossbar.circuit`). With wires, the
  drive and sense gains the periphery calibrated (:class:`ReadGains`) are applied.
* **Writes** (:mod:`.writes`): each phase of a plan becomes one V/2 or V/3 half-select pattern
  (:mod:`.scheme`); every cell with a voltage across it gets the device model's hazard for its direction
  over the held and the released interval (:mod:`.survival`), half-selected cells included: flips the phase
  did not aim at are counted as disturbs. With wires the periphery may move the sources against the IR
  drop first (:class:`WriteSources`). ``CircuitSolverConfig.write_solver``: ``fast`` (default) solves the
  write circuits and the compensation model to ``fast_write_tolerance`` with over-relaxed sweeps, and the
  released pattern only on tiles where a row is released early; ``exact`` to ``relaxation_tolerance`` with
  plain sweeps everywhere (the reference; ``tests/crossbar/test_passive_fast.py`` holds them within 0.5 %).

What is ideal or ignored: the held-pattern solve holds every selected row at once (an upper bound on the
IR drop of rows released early); the precessional term is treated as a memoryless hazard like the thermal
one; drivers are ideal sources behind ``r_driver`` (no compliance); DC circuits only (no line RC, no
settling); no read disturb. Not modelled yet: the cycle-to-cycle spread of Ic0 (an array is given one by
``manufacture`` / ``set_c2c``, and its writes do not draw it: only the 1T1MTJ array's do), and the
coincidence (stochastic pulse-stream) scheme, which a passive write refuses.

The periphery's algorithms (read calibration, write compensation) are the periphery's
(:mod:`mtjxbar.periphery.passive_calibration`, :mod:`mtjxbar.periphery.passive_compensation`): the array
states what it asks of them (:class:`ReadGains`, :class:`WriteSources`) and is given them
(:func:`mtjxbar.periphery.arrays.make_array`), so ``crossbar`` never imports ``periphery``.

Oracles: ``tests/crossbar/test_passive.py`` (an ideal passive read is the access-free 1T1MTJ read; the fused
survival kernel against the tensor device model; disturbs under V/2 and V/3; calibration and compensation),
``tests/crossbar/test_line_relaxation.py`` (tiled reads against :class:`~mtjxbar.crossbar.circuit.CircuitSolver`
and ngspice) and ``tests/nn/test_passive_linear.py`` (layers on passive arrays).
"""

from .array import PassiveCrossbar, ReadGains, WriteSources, tile_slices
from .writes import PassiveWriteResult

__all__ = ["PassiveCrossbar", "PassiveWriteResult", "ReadGains", "WriteSources", "tile_slices"]
