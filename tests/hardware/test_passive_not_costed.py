"""Passive arrays are not costed: ``mtjxbar cost`` refuses them by name, a passive run's ``hardware`` block says
that its figures are not modelled instead of giving a 1T1MTJ array's."""

from __future__ import annotations

import pytest

from mtjxbar.cli.main import main
from mtjxbar.config import replace_path
from mtjxbar.experiments.config import ExperimentConfig
from mtjxbar.experiments.datasets import load_dataset
from mtjxbar.experiments.runner import run_experiment
from mtjxbar.hardware import estimate
from mtjxbar.nn import HardwareConfig


def test_estimate_refuses_a_passive_array():
    hw = replace_path(HardwareConfig(), "array.kind", "passive")
    with pytest.raises(ValueError, match="hardware.array.kind = 'passive'"):
        estimate(hw, layers=[8, 4])


def test_cost_cli_refuses_passive_in_one_line(capsys):
    code = main(["cost", "--layers", "8,4", "--set", "hardware.array.kind=passive"])
    err = capsys.readouterr()
    assert code == 2 and err.out == ""
    lines = err.err.strip().splitlines()
    assert len(lines) == 1 and "passive" in lines[0] and "1T1MTJ" in lines[0]


def test_passive_run_marks_its_hardware_block():
    config = ExperimentConfig()
    for path, value in (("hidden", (8,)), ("training.epochs", 1), ("data.max_train", 20), ("data.max_test", 20),
                        ("hardware.array.kind", "passive"), ("hardware.array.tile_rows", 32),
                        ("hardware.array.tile_cols", 32)):
        config = replace_path(config, path, value)
    results = run_experiment(config, data=load_dataset("digits", max_train=20, max_test=20), meter=True)
    hw = results["hardware"]
    assert hw["modelled"] is False and hw["array"] == "passive" and "not costed" in hw["note"]
    assert "insitu_parallel" not in hw
    assert "hardware" not in run_experiment(config, data=load_dataset("digits", max_train=20, max_test=20),
                                            meter=False)
