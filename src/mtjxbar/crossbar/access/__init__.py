"""The 1T1MTJ array (:class:`Crossbar`): every MTJ in series with its own access transistor.

What is modelled:

* **Reads** (:mod:`.reads`): rows carry the read voltages, columns are sensed at virtual ground (TIA). The
  transistors isolate the cells and the wires are ideal, so a cell's current depends only on its own row
  voltage: ``I_j = sum_i v_i G_ij(v_i)``, with ``G_ij(v)`` the conductance of MTJ + transistor (a fixed
  on-resistance ``ArrayConfig.r_access``) and, with bias-dependent TMR, the junction voltage solved
  self-consistently (:func:`mtjxbar.device.physics.junction_voltage_step`, to ``BiasSolverConfig.tolerance``).
  Uniform arrays interpolate G_AP(v) from a table of that solve; per-cell parameters use a per-cell
  Chebyshev fit (:mod:`.cell_reads`), or the exact solve where the fit falls short.
* **Writes**: in a phase, row ``i`` gates its transistors for ``t_i`` and column ``j`` drives ``I_j`` in
  one polarity; cell (i, j) sees the pulse ``(I_j, t_i)`` and, if the polarity can change its state,
  switches with :func:`mtjxbar.device.switching_probability` for its own parameters (cycle-to-cycle factor
  on Ic0 included). Cells of ungated rows see nothing (no half-select). Samplers of one distribution: dense
  (:mod:`.dense_write`, the reference, any plan), sparse (:mod:`.sparse_write`, the encoder's outer-product
  plans in the thermal regime, O(rows + cols + events)), one column (:mod:`.column_write`), coincidence
  (:mod:`.coincidence_write`, stochastic pulse streams) and a stream of outer-product plans applied in order
  by one compiled loop (:mod:`.stream_write`, a convolution's positions; the sparse or dense sampler per
  plan).
* **Events** (:mod:`.events`): every read, write phase (each reached cell's resistance) and outcome, for
  the cost model.

What is ideal or ignored: wires and their IR drop (a 1T1MTJ tile with resistive wires is a
:class:`~mtjxbar.crossbar.circuit.CircuitSolver` with ``r_access``, not this class); the transistor is a
fixed resistor (no gate-voltage dependence, no leakage when off); the column driver delivers ``I_j`` to
every reached cell of its column for the cell's row width (its compliance and total current are not
modelled); no read disturb, no heating, no temperature.

Validity: the read table spans the largest voltage seen (or the DAC's full scale) and is rebuilt when a
read outgrows it; the sparse sampler steps aside for the dense one above a cell's Ic0 or at many expected
switching attempts, decided before anything is drawn.

Oracles: ``tests/crossbar/test_array.py`` (hand-computed and closed-form reads, flip rates against the
device model), ``tests/crossbar/test_sparse_sampler.py`` (the sparse sampler against the dense
probabilities), ``tests/crossbar/test_c2c_per_cell.py`` (the cycle-to-cycle factor per cell),
``tests/crossbar/test_coincidence_write.py``, and ``tests/training/test_fused.py`` (the compiled loop,
which reads and writes this array through :meth:`Crossbar.kernel_view`, against it).
"""

from .array import SAMPLERS, Crossbar, KernelView
from .reads import access_ap_conductance

__all__ = ["Crossbar", "KernelView", "SAMPLERS", "access_ap_conductance"]
