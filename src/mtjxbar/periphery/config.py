"""Configuration of the periphery: converters, weight mapping and pulse encoder (each its own slice)."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import ConfigError, param, validate

__all__ = ["ConverterConfig", "MappingConfig", "EncoderConfig", "TransferConfig"]


@dataclass(frozen=True)
class ConverterConfig:
    """DAC on the driven lines, ADC on the sensed lines."""

    v_read: float = param(0.1, "V", "line voltage for a full-scale input (read and transposed read)",
                          lo=0.0, lo_open=True, hi=1.0)
    input_range: float = param(1.0, "1", "input magnitude that maps to v_read (larger inputs are clipped)",
                               lo=0.0, lo_open=True)
    dac_bits: int | None = param(None, "bit", "DAC resolution including sign (None: ideal)", lo=2, hi=16)
    adc_bits: int | None = param(None, "bit", "ADC resolution including sign (None: ideal)", lo=2, hi=16)
    adc_full_scale: float = param(0.25, "1", "ADC full scale as a fraction of the largest possible signed "
                                  "column current (all inputs at v_read, all weights aligned)",
                                  lo=0.0, lo_open=True, hi=1.0)

    def __post_init__(self) -> None:
        validate(self)


@dataclass(frozen=True)
class MappingConfig:
    """How binary MTJ states make a signed weight."""

    mtjs_per_synapse: int = param(1, "1", "MTJs per synapse whose currents add (k); each switched on its "
                                  "own by the same pulses", lo=1, hi=64)
    scheme: str = param("reference", "", "signed weights against a reference column of fixed resistors "
                        "at the mid conductance, or as differential pairs of MTJs",
                        choices=("reference", "differential"))

    def __post_init__(self) -> None:
        validate(self)


@dataclass(frozen=True)
class EncoderConfig:
    """The pulse encoder. ``scheme = "current"``: row pulse widths from |x|, column currents from |delta|
    and the learning rate (thermal regime, :mod:`mtjxbar.periphery.encoder`). ``scheme = "coincidence"``:
    stochastic pulse coincidence (:mod:`mtjxbar.periphery.coincidence`): in each of ``slots`` slots rows
    and columns fire at random with probabilities from |x| and |delta|, a fired column drives the fixed
    current ``overdrive`` x the nominal Ic0 of its polarity, every fired row gates for ``slot_width``."""

    pulse_width: float = param(10e-9, "s", "row pulse width for the largest |x| of a sample", lo=0.0,
                               lo_open=True, hi=1e-3)
    p_max: float = param(0.5, "1", "largest switching probability the encoder asks of a cell (clip)",
                         lo=0.0, lo_open=True, hi=0.999)
    p_min: float = param(1e-9, "1", "columns asked for less than this get no current (idle)",
                         lo=0.0, hi=1e-3)
    scheme: str = param("current", "", "update scheme: 'current' codes |x| as row pulse width and |delta| as "
                        "column current (thermal regime, exponential in I/Ic0); 'coincidence' fires random row "
                        "and column pulses of fixed width and overdrive current (precessional regime)",
                        choices=("current", "coincidence"))
    slots: int = param(8, "1", "coincidence scheme: number of coincidence slots BL per update (each slot is "
                       "up to 4 phases: row sign x polarity)", lo=1, hi=64)
    overdrive: float = param(2.0, "1", "coincidence scheme: write current as a multiple of the nominal Ic0 of "
                             "the polarity driven", lo=1.0, lo_open=True, hi=10.0)
    slot_width: float = param(10e-9, "s", "coincidence scheme: width of a row's gate pulse in one slot",
                              lo=0.0, lo_open=True, hi=1e-3)

    def __post_init__(self) -> None:
        validate(self)


@dataclass(frozen=True)
class TransferConfig:
    """The buffer-and-counter synapse (:mod:`mtjxbar.periphery.counter`, :class:`~mtjxbar.nn.TransferLinear`).

    Each synapse is a fast stochastic buffer of ``buffer_mtjs`` MTJs (written per sample by the pulse
    encoder, like a plain layer) and a counter of ``counter_bits`` one-MTJ bit tiles of significance 1, 2,
    4, ... (``u`` in 0 .. 2^bits - 1 stands for the weight ``(2u - L) / L``, ``L = 2^bits - 1``). Every
    ``samples_per_sweep`` samples each column is transferred once, column by column, cycling: the
    periphery reads the column of the buffer and of every bit tile, adds ``+- step`` to the counter of every
    row whose buffer reads ``+-1`` (carry in the per-row periphery, clipped to 0 .. L), writes the changed
    bits and resets those buffer cells with strong pulses (write-verify), so the counter moves in
    symmetric whole steps and stops where the gradient vanishes. Reads see ``W = C + gamma * step * LSB * A``.
    ``counter_bits = 0`` is the plain layer (independent flips, no transfer)."""

    counter_bits: int = param(0, "1", "one-MTJ bit tiles of the counter (0: no counter, the plain independent-"
                              "flip layer)", lo=0, hi=16)
    buffer_mtjs: int = param(2, "1", "MTJs of the buffer per synapse: 2 (or 4, 6, ...): read against the "
                             "reference column, balanced half P / half AP after a transfer; 1: one MTJ read "
                             "against a per-column reference that alternates every sweep", lo=1, hi=16)
    samples_per_sweep: int = param(64, "1", "samples between two transfers of the same column (every column "
                                   "once per sweep; output columns per sample = outputs / this)", lo=1,
                                   hi=10**7)
    step: int = param(1, "1", "counter steps (LSB) added per transfer", lo=1, hi=2**15)
    threshold: float = param(1.0, "1", "a row transfers when |buffer value| (in [-1, 1]) reaches this", lo=0.0,
                             lo_open=True, hi=1.0)
    gamma: float = param(1.0, "1", "weight of the buffer in reads, in transfer steps (1: a transfer leaves the "
                         "read weight unchanged; 0: the buffer is not read)", lo=0.0, hi=16.0)
    carry_overdrive: float = param(1.2, "1", "current of the counter's and buffer-reset write pulses as a "
                                   "multiple of the nominal Ic0 of the polarity driven", lo=0.0, lo_open=True,
                                   hi=10.0)
    carry_width: float = param(10e-9, "s", "width of a counter / buffer-reset write pulse", lo=0.0, lo_open=True,
                               hi=1e-3)
    verify_rounds: int = param(2, "1", "read-verify-rewrite rounds after a counter / reset write (0: write "
                               "once, unverified)", lo=0, hi=64)
    sense: str = param("threshold", "", "how a transfer reads a cell's state: 'threshold' (its current at "
                       "converters.v_read against the nominal P/AP midpoint; a cell whose own R_P or TMR spread "
                       "crosses the midpoint misreads every time) or 'two_bias' (nondestructive self-reference, "
                       "Chen et al., DATE 2010: the ratio of the cell's own conductances at sense_bias and at "
                       "v_read, 1 for P, above 1 for AP whose TMR falls with bias; immune to R_P spread, two "
                       "reads per sense)", choices=("threshold", "two_bias"))
    sense_bias: float = param(0.2, "V", "second read voltage of the two-bias sense (above converters.v_read; "
                              "keep the P cell's read current below Ic0)", lo=0.0, lo_open=True, hi=1.0)

    def __post_init__(self) -> None:
        validate(self)
        if self.buffer_mtjs > 1 and self.buffer_mtjs % 2:
            raise ConfigError(f"buffer_mtjs = {self.buffer_mtjs}: must be 1 or even (a balanced buffer holds "
                              "half its MTJs P and half AP)")

    @property
    def enabled(self) -> bool:
        return self.counter_bits > 0

    @property
    def levels(self) -> int:
        """``L = 2^bits - 1``: the counter holds 0 .. L."""
        return 2**self.counter_bits - 1

    @property
    def lsb(self) -> float:
        """Weight of one counter step (``2 / L``)."""
        return 2.0 / self.levels

    @property
    def mtjs_per_synapse(self) -> int:
        return self.buffer_mtjs + self.counter_bits
