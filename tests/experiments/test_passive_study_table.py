"""examples/passive_study_table.py: the runs it plans, how it resumes them, and the table it writes from
finished runs (no training here: results.json files written by hand)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mtjxbar.experiments.checkpoint import Checkpoint

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def study(load_script):
    return load_script("examples/passive_study_table.py")


def _args(tmp_path: Path, **kw) -> argparse.Namespace:
    base = {"data_dir": Path("data"), "seeds": [0, 1, 2], "checkpoint_every": 1000, "max_train": 0, "max_test": 0,
            "epochs": 0, "runs": tmp_path / "runs", "out": tmp_path / "out", "ohms": [0.0, 1.0, 2.5]}
    return argparse.Namespace(**{**base, **kw})


def test_plan_is_the_issues_table(study, tmp_path):
    runs = study.plan(_args(tmp_path))
    passive = [r for r in runs if r["array"] == "passive"]
    assert [r["name"] for r in runs[:3]] == ["1t1mtj_s0", "1t1mtj_s1", "1t1mtj_s2"]
    assert {(r["wire_ohm"], r["scheme"], r["seed"]) for r in passive} == {
        (o, s, k) for o in ("0", "1", "2.5") for s in ("v2", "v3") for k in (0, 1, 2)}
    assert len(passive) == 18
    first = passive[0]["flags"]
    assert first[first.index("--config") + 1] == "examples/mnist_independent.toml"  # 784-512-160, 6 epochs
    for flag, value in (("--tile-size", "64"), ("--fidelity", "exact"), ("--write-compensation", "2")):
        assert first[first.index(flag) + 1] == value
    assert "--no-cost" not in first  # every run is metered: its energy per sample
    # the cheap rows run first: wire resistance never decreases along the plan
    ohms = [float(r["wire_ohm"]) for r in passive]
    assert ohms == sorted(ohms)
    part = study.plan(_args(tmp_path, ohms=[1.0], seeds=[0]))  # --ohms 1 --seeds 0: the 1T1MTJ run and 1 ohm's two
    assert [r["name"] for r in part] == ["1t1mtj_s0", "passive_v2_1ohm_s0", "passive_v3_1ohm_s0"]


def test_a_run_with_a_checkpoint_resumes(study, tmp_path):
    args = _args(tmp_path, checkpoint_every=250)
    run = study.plan(args)[5]
    fresh = study.command(run, args.runs)
    assert "--overwrite" in fresh and "--resume" not in fresh
    assert fresh[fresh.index("--out") + 1] == str(args.runs / run["name"])
    folder = args.runs / run["name"]
    marker = Checkpoint(folder).json_path  # what a checkpoint holds once it is written
    marker.parent.mkdir(parents=True)
    marker.write_text("{}")
    resumed = study.command(run, args.runs)
    assert resumed[resumed.index("--resume") + 1] == str(folder)
    assert resumed[resumed.index("--checkpoint-every") + 1] == "250"
    assert "--config" not in resumed  # the checkpoint holds the configuration


def _data_dir(tmp_path: Path) -> Path:
    """A --data-dir the script accepts (it only looks for the training images' file)."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "train-images-idx3-ubyte.gz").write_bytes(b"")
    return data


def _results(insitu: float, energy: float | None, flips: int = 600, disturb: int = 3) -> dict:
    out = {"insitu_epochs": [{"flips": flips, "disturb_flips": disturb}] * 2, "n_train": 100, "epochs": 2,
           "accuracy": {"insitu": insitu, "exsitu": 0.8, "float": None}, "train_seconds": {"insitu": 20.0}}
    if energy is not None:
        out["hardware"] = {"insitu_parallel": {"energy_j": energy}}
    return out


def test_table_of_finished_runs_lists_the_rest_as_pending(study, tmp_path):
    args = _args(tmp_path, seeds=[0, 1])
    runs = study.plan(args)
    finished = {"passive_v3_1ohm_s0": (0.80, 2e-9), "passive_v3_1ohm_s1": (0.70, 4e-9), "1t1mtj_s0": (0.85, None)}
    for name, (acc, energy) in finished.items():
        (args.runs / name).mkdir(parents=True)
        (args.runs / name / "results.json").write_text(json.dumps(_results(acc, energy)))
    text = study.write_table(runs, args, ["cmd"])
    row = next(line for line in text.splitlines() if line.startswith("| passive | 1 | V/3"))
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[3] == "0,1"
    assert cells[4] == "75.00 ± 7.07 %"  # mean ± sd of 80 and 70
    assert cells[5] == "-5.00 (1)"  # paired: seed 0 only has a 1T1MTJ run (80 - 85)
    assert cells[8] == "6.0" and cells[9] == "0.0300"  # 1,200 flips and 6 disturbs over 200 samples
    assert cells[10] == "3.0 nJ" and cells[11] == "100"  # mean energy; 20 s over 200 samples
    assert "| 1T1MTJ | - | - | 0 | 85.00 % | - |" in text
    assert (args.out / "passive_study.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pending = text.split("Pending (")[1]
    assert pending.startswith(f"{len(runs) - 3} runs") and "`passive_v2_0ohm_s0`" in pending
    assert "`passive_v3_1ohm_s0`" not in pending
    csv_rows = (args.out / "passive_study_runs.csv").read_text().splitlines()
    assert len(csv_rows) == 4 and csv_rows[0].startswith("array,wire_ohm,scheme,seed")


def test_a_run_still_running_is_not_started_twice(study, tmp_path):
    """running_pid: the recorded process counts only while it is alive and its command line names the run."""
    import os

    pid_file = tmp_path / "run.pid"
    assert study.running_pid(pid_file, "anything") is None  # no file
    pid_file.write_text(str(os.getpid()))
    own = Path(f"/proc/{os.getpid()}/cmdline").read_bytes().split(b"\0")[0].decode()
    assert study.running_pid(pid_file, Path(own).name) == os.getpid()  # alive and named: skip it
    assert study.running_pid(pid_file, "passive_v3_1ohm_s0") is None  # a reused PID: not the run
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    pid_file.write_text(str(dead.pid))
    assert study.running_pid(pid_file, "python") is None  # exited
    pid_file.write_text("not a pid")
    assert study.running_pid(pid_file, "python") is None


def _config(seed=0, epochs=6, kind="passive", ohm=1.0, scheme="v3", max_train=None, tile=64) -> dict:
    data = {"dataset": "mnist"} if max_train is None else {"dataset": "mnist", "max_train": max_train}
    return {"seed": seed, "training": {"epochs": epochs}, "data": data,
            "hardware": {"array": {"kind": kind, "write_scheme": scheme, "circuit": {"r_wire_row": ohm},
                                   "tile_rows": tile, "fidelity": "exact", "write_compensation": 2}}}


def test_saved_runs_of_other_settings_are_refused(study, tmp_path):
    """A smoke run (or any other settings) saved under the same --runs is never reused, resumed or overwritten:
    the script stops with the folder and the differing fields named."""
    args = _args(tmp_path)
    run = next(r for r in study.plan(args) if r["name"] == "passive_v3_1ohm_s0")
    assert study.mismatch(run, _config(), args) is None
    assert "training.epochs 2 (asked: 6)" in study.mismatch(run, _config(epochs=2), args)
    assert "data.max_train 40" in study.mismatch(run, _config(max_train=40), args)
    assert "write_scheme 'v2'" in study.mismatch(run, _config(scheme="v2"), args)
    assert "wire_ohm 2.5" in study.mismatch(run, _config(ohm=2.5), args)
    assert "tile_rows 32 (asked: 64)" in study.mismatch(run, _config(tile=32), args)
    folder = args.runs / run["name"]
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps({**_results(0.8, None), "config": _config(epochs=2)}))
    assert study.saved_config(folder)["training"]["epochs"] == 2
    data = _data_dir(tmp_path)
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "passive_study_table.py"), "--data-dir", str(data),
                           "--runs", str(args.runs), "--out", str(args.out), "--table-only"],
                          capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert "holds a run of other settings (training.epochs 2 (asked: 6))" in done.stderr
    assert "Traceback" not in done.stderr and not args.out.exists()


def test_a_finished_run_outlives_its_folder(study, tmp_path):
    """runs/ is not committed: a finished run leaves a record beside the table, and a checkout without the run's
    folder keeps its row and does not run it again (its record's settings are checked like a folder's)."""
    args = _args(tmp_path, seeds=[0])
    runs = study.plan(args)
    run = next(r for r in runs if r["name"] == "passive_v2_0ohm_s0")
    folder = args.runs / run["name"]
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps({**_results(0.83, 7e-8), "config": _config(ohm=0.0, scheme="v2")}))
    before = study.write_table(runs, args, ["cmd"])
    record = json.loads(study.record_path(run, args).read_text())
    assert record["row"]["insitu_acc"] == pytest.approx(83.0) and record["config"]["seed"] == 0
    (folder / "results.json").unlink()
    assert study.write_table(runs, args, ["cmd"]) == before  # the row survives, from the record
    assert "`passive_v2_0ohm_s0`" not in before.split("Pending (")[1]
    assert study.mismatch(run, record["config"], args) is None
    data = _data_dir(tmp_path)
    record["config"] = _config(ohm=0.0, scheme="v3")
    study.record_path(run, args).write_text(json.dumps(record))
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "passive_study_table.py"), "--data-dir", str(data),
                           "--runs", str(args.runs), "--out", str(args.out), "--table-only", "--seeds", "0"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "records a run of other settings (write_scheme 'v3'" in done.stderr, done.stderr


def test_park_stops_the_table_and_packs_its_unfinished_runs(study, tmp_path):
    """--park: the table's own process and its runs are stopped (SIGTERM), every unfinished run with a checkpoint
    is packed beside the table with its log, and a checkout without runs/ unpacks and resumes it."""
    from mtjxbar.experiments.checkpoint import config_sha256

    args = _args(tmp_path, seeds=[0], ohms=[1.0])
    runs = study.plan(args)
    names = [r["name"] for r in runs]  # 1t1mtj_s0, passive_v2_1ohm_s0, passive_v3_1ohm_s0
    for name in names[1:]:
        config = _config(scheme=name.split("_")[1])
        Checkpoint(args.runs / name).save({"config": config, "config_sha256": config_sha256(config)},
                                          {"states": torch.ones(64, 64, dtype=torch.bool)})
        (args.runs / f"{name}.log").write_text(f"{name}: epoch 1/6\n")
    sleepers = {}
    for name in ("passive_study_table", names[1]):  # the table's process and one of its runs, alive
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", name])
        sleepers[name] = proc
        (args.runs / (study.TABLE_PID if name == "passive_study_table" else f"{name}.pid")).write_text(str(proc.pid))
        for _ in range(200):  # until it has exec'd: before, its command line is this process's
            if name.encode() in Path(f"/proc/{proc.pid}/cmdline").read_bytes():
                break
            time.sleep(0.01)
    try:
        assert study.park(runs, args, ["cmd"], wait=30) == 0
        assert all(p.wait(timeout=10) == -15 for p in sleepers.values())  # both got SIGTERM
    finally:
        for proc in sleepers.values():
            proc.kill()
    for name in names[1:]:
        assert study.parked_path({"name": name}, args).exists()
    assert not study.parked_path({"name": names[0]}, args).exists()  # no checkpoint: nothing to park
    assert f"`{names[1]}`, `{names[2]}`." in (args.out / "passive_study.md").read_text().split("Parked")[1]
    shutil.rmtree(args.runs)  # a new checkout
    run = runs[1]
    assert study.restore(run, args) and not study.restore(run, args)  # the second time: a checkpoint is there
    assert Checkpoint(args.runs / run["name"]).load_meta()["config"]["hardware"]["array"]["write_scheme"] == "v2"
    assert (args.runs / f"{run['name']}.log").read_text() == f"{run['name']}: epoch 1/6\n"
    assert "--resume" in study.command(run, args.runs)


def test_partial_invocations_keep_the_whole_table_and_never_pack_a_writing_run(study, tmp_path):
    """--ohms limits what is started, not the table; a finished run's archive goes; a run folder whose process
    holds its lock (no pid file: started by hand) is not packed; a second table is refused while one runs."""
    from mtjxbar.experiments.checkpoint import config_sha256
    from mtjxbar.experiments.files import lock_directory

    args = _args(tmp_path, seeds=[0])
    runs = study.plan(args)
    done = next(r for r in runs if r["name"] == "passive_v2_0ohm_s0")
    folder = args.runs / done["name"]
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps({**_results(0.83, 7e-8), "config": _config(ohm=0.0, scheme="v2")}))
    study.parked_path(done, args).parent.mkdir(parents=True)
    study.parked_path(done, args).write_bytes(b"an archive of its last sitting")
    study.write_table(runs, args, ["cmd"])
    assert not study.parked_path(done, args).exists()  # finished: its record replaces the archive
    shutil.rmtree(args.runs)
    data = _data_dir(tmp_path)
    cli = [sys.executable, str(ROOT / "examples" / "passive_study_table.py"), "--data-dir", str(data), "--runs",
           str(args.runs), "--out", str(args.out), "--seeds", "0"]
    shown = subprocess.run([*cli, "--table-only", "--ohms", "1"], capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    assert "| passive | 0 | V/2 | 0 | 83.00 % |" in (args.out / "passive_study.md").read_text()  # kept
    writing = next(r for r in runs if r["name"] == "passive_v3_1ohm_s0")
    config = _config()
    Checkpoint(args.runs / writing["name"]).save({"config": config, "config_sha256": config_sha256(config)},
                                                 {"states": torch.ones(8, 8, dtype=torch.bool)})
    lock = lock_directory(args.runs / writing["name"])
    try:
        assert study.park(runs, args, ["cmd"], wait=1) == 1
    finally:
        os.close(lock)
    assert not study.parked_path(writing, args).exists()
    table = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "passive_study_table"])
    try:
        (args.runs / study.TABLE_PID).write_text(str(table.pid))
        for _ in range(200):
            if b"passive_study_table" in Path(f"/proc/{table.pid}/cmdline").read_bytes():
                break
            time.sleep(0.01)
        second = subprocess.run([*cli, "--ohms", "2.5"], capture_output=True, text=True)
        assert second.returncode == 2 and "the table is running already" in second.stderr, second.stderr
        assert "Traceback" not in second.stderr
    finally:
        table.kill()
        table.wait()


def test_the_gap_to_1t1mtj_is_paired_by_seed(study):
    """The paired column subtracts the 1T1MTJ run of the same seed, over the seeds that have both."""
    def row(array, seed, acc):
        return {"array": array, "seed": seed, "insitu_acc": acc}

    table = [row("1t1mtj", 0, 84.0), row("1t1mtj", 1, 85.0)]
    passive = [row("passive", 0, 85.0), row("passive", 1, 88.0), row("passive", 2, 10.0)]  # seed 2: no pair
    assert study._paired_gap(passive, table + passive) == "+2.00 ± 1.41 (2)"  # gaps +1 and +3
    assert study._paired_gap(passive[2:], table + passive) == "-"
    assert study._paired_gap(table, table) == "-"  # the 1T1MTJ row itself


def test_the_accuracy_after_each_epoch_of_finished_unfinished_and_parked_runs(study, tmp_path):
    """The per-epoch table: a finished run's history from its results.json, kept in its record (so it outlives
    the folder); an unfinished run's from its checkpoint, marked so, and a parked run's from its archive; a
    run with no history is not listed."""
    from mtjxbar.experiments.checkpoint import config_sha256
    from mtjxbar.experiments.parking import park_run

    args = _args(tmp_path, seeds=[0])
    runs = study.plan(args)
    named = {r["name"]: r for r in runs}
    done = args.runs / "passive_v2_0ohm_s0"
    done.mkdir(parents=True)
    history = {"insitu": [0.80, 0.825], "binary_software": [0.9, 0.9], "exsitu": [0.88, 0.89]}
    (done / "results.json").write_text(json.dumps({**_results(0.825, 7e-8), "history": history,
                                                   "config": _config(ohm=0.0, scheme="v2")}))
    for name, hist in (("passive_v3_1ohm_s0", {"insitu": [0.81, 0.82, 0.83], "exsitu": [0.87, 0.88]}),
                       ("passive_v2_1ohm_s0", {"insitu": [0.79], "exsitu": [0.86]})):
        config = _config(scheme=name[8:10])
        Checkpoint(args.runs / name).save({"config": config, "config_sha256": config_sha256(config),
                                           "history": hist}, {"x": torch.zeros(1)})
    park_run(args.runs / "passive_v2_1ohm_s0", study.parked_path(named["passive_v2_1ohm_s0"], args))
    shutil.rmtree(args.runs / "passive_v2_1ohm_s0")
    text = study.write_table(runs, args, ["cmd"])
    assert "| passive_v2_0ohm_s0 | 80.00 / 88.00 | 82.50 / 89.00 |  |" in text
    assert "| passive_v3_1ohm_s0 (unfinished) | 81.00 / 87.00 | 82.00 / 88.00 | 83.00 / - |" in text
    assert "| passive_v2_1ohm_s0 (unfinished) | 79.00 / 86.00 |  |  |" in text  # from the parked archive
    assert "passive_v3_0ohm_s0 |" not in text and "1t1mtj_s0 |" not in text
    kept = study.load_record(named["passive_v2_0ohm_s0"], args)["history"]
    assert kept == {"insitu": [80.0, 82.5], "exsitu": [88.0, 89.0]}
    (done / "results.json").unlink()
    assert study.write_table(runs, args, ["cmd"]) == text  # the finished run's history, from its record


def test_the_per_epoch_table_skips_what_it_cannot_read(study, tmp_path):
    """A record written before records kept a history, or with a history missing a method, a corrupt
    checkpoint beside a good parked archive, and a corrupt archive alone: no crash, the readable history
    shown, the rest left out."""
    from mtjxbar.experiments.checkpoint import config_sha256
    from mtjxbar.experiments.parking import park_run

    args = _args(tmp_path, seeds=[0])
    runs = study.plan(args)
    named = {r["name"]: r for r in runs}
    old = {"name": "passive_v2_0ohm_s0", "row": {}, "config": None}
    study.record_path(named["passive_v2_0ohm_s0"], args).parent.mkdir(parents=True)
    study.record_path(named["passive_v2_0ohm_s0"], args).write_text(json.dumps(old))
    study.record_path(named["passive_v3_0ohm_s0"], args).write_text(
        json.dumps({**old, "name": "passive_v3_0ohm_s0", "history": {"insitu": [81.5]}}))
    config = _config(scheme="v2")
    good = args.runs / "passive_v2_1ohm_s0"
    Checkpoint(good).save({"config": config, "config_sha256": config_sha256(config),
                           "history": {"insitu": [0.79], "exsitu": [0.86]}}, {"x": torch.zeros(1)})
    park_run(good, study.parked_path(named["passive_v2_1ohm_s0"], args))
    Checkpoint(good).json_path.write_text("{broken")  # the folder's checkpoint is corrupt, the archive is not
    study.parked_path(named["passive_v3_1ohm_s0"], args).write_bytes(b"not an archive")
    lines = study.epoch_lines(runs, args)
    assert "| passive_v3_0ohm_s0 | 81.50 / - |" in lines
    assert "| passive_v2_1ohm_s0 (unfinished) | 79.00 / 86.00 |" in lines
    assert not any("passive_v2_0ohm_s0" in line or "passive_v3_1ohm_s0" in line for line in lines)
