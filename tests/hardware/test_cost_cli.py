"""``mtjxbar cost``: the JSON keys per schedule, the table, and one-line errors."""

from __future__ import annotations

import argparse
import json

import pytest

from mtjxbar.cli import cost as cost_cli


def _run(capsys, argv: list[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="mtjxbar")
    cost_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    code = cost_cli.run(parser.parse_args(["cost", *argv]))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_json_keys_per_schedule(capsys):
    code, out, _ = _run(capsys, ["--rows", "16", "--cols", "16", "--samples", "1", "--json"])
    assert code == 0
    data = json.loads(out)
    for key in ("insitu_parallel", "insitu_rowwise", "exsitu"):
        assert data[key]["latency_s"] > 0 and data[key]["energy_j"] > 0
    assert data["network"]["arrays"] == [[16, 16]]
    assert data["programming"]["pulses_per_changed_cell"] >= 1.0


def test_layers_table(capsys):
    code, out, _ = _run(capsys, ["--layers", "32,16,10", "--samples", "1", "--set", "cost.adc_bits=6"])
    assert code == 0
    assert "network 32-16-10" in out and "in-situ, parallel update" in out and "ex-situ" in out


def test_flags_reach_the_model(capsys):
    base = json.loads(_run(capsys, ["--rows", "8", "--cols", "8", "--samples", "1", "--json"])[1])
    more = json.loads(_run(capsys, ["--rows", "8", "--cols", "8", "--samples", "1", "--json",
                                    "--ref-mac-energy", "82e-12"])[1])
    assert more["exsitu"]["software_energy_j"] == pytest.approx(2 * base["exsitu"]["software_energy_j"])


@pytest.mark.parametrize(("argv", "needle"), [
    (["--rows", "16"], "rows and cols"),
    (["--layers", "784,x"], "--layers"),
    (["--layers", "784"], "at least two sizes"),
    (["--rows", "4", "--cols", "4", "--set", "cost.adcbits=3"], "did you mean 'adc_bits'"),
    (["--rows", "4", "--cols", "4", "--update-probability", "0.9"], "activity.update_probability"),
])
def test_bad_input_one_line(capsys, argv, needle):
    code, _, err = _run(capsys, argv)
    assert code == 2 and len(err.strip().splitlines()) == 1 and needle in err


def test_si_prefixes_down_to_zepto_and_plain_below():
    """A figure gets the prefix of its size, down to z; below that (a residue of rounding, 1.7e-30 J on a
    one-cell tile) it is printed plainly instead of as '1.74e-15 fJ'."""
    from mtjxbar.hardware.report import si

    assert si(2.5e-9, "s") == "2.5 ns"
    assert si(3.2e-17, "J") == "32 aJ"
    assert si(4e-21, "J") == "4 zJ"
    assert si(1.74e-30, "J") == "1.74e-30 J"
    assert si(0.0, "J") == "0 J"
