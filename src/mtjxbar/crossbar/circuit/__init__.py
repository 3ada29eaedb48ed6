"""Circuit solvers: the resistive network of a crossbar (cells, wire segments, ports), solved exactly.

What is modelled:

* **The circuit** (:class:`~mtjxbar.crossbar.config.CircuitConfig`): every cell joins its row-line node and
  its column-line node where the lines cross; neighbouring nodes of a line are joined by one wire segment
  (``r_wire_row`` / ``r_wire_col``); each line has its port at one end (``row_port`` / ``col_port``: a
  driver behind ``r_driver``, a sense side at 0 V behind ``r_sense``, or nothing: floating), reached
  through one more segment. Tiles are independent circuits.
* **The cells** (:mod:`.cells`): ``R_P`` ohmic, ``R_AP(V_m)`` of :mod:`mtjxbar.device.physics` at the
  junction voltage (bias-dependent TMR), optionally in series with an access resistance (the junction
  voltage by the one Newton solver of :mod:`mtjxbar.device.physics`).

What is ideal or ignored: wires are pure resistances (no capacitance or inductance: DC solutions only, no
settling, no RC delay of a pulse); drivers are ideal sources behind a fixed resistance (no compliance, no
current limit); the sense side is a virtual ground behind ``r_sense``; transistors are fixed resistors;
no temperature, no electromigration, no read disturb.

Solvers (all solve the same equations):

* :class:`~.solver.CircuitSolver` (:mod:`.solver`, :mod:`.network`, :mod:`.transfer`, :mod:`.kernels`):
  Newton on the nodal equations, each step a conjugate-gradient solve preconditioned by a two-level
  line-wise (BNN) preconditioner; any port pattern (floating lines included); the reference, checked
  against ngspice to 1e-10 relative (``tests/crossbar/test_circuit_ngspice.py``).
* :mod:`.line_relaxation` (Numba): whole-line Gauss-Seidel for the circuits every passive read and write
  has (every line has a port: none floating), tiles in parallel; checked against :class:`CircuitSolver`
  (``tests/crossbar/test_line_relaxation.py``). It is what passive arrays train with.

Validity: the line relaxation contracts per sweep by the product of a row and a column factor
``~ 1 - 1/cosh(L sqrt(r_w g))`` (``L`` cells per line, ``r_w`` ohm per segment, ``g`` a cell's conductance;
see :mod:`.line_relaxation`): fast while ``L sqrt(r_w g)`` is small, slower as it grows; the CG solver has
no such limit. Numba kernels keep their own files (:mod:`.kernels`, :mod:`.line_relaxation`): a
cached compiled function's index follows its source file.
"""

from .cells import cell_current, zero_bias_conductance
from .line_relaxation import LineEnds, TileNodes, solve_tiles_cells, solve_tiles_currents, solve_tiles_nodes
from .solver import DRIVEN, FLOATING, LINE_MODES, SENSED, CircuitSolution, CircuitSolver, CircuitTransfer, lumped_series

__all__ = ["CircuitSolver", "CircuitSolution", "CircuitTransfer", "lumped_series", "DRIVEN", "SENSED", "FLOATING",
           "LINE_MODES", "cell_current", "zero_bias_conductance", "LineEnds", "TileNodes", "solve_tiles_cells",
           "solve_tiles_nodes", "solve_tiles_currents"]
