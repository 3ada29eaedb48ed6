"""Run files: atomic writes inside the output directory only, and no overwriting a run by accident."""

from __future__ import annotations

import os

import pytest

from mtjxbar.experiments.files import OutputError, atomic_path, inside, prepare_output_dir, write_json, write_text


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


def test_prepare_output_dir(tmp_path):
    out = tmp_path / "run"
    prepare_output_dir(out)
    assert out.is_dir()
    prepare_output_dir(out)  # empty: fine
    (out / "results.json").write_text("{}")
    (out / "checkpoint").mkdir()
    (out / "checkpoint" / "state.json").write_text("{}")
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="--overwrite"):
        prepare_output_dir(out)
    prepare_output_dir(out, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]  # only a run's own files go
    prepare_output_dir(out, resume=True)
    with pytest.raises(OutputError, match="no such run directory"):
        prepare_output_dir(tmp_path / "missing", resume=True)
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match="not a directory"):
        prepare_output_dir(tmp_path / "file")
