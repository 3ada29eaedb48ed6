"""experiments/parking.py: a run folder packed into one archive and unpacked elsewhere, checkpoint intact;
never over a newer checkpoint, never outside the folder."""

from __future__ import annotations

import io
import os
import tarfile

import pytest
import torch

from mtjxbar.experiments.checkpoint import Checkpoint, config_sha256
from mtjxbar.experiments.files import lock_directory
from mtjxbar.experiments.parking import ParkingError, park_run, parked_state, unpark_run


def _run_folder(folder, value: float = 0.25):
    config = {"seed": 3}
    tensors = {"params": torch.full((300, 200), value), "states": torch.rand(300, 200) > 0.5}
    checkpoint = Checkpoint(folder)
    if checkpoint.exists():  # the next save of the same run
        checkpoint.load_meta()
    checkpoint.save({"config": config, "config_sha256": config_sha256(config), "position": 7}, tensors)
    (folder / "config.toml").write_text("seed = 3\n")
    (folder / ".hidden.tmp").write_text("half-written")
    return tensors


def test_a_parked_run_unpacks_to_the_same_checkpoint(tmp_path):
    folder, archive = tmp_path / "runs" / "a", tmp_path / "parked" / "a.tar.xz"
    tensors = _run_folder(folder)
    log = tmp_path / "runs" / "a.log"
    log.write_text("epoch 1/6\n")
    size = park_run(folder, archive, extra={"log": log})
    assert size == archive.stat().st_size < 60_000  # the uniform plane (240 kB) packs to next to nothing
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert "config.toml" in names and ".hidden.tmp" not in names and ".parked/log" in names
    target, log2 = tmp_path / "other" / "a", tmp_path / "other" / "a.log"
    unpark_run(archive, target, extra={"log": log2})
    record, loaded = Checkpoint(target).load()
    assert record["position"] == 7 and log2.read_text() == "epoch 1/6\n"
    assert all(torch.equal(loaded[k], tensors[k]) for k in tensors)
    assert not (target / ".parked").exists() and (target / "config.toml").read_text() == "seed = 3\n"
    assert [p.name for p in target.parent.iterdir() if p.name.startswith(".")] == []  # no staging left


def test_parking_refuses_what_would_lose_or_misplace_state(tmp_path):
    with pytest.raises(ParkingError, match="no checkpoint to park"):
        park_run(tmp_path / "empty", tmp_path / "x.tar.xz")
    folder, archive = tmp_path / "a", tmp_path / "a.tar.xz"
    _run_folder(folder)
    park_run(folder, archive)
    _run_folder(tmp_path / "b", value=0.5)  # a newer local checkpoint stays
    with pytest.raises(ParkingError, match="holds a checkpoint already"):
        unpark_run(archive, tmp_path / "b")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("a user's file")
    with pytest.raises(ParkingError, match="holds files"):
        unpark_run(archive, tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "a user's file"
    assert Checkpoint(tmp_path / "b").load()[1]["params"][0, 0] == 0.5
    evil = tmp_path / "evil.tar.xz"
    with tarfile.open(evil, "w:xz") as tar:
        data = b"x"
        info = tarfile.TarInfo("../escaped.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(ParkingError, match="outside"):
        unpark_run(evil, tmp_path / "c")
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "c").exists()
    truncated = tmp_path / "truncated.tar.xz"
    truncated.write_bytes(archive.read_bytes()[:5000])
    log = tmp_path / "c.log"
    log.write_text("kept")
    with pytest.raises(ParkingError, match="not a parked run"):
        unpark_run(truncated, tmp_path / "c", extra={"log": log})
    with pytest.raises(ParkingError, match="not a parked run"):
        parked_state(truncated)
    assert log.read_text() == "kept" and not (tmp_path / "c").exists()


def test_parking_waits_for_the_run_and_keeps_the_later_checkpoint(tmp_path):
    """A folder whose run holds its lock is not packed; an archive of a later checkpoint is not replaced by an
    earlier one (a stale runs/ folder), and a broken tensor file is never packed."""
    folder, archive = tmp_path / "a", tmp_path / "a.tar.xz"
    _run_folder(folder)
    lock = lock_directory(folder)  # what a running `mtjxbar train` holds
    try:
        with pytest.raises(ParkingError, match="still writing"):
            park_run(folder, archive)
    finally:
        os.close(lock)
    assert not archive.exists()
    _run_folder(folder)  # a second checkpoint: step 2
    park_run(folder, archive)
    assert parked_state(archive)["step"] == 2
    stale = tmp_path / "stale"
    _run_folder(stale)  # step 1
    with pytest.raises(ParkingError, match="later checkpoint"):
        park_run(stale, archive)
    assert parked_state(archive)["step"] == 2
    tensors = next((stale / "checkpoint").glob("state-*.safetensors"))
    tensors.write_bytes(tensors.read_bytes()[:-10])
    with pytest.raises(ParkingError, match="truncated"):
        park_run(stale, tmp_path / "other.tar.xz")
