"""Nothing a user owns is lost and nonsense is refused up front (issue 20): ``--overwrite`` removes only the
files an earlier run's manifest names and only once the new run has a checkpoint; one run at a time per
output directory (an OS lock); SIGINT / SIGTERM checkpoint at the next sample boundary and print the exact
resume command, which ends bit for bit where the uninterrupted run ends; single-threaded by default;
abbreviated flags, a data directory for the embedded set, a scalar for a list field, an edited config.toml
on resume and a network that cannot fit in memory are refused with one line; config.toml stores data_dir
absolute."""

from __future__ import annotations

import gzip
import json
import os
import shlex
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mtjxbar.cli.main import build_parser, main, resume_command
from mtjxbar.experiments.checkpoint import load_tensors

WALL_CLOCK = ("train_seconds", "samples_per_second")


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "mtjxbar.cli.main", *args]


def _err(capsys, argv: list[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1, f"expected a one-line error, got:\n{err}"
    assert "Traceback" not in err and err.startswith("mtjxbar: error: ")
    return err


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _results(out: Path) -> dict:
    return {k: v for k, v in json.loads((out / "results.json").read_text()).items() if k not in WALL_CLOCK}


def _position(out: Path) -> dict | None:
    try:
        return json.loads((out / "checkpoint" / "state.json").read_text())["position"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return None


# ------------------------------------------------------------------------------------------- --overwrite
def test_overwrite_refuses_files_that_are_not_a_runs_own(tmp_path, capsys, small):
    out = tmp_path / "P"
    (out / "checkpoint").mkdir(parents=True)
    (out / "checkpoint" / "model_epoch50.pt").write_text("weights")
    (out / "results.json").write_text('{"mine": 1}')
    before = _snapshot(out)
    err = _err(capsys, [*small, "--out", str(out), "--overwrite"])
    assert str(out / "checkpoint" / "model_epoch50.pt") in err and str(out / "results.json") in err, err
    assert _snapshot(out) == before, "nothing of the user's is touched"


def test_overwrite_refuses_a_foreign_file_in_a_run_directory_then_replaces_only_the_run(run, capsys, small):
    (run / "notes.txt").write_text("mine")
    (run / "checkpoint" / "model_epoch50.pt").write_text("mine too")
    before = _snapshot(run)
    err = _err(capsys, [*small, "--out", str(run), "--overwrite", "--seed", "1"])
    assert str(run / "notes.txt") in err and "model_epoch50.pt" in err and "mtjxbar-run.json" in err, err
    assert _snapshot(run) == before
    (run / "notes.txt").unlink()
    (run / "checkpoint" / "model_epoch50.pt").unlink()
    assert main([*small, "--out", str(run), "--overwrite", "--seed", "1"]) == 0
    assert json.loads((run / "results.json").read_text())["seed"] == 1
    assert sorted(p.name for p in run.iterdir()) == ["accuracy.png", "checkpoint", "config.toml",
                                                      "final_states.safetensors", "mtjxbar-run.json", "results.json"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_overwrite_with_an_impossible_device_leaves_the_old_run_intact(run, capsys, small):
    before = _snapshot(run)
    err = _err(capsys, [*small, "--out", str(run), "--overwrite", "--device", "cuda"])
    assert "cuda" in err and "--device cpu" in err
    assert _snapshot(run) == before


def test_a_run_that_fails_before_its_first_checkpoint_puts_the_old_run_back(run, capsys, monkeypatch, small):
    import mtjxbar.experiments.runner as runner

    before = _snapshot(run)
    seen = {}

    def failing(config, progress=None, **kwargs):
        out = kwargs["out_dir"]
        seen["during"] = sorted(p.name for p in out.iterdir())
        raise ValueError("simulated failure before the first checkpoint")

    monkeypatch.setattr(runner, "run_experiment", failing)
    assert "simulated failure" in _err(capsys, [*small, "--out", str(run), "--overwrite", "--seed", "1"])
    assert ".mtjxbar-previous" in seen["during"], "the old run waits beside the new one"
    assert "results.json" not in seen["during"]
    assert _snapshot(run) == before


def test_the_old_run_goes_once_the_new_one_has_a_checkpoint(run, monkeypatch, small):
    import mtjxbar.experiments.runner as runner

    real = runner.run_experiment
    seen = []

    def watching(config, progress=None, **kwargs):
        on_checkpoint = kwargs["on_checkpoint"]

        def hook() -> None:
            seen.append((run / ".mtjxbar-previous").exists())
            on_checkpoint()
            seen.append((run / ".mtjxbar-previous").exists())

        return real(config, progress, **{**kwargs, "on_checkpoint": hook})

    monkeypatch.setattr(runner, "run_experiment", watching)
    assert main([*small, "--out", str(run), "--overwrite", "--seed", "2"]) == 0
    assert seen[:2] == [True, False] and not any(seen[2:])


# -------------------------------------------------------------------------------------------------- lock
def test_a_second_run_into_the_same_directory_is_refused_and_a_dead_ones_lock_is_taken_over(tmp_path, capsys, small):
    out = tmp_path / "busy"
    argv = ["train", "--hidden", "32", "--epochs", "50", "--threads", "1", "--quiet", "--out", str(out)]
    first = subprocess.Popen(_cli(*argv), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (out / "config.toml").exists():
            assert first.poll() is None, first.stderr.read()
            assert time.monotonic() < deadline, "the first run did not start"
            time.sleep(0.01)
        err = _err(capsys, [*small, "--out", str(out), "--overwrite"])
        assert str(out) in err and "another mtjxbar run" in err and f"process {first.pid}" in err, err
        err = _err(capsys, [*small, "--resume", str(out)])
        assert "another mtjxbar run" in err, err
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
    # the killed run's lock died with it; what it left is its own (named by its manifest)
    assert main([*small, "--out", str(out), "--overwrite"]) == 0
    assert json.loads((out / "results.json").read_text())["hidden"] == [4]


# ----------------------------------------------------------------------------------------- interruption
def test_the_resume_hint_is_the_exact_command():
    parser = build_parser()
    args = parser.parse_args(["train", "--out", "runs/my run", "--no-cost", "--threads", "2", "--lr", "0.1"])
    assert resume_command(args, Path("runs/my run")) == "mtjxbar train --resume 'runs/my run' --no-cost --threads 2"
    args = parser.parse_args(["train", "--resume", "r", "--epochs", "9", "--checkpoint-every", "0", "--quiet"])
    assert resume_command(args, Path("r")) == "mtjxbar train --resume r --checkpoint-every 0 --epochs 9 --quiet"


def _stop_and_resume(tmp_path: Path, sig: signal.Signals, extra: list[str]) -> tuple[Path, str]:
    """Start a run, send ``sig`` early in its second epoch's in-situ part, and resume it with the printed
    command; returns the run's directory and the victim's stderr."""
    out = tmp_path / "stopped"
    argv = ["train", "--hidden", "16", "--epochs", "2", "--max-test", "100", "--seed", "5", "--threads", "1",
            "--checkpoint-every", "0", *extra, "--out", str(out)]
    victim = subprocess.Popen(_cli(*argv), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines = []
    try:
        for line in victim.stderr:  # progress lines: wait for the end of epoch 1
            lines.append(line)
            if line.startswith("epoch 1/2 exsitu:"):
                victim.send_signal(sig)
                break
        lines.extend(victim.stderr)
        code = victim.wait(timeout=120)
    finally:
        if victim.poll() is None:
            victim.kill()
    err = "".join(lines)
    assert code == 128 + sig, err
    pos = _position(out)
    assert pos is not None and pos["epoch"] == 1 and pos["phase"] == "insitu" and 0 < pos["sample"] < 1437, \
        f"the stop did not checkpoint mid-epoch at the current sample: {pos}"
    last = err.strip().splitlines()[-1]
    assert f"stopped ({sig.name}) at epoch 2, sample {pos['sample']}, checkpoint saved; continue with: " in last, err
    command = shlex.split(last.split("continue with: ", 1)[1])
    assert command[:4] == ["mtjxbar", "train", "--resume", str(out)]
    resumed = subprocess.run(_cli(*command[1:]), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    return out, err


def test_sigint_checkpoints_at_the_current_sample_and_the_resumed_run_is_bit_for_bit(tmp_path):
    full = tmp_path / "full"
    argv = ["train", "--hidden", "16", "--epochs", "2", "--max-test", "100", "--seed", "5", "--threads", "1",
            "--checkpoint-every", "0", "--quiet", "--out", str(full)]
    reference = subprocess.Popen(_cli(*argv), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    out, _ = _stop_and_resume(tmp_path, signal.SIGINT, [])
    assert reference.wait(timeout=300) == 0, reference.stderr.read()
    assert _results(out) == _results(full)
    a, b = load_tensors(full / "final_states.safetensors")[0], load_tensors(out / "final_states.safetensors")[0]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_sigterm_checkpoints_and_its_hint_keeps_no_cost(tmp_path):
    out, err = _stop_and_resume(tmp_path, signal.SIGTERM, ["--no-cost", "--set", "training.engine=eager",
                                                          "--max-train", "500"])
    assert "--no-cost" in err.strip().splitlines()[-1]
    assert "hardware" not in _results(out) and len(_results(out)["history"]["insitu"]) == 2


# ------------------------------------------------------------------------------------------------ threads
def test_training_is_single_threaded_unless_asked_and_capped_at_the_cores(monkeypatch, tmp_path, capsys, small):
    import mtjxbar.cli.main as cli

    asked = []

    class Limit:
        def restore_original_limits(self) -> None:
            pass

    monkeypatch.setattr(cli, "limit_threads", lambda n: asked.append(n) or Limit())
    assert main([*small, "--out", str(tmp_path / "a")]) == 0
    assert main([*small, "--out", str(tmp_path / "b"), "--threads", "100000"]) == 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert asked == [1, cores]
    assert f"--threads 100000: this machine gives the process {cores} cores" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- refusals
def test_abbreviated_flags_are_refused(capsys, tmp_path):
    for flag in ("--epoch", "--hid"):
        with pytest.raises(SystemExit) as exit_:
            main(["train", flag, "1", "--max-train", "20", "--max-test", "20", "--quiet",
                  "--out", str(tmp_path / "o")])
        assert exit_.value.code == 2
        assert f"unrecognized arguments: {flag} 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["cost", "--row", "4", "--cols", "4"])
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(("argv", "needles"), [
    (["train", "--data-dir", "/tmp"], ["data.data_dir", "digits", "--dataset"]),
    (["train", "--set", "training.gain_scales=1"], ["training.gain_scales = 1", "a list field takes a list"]),
    (["train", "--set", "training.gain_scales=[1, 4]", "--set", "hidden=64"], ["hidden = 64", "a list"]),
])
def test_contradictory_or_mistyped_settings_are_refused(capsys, tmp_path, argv, needles):
    err = _err(capsys, [*argv, "--out", str(tmp_path / "o")])
    for needle in needles:
        assert needle in err, err
    assert not (tmp_path / "o").exists()


def test_a_network_that_cannot_fit_in_memory_is_refused_up_front(capsys, tmp_path):
    started = time.monotonic()
    err = _err(capsys, ["train", "--hidden", "65536", "65536", "--out", str(tmp_path / "o")])
    assert time.monotonic() - started < 30
    assert "network 64-65536-65536-80: needs at least" in err and "GB of memory" in err and "available here" in err
    assert not (tmp_path / "o").exists()
    err = _err(capsys, ["cost", "--rows", "100000", "--cols", "100000"])
    assert "--rows 100000 --cols 100000: needs at least 600 GB of memory" in err and "available here" in err


def test_resume_refuses_an_edited_config_toml_naming_the_fields(run, capsys, small):
    path = run / "config.toml"
    text = path.read_text()
    path.write_text(text.replace("lr = 1.0\n", "lr = 0.1\n", 1).replace("seed = 0", "seed = 7"))
    err = _err(capsys, [*small, "--resume", str(run)])
    assert str(path) in err and "training.lr: 1.0 in the checkpoint, 0.1 in config.toml" in err, err
    assert "seed: 0 in the checkpoint, 7 in config.toml" in err
    path.write_text(text)
    assert main([*small, "--resume", str(run), "--epochs", "2"]) == 0  # an unedited file, more epochs: fine


def _idx(path: Path, magic: int, dims: tuple[int, ...], data: bytes) -> None:
    head = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims)
    path.write_bytes(gzip.compress(head + data))


def test_the_saved_config_stores_the_data_directory_absolute(tmp_path, monkeypatch):
    data = tmp_path / "work" / "mnist"
    data.mkdir(parents=True)
    gen = torch.Generator().manual_seed(0)
    for split, n in (("train", 40), ("t10k", 20)):
        pixels = torch.randint(0, 256, (n, 28, 28), generator=gen, dtype=torch.uint8)
        _idx(data / f"{split}-images-idx3-ubyte.gz", 0x803, (n, 28, 28), pixels.numpy().tobytes())
        _idx(data / f"{split}-labels-idx1-ubyte.gz", 0x801, (n,), bytes(i % 10 for i in range(n)))
    monkeypatch.chdir(tmp_path / "work")
    argv = ["train", "--dataset", "mnist", "--data-dir", "mnist", "--hidden", "4", "--epochs", "1", "--quiet",
            "--methods", "float", "--no-cost"]
    assert main([*argv, "--out", "run"]) == 0
    saved = (tmp_path / "work" / "run" / "config.toml").read_text()
    assert f'data_dir = "{data}"' in saved
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["train", "--config", str(tmp_path / "work" / "run" / "config.toml"), "--quiet", "--no-cost",
                 "--out", "again"]) == 0
    assert _results(elsewhere / "again")["history"] == _results(tmp_path / "work" / "run")["history"]
