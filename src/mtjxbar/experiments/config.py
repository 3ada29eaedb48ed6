"""The experiment configuration: one tree of frozen dataclasses; each component gets its own branch."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..config import ConfigError, from_dict, param, to_dict, validate
from ..nn import HardwareConfig
from ..training import BaselineConfig, TrainingConfig
from .datasets import DATASETS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["DataConfig", "ExperimentConfig", "default_run_config", "load_config", "save_config"]


@dataclass(frozen=True)
class DataConfig:
    """Which data set, from where, and how much of it."""

    dataset: str = param("digits", "", "data set name", choices=DATASETS)
    data_dir: str | None = param(None, "", "directory of IDX files (mnist; fashion-mnist defaults to "
                                 "Debian's /usr/share/datasets/fashion-mnist)")
    max_train: int | None = param(None, "1", "use only the first N training samples", lo=1)
    max_test: int | None = param(None, "1", "use only the first N test samples", lo=1)

    def __post_init__(self) -> None:
        validate(self)
        if self.dataset == "digits" and self.data_dir is not None:
            raise ConfigError(f"data.data_dir = {self.data_dir!r} with data.dataset = 'digits': the digits set is "
                              "embedded and reads no files; name the data set of that directory with --dataset "
                              "(mnist or fashion-mnist), or drop --data-dir")


@dataclass(frozen=True)
class ExperimentConfig:
    """A whole experiment: data, network, hardware, in-situ training and baselines, one seed."""

    seed: int = param(0, "1", "experiment seed; every random generator is derived from it", lo=0,
                      hi=2**63 - 1)
    hidden: tuple[int, ...] = param((128,), "1", "hidden layer sizes (empty: a single-layer network)", lo=1,
                                    hi=65536, allow_empty=True)
    device: str = param("cpu", "", "torch device for the simulation", choices=("cpu", "cuda"))
    data: DataConfig = field(default_factory=DataConfig)
    hardware: HardwareConfig = field(default_factory=HardwareConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    baselines: BaselineConfig = field(default_factory=BaselineConfig)

    def __post_init__(self) -> None:
        validate(self)


def default_run_config() -> ExperimentConfig:
    """The embedded run (``mtjxbar train`` without ``--config``): the dataclass defaults (digits, 64-128-10,
    5 epochs) trained by the project's best rule, buffer-and-counter synapses (a 2-MTJ buffer and a 6-bit
    counter of one-MTJ tiles, 8 MTJs per synapse; docs/mnist.md) at the learning rate the
    digits search chose for it (lr 1.0, decay 0.7 per epoch). The dataclasses themselves keep the plain
    one-MTJ synapse (``transfer.counter_bits = 0``), so a config file says which rule it uses."""
    from ..config import replace_path

    config = ExperimentConfig()
    for path, value in (("hardware.transfer.counter_bits", 6), ("hardware.transfer.buffer_mtjs", 2),
                        ("training.lr", 1.0), ("training.lr_decay", 0.7)):
        config = replace_path(config, path, value)
    return config


def read_config_file(path: str | Path, what: str = "config") -> dict:
    """The table in a TOML file (or JSON when the name ends in .json); unreadable or malformed files raise
    a one-line :class:`ConfigError` naming the file and ``what`` it should be."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the {what} file ({err.strerror})") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not a text (UTF-8) {what} file ({err.reason} at byte {err.start})") from None
    try:
        return json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'TOML'}: {err}") from None


def load_config(path: str | Path) -> ExperimentConfig:
    """Read an ExperimentConfig from a TOML or JSON file (unknown keys are errors)."""
    data = read_config_file(path)
    try:
        return from_dict(ExperimentConfig, data)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def save_config(config: ExperimentConfig, path: str | Path) -> None:
    """Write a config as TOML (or JSON when the name ends in .json)."""
    path = Path(path)
    data = to_dict(config)
    if path.suffix == ".json":
        path.write_text(json.dumps(data, indent=2) + "\n")
    else:
        import tomli_w

        path.write_text(tomli_w.dumps(data))
