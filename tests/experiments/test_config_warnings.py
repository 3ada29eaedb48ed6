"""The runner warns (stderr, one line each) about configurations that run but mean little: retention shorter
than the run, and devices that switch without current (``--delta 1``)."""

from __future__ import annotations

from mtjxbar.config import replace_path
from mtjxbar.experiments.config import ExperimentConfig
from mtjxbar.experiments.datasets import load_dataset
from mtjxbar.experiments.runner import config_warnings, run_experiment


def _config(delta: float) -> ExperimentConfig:
    config = ExperimentConfig()
    for path, value in (("hidden", (8,)), ("training.epochs", 1), ("data.max_train", 30), ("data.max_test", 20),
                        ("baselines.methods", ("float",)), ("hardware.device.delta", delta)):
        config = replace_path(config, path, value)
    return config


def test_defaults_give_no_warning():
    assert config_warnings(_config(40.0), 60000) == []


def test_low_delta_warns_about_retention_and_switching(capsys):
    lines = config_warnings(_config(1.0), 30)
    assert len(lines) == 2
    assert "retention" in lines[0] and "shorter than the run" in lines[0] and "delta = 1" in lines[0]
    assert "no current" in lines[1] and "p_max" in lines[1]
    run_experiment(_config(1.0), data=load_dataset("digits", max_train=30, max_test=20), meter=False)
    err = capsys.readouterr().err.strip().splitlines()
    assert [line for line in err if line.startswith("mtjxbar: warning: ")] == [f"mtjxbar: warning: {x}" for x in lines]


def test_retention_alone():
    # delta 20: 0.5 s retention, switching controllable; a long run outlives it
    lines = config_warnings(replace_path(_config(20.0), "training.epochs", 1000), 100000)
    assert len(lines) == 1 and "retention" in lines[0]
