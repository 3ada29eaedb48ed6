"""``mtjxbar sweep`` and ``mtjxbar plot``: a tiny sweep end to end, a SIGKILL halfway and a restart giving
exactly the uninterrupted table, and one-line errors for bad input."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mtjxbar.cli.main import main

SWEEP = """\
hidden = [4]

[data]
dataset = "digits"
max_train = 100
max_test = 100

[training]
epochs = 1
outputs_per_class = 1

[sweep]
seeds = [0, 1]
methods = ["insitu", "exsitu", "float"]

[sweep.grid]
"hardware.variation.r_p_dtod, hardware.variation.tmr0_dtod" = [0.0, 0.05, 0.1, 0.2]
"""
RUNS = 4 * 2


@pytest.fixture
def sweep_file(tmp_path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(SWEEP)
    return path


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "mtjxbar.cli.main", *args]


def _stored(out: Path) -> int:
    """Runs stored in a sweep directory (not counting a temporary file being written: ``.name.tmp.json``)."""
    return sum(1 for p in (out / "points").glob("*.json") if not p.name.startswith("."))


def test_sweep_writes_table_and_plots_and_plot_redraws_them(sweep_file, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["sweep", str(sweep_file), "--local", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert f"[{RUNS}/{RUNS}]" in captured.err and "table:" in captured.out
    assert "r_p_dtod  tmr0_dtod  method" in captured.out
    table = out / "results.csv"
    assert table.read_text().splitlines()[0] == ("method,seed,accuracy,hardware.variation.r_p_dtod,"
                                                 "hardware.variation.tmr0_dtod")
    plot = out / "accuracy_vs_r_p_dtod+tmr0_dtod.png"
    assert plot.is_file()
    plot.unlink()
    assert main(["plot", str(table)]) == 0
    assert plot.is_file()
    assert main(["plot", str(table), "--out", str(tmp_path / "figs")]) == 0
    assert (tmp_path / "figs" / plot.name).is_file()
    # the stored sweep reruns as it is: nothing left to do
    assert main(["sweep", str(out / "sweep.toml"), "--local", "--out", str(out), "--quiet"]) == 0


def test_a_sweep_killed_halfway_and_restarted_gives_the_uninterrupted_table(sweep_file, tmp_path):
    full, killed = tmp_path / "full", tmp_path / "killed"
    victim = subprocess.Popen(_cli("sweep", str(sweep_file), "--local", "--out", str(killed), "--quiet"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not _stored(killed) and victim.poll() is None:
            assert time.monotonic() < deadline, "no run stored within 60 s"
            time.sleep(0.005)
        victim.send_signal(signal.SIGKILL)
        assert victim.wait(timeout=30) == -signal.SIGKILL
    finally:
        if victim.poll() is None:
            victim.kill()
    stored = _stored(killed)
    assert 1 <= stored < RUNS, "killed after the first run was stored, before the last"
    assert main(["sweep", str(sweep_file), "--local", "--out", str(full), "--quiet"]) == 0
    restarted = subprocess.run(_cli("sweep", str(sweep_file), "--local", "--out", str(killed)),
                               capture_output=True, text=True, timeout=120)
    assert restarted.returncode == 0, restarted.stderr
    assert f"{stored} already done, {RUNS - stored} to run" in restarted.stderr
    assert (killed / "results.csv").read_text() == (full / "results.csv").read_text()


@pytest.mark.parametrize(("args", "content", "needle"), [
    (["--local"], None, "cannot read the sweep file"),
    (["--local"], "[sweep\n", "not valid TOML"),
    (["--local"], SWEEP.replace("r_p_dtod,", "r_p_dtodd,"), "did you mean 'r_p_dtod'"),
    (["--local"], SWEEP.replace("0.2]", "0.9]"), "hardware.variation.r_p_dtod = 0.9: must be in [0, 0.5]"),
    (["--local"], SWEEP.replace('"digits"', '"mnist"'), "mnist"),
    (["--local", "--workers", "0"], SWEEP, "--workers 0"),
    (["--local", "--set", "training.lr=-1"], SWEEP, "training.lr = -1"),
    (["--local", "--set", "training.lr"], SWEEP, "expected PATH=VALUE"),
])
def test_bad_input_is_one_line_without_traceback(tmp_path, capsys, args, content, needle):
    path = tmp_path / "s.toml"
    if content is not None:
        path.write_text(content)
    assert main(["sweep", str(path), "--out", str(tmp_path / "o"), "--quiet", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mtjxbar: error:") and needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists(), "bad input is reported before the output directory is touched"


def test_plot_of_a_table_that_is_not_a_sweep_table_is_an_error(tmp_path, capsys):
    bad = tmp_path / "x.csv"
    bad.write_text("a,b\n1,2\n")
    assert main(["plot", str(bad)]) == 2
    assert "not a sweep results table" in capsys.readouterr().err
    assert main(["plot", str(tmp_path / "missing.csv")]) == 2
    assert "cannot read the results table" in capsys.readouterr().err


def test_local_and_address_exclude_each_other(sweep_file, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["sweep", str(sweep_file), "--local", "--address", "auto"])
    assert exit_.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
