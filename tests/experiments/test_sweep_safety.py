"""A sweep folder holds one sweep (another definition is refused, naming what differs), reuses a stored run
only if this mtjxbar version made it, is locked while a sweep runs in it, and says which extra brings Ray."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from mtjxbar.cli.main import main
from mtjxbar.experiments.files import OutputError
from mtjxbar.experiments.sweep import run_sweep
from mtjxbar.experiments.sweep_config import parse_sweep

TINY = {"hidden": [4], "data": {"dataset": "digits", "max_train": 40, "max_test": 30},
        "training": {"epochs": 1, "outputs_per_class": 1}}


def _sweep(lr=(0.1, 0.3), seeds=(0,), **base):
    return parse_sweep({**TINY, **base, "sweep": {"grid": {"training.lr": list(lr)}, "seeds": list(seeds),
                                                  "methods": ["insitu"]}})


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_another_sweep_definition_in_a_sweep_folder_is_refused_naming_what_differs(tmp_path):
    out = tmp_path / "S"
    run_sweep(_sweep(), out, local=True)
    before = _files(out)
    with pytest.raises(OutputError) as err:
        run_sweep(_sweep(lr=(0.1, 1.0), seeds=(0, 1), seed=3), out, local=True)
    text = str(err.value)
    assert str(out) in text and "holds another sweep" in text
    assert "seed: 0 there, 3 here" in text and "sweep.seeds: [0] there, [0, 1] here" in text
    assert "sweep.grid.training.lr: [0.1, 0.3] there, [0.1, 1.0] here" in text
    assert f"mtjxbar sweep {out / 'sweep.toml'} --out {out}" in text
    assert _files(out) == before, "the stored sweep, its table and plots are untouched"
    assert run_sweep(_sweep(), out, local=True).reused == 2  # the same sweep continues


def test_a_run_stored_by_another_version_is_run_again(tmp_path, monkeypatch):
    out = tmp_path / "S"
    first = run_sweep(_sweep(), out, local=True)
    table = first.table.read_text()
    point = sorted((out / "points").glob("*.json"))[0]
    record = json.loads(point.read_text())
    record["version"] = "0.0.1"
    point.write_text(json.dumps(record))
    lines: list[str] = []
    again = run_sweep(_sweep(), out, local=True, log=lines.append)
    assert again.reused == 1 and "1 already done, 1 to run" in lines[0]
    assert "1 of them was stored by another mtjxbar version" in lines[1]
    assert json.loads(point.read_text())["version"] != "0.0.1"
    assert again.table.read_text() == table


def test_a_sweep_folder_in_use_is_refused(tmp_path):
    from mtjxbar.experiments.files import lock_directory

    out = tmp_path / "S"
    out.mkdir()
    fd = lock_directory(out, "sweep")
    try:
        with pytest.raises(OutputError, match=f"{out}: another mtjxbar sweep is writing into this directory"):
            run_sweep(_sweep(), out, local=True)
    finally:
        import os

        os.close(fd)


def test_a_sweep_without_ray_names_the_extra_in_one_line(tmp_path, capsys, monkeypatch):
    path = tmp_path / "s.toml"
    path.write_text('hidden = [4]\n[sweep]\nseeds = [0]\n[sweep.grid]\n"training.lr" = [0.1]\n')
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails
    assert main(["sweep", str(path), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "pip install 'mtjxbar[sweep]'" in err and "--local" in err
    assert not (tmp_path / "o").exists()
