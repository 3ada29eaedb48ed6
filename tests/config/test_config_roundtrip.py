"""Configs: validation messages name the field path, and TOML/JSON round trips are lossless."""

from __future__ import annotations

import pytest

from mtjxbar.config import ConfigError, from_dict, replace_path, to_dict
from mtjxbar.experiments.config import ExperimentConfig, load_config, save_config


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_round_trip(tmp_path, suffix):
    config = ExperimentConfig()
    for path, value in [("hidden", (128, 32)), ("training.margin", 1.5), ("hardware.mapping.scheme",
                        "differential"), ("data.dataset", "mnist"), ("data.data_dir", "/x/y"),
                        ("hardware.converters.adc_bits", 6), ("baselines.methods", ("float",))]:
        config = replace_path(config, path, value)
    file = tmp_path / f"c{suffix}"
    save_config(config, file)
    assert load_config(file) == config
    assert from_dict(ExperimentConfig, to_dict(config)) == config


def test_examples_load():
    from pathlib import Path

    from mtjxbar.experiments.sweep_config import load_sweep

    loaded = {"sweep": 0, "config": 0}
    for file in (Path(__file__).resolve().parents[2] / "examples").glob("*.toml"):
        if "\n[sweep" in "\n" + file.read_text():  # a sweep file: an experiment config plus [sweep]
            assert load_sweep(file).base is not None
            loaded["sweep"] += 1
        else:
            assert load_config(file).hidden
            loaded["config"] += 1
    assert loaded["sweep"] >= 1 and loaded["config"] >= 1, loaded


@pytest.mark.parametrize(
    ("path", "value", "needle"),
    [
        ("hardware.device.tmr0", -1.0, "hardware.device.tmr0 = -1.0"),
        ("hardware.converters.adc_bits", 1, "hardware.converters.adc_bits = 1"),
        ("training.lr", "fast", "training.lr = 'fast': must be a number"),
        ("training.center_inputs", 1, "must be true or false"),
        ("seed", -1, "seed = -1"),
        ("hidden", (4, 0), "hidden[1] = 0"),
        ("baselines.methods", ("exsitu",), "add 'binary_software'"),
        ("hardware.encoder.pulse_width", float("nan"), "must be finite"),
        # a whole-number bound in full: 1.04858e+06 read as if 1048577 were allowed
        ("hardware.array.tile_rows", 1048577, "must be in [1, 1048576]"),
        ("seed", -1, "must be in [0, 9223372036854775807]"),
    ],
)
def test_invalid_values_name_the_field(path, value, needle):
    with pytest.raises(ConfigError) as err:
        replace_path(ExperimentConfig(), path, value)
    assert needle in str(err.value)


def test_unknown_keys_suggest():
    with pytest.raises(ConfigError, match=r"'hardware\.devise'.*did you mean 'device'"):
        from_dict(ExperimentConfig, {"hardware": {"devise": {}}})
