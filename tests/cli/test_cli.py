"""The command line: one-line errors for bad input, and an end-to-end run on the embedded data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mtjxbar.cli.main import main


def _err(capsys, argv: list[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1, f"expected a one-line error, got:\n{err}"
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["train", "--r-p", "-5"], ["hardware.device.r_p", "-5", "(0, inf) ohm"]),
        (["train", "--p-max", "1.5"], ["hardware.encoder.p_max", "1.5"]),
        (["train", "--dataset", "cifar"], ["data.dataset", "'cifar'", "'digits'", "'mnist'"]),
        (["train", "--hidden", "0"], ["hidden[0]", "0"]),
        (["train", "--hidden", "64", "0"], ["hidden[1]"]),
        (["train", "--epochs", "0"], ["training.epochs", "0"]),
        (["train", "--counter-bits", "0", "-k", "0"], ["hardware.mapping.mtjs_per_synapse"]),
        (["train", "-k", "8"], ["-k", "buffer-and-counter", "--counter-bits 0"]),
        (["train", "--scheme", "differential"], ["--scheme", "--counter-bits 0"]),
        (["train", "--counter-bits", "0", "-k", "4", "--set", "hardware.transfer.counter_bits=4"],
         ["-k", "counter_bits = 4, from --set", "set it to 0 there"]),
        (["train", "-k", "4", "--set", "hardware.transfer.counter_bits=x"], ["hardware.transfer.counter_bits", "'x'"]),
        (["train", "--counter-bits", "0", "-k", "3", "--set", "hardware.mapping.mtjs_per_synapse=2"],
         ["-k 3: overridden by --set (hardware.mapping.mtjs_per_synapse = 2)"]),
        (["train", "--counter-bits", "0", "--scheme", "differential", "--set",
          'hardware.mapping={"mtjs_per_synapse": 1}'],
         ["--scheme differential: overridden by --set (hardware.mapping.scheme = 'reference')"]),
        (["train", "--buffer-mtjs", "3"], ["hardware.transfer.buffer_mtjs", "3"]),
        (["train", "--counter-bits", "17"], ["hardware.transfer.counter_bits", "17"]),
        (["train", "--carry-overdrive", "0"], ["hardware.transfer.carry_overdrive", "0"]),
        (["train", "--verify-rounds", "-1"], ["hardware.transfer.verify_rounds", "-1"]),
        (["train", "--counter-bits", "0", "--carry-overdrive", "1.0"], ["--carry-overdrive", "counter_bits = 0"]),
        (["train", "--set", "hardware.transfer.counter_bits=0", "--carry-overdrive", "1.0"],
         ["--carry-overdrive", "counter_bits = 0"]),
        (["train", "--config", "examples/mnist_independent.toml", "--verify-rounds", "3", "--transfer-every", "8"],
         ["--transfer-every, --verify-rounds", "independent-flip"]),
        (["train", "--counter-bits", "0", "--scheme", "triple"],
         ["hardware.mapping.scheme", "'reference'", "'differential'"]),
        (["train", "--set", "hardware.device.tmr=1"], ["'hardware.device.tmr'", "did you mean 'tmr0'"]),
        (["train", "--set", "hardware.device.delta"], ["PATH=VALUE"]),
        (["train", "--dataset", "mnist"], ["--data-dir"]),
        (["train", "--dataset", "mnist", "--data-dir", "/nonexistent/dir"], ["/nonexistent/dir"]),
        (["device", "--set", "ic0_ap2p=-1"], ["ic0_ap2p", "-1"]),
    ],
)
def test_bad_input_gives_one_line_error(capsys, argv, needles):
    err = _err(capsys, argv)
    for needle in needles:
        assert needle in err, f"{needle!r} not in {err!r}"


def test_bad_config_file(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[training]\nepochz = 3\n")
    err = _err(capsys, ["train", "--config", str(cfg)])
    assert "epochz" in err and "did you mean 'epochs'" in err and str(cfg) in err
    cfg.write_text("[training\n")
    assert "not valid TOML" in _err(capsys, ["train", "--config", str(cfg)])
    assert "cannot read" in _err(capsys, ["train", "--config", str(tmp_path / "missing.toml")])


def test_wrong_shape_data_file(tmp_path, capsys):
    import gzip
    import struct

    def idx(path: Path, magic: int, dims: tuple[int, ...]) -> None:
        body = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims)
        n = 1
        for d in dims:
            n *= d
        path.write_bytes(gzip.compress(body + bytes(n)))

    for split in ("train", "t10k"):
        idx(tmp_path / f"{split}-images-idx3-ubyte.gz", 0x803, (3, 8, 8))
        idx(tmp_path / f"{split}-labels-idx1-ubyte.gz", 0x801, (3,))
    err = _err(capsys, ["train", "--dataset", "mnist", "--data-dir", str(tmp_path)])
    assert "images" in err and "28" in err


def test_train_end_to_end(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--hidden", "16", "--epochs", "2", "--max-train", "300", "--max-test", "200",
                 "--seed", "3", "--out", str(out), "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "in-situ MTJ" in printed and "ex-situ" in printed
    results = json.loads((out / "results.json").read_text())
    for key in ("dataset", "seed", "epochs", "hidden", "config", "accuracy", "history", "train_seconds"):
        assert key in results
    assert set(results["accuracy"]) == {"insitu", "float", "binary_software", "exsitu"}
    assert all(len(h) == 2 for h in results["history"].values())
    assert results["hidden"] == [16] and results["seed"] == 3
    assert (out / "accuracy.png").read_bytes()[:4] == b"\x89PNG"
    # the saved config reruns to the same results (same seed, same result)
    again = tmp_path / "again"
    assert main(["train", "--config", str(out / "config.toml"), "--out", str(again), "--quiet"]) == 0
    assert json.loads((again / "results.json").read_text())["history"] == results["history"]


def test_device_command(tmp_path, capsys):
    png = tmp_path / "curves.png"
    assert main(["device", "--json", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    figures = json.loads(out[: out.rindex("}") + 1])
    assert figures["ic0_p2ap_uA"] == pytest.approx(60.0)
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_console_script_runs():
    proc = subprocess.run([sys.executable, "-m", "mtjxbar.cli.main", "train", "--delta", "0"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("mtjxbar: error: hardware.device.delta = 0.0")


def test_buffer_and_counter_flags_reach_the_config():
    """The rule's flags set their fields on a run with counters, also when ``--set`` turns the counters on
    over a config without them (the refusal above looks at the config after ``--set``)."""
    from mtjxbar.cli.main import _train_config, build_parser

    def config(argv):
        return _train_config(build_parser().parse_args(["train", *argv]))

    t = config(["--carry-overdrive", "0.9", "--verify-rounds", "3", "--transfer-every", "16"]).hardware.transfer
    assert (t.carry_overdrive, t.verify_rounds, t.samples_per_sweep, t.counter_bits) == (0.9, 3, 16, 6)
    t = config(["--config", "examples/mnist_independent.toml", "--set", "hardware.transfer.counter_bits=4",
                "--carry-overdrive", "1.0"]).hardware.transfer
    assert (t.counter_bits, t.carry_overdrive) == (4, 1.0)


def test_mapping_flags_follow_counters_that_set_turns_off():
    """``-k`` / ``--scheme`` go with the independent-flip rule: also when it is ``--set``, not
    ``--counter-bits``, that turns the counters off (the refusal used to look at the config before ``--set``
    and refused these runs)."""
    from mtjxbar.cli.main import _train_config, build_parser

    def config(argv):
        return _train_config(build_parser().parse_args(["train", *argv]))

    c = config(["-k", "4", "--set", "hardware.transfer.counter_bits=0"]).hardware
    assert (c.mapping.mtjs_per_synapse, c.transfer.counter_bits) == (4, 0)
    c = config(["--scheme", "differential", "--set", "hardware.transfer.counter_bits=0"]).hardware
    assert (c.mapping.scheme, c.transfer.counter_bits) == ("differential", 0)
    c = config(["--counter-bits", "0", "-k", "3"]).hardware
    assert (c.mapping.mtjs_per_synapse, c.transfer.counter_bits) == (3, 0)
    # the bits the run ends with decide, not the flag's: --set (applied after the flags) turns them off
    c = config(["-k", "4", "--counter-bits", "6", "--set", "hardware.transfer.counter_bits=0"]).hardware
    assert (c.mapping.mtjs_per_synapse, c.transfer.counter_bits) == (4, 0)
    c = config(["-k", "4", "--set", 'hardware.transfer={"counter_bits": 0}']).hardware  # a table counts too
    assert (c.mapping.mtjs_per_synapse, c.transfer.counter_bits) == (4, 0)
    # a flag and a --set of the same field: refused unless they agree
    assert config(["--counter-bits", "0", "-k", "2", "--set", "hardware.mapping.mtjs_per_synapse=2"]
                  ).hardware.mapping.mtjs_per_synapse == 2



@pytest.mark.parametrize(("argv", "needles"), [
    (["train", "--wire-resistance", "abc"], ["mtjxbar train: error:", "--wire-resistance", "'abc'"]),
    (["cost", "--write-scheme", "v4"], ["mtjxbar cost: error:", "--write-scheme", "'v4'", "'v3'"]),
    (["bogus"], ["mtjxbar: error:", "'bogus'", "'train'"]),
    (["train", "--bogus", "1"], ["mtjxbar train: error: unrecognized arguments: --bogus 1", "mtjxbar train --help"]),
    (["--bogus", "cost", "--layers", "4,2"],
     ["mtjxbar: error: unrecognized arguments: --bogus", "(see mtjxbar --help)"]),
])
def test_usage_errors_are_one_line_too(capsys, argv, needles):
    """argparse's own errors (a non-number, a choice not offered) are one line naming the flag and pointing
    at --help, not the whole usage text first."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and len(err.splitlines()) == 1, err
    assert err.endswith("--help)") and all(n in err for n in needles), err


def _console(args: list[str], **kw) -> subprocess.Popen:
    """The console script's entry point in a fresh interpreter (what the installed ``mtjxbar`` runs), with
    stdout buffered as it is by default (``PYTHONUNBUFFERED`` removed: set, it would hide a write that happens
    only at exit)."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return subprocess.Popen([sys.executable, "-c", "import sys; from mtjxbar.cli.entry import run; "
                             "sys.argv[1:] = " + repr(args) + "; sys.exit(run())"], stderr=subprocess.PIPE,
                            text=True, env=env, **kw)


def test_ctrl_c_while_starting_is_one_line():
    """Ctrl-C before the command has finished loading (importing torch takes seconds) stops it with a line,
    not a KeyboardInterrupt traceback."""
    import signal
    import time

    proc = _console(["device"], stdout=subprocess.DEVNULL)
    time.sleep(0.3)  # the interpreter is up; the CLI's imports take seconds more
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=60)[1]
    if proc.returncode == 0:
        pytest.skip("the command finished loading before the signal")
    assert proc.returncode == -signal.SIGINT and "Traceback" not in err and "interrupted while starting" in err, err


@pytest.mark.parametrize("argv", [["cost", "--layers", "784,256,10"], ["train", "--help"]])
def test_a_closed_output_pipe_is_not_an_error(argv):
    """``mtjxbar cost ... | head -1``: the reader goes away; the command stops quietly (141, as a shell reports
    a process stopped by SIGPIPE), without an error of its own, also for ``--help`` (argparse exits)."""
    proc = _console(argv, stdout=subprocess.PIPE)
    proc.stdout.close()  # before anything is read
    err = proc.communicate(timeout=120)[1]
    # 141 where our flush meets the closed pipe; argparse itself swallows the error of a help text longer than
    # the pipe's buffer (exit 0): either way, no error of ours
    assert proc.returncode in ((141, 0) if "--help" in argv else (141,)), (proc.returncode, err)
    assert "rror" not in err and "Traceback" not in err, err
