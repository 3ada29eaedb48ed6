"""Configuration of the periphery: converters, weight mapping and pulse encoder (each its own slice)."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import param, validate

__all__ = ["ConverterConfig", "MappingConfig", "EncoderConfig"]


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
