"""Run a sweep (:mod:`.sweep_config`), resumably: in-process, or on Ray (:mod:`.sweep_ray`).

Each point x seed is one :func:`.runner.run_experiment` (no cost metering). The process that runs the sweep
stores every finished run as ``OUT/points/<key>.json`` the moment it arrives (atomic: temporary file,
fsync, rename), where ``key`` is a digest of the run's whole config, and rewrites ``OUT/results.csv``
(:mod:`.sweep_table`) from everything stored. A rerun of the same sweep skips the stored runs, so a sweep
killed at any moment (even with SIGKILL) loses only the runs in flight, and a finished rerun writes exactly
the table an uninterrupted run writes. A stored run is reused only if its config digest matches and the
same mtjxbar version made it (else it runs again). ``OUT/sweep.toml`` is the sweep as parsed (rerun it with
``mtjxbar sweep OUT/sweep.toml --out OUT``); a folder holds one sweep: another definition (other base
config, grid, seeds or methods) is refused, naming what differs. The folder is locked (``flock``) while a
sweep runs in it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import ConfigError
from .config import DataConfig, ExperimentConfig
from .datasets import Dataset, load_dataset
from .files import OutputError, lock_directory, write_json, write_text
from .progress import ProgressPrinter
from .sweep_config import Sweep, Task, expand, load_sweep, sweep_to_dict
from .sweep_table import format_table

__all__ = ["SweepError", "SweepRun", "run_sweep", "run_task", "prepare_sweep_dir", "check_same_sweep", "table_rows",
           "POINT_FORMAT"]

POINT_FORMAT = "mtjxbar-sweep-point"
TABLE_NAME = "results.csv"


class SweepError(ValueError):
    """A sweep cannot run or a run of it failed; the message names the run or the path."""


@dataclass(frozen=True)
class SweepRun:
    """What :func:`run_sweep` did: every task, how many were already stored, and the table's path."""

    tasks: tuple[Task, ...]
    reused: int
    table: Path


def _with_absolute_data_dir(config: ExperimentConfig) -> ExperimentConfig:
    """Workers may start elsewhere: resolve a relative data directory against this process's directory."""
    data_dir = config.data.data_dir
    if data_dir is None or Path(data_dir).is_absolute():
        return config
    return replace(config, data=replace(config.data, data_dir=str(Path(data_dir).resolve())))


def run_task(config: ExperimentConfig, threads: int = 1, progress: ProgressPrinter | None = None,
             data: Dataset | None = None) -> dict:
    """Train and evaluate one run (``threads`` torch CPU threads); its results record."""
    from .runner import run_experiment
    from .threads import limit_threads

    limit_threads(threads)
    return run_experiment(config, progress, data=data, meter=False)


def check_same_sweep(out: Path, sweep: Sweep) -> None:
    """Refuse to run ``sweep`` in ``out`` when ``out`` holds another sweep (its ``sweep.toml``), naming every
    field that differs."""
    from .checkpoint import config_diff

    path = out / "sweep.toml"
    if not path.is_file():
        return
    try:
        stored = load_sweep(path)
    except ConfigError as err:
        raise OutputError(f"{path}: the sweep stored in {out} cannot be read ({err}); choose another --out") from None
    diffs = config_diff(sweep_to_dict(stored), sweep_to_dict(sweep))
    if diffs:
        listed = "; ".join(f"{p}: {a!r} there, {b!r} here" for p, a, b in diffs[:8])
        more = f" and {len(diffs) - 8} more" if len(diffs) > 8 else ""
        raise OutputError(f"{out}: holds another sweep ({path}: {listed}{more}); a folder holds one sweep: choose "
                          f"another --out, or continue that one with: mtjxbar sweep {path} --out {out}")


def prepare_sweep_dir(out: Path) -> None:
    """Create ``out``, or accept it if it holds a sweep (resume); refuse any other non-empty directory."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / "sweep.toml").is_file():
        raise OutputError(f"{out}: the directory is not empty and holds no sweep (no sweep.toml); choose "
                          "another --out")
    (out / "points").mkdir(parents=True, exist_ok=True)


def _point_name(task: Task) -> str:
    return f"points/{task.key}.json"


def _stored(out: Path, task: Task, methods: tuple[str, ...]) -> dict | None:
    """The stored record of ``task``, or None if absent or unusable (then the run is done again)."""
    path = out / _point_name(task)
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(record, dict) and record.get("format") == POINT_FORMAT and record.get("key") == task.key \
        and record.get("version") == __version__ \
        and isinstance(record.get("accuracy"), dict) and all(m in record["accuracy"] for m in methods)
    return record if ok else None


def _stored_version(out: Path, task: Task) -> str | None:
    """The mtjxbar version that stored ``task``'s run, if one is stored."""
    try:
        record = json.loads((out / _point_name(task)).read_text())
        return str(record["version"]) if isinstance(record, dict) and "version" in record else None
    except (OSError, ValueError):
        return None


def _store(out: Path, task: Task, results: dict) -> dict:
    record = {"format": POINT_FORMAT, "key": task.key, "point": task.point, "seed": task.seed,
              "values": dict(task.values), "accuracy": results["accuracy"], "version": __version__,
              "results": results}
    write_json(out, _point_name(task), record)
    return record


def table_rows(tasks: list[Task], records: dict[str, dict], methods: tuple[str, ...]) -> list[dict[str, Any]]:
    """Rows of the results table for the tasks that have a record, in task order then method order."""
    rows = []
    for task in tasks:
        record = records.get(task.key)
        if record is None:
            continue
        for method in methods:
            rows.append({"method": method, "seed": task.seed, "accuracy": float(record["accuracy"][method]),
                         **dict(task.values)})
    return rows


def _summary(task: Task, record: dict, methods: tuple[str, ...]) -> str:
    return ", ".join(f"{m} {record['accuracy'][m]:.4f}" for m in methods)


def _load_data(tasks: list[Task]) -> dict[DataConfig, Dataset]:
    """Every data set the tasks use, loaded once (a missing or bad file fails here, before any run)."""
    data: dict[DataConfig, Dataset] = {}
    for task in tasks:
        d = task.config.data
        if d not in data:
            data[d] = load_dataset(d.dataset, d.data_dir, max_train=d.max_train, max_test=d.max_test)
    return data


def _local_results(todo: list[Task], data: dict[DataConfig, Dataset], threads: int,
                   progress: ProgressPrinter | None) -> Iterator[tuple[Task, dict]]:
    for task in todo:
        yield task, run_task(task.config, threads, progress, data[task.config.data])


def run_sweep(sweep: Sweep, out: Path, *, local: bool = False, address: str | None = None,
              workers: int | None = None, threads: int = 1, log: Callable[[str], None] = lambda line: None,
              progress: ProgressPrinter | None = None) -> SweepRun:
    """Run every task of ``sweep`` not yet stored in ``out``; returns what was done.

    ``local``: in this process, one run after another (``progress`` shows each run's epochs). Otherwise on
    Ray: a local Ray instance with ``workers`` CPUs (default all), or the cluster at ``address``, at most
    ``workers`` runs at a time. ``log`` gets one line per finished run.
    """
    if threads < 1:
        raise ConfigError(f"--threads {threads}: must be >= 1")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers {workers}: must be >= 1")
    if local and address:
        raise ConfigError("--local and --address: choose one (in this process, or on the Ray cluster)")
    if not local:
        from .sweep_ray import import_ray

        import_ray()  # without Ray, say so before anything runs
    tasks = expand(sweep)
    out = Path(out)
    check_same_sweep(out, sweep)
    stored = {t.key: r for t in tasks if (r := _stored(out, t, sweep.methods)) is not None}
    todo = [t for t in tasks if t.key not in stored]
    data = _load_data(todo)  # data problems are reported before the output directory is touched
    prepare_sweep_dir(out)
    lock = lock_directory(out, "sweep")
    try:
        return _run_locked(sweep, out, tasks, stored, todo, data, local=local, address=address, workers=workers,
                           threads=threads, log=log, progress=progress)
    finally:
        os.close(lock)


def _run_locked(sweep: Sweep, out: Path, tasks: list[Task], stored: dict[str, dict], todo: list[Task],
                data: dict[DataConfig, Dataset], *, local: bool, address: str | None, workers: int | None,
                threads: int, log: Callable[[str], None], progress: ProgressPrinter | None) -> SweepRun:
    """:func:`run_sweep` once ``out`` is checked and locked."""
    check_same_sweep(out, sweep)  # again, now that no other sweep can write it
    import tomli_w

    write_text(out, "sweep.toml", tomli_w.dumps(sweep_to_dict(sweep)))
    records = stored
    points = len({t.point for t in tasks})
    where = "in this process" if local else f"on Ray ({address or 'local instance'})"
    log(f"sweep: {points} points x {len(sweep.seeds)} seeds = {len(tasks)} runs; {len(records)} already done, "
        f"{len(todo)} to run {where}")
    stale = sum(1 for t in todo if _stored_version(out, t) not in (None, __version__))
    if stale:
        log(f"sweep: {stale} of them {'were' if stale > 1 else 'was'} stored by another mtjxbar version and "
            f"{'run' if stale > 1 else 'runs'} again")

    def write_table() -> Path:
        return write_text(out, TABLE_NAME, format_table(sweep.fields, table_rows(tasks, records, sweep.methods)))

    reused = len(records)
    if todo:
        if local:
            results = _local_results(todo, data, threads, progress)
        else:
            data.clear()  # the workers load their own
            from .sweep_ray import ray_results

            ray_todo = [replace(t, config=_with_absolute_data_dir(t.config)) for t in todo]
            results = ray_results(ray_todo, threads, address=address, workers=workers)
        started = time.perf_counter()
        for done, (task, result) in enumerate(results, start=1):
            records[task.key] = _store(out, task, result)
            write_table()
            log(f"[{reused + done}/{len(tasks)}] {task.label()}: {_summary(task, records[task.key], sweep.methods)} "
                f"({time.perf_counter() - started:.0f} s elapsed)")
    return SweepRun(tuple(tasks), reused, write_table())
