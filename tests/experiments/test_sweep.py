"""Sweeps: grid expansion (products, tied fields, several grids), validation, the results table, resuming,
determinism, plots from the table alone, and the Ray path (skipped without Ray)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from mtjxbar.config import ConfigError
from mtjxbar.experiments.files import OutputError
from mtjxbar.experiments.sweep import SweepError, run_sweep
from mtjxbar.experiments.sweep_config import expand, load_sweep, parse_sweep, sweep_to_dict
from mtjxbar.experiments.sweep_table import format_table, read_table
from mtjxbar.plots.sweep import axis_series, find_axes, plot_sweep_table

V = "hardware.variation."
TINY = {"hidden": [4], "data": {"dataset": "digits", "max_train": 60, "max_test": 50},
        "training": {"epochs": 1, "outputs_per_class": 1}}


def _sweep(grid, seeds=(0, 1), methods=("insitu", "exsitu"), **base):
    return parse_sweep({**TINY, **base, "sweep": {"grid": grid, "seeds": list(seeds), "methods": list(methods)}})


def test_a_grid_is_the_product_of_its_axes_times_the_seeds():
    sweep = _sweep({f"{V}r_p_dtod": [0, 0.1, 0.2], "training.lr": [0.1, 0.3]}, seeds=(3, 4))
    tasks = expand(sweep)
    assert len(tasks) == 3 * 2 * 2
    assert sweep.fields == (f"{V}r_p_dtod", "training.lr")
    assert [t.values for t in tasks[:4:2]] == [((f"{V}r_p_dtod", 0.0), ("training.lr", 0.1)),
                                               ((f"{V}r_p_dtod", 0.0), ("training.lr", 0.3))]
    assert [t.seed for t in tasks[:4]] == [3, 4, 3, 4] and tasks[1].config.seed == 4
    assert tasks[-1].config.hardware.variation.r_p_dtod == 0.2 and tasks[-1].config.training.lr == 0.3
    assert tasks[0].config.hidden == (4,), "the base config is kept"
    assert len({t.key for t in tasks}) == len(tasks)
    assert tasks[0].config.baselines.methods == ("binary_software", "exsitu")


def test_tied_fields_share_one_value_and_several_grids_join_with_shared_points_once():
    spread = f"{V}r_p_dtod, {V}tmr0_dtod,{V}ic0_p2ap_dtod"
    sweep = _sweep([{spread: [0, 0.05, 0.1]}, {f"{V}stuck_p_rate, {V}stuck_ap_rate": [0, 0.01]}], seeds=(0,))
    tasks = expand(sweep)
    assert len(tasks) == 3 + 2 - 1, "the all-zero point of both grids runs once"
    assert sweep.fields == (f"{V}r_p_dtod", f"{V}tmr0_dtod", f"{V}ic0_p2ap_dtod", f"{V}stuck_p_rate",
                            f"{V}stuck_ap_rate")
    v = tasks[2].config.hardware.variation
    assert v.r_p_dtod == v.tmr0_dtod == v.ic0_p2ap_dtod == 0.1 and v.ic0_ap2p_dtod == 0 and v.stuck_p_rate == 0
    v = tasks[3].config.hardware.variation
    assert v.stuck_p_rate == v.stuck_ap_rate == 0.01 and v.r_p_dtod == 0
    assert dict(tasks[3].values)[f"{V}r_p_dtod"] == 0.0
    assert parse_sweep(sweep_to_dict(sweep)) == sweep


@pytest.mark.parametrize(("sweep", "needle"), [
    ({"grid": {f"{V}r_p_dtod": [0.7]}}, "hardware.variation.r_p_dtod = 0.7: must be in [0, 0.5]"),
    ({"grid": {f"{V}r_p_dtodd": [0.1]}}, "did you mean 'r_p_dtod'"),
    ({"grid": {"seed": [1, 2]}}, "use [sweep] seeds"),
    ({"grid": {"training.lr": []}}, "expected a non-empty list"),
    ({"grid": {"training.lr": 0.1}}, "expected a non-empty list"),
    ({"grid": {}}, "expected a table"),
    ({"grid": {"training.lr": [0.1]}, "seed": [1]}, "unknown key 'seed'; did you mean 'seeds'"),
    ({"grid": {"training.lr": [0.1]}, "seeds": [-1]}, "seeds (integers >= 0)"),
    ({"grid": {"training.lr": [0.1]}, "methods": ["insitu", "exsito"]}, "methods (insitu, exsitu"),
    ({"seeds": [0]}, "has no grid"),
    ({"grid": {f"{V}stuck_p_rate": [0.6], f"{V}stuck_ap_rate": [0.5]}}, "stuck_p_rate + stuck_ap_rate"),
])
def test_bad_sweeps_are_config_errors_naming_the_key(sweep, needle):
    with pytest.raises(ConfigError) as err:
        parse_sweep({**TINY, "sweep": sweep})
    assert needle in str(err.value)


def test_a_file_without_sweep_or_with_a_bad_base_is_refused(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text("hidden = [4]\n")
    with pytest.raises(ConfigError, match=r"s\.toml: no \[sweep\] table"):
        load_sweep(path)
    path.write_text("hiden = [4]\n[sweep.grid]\n'training.lr' = [0.1]\n")
    with pytest.raises(ConfigError, match="did you mean 'hidden'"):
        load_sweep(path)
    path.write_text("[sweep\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_sweep(path)


def _tiny_run(out: Path, **kwargs):
    sweep = _sweep({f"{V}r_p_dtod, {V}tmr0_dtod": [0.0, 0.1]}, methods=("insitu", "exsitu", "float"))
    lines: list[str] = []
    return run_sweep(sweep, out, local=True, log=lines.append, **kwargs), lines


def test_the_table_has_one_row_per_point_seed_method_and_the_same_seed_gives_the_same_table(tmp_path):
    first, _ = _tiny_run(tmp_path / "a")
    second, _ = _tiny_run(tmp_path / "b")
    text = first.table.read_text()
    assert text == second.table.read_text()
    header, *rows = text.splitlines()
    assert header == f"method,seed,accuracy,{V}r_p_dtod,{V}tmr0_dtod"
    assert len(rows) == 2 * 2 * 3
    fields, parsed = read_table(first.table)
    assert fields == (f"{V}r_p_dtod", f"{V}tmr0_dtod")
    assert [r["method"] for r in parsed[:3]] == ["insitu", "exsitu", "float"]
    assert all(0 <= r["accuracy"] <= 1 and isinstance(r["seed"], int) for r in parsed)
    stored = json.loads(next((tmp_path / "a" / "points").glob("*.json")).read_text())
    assert stored["format"] == "mtjxbar-sweep-point" and "history" in stored["results"]


def test_a_rerun_skips_stored_runs_and_redoes_only_missing_or_damaged_ones(tmp_path, monkeypatch):
    out = tmp_path / "s"
    first, _ = _tiny_run(out)
    table = first.table.read_text()
    points = sorted((out / "points").glob("*.json"))
    points[0].unlink()
    points[1].write_text("{not json")
    import mtjxbar.experiments.sweep as sweep_module

    calls = []
    real = sweep_module.run_task
    monkeypatch.setattr(sweep_module, "run_task", lambda config, *a, **k: calls.append(config) or real(config, *a,
                                                                                                       **k))
    again, lines = _tiny_run(out)
    assert len(calls) == 2 and again.reused == 2
    assert "2 already done, 2 to run" in lines[0]
    assert again.table.read_text() == table


def test_a_directory_that_holds_no_sweep_is_refused(tmp_path):
    (tmp_path / "x.txt").write_text("mine")
    with pytest.raises(OutputError, match="holds no sweep"):
        _tiny_run(tmp_path)
    with pytest.raises(ConfigError, match="--threads 0"):
        _tiny_run(tmp_path / "n", threads=0)


def test_the_table_round_trips_values():
    fields = ("a.x", "b.y", "c.z")
    rows = [{"method": "insitu", "seed": 0, "accuracy": 0.1 + 0.2, "a.x": 1e-9, "b.y": [64, 32], "c.z": True}]
    text = format_table(fields, rows)
    assert text.splitlines()[1] == 'insitu,0,0.30000000000000004,1e-09,"[64, 32]",true'


def test_plots_come_from_the_table_alone_tied_columns_are_one_axis(tmp_path):
    spread, stuck = (f"{V}r_p_dtod", f"{V}tmr0_dtod"), (f"{V}stuck_p_rate",)
    rows = []
    for s, f, acc in [(0.0, 0.0, 0.9), (0.1, 0.0, 0.8), (0.2, 0.0, 0.7), (0.0, 0.05, 0.6)]:
        for seed, noise in ((0, 0.01), (1, -0.01)):
            rows.append({"method": "insitu", "seed": seed, "accuracy": acc + noise, spread[0]: s, spread[1]: s,
                         stuck[0]: f})
    fields = (*spread, *stuck)
    axes = find_axes(fields, rows)
    assert axes == [spread, stuck]
    lines = axis_series(spread, axes, rows)
    assert list(lines) == [("insitu", ((stuck[0], 0.0),))], "the fault-sweep row is not on the spread line"
    (pts,) = lines.values()
    assert [p[0] for p in pts] == [0.0, 0.1, 0.2]
    assert pts[1][1] == pytest.approx(0.8) and pts[1][2] == pytest.approx(0.02 / 2**0.5)
    assert [p[0] for p in axis_series(stuck, axes, rows)[("insitu", ((spread[0], 0.0),))]] == [0.0, 0.05]
    table = tmp_path / "results.csv"
    table.write_text(format_table(fields, rows))
    paths = plot_sweep_table(table)
    assert [p.name for p in paths] == ["accuracy_vs_r_p_dtod+tmr0_dtod.png", "accuracy_vs_stuck_p_rate.png"]
    assert all(p.stat().st_size > 1000 for p in paths)


def test_sweeps_need_no_ray_unless_asked(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails
    sweep = _sweep({"training.lr": [0.3]}, seeds=(0,))
    with pytest.raises(SweepError, match="Ray is not installed.*--local"):
        run_sweep(sweep, tmp_path / "r")
    assert run_sweep(sweep, tmp_path / "l", local=True).table.is_file()


def test_ray_runs_give_the_local_table(tmp_path):
    pytest.importorskip("ray")
    sweep = _sweep({"training.lr": [0.1, 0.3]}, seeds=(0,))
    on_ray = run_sweep(sweep, tmp_path / "ray", workers=2)
    local = run_sweep(sweep, tmp_path / "local", local=True)
    assert on_ray.table.read_text() == local.table.read_text()


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "variation_sweep.toml"


def test_the_variation_study_parses_and_one_point_of_it_runs(tmp_path):
    from dataclasses import replace

    from mtjxbar.config import apply_overrides
    from mtjxbar.experiments.sweep_config import Axis

    sweep = load_sweep(EXAMPLE)
    tasks = expand(sweep)
    assert len(tasks) == (5 + 4 - 1) * 5 and sweep.methods == ("insitu", "exsitu")
    assert len(sweep.grids) == 2 and len(sweep.grids[0][0].paths) == 4
    data_dir = EXAMPLE.parents[1] / sweep.base.data.data_dir
    if not data_dir.is_dir():
        pytest.skip(f"{data_dir} is not here")
    small = apply_overrides(sweep.base, [f"data.data_dir={data_dir}", "data.max_train=100", "data.max_test=200",
                                         "training.epochs=1"])
    smoke = replace(sweep, base=small, grids=((Axis(sweep.grids[0][0].paths, (0.2,)),),), seeds=(0,))
    result = run_sweep(smoke, tmp_path / "smoke", local=True)
    fields, rows = read_table(result.table)
    assert fields == sweep.grids[0][0].paths and [r["method"] for r in rows] == ["insitu", "exsitu"]
    assert rows[0][f"{V}ic0_ap2p_dtod"] == 0.2


def test_an_unreachable_ray_address_fails_fast_with_a_clear_message():
    import socket

    from mtjxbar.experiments.sweep_ray import check_reachable

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nothing listens there
    with pytest.raises(SweepError, match=f"--address 127.0.0.1:{port}: no Ray cluster answers there"):
        check_reachable(f"127.0.0.1:{port}", timeout=2)
    check_reachable("auto")  # left to Ray
