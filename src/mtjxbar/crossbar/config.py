"""Configuration of an array (physical) and of its solvers (numerical), kept apart.

Physical: :class:`ArrayConfig` (kind, access transistor, wires, drivers, sense side, tiles, write scheme)
with its :class:`CircuitConfig` (the resistances the circuit solver sees). Numerical:
:class:`BiasSolverConfig` (the per-cell bias solve of the 1T1MTJ array without wires) and
:class:`CircuitSolverConfig` (the nodal-analysis solve of :mod:`.circuit`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import ConfigError, param, validate

__all__ = ["ArrayConfig", "BiasSolverConfig", "CircuitConfig", "CircuitSolverConfig", "ARRAY_KINDS", "FIDELITIES",
           "WRITE_SCHEMES", "WRITE_SOLVERS", "LINE_ENDS", "READ_CALIBRATIONS", "COMPENSATION_MODELS",
           "series_resistance"]

ARRAY_KINDS = ("1t1mtj", "passive")
FIDELITIES = ("ideal", "lumped", "exact")
WRITE_SCHEMES = ("v2", "v3")
WRITE_SOLVERS = ("exact", "fast")
LINE_ENDS = ("near", "far")
READ_CALIBRATIONS = ("cells", "columns", "off")
COMPENSATION_MODELS = ("solve", "response")


@dataclass(frozen=True)
class CircuitConfig:
    """Resistances around the cells: wires, drivers and the sense side (what :mod:`.circuit` solves).

    A row line has one wire segment before each of its cells counted from its ``near`` end (column 0) and
    one after its last cell toward the ``far`` end; columns likewise from row 0. The periphery of a line
    (driver and sense amplifier) sits at one end (``row_port``, ``col_port``); the other end is open.
    """

    r_wire_row: float = param(0.0, "ohm", "wire resistance of one row segment (between adjacent cells)", lo=0.0)
    r_wire_col: float = param(0.0, "ohm", "wire resistance of one column segment (between adjacent cells)",
                              lo=0.0)
    r_driver: float = param(0.0, "ohm", "output resistance of a line driver (DAC buffer, write driver)", lo=0.0)
    r_sense: float = param(0.0, "ohm", "input resistance of the sense side (0: virtual ground of a TIA)", lo=0.0)
    row_port: str = param("near", "", "end of the rows where drivers and sense amplifiers sit",
                          choices=LINE_ENDS)
    col_port: str = param("far", "", "end of the columns where drivers and sense amplifiers sit",
                          choices=LINE_ENDS)

    def __post_init__(self) -> None:
        validate(self)
        if (self.r_wire_row == 0.0) != (self.r_wire_col == 0.0):
            raise ConfigError(f"r_wire_row = {self.r_wire_row!r}, r_wire_col = {self.r_wire_col!r}: must be both "
                              "0 ohm (ideal wires) or both > 0 ohm")

    @property
    def ideal_wires(self) -> bool:
        return self.r_wire_row == 0.0


@dataclass(frozen=True)
class ArrayConfig:
    """Physical description of a crossbar array of MTJ cells."""

    kind: str = param("1t1mtj", "", "array kind: 1t1mtj (an access transistor in series with each MTJ) or "
                      "passive (0T1MTJ: the MTJ alone between its row and column line)", choices=ARRAY_KINDS)
    r_access: float = param(2.0e3, "ohm", "on-resistance of the access transistor in series with each MTJ "
                            "(a minimum-size NMOS in the triode region: 1-3 kOhm is typical)", lo=0.0)
    driver_compliance_voltage: float = param(
        1.2, "V", "1T1MTJ writes: the largest voltage a column write driver can put across a cell and its "
        "access transistor (its supply: the 1.1-1.2 V core supply of a 40 nm low-power process, the node of "
        "the default junction; cost.gate_voltage is 1.1 V); a write current is clipped to what this drives "
        "through the cell in the state it switches from", lo=0.0, lo_open=True)
    access_saturation_current: float = param(
        200e-6, "A", "1T1MTJ writes: the saturation current of the access transistor at the word-line voltage, "
        "the most any write current can be (an NMOS of W ~ 0.3-0.4 um at the ~500-600 uA/um on-current of "
        "low-power 40 nm logic; STT-MRAM cells size the transistor to about twice the switching current, "
        "Kawahara et al., Microelectron. Reliab. 52, 613 (2012), here 2 x 60 uA with margin)", lo=0.0,
        lo_open=True)
    circuit: CircuitConfig = field(default_factory=CircuitConfig)
    fidelity: str = param("exact", "", "read model of passive arrays: ideal (G V, wires ignored), lumped "
                          "(each cell in series with the wire and port resistance of its path), exact "
                          "(nodal analysis)", choices=FIDELITIES)
    read_calibration: str = param("cells", "", "passive arrays with resistive wires: gains the periphery sets once "
                                  "per tile from its model of the tile (every cell at the mean P/AP conductance; "
                                  "it does not know the states) against the IR drop and sneak losses: cells (a "
                                  "gain per driven line and per sensed line, fitted so that every cell's "
                                  "modelled transfer is its own conductance), columns (sensed-line gains only, "
                                  "every driven line at one voltage), off (raw sensed currents)",
                                  choices=READ_CALIBRATIONS)
    write_scheme: str = param("v2", "", "half-select scheme of passive writes: v2 (unselected lines at V/2) "
                              "or v3 (unselected rows at V/3, unselected columns at 2V/3)", choices=WRITE_SCHEMES)
    write_voltage_max: float = param(1.5, "V", "largest cell voltage a passive write may ask for (driver "
                                     "compliance)", lo=0.0, lo_open=True)
    write_compensation: int = param(2, "1", "IR-drop compensation of passive writes: correction steps of the "
                                    "selected rows' and columns' sources, computed by the periphery on a model "
                                    "of the tile with every cell at the mean of the P and AP conductances (it "
                                    "does not know the states): each step solves the model and moves the "
                                    "sources by the row + column split that best fits the selected cells' "
                                    "voltage shortfall; 0: sources set for ideal wires", lo=0, hi=10)
    write_compensation_model: str = param(
        "solve", "", "how the compensation evaluates its state-blind tile model in each step: solve (the model "
        "circuit of the phase, each model cell at the mean conductance at its own pattern voltage) or response "
        "(a table the periphery holds: the model tile's linear response to its line sources, one per tile shape "
        "and chord voltage on a 20 mV grid, every model cell at the mean conductance at the phase's mean target "
        "voltage; a product per selected cell instead of a circuit solve: docs/passive.md, tenth round; a table "
        "holds tile_rows x (tile_rows + tile_cols) x tile_cols values, 4.2 MB a shape and chord at 64 x 64: "
        "tiles of at most 128 x 128)", choices=COMPENSATION_MODELS)
    tile_rows: int = param(256, "1", "largest number of rows of one physical tile (larger layers are split)",
                           lo=1, hi=1 << 20)
    tile_cols: int = param(256, "1", "largest number of columns of one physical tile", lo=1, hi=1 << 20)

    def __post_init__(self) -> None:
        validate(self)


@dataclass(frozen=True)
class BiasSolverConfig:
    """Numerical settings of the self-consistent junction-voltage solve (bias-dependent TMR; Newton's method)."""

    tolerance: float = param(1e-9, "V", "stop when the junction voltage changes less than this", lo=0.0,
                             lo_open=True)
    max_iterations: int = param(30, "1", "Newton iterations at most", lo=1, hi=1000)

    def __post_init__(self) -> None:
        validate(self)


@dataclass(frozen=True)
class CircuitSolverConfig:
    """Numerical settings of the nodal-analysis solve (:class:`~mtjxbar.crossbar.circuit.CircuitSolver`).

    Linear solves: conjugate gradients preconditioned by exact per-line tridiagonal solves plus a coarse
    correction with one unknown per line, to ``rtol`` in relative residual. Bias-dependent TMR: Newton's
    method on the nodal equations until no node voltage moves more than ``newton_tolerance``. The reads and
    writes of passive arrays (every line at a port) use the line relaxation of
    :mod:`~mtjxbar.crossbar.circuit.line_relaxation` instead, to ``relaxation_tolerance``.
    """

    bias_dependent: bool = param(True, "", "model the TMR roll-off with bias (Newton iterations); false: cells "
                                 "at their zero-bias resistance (one linear solve, factorisation reused)")
    rtol: float = param(1e-11, "1", "relative residual at which a linear solve stops", lo=0.0, lo_open=True,
                        hi=1e-3)
    max_cg_iterations: int = param(500, "1", "conjugate-gradient iterations per linear solve at most", lo=1,
                                   hi=100000)
    newton_tolerance: float = param(1e-10, "V", "Newton stops when no node voltage changes more than this",
                                    lo=0.0, lo_open=True)
    max_newton_iterations: int = param(30, "1", "Newton iterations at most", lo=1, hi=1000)
    relaxation_tolerance: float = param(1e-9, "V", "passive arrays' tiled reads and writes (line relaxation, "
                                        "every line at a port): stop when no node moves more than this in a "
                                        "sweep", lo=0.0, lo_open=True, hi=1e-3)
    max_sweeps: int = param(500, "1", "line-relaxation sweeps at most", lo=1, hi=100000)
    write_solver: str = param("fast", "", "passive writes' circuit solves (each phase's held and released "
                              "patterns and the periphery's compensation model): exact (to "
                              "relaxation_tolerance, the reference) or fast (to fast_write_tolerance; cell "
                              "voltages within 0.5 % of exact, tests/crossbar/test_passive_fast.py)",
                              choices=WRITE_SOLVERS)
    fast_write_tolerance: float = param(1e-4, "V", "write_solver = fast: stop a write solve's line relaxation "
                                        "when no node moves more than this in a sweep (the error left is about "
                                        "this times the sweep's contraction, 0.05-0.3 at 1-2.5 ohm)", lo=0.0,
                                        lo_open=True, hi=1e-2)

    def __post_init__(self) -> None:
        validate(self)


def series_resistance(array: ArrayConfig) -> float:
    """Resistance (ohm) in series with each junction of a cell: the access transistor's on-resistance of a
    1T1MTJ array, none in a passive one (what the periphery's unit and reference conductances assume)."""
    return 0.0 if array.kind == "passive" else array.r_access
