"""Run files: atomic writes inside the output directory only, and no overwriting a run by accident."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mtjxbar.experiments.files import (
    MANIFEST,
    PREVIOUS,
    OutputError,
    RunDirectory,
    atomic_path,
    inside,
    write_json,
    write_text,
)


def test_writes_are_atomic_and_leave_no_temporary_files(tmp_path):
    write_json(tmp_path, "a/b.json", {"x": 0.1 + 0.2})
    assert (tmp_path / "a" / "b.json").read_text().strip().endswith("}")
    write_text(tmp_path, "a/b.json", "new")
    assert (tmp_path / "a" / "b.json").read_text() == "new"
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["b.json"]
    mode = (tmp_path / "a" / "b.json").stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask


def test_a_failed_write_keeps_the_old_file(tmp_path):
    write_text(tmp_path, "f.txt", "old")
    with pytest.raises(RuntimeError), atomic_path(tmp_path, "f.txt") as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert (tmp_path / "f.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


@pytest.mark.parametrize("name", ["../x.json", "a/../../x.json", "/etc/passwd"])
def test_nothing_is_written_outside_the_output_directory(tmp_path, name):
    root = tmp_path / "out"
    root.mkdir()
    with pytest.raises(OutputError, match="outside the output directory|absolute path"):
        write_text(root, name, "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_link_out_of_the_directory_is_refused(tmp_path):
    root, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    (root / "checkpoint").symlink_to(elsewhere)
    with pytest.raises(OutputError, match="outside"):
        inside(root, "checkpoint/state.json")
    assert inside(root, "checkpoint") == root / "checkpoint"  # the link itself may be replaced


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _a_run(out: Path) -> None:
    """What a run leaves: the manifest, its files and a checkpoint (and a killed write's temporary file)."""
    RunDirectory(out).open().close()
    for name in ("results.json", "config.toml", "checkpoint/state.json", "checkpoint/state-000003.safetensors",
                 "checkpoint/.state.ab12_xyz.tmp.json"):
        write_text(out, name, name)


def test_a_new_run_directory_is_locked_and_holds_a_manifest(tmp_path):
    out = tmp_path / "run"
    run = RunDirectory(out).open()
    assert json.loads((out / MANIFEST).read_text())["pid"] == os.getpid()
    with pytest.raises(OutputError, match=f"{out}: another mtjxbar run is writing into this directory"):
        RunDirectory(out).open(resume=True)
    run.close()
    RunDirectory(out).open(resume=True).close()  # the lock went with the first
    with pytest.raises(OutputError, match="no such run directory"):
        RunDirectory(tmp_path / "missing").open(resume=True)
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match="not a directory"):
        RunDirectory(tmp_path / "file").open()


def test_overwrite_moves_the_old_run_aside_until_commit(tmp_path):
    out = tmp_path / "run"
    _a_run(out)
    with pytest.raises(OutputError, match="--overwrite"):
        RunDirectory(out).open()
    before = _tree(out)
    new = RunDirectory(out).open(overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == [PREVIOUS, MANIFEST]
    assert _tree(out / PREVIOUS) == before
    write_text(out, "config.toml", "new")
    new.commit()
    new.close()
    assert sorted(p.name for p in out.iterdir()) == ["config.toml", MANIFEST]


def test_rollback_puts_the_old_run_back_and_a_new_directory_goes(tmp_path):
    out = tmp_path / "run"
    _a_run(out)
    before = _tree(out)
    with pytest.raises(RuntimeError), RunDirectory(out).open(overwrite=True):
        write_text(out, "config.toml", "new")
        write_text(out, "checkpoint/.state-000001.Zz09_aaa.tmp.safetensors", "half")
        raise RuntimeError("the new run failed")
    assert _tree(out) == before
    fresh = tmp_path / "fresh"
    with pytest.raises(RuntimeError), RunDirectory(fresh).open():
        raise RuntimeError("failed at once")
    assert not fresh.exists()


@pytest.mark.parametrize("checkpointed", [False, True])
def test_an_overwrite_killed_midway_is_finished_by_the_next_open(tmp_path, checkpointed):
    out = tmp_path / "run"
    _a_run(out)
    before = _tree(out)
    killed = RunDirectory(out).open(overwrite=True)
    write_text(out, "config.toml", "new")
    if checkpointed:
        write_text(out, "checkpoint/state.json", "new checkpoint")
    killed.close()  # the process died: no commit, no rollback
    again = RunDirectory(out).open(resume=True)
    again.close()
    assert not (out / PREVIOUS).exists()
    if checkpointed:
        assert _tree(out)["config.toml"] == b"new" and "checkpoint" in again.notes[0]
    else:
        assert _tree(out) == before and "is back" in again.notes[0]


def test_overwrite_refuses_by_name_what_no_manifest_names(tmp_path):
    out = tmp_path / "run"
    _a_run(out)
    (out / "notes.txt").write_text("mine")
    (out / "checkpoint" / "model_epoch50.pt").write_text("mine")
    (out / "empty").mkdir()
    before = _tree(out)
    with pytest.raises(OutputError) as err:
        RunDirectory(out).open(overwrite=True)
    for name in ("checkpoint/model_epoch50.pt", "empty/", "notes.txt"):
        assert str(out / name) in str(err.value)
    assert "results.json" not in str(err.value)
    assert _tree(out) == before and not (out / PREVIOUS).exists()
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "results.json").write_text("{}")
    with pytest.raises(OutputError, match="no run manifest"):
        RunDirectory(plain).open(overwrite=True)


def test_a_run_from_before_manifests_is_recognised_by_its_checkpoint(tmp_path):
    for name, fmt in (("old", "mtjxbar-checkpoint"), ("other", "something else")):
        out = tmp_path / name
        write_text(out, "results.json", "{}")
        write_text(out, "checkpoint/state.json", json.dumps({"format": fmt}))
    run = RunDirectory(tmp_path / "old").open(overwrite=True)
    run.commit()
    run.close()
    assert sorted(p.name for p in (tmp_path / "old").iterdir()) == [MANIFEST]
    with pytest.raises(OutputError, match="no run manifest"):
        RunDirectory(tmp_path / "other").open(overwrite=True)
