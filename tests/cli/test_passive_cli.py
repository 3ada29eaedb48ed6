"""``mtjxbar train --array passive``: flags to config paths, clean errors, an end-to-end run with disturbs."""

from __future__ import annotations

import json

import pytest

from mtjxbar.cli.main import _train_config, build_parser, main


def _config(argv: list[str]):
    return _train_config(build_parser().parse_args(["train", *argv]))


def test_passive_flags_set_the_array_config():
    array = _config(["--array", "passive", "--wire-resistance", "0.5", "--tile-size", "32", "--write-scheme", "v3",
                     "--fidelity", "lumped", "--compensation-model", "response"]).hardware.array
    assert array.kind == "passive" and array.write_scheme == "v3" and array.fidelity == "lumped"
    assert array.write_compensation_model == "response"
    assert _config(["--array", "passive"]).hardware.array.write_compensation_model == "solve"
    assert array.circuit.r_wire_row == array.circuit.r_wire_col == 0.5
    assert array.tile_rows == array.tile_cols == 32
    assert _config([]).hardware.array.kind == "1t1mtj"


@pytest.mark.parametrize(("argv", "needle"), [
    (["--array", "passive", "--wire-resistance", "-1"], "hardware.array.circuit.r_wire_row"),
    (["--array", "passive", "--tile-size", "0"], "hardware.array.tile_rows"),
    (["--wire-resistance", "1"], "only for passive arrays"),
    (["--array", "1t1mtj", "--write-scheme", "v3"], "--write-scheme: only for passive arrays"),
    (["--compensation-model", "response"], "--compensation-model: only for passive arrays"),
    (["--array", "passive", "--set", "hardware.array.write_compensation_model=table"],
     "hardware.array.write_compensation_model"),
    (["--array", "passive", "--tile-size", "16", "--set", "hardware.array.kind=1t1mtj"],
     "--tile-size: only for passive arrays, and this run's hardware.array.kind is '1t1mtj'"),
    (["--array", "passive", "--tile-size", "16", "--set", 'hardware.array={"kind": "passive"}'],
     "--tile-size 16: overridden by --set (hardware.array.tile_rows = 256)"),
    (["--array", "passive", "--wire-resistance", "1", "--set", "hardware.array.circuit.r_wire_col=2"],
     "--wire-resistance 1.0: overridden by --set (hardware.array.circuit.r_wire_col = 2.0)"),
])
def test_bad_passive_flags_are_one_line_errors(capsys, argv, needle):
    assert main(["train", *argv, "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_passive_train_end_to_end_reports_disturbs(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--array", "passive", "--hidden", "16", "--wire-resistance", "0.5", "--tile-size", "32",
                 "--write-scheme", "v3", "--max-train", "60", "--max-test", "50", "--epochs", "1", "--no-cost",
                 "--threads", "1", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr()
    assert "disturb" in printed.err + printed.out
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["hardware"]["array"]["kind"] == "passive"
    epoch = results["insitu_epochs"][0]
    assert epoch["intended_flips"] + epoch["disturb_flips"] == epoch["flips"] > 0
    assert epoch["disturb_flips_per_sample"] == pytest.approx(epoch["disturb_flips"] / 60)
    assert set(results["accuracy"]) == {"insitu", "float", "binary_software", "exsitu"}


def test_passive_flags_follow_the_array_kind_that_set_gives():
    """The passive-only flags are checked on the final config: ``--set hardware.array.kind=passive`` makes
    them apply (they used to be refused before ``--set`` was read), and ``--set ...=1t1mtj`` after
    ``--array passive`` refuses them (they used to be dropped without a word)."""
    array = _config(["--set", "hardware.array.kind=passive", "--tile-size", "16"]).hardware.array
    assert (array.kind, array.tile_rows, array.tile_cols) == ("passive", 16, 16)

