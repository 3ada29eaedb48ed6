"""Training settings: the in-situ rule and its peripheral choices, and the software baselines."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import ConfigError, param, validate

__all__ = ["TrainingConfig", "BaselineConfig"]


@dataclass(frozen=True)
class TrainingConfig:
    """Per-sample (online) in-situ training on the crossbars."""

    epochs: int = param(5, "1", "passes over the training set", lo=1, hi=1000)
    lr: float = param(0.3, "1", "learning rate of the in-situ rule (on logical weights in [-1, 1])",
                      lo=0.0, lo_open=True, hi=100.0)
    lr_decay: float = param(0.7, "1", "every learning rate (in-situ and baselines) is multiplied by this "
                            "after every epoch", lo=0.0,
                            lo_open=True, hi=1.0)
    margin: float | None = param(None, "1", "stop-learning: no update once the true class's score beats "
                                 "every other by this (None: always update)", lo=0.0)
    outputs_per_class: int = param(8, "1", "output neurons per class (population coding; the class score "
                                   "is their mean)", lo=1, hi=64)
    center_inputs: bool = param(True, "", "subtract the training-set mean from the inputs (signed inputs)")
    gain_scales: tuple[float, ...] = param((1.0, 4.0), "1", "gain of layer l = scale_l / sqrt(E|x_l|^2) "
                                           "(first layer, from the data) or scale_l / sqrt(fan-in) "
                                           "(later layers); the last value repeats", lo=0.0, lo_open=True)
    layer_lr_scales: tuple[float, ...] = param((1.0,), "1", "the in-situ learning rate of layer l is lr times "
                                               "scale_l (the last value repeats): a slower hidden layer",
                                               lo=0.0)
    eval_batch: int = param(1000, "1", "test samples evaluated per batch", lo=1)
    engine: str = param("auto", "", "how the per-sample loop runs: 'fused' (one compiled kernel per chunk of "
                        "samples: 1T1MTJ arrays on the CPU, metered or not; docs/speed.md), 'eager' (PyTorch "
                        "operations, every configuration) or 'auto' (fused where it applies)",
                        choices=("auto", "fused", "eager"))

    def __post_init__(self) -> None:
        validate(self)


@dataclass(frozen=True)
class BaselineConfig:
    """Software baselines on the same architecture, data, epochs and seed."""

    float_lr: float = param(0.1, "1", "learning rate of float per-sample SGD", lo=0.0, lo_open=True,
                            hi=100.0)
    binary_lr: float = param(0.03, "1", "learning rate of the binary (BinaryConnect) shadow weights",
                             lo=0.0, lo_open=True, hi=100.0)
    methods: tuple[str, ...] = param(("float", "binary_software", "exsitu"), "", "baselines to run "
                                     "(exsitu needs binary_software)",
                                     choices=("float", "binary_software", "exsitu"))

    def __post_init__(self) -> None:
        validate(self)
        if "exsitu" in self.methods and "binary_software" not in self.methods:
            raise ConfigError("methods: 'exsitu' programs the binary_software weights; add 'binary_software'")
