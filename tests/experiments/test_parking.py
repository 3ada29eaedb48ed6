"""experiments/parking.py: a run folder packed into one archive and unpacked elsewhere, checkpoint intact;
never over a newer checkpoint, never outside the folder."""

from __future__ import annotations

import io
import tarfile

import pytest
import torch

from mtjxbar.experiments.checkpoint import Checkpoint, config_sha256
from mtjxbar.experiments.parking import ParkingError, park_run, unpark_run


def _run_folder(folder, value: float = 0.25):
    config = {"seed": 3}
    tensors = {"params": torch.full((300, 200), value), "states": torch.rand(300, 200) > 0.5}
    Checkpoint(folder).save({"config": config, "config_sha256": config_sha256(config), "position": 7}, tensors)
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
    assert Checkpoint(tmp_path / "b").load()[1]["params"][0, 0] == 0.5
    evil = tmp_path / "evil.tar.xz"
    with tarfile.open(evil, "w:xz") as tar:
        data = b"x"
        info = tarfile.TarInfo("../escaped.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(ParkingError):
        unpark_run(evil, tmp_path / "c")
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "c").exists()
