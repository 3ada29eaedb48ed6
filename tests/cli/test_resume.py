"""``mtjxbar train`` survives kills and bad files: checkpoint, SIGKILL, resume, identical results; damaged
checkpoint and data files, a used output directory and a changed config give one-line errors."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mtjxbar.cli.main import main
from mtjxbar.experiments.checkpoint import load_tensors, save_tensors

TRAIN = ["train", "--hidden", "16", "--epochs", "2", "--max-train", "400", "--max-test", "200", "--seed", "5",
         "--quiet", "--threads", "1", "--checkpoint-every", "50"]
WALL_CLOCK = ("train_seconds", "samples_per_second")


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "mtjxbar.cli.main", *args]


def _results(out: Path) -> dict:
    results = json.loads((out / "results.json").read_text())
    return {k: v for k, v in results.items() if k not in WALL_CLOCK}


def _position(out: Path) -> dict | None:
    try:
        return json.loads((out / "checkpoint" / "state.json").read_text())["position"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return None


def test_sigkill_mid_epoch_then_resume_is_identical(tmp_path):
    full, killed = tmp_path / "full", tmp_path / "killed"
    reference = subprocess.Popen(_cli(*TRAIN, "--out", str(full)), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE)
    victim = subprocess.Popen(_cli(*TRAIN, "--out", str(killed)), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while True:  # wait for a checkpoint in the middle of the second epoch's in-situ training
            pos = _position(killed)
            if pos is not None and pos["epoch"] == 1 and pos["phase"] == "insitu" and pos["sample"] > 0:
                break
            assert victim.poll() is None, f"the run ended before it could be killed (last position {pos})"
            assert time.monotonic() < deadline, "no mid-epoch checkpoint in time"
            time.sleep(0.005)
        victim.send_signal(signal.SIGKILL)
        assert victim.wait(timeout=60) == -signal.SIGKILL
    finally:
        if victim.poll() is None:
            victim.kill()
    assert not (killed / "results.json").exists()
    pos = _position(killed)
    assert pos["phase"] == "insitu" and 0 < pos["sample"] < 400, pos
    resumed = subprocess.run(_cli(*TRAIN, "--resume", str(killed)), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert reference.wait(timeout=300) == 0, reference.stderr.read()
    assert _results(killed) == _results(full)
    assert "hardware" in _results(full) and len(_results(full)["history"]["insitu"]) == 2
    a, b = load_tensors(full / "final_states.safetensors")[0], load_tensors(killed / "final_states.safetensors")[0]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ---------------------------------------------------------------------------------------------- errors
def _err(capsys, argv: list[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1, f"expected a one-line error, got:\n{err}"
    assert "Traceback" not in err and err.startswith("mtjxbar: error: ")
    return err


def test_used_output_directory_needs_overwrite(run, capsys, small):
    err = _err(capsys, [*small, "--out", str(run)])
    assert str(run) in err and "--overwrite" in err and "--resume" in err
    capsys.readouterr()
    assert main([*small, "--out", str(run), "--overwrite", "--seed", "1"]) == 0
    assert json.loads((run / "results.json").read_text())["seed"] == 1


def test_all_files_go_into_the_output_directory(tmp_path, monkeypatch, small):
    monkeypatch.chdir(tmp_path)
    assert main([*small, "--out", "run"]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        "accuracy.png", "checkpoint", "config.toml", "final_states.safetensors", "mtjxbar-run.json", "results.json"]
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoint").iterdir())[-1] == "state.json"


def test_resume_with_a_changed_config_names_the_fields(run, capsys, small):
    err = _err(capsys, [*small, "--resume", str(run), "--lr", "0.1", "--delta", "45"])
    assert "training.lr: 1.0 in the checkpoint, 0.1 asked" in err
    assert "hardware.device.delta: 40.0 in the checkpoint, 45.0 asked" in err and "state.json" in err
    assert "--no-cost" in _err(capsys, [*small, "--resume", str(run), "--no-cost"])
    assert "drop --out" in _err(capsys, [*small, "--resume", str(run), "--out", str(run.parent / "x")])
    # the same command line with --resume, or more epochs, is accepted
    assert main([*small, "--resume", str(run)]) == 0
    assert main([*small, "--resume", str(run), "--epochs", "2"]) == 0
    assert len(json.loads((run / "results.json").read_text())["history"]["insitu"]) == 2


def _state(run: Path) -> Path:
    return run / "checkpoint" / "state.json"


def _tensors(run: Path) -> Path:
    return run / "checkpoint" / json.loads(_state(run).read_text())["tensors"]


def _wrong_shape(run: Path) -> None:
    path = _tensors(run)
    tensors, meta = load_tensors(path)
    tensors["insitu.layer1.states"] = torch.zeros(2, 2, dtype=torch.bool)
    data = save_tensors(path.parent, path.name, tensors, meta)
    record = json.loads(_state(run).read_text())
    record.pop("checksum")
    record.update(tensors_bytes=len(data), tensors_sha256=hashlib.sha256(data).hexdigest())
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
    _state(run).write_text(json.dumps({**record, "checksum": hashlib.sha256(canonical).hexdigest()}))


@pytest.mark.parametrize(
    ("damage", "file", "needle"),
    [
        (lambda r: _tensors(r).write_bytes(_tensors(r).read_bytes()[:500]), "tensors", "truncated"),
        (lambda r: _state(r).write_text(_state(r).read_text()[:-300]), "state", "not valid JSON"),
        (lambda r: _state(r).write_text("garbage{"), "state", "not valid JSON"),
        (lambda r: _state(r).write_text('{"format": "pickle"}'), "state", "not an mtjxbar checkpoint"),
        (lambda r: _tensors(r).write_bytes(b"\x80\x04\x95" + _tensors(r).read_bytes()[3:]), "tensors", "corrupted"),
        (lambda r: _tensors(r).unlink(), "tensors", "missing"),
        (lambda r: shutil.rmtree(r / "checkpoint"), "state", "missing"),
        (_wrong_shape, "tensors", "has shape (2, 2), expected (4, 160)"),
    ],
)
def test_damaged_checkpoint_gives_a_one_line_error_naming_the_file(run, capsys, damage, file, needle, small):
    path = _tensors(run) if file == "tensors" else _state(run)
    damage(run)
    err = _err(capsys, [*small, "--resume", str(run)])
    assert str(path) in err and needle in err, err


def _idx(path: Path, magic: int, dims: tuple[int, ...], compress: bool = True) -> None:
    body = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims)
    n = 1
    for d in dims:
        n *= d
    raw = body + bytes(n)
    path.write_bytes(gzip.compress(raw) if compress else raw)


@pytest.fixture
def mnist_dir(tmp_path) -> Path:
    for split in ("train", "t10k"):
        _idx(tmp_path / f"{split}-images-idx3-ubyte.gz", 0x803, (3, 28, 28))
        _idx(tmp_path / f"{split}-labels-idx1-ubyte.gz", 0x801, (3,))
    return tmp_path


@pytest.mark.parametrize(
    ("name", "damage", "needle"),
    [
        ("train-images-idx3-ubyte.gz", lambda p: p.write_bytes(p.read_bytes()[:30]), "corrupt gzip"),
        ("train-images-idx3-ubyte.gz", lambda p: p.write_bytes(b"\x1f\x8b" + b"\x00" * 40), "corrupt gzip"),
        ("t10k-labels-idx1-ubyte.gz", lambda p: _idx(p, 0x803, (3,)), "wrong magic number"),
        ("train-images-idx3-ubyte.gz", lambda p: p.write_bytes(gzip.compress(gzip.decompress(p.read_bytes())[:-7])),
         "truncated file"),
        ("train-images-idx3-ubyte.gz", lambda p: p.write_bytes(gzip.compress(b"\x00\x00\x08")), "truncated IDX"),
        ("t10k-images-idx3-ubyte.gz", lambda p: _idx(p, 0x803, (3, 8, 8)), "expected 28x28"),
        ("train-labels-idx1-ubyte.gz", lambda p: p.write_bytes(b"PK\x03\x04 a zip, not IDX"), "magic"),
    ],
)
def test_bad_data_files_give_a_one_line_error_naming_the_file(mnist_dir, tmp_path, capsys, name, damage, needle):
    damage(mnist_dir / name)
    err = _err(capsys, ["train", "--dataset", "mnist", "--data-dir", str(mnist_dir), "--out", str(tmp_path / "o")])
    assert str(mnist_dir / name) in err and needle in err, err
    assert not (tmp_path / "o").exists()  # nothing written for a run that could not start


def test_resume_of_a_folder_that_is_not_a_run(tmp_path, capsys):
    """A folder no run was started in is named as such; the advice to start again with --overwrite (which
    refuses files that are not a run's) is for a run that stopped before its first checkpoint."""
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["train", "--resume", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "not an mtjxbar run" in err and "--overwrite" not in err and len(err.splitlines()) == 1, err
