"""Cost-model settings: physical per-operation constants (:class:`CostConfig`) apart from schedule
choices (:class:`ScheduleConfig`). Every default names its source in the field's description."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import param, validate

__all__ = ["CostConfig", "ScheduleConfig"]


@dataclass(frozen=True)
class CostConfig:
    """Energy and latency of each hardware operation (SI units)."""

    # ------------------------------------------------------------------------------------ array lines
    read_pulse_width: float = param(10e-9, "s", "time the read voltages are held while the sensed lines "
                                    "integrate (NeuroSim's default, MLP+NeuroSim Param.cpp readPulseWidth "
                                    "= 10e-9)", lo=0.0, lo_open=True)
    line_capacitance_per_cell: float = param(0.1e-15, "F", "capacitance a line gains per cell along it: "
                                             "~0.2 fF/um local wire (ITRS/IRDS interconnect tables) over a "
                                             "~0.1 um cell pitch plus one access-transistor terminal "
                                             "(~0.05-0.1 fF at 22-45 nm); an order-of-magnitude estimate",
                                             lo=0.0)
    line_settle_time: float = param(1e-9, "s", "time a line driver takes to switch and settle a line "
                                    "(one clock cycle at 1 GHz; RC of a 1024-cell line is well below it)",
                                    lo=0.0)
    gate_voltage: float = param(1.1, "V", "word-line swing that turns the access transistors on "
                                "(NeuroSim Param.cpp accessVoltage = 1.1)", lo=0.0, lo_open=True, hi=5.0)
    # ------------------------------------------------------------------------------------- converters
    dac_energy: float = param(0.26e-12, "J", "energy of one DAC conversion (a line voltage or a column "
                              "write current): ~2^N C_u V^2 of an 8-bit capacitive DAC with C_u = 1 fF at "
                              "1 V (Saberi et al., IEEE TCAS-I 58, 1736 (2011))", lo=0.0)
    dac_time: float = param(1e-9, "s", "DAC settling time (one cycle at 1 GHz)", lo=0.0)
    adc_energy_per_step: float = param(10e-15, "J", "Walden figure of merit P/(f_s 2^ENOB): a conversion "
                                       "costs this times 2^bits; ~10 fJ/conv-step is typical of the SAR ADCs "
                                       "around 100 MS/s in Murmann's ADC Performance Survey (best ~1 fJ); "
                                       "8 bits then give 2.6 pJ, the order of the 8-bit ADC ISAAC (ISCA 2016) assumes",
                                       lo=0.0)
    adc_bits: int = param(8, "bit", "ADC resolution costed when the converters are ideal (adc_bits None); "
                          "8 bits as in ISAAC (Shafiee et al., ISCA 2016)", lo=1, hi=16)
    adc_time: float = param(10e-9, "s", "time of one conversion: a 100 MS/s SAR (the speed of the survey "
                            "designs the figure of merit above comes from)", lo=0.0)
    # -------------------------------------------------------------------------------- digital periphery
    digital_op_energy: float = param(1.5e-12, "J", "one digital multiply-add in the periphery: 16-bit FP "
                                     "add 0.4 pJ + multiply 1.1 pJ at 45 nm (Horowitz, ISSCC 2014)", lo=0.0)
    digital_op_time: float = param(1e-9, "s", "one digital operation per cycle at 1 GHz", lo=0.0)
    read_ops_per_line: int = param(4, "1", "digital operations per sensed line after a read: reference "
                                   "subtraction, ADC-code scaling, activation (or its derivative), error; "
                                   "counted from nn/linear.py and training/insitu.py", lo=0, hi=1000)
    counter_op_energy: float = param(0.03e-12, "J", "one per-row integer operation of a transfer (the carry's "
                                     "add on a row's counter bits, a verify read's compare): an 8-bit integer "
                                     "add, 0.03 pJ at 45 nm (Horowitz, ISSCC 2014); it takes digital_op_time",
                                     lo=0.0)
    encode_ops_per_line: int = param(2, "1", "digital operations per line to encode an update: pulse width "
                                     "of a row (scale, timer load) or current of a column (scale, look-up "
                                     "of the inverse switching model); counted from periphery/encoder.py",
                                     lo=0, hi=1000)
    # ------------------------------------------------------------------------------ reference processor
    reference_mac_energy: float = param(41e-12, "J", "energy per multiply-accumulate of the processor that "
                                        "trains ex-situ: NVIDIA A100 SXM, 400 W over 19.5 TFLOP/s FP32 = "
                                        "9.75e12 MAC/s (datasheet; whole-board power at full utilisation)",
                                        lo=0.0)
    reference_mac_time: float = param(1.0 / 9.75e12, "s", "time per multiply-accumulate of that processor "
                                      "at its peak FP32 rate (A100: 19.5 TFLOP/s; an optimistic bound for "
                                      "per-sample training)", lo=0.0)

    def __post_init__(self) -> None:
        validate(self)

    def adc_energy(self, bits: int | None) -> float:
        """Energy (J) of one conversion at ``bits`` (the configured ``adc_bits`` when None)."""
        return self.adc_energy_per_step * 2.0 ** (self.adc_bits if bits is None else bits)


@dataclass(frozen=True)
class ScheduleConfig:
    """How the operations are scheduled and what the ex-situ baseline programs (choices, not physics)."""

    lines_per_adc: int = param(1, "1", "sensed lines sharing one ADC (converted one after the other); 1: an "
                               "ADC per line, so conversions run in parallel across the array", lo=1, hi=4096)
    layers_update_concurrently: bool = param(True, "", "the arrays of different layers write at the same "
                                             "time (each has its own drivers); False: one after the other")
    program_current_ratio: float = param(1.0, "1", "ex-situ write-verify pulse current as a fraction of the "
                                         "critical current of the direction it drives", lo=0.0, lo_open=True,
                                         hi=10.0)
    program_pulse_width: float = param(10e-9, "s", "ex-situ write-verify pulse width (the encoder's default "
                                       "longest pulse)", lo=0.0, lo_open=True)
    program_changed_fraction: float = param(0.5, "1", "fraction of cells whose programmed state differs "
                                            "from the state they hold (0.5: random initial states against "
                                            "trained weights); the others need one verify read only",
                                            lo=0.0, hi=1.0)
    training_samples: int = param(60000, "1", "per-sample training steps that one programming of the "
                                  "ex-situ weights is amortised over (one MNIST epoch); a training run "
                                  "uses its own count", lo=1)

    def __post_init__(self) -> None:
        validate(self)
