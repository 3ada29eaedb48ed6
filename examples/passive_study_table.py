"""Passive (0T1MTJ) arrays on the network of the 1T1MTJ study (issue 23's table): MNIST, 784-512-160, 6 epochs.

Every run trains the study's recipe, ``examples/mnist_independent.toml`` (784-512-10 with 16 outputs per class,
one MTJ per synapse against a reference column, the independent-flip rule, lr 0.3 decaying by 0.7 per epoch,
6 epochs of ``../shared/data/mnist-train10k``, the 10,000 test images), on one of:

* 1T1MTJ arrays (in situ, with the float and ex-situ baselines of the same seed);
* passive arrays cut into 64 x 64 tiles, 0, 1 and 2.5 ohm per wire segment, V/2 and V/3 writes, exact circuit
  reads and writes (line relaxation, bias-dependent TMR), write compensation 2 steps, per-tile read
  calibration (ex situ: the software binary network programmed into the same passive arrays).

Every run is metered (``results.json``'s ``hardware``: the modelled energy of a training sample on its array
kind) and checkpoints every ``--checkpoint-every`` samples: the script resumes a run that has a checkpoint and
no ``results.json``, and reuses finished runs, so the table grows over as many sittings as it takes (a passive
run at 1 ohm takes 6-7 hours on one core: ``bench/passive_study_step.py``, docs/passive.md). After every
finished run it rewrites ``docs/results/passive_study.md``, ``passive_study_runs.csv`` and ``passive_study.png``
with the runs finished so far and lists the others as pending, with the test accuracy after each epoch of every
run that has one (finished or not), and keeps the run's record (its table row, configuration and per-epoch
accuracies) as ``docs/results/passive_study_runs/NAME.json``: ``runs/`` is not committed, so a fresh
checkout counts a run as finished by its record and neither reruns it nor drops it from the table. Each run's
progress lines go to ``runs/passive_study/NAME.log`` and its process id to ``NAME.pid`` while it runs: a second
invocation skips runs still running. To stop the table, stop this script, then send the runs SIGTERM (``pkill
-TERM -f runs/passive_study/``): each checkpoints at its next sample and exits, and the next invocation resumes it (a
checkpoint, like the folder, does not outlive the checkout). ``--park`` does all of that and then packs every
unfinished run (folder and log, about 2 MB) into ``docs/results/passive_study_parked/NAME.tar.xz`` to commit: the
next invocation, in any checkout, unpacks it and resumes the run where it stopped (a 1-ohm run takes longer
than a sitting; its archive is dropped when it finishes).
A folder under ``--runs`` that holds a run of other settings (a smoke run with ``--max-train``, say) stops the
script with the fields that differ: it is never reused, resumed or overwritten.

    python examples/passive_study_table.py                  # all runs, 2 at a time, 1T1MTJ and 0 ohm first
    python examples/passive_study_table.py --dry-run        # the commands only
    python examples/passive_study_table.py --table-only     # the table of the runs finished so far
    python examples/passive_study_table.py --park           # stop, and pack the unfinished runs to commit
    python examples/passive_study_table.py --ohms 1         # start the 1-ohm runs only (all rows shown)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Lock

from mtjxbar.experiments.checkpoint import Checkpoint, CheckpointError
from mtjxbar.experiments.files import write_json
from mtjxbar.experiments.parking import ParkingError, park_run, parked_state, unpark_run

ROOT = Path(__file__).resolve().parents[1]
OHMS, SCHEMES = (0.0, 1.0, 2.5), ("v2", "v3")
TABLE_PID = "table.pid"
COLUMNS = ("array", "wire_ohm", "scheme", "seed", "train_samples", "epochs", "insitu_acc", "exsitu_acc", "float_acc",
           "flips_per_sample", "disturb_per_sample", "energy_per_sample_j", "ms_per_sample")


def plan(args) -> list[dict]:
    """One dict per run (name, table labels, ``mtjxbar train`` flags), in the order they run: the 1T1MTJ
    reference, then the passive rows by wire resistance (cheapest first), seed by seed."""
    base = ["--config", "examples/mnist_independent.toml", "--data-dir", str(args.data_dir), "--threads", "1",
            "--checkpoint-every", str(args.checkpoint_every)]
    if args.max_train:
        base += ["--max-train", str(args.max_train)]
    if args.max_test:
        base += ["--max-test", str(args.max_test)]
    if args.epochs:
        base += ["--epochs", str(args.epochs)]
    out = [{"name": f"1t1mtj_s{s}", "array": "1t1mtj", "wire_ohm": "", "scheme": "", "seed": s,
            "flags": [*base, "--seed", str(s), "--array", "1t1mtj"]} for s in args.seeds]
    passive = ["--array", "passive", "--tile-size", "64", "--fidelity", "exact", "--write-compensation", "2",
               "--methods", "binary_software", "exsitu"]
    for ohm in args.ohms:
        for s in args.seeds:
            for scheme in SCHEMES:
                out.append({"name": f"passive_{scheme}_{ohm:g}ohm_s{s}", "array": "passive", "wire_ohm": f"{ohm:g}",
                            "scheme": scheme, "seed": s,
                            "flags": [*base, "--seed", str(s), *passive, "--write-scheme", scheme,
                                      "--wire-resistance", f"{ohm:g}"]})
    return out


def command(run: dict, runs: Path) -> list[str]:
    """The run's ``mtjxbar train`` command: a fresh start, or ``--resume`` where a checkpoint exists."""
    folder = runs / run["name"]
    train = [sys.executable, "-m", "mtjxbar.cli.main", "train"]
    if Checkpoint(folder).exists():
        return [*train, "--resume", str(folder), "--threads", "1", "--checkpoint-every",
                run["flags"][run["flags"].index("--checkpoint-every") + 1]]
    # a folder without a checkpoint holds at most the files of a run stopped before its first one
    return [*train, *run["flags"], "--out", str(folder), "--overwrite"]


def saved_config(folder: Path) -> dict | None:
    """The configuration a run folder holds (its ``results.json``, else its checkpoint's), None if neither."""
    if (folder / "results.json").exists():
        return json.loads((folder / "results.json").read_text())["config"]
    if Checkpoint(folder).exists():
        return Checkpoint(folder).load_meta()["config"]
    return None


def parked_path(run: dict, args) -> Path:
    """Where an unfinished run is parked (``--park``), beside the table (committed, unlike ``runs/``)."""
    return args.out / "passive_study_parked" / f"{run['name']}.tar.xz"


def parked_config(archive: Path) -> dict | None:
    """The configuration of a parked run's checkpoint, None if there is no archive (a
    :class:`~mtjxbar.experiments.parking.ParkingError` if it is not a parked run)."""
    return parked_state(archive)["config"] if archive.exists() else None


def record_path(run: dict, args) -> Path:
    """Where a finished run's record lives, beside the table (committed, unlike ``runs/``)."""
    return args.out / "passive_study_runs" / f"{run['name']}.json"


def load_record(run: dict, args) -> dict | None:
    """A finished run's record ({"name", "row", "config", "history"}; config None for a row recovered from the
    CSV of a run whose folder was lost; no history in a record written before records kept it), None if the
    run has none."""
    path = record_path(run, args)
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
        record["row"], record["config"]  # noqa: B018 - both must be there
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: not a run record ({type(err).__name__}: {err})") from None
    return record


def finished_row(run: dict, args) -> dict | None:
    """The table row of a finished run: from its results.json (and then its record is written, or rewritten,
    atomically), else from its record; None if it has not finished. A finished run's parked archive goes."""
    results_path = args.runs / run["name"] / "results.json"
    if results_path.exists():
        results = json.loads(results_path.read_text())
        row = summarise(run, results)
        path = record_path(run, args)
        path.parent.mkdir(parents=True, exist_ok=True)
        history = _percent(results.get("history"))
        if history is None and path.exists():  # a results.json without one: keep what the record has
            history = (load_record(run, args) or {}).get("history")
        write_json(path.parent, path.name, {"name": run["name"], "row": row, "config": results.get("config"),
                                            "history": history})
    else:
        record = load_record(run, args)
        row = None if record is None else record["row"]
    if row is not None:
        parked_path(run, args).unlink(missing_ok=True)  # its record replaces it
    return row


def _percent(history: dict | None) -> dict | None:
    """A run's test accuracies after each epoch (fractions, per method) in %, in situ and ex situ."""
    if not isinstance(history, dict):
        return None
    return {m: [round(100 * a, 4) for a in history.get(m) or []] for m in ("insitu", "exsitu")}


def epoch_history(run: dict, args) -> tuple[dict | None, bool]:
    """Test accuracy (%) after each epoch so far, in situ and ex situ, and whether the run has finished: a
    finished run's from its record (:func:`finished_row` has just written it from a results.json there), an
    unfinished one's from its checkpoint in ``runs/`` or its parked archive; None where none of them holds one
    (a record written before records kept it)."""
    folder = args.runs / run["name"]
    record = load_record(run, args)
    if record is not None:  # stored in %: read back through _percent's shape, not its scale
        kept = record.get("history")
        return ({m: list(kept.get(m) or []) for m in ("insitu", "exsitu")} if isinstance(kept, dict) else None), True
    # an unreadable checkpoint or archive is left out here (reported where the run is resumed), and a broken
    # checkpoint does not hide a good archive
    if Checkpoint(folder).exists():
        try:
            return _percent(Checkpoint(folder).load_meta().get("history")), False
        except CheckpointError:
            pass
    if parked_path(run, args).exists():
        try:
            return _percent(parked_state(parked_path(run, args)).get("history")), False
        except ParkingError:
            pass
    return None, False


def epoch_lines(runs: list[dict], args) -> list[str]:
    """The per-epoch table (markdown lines) of every run with a history, in the plan's order; none if none."""
    rows = []
    for run in runs:
        history, finished = epoch_history(run, args)
        if not history or not history["insitu"]:
            continue
        epochs = max(len(history["insitu"]), len(history["exsitu"]))
        cells = []
        for e in range(epochs):
            pair = [history[m][e] if e < len(history[m]) else None for m in ("insitu", "exsitu")]
            cells.append(" / ".join("-" if a is None else f"{a:.2f}" for a in pair))
        rows.append((run["name"] + ("" if finished else " (unfinished)"), cells))
    if not rows:
        return []
    width = max(len(cells) for _, cells in rows)
    head = " | ".join(str(e + 1) for e in range(width))
    return ["", "Test accuracy after each epoch, in situ / ex situ (%), of every run whose history is kept (finished "
            "runs: their records; unfinished ones: their checkpoints in `runs/` or parked):", "",
            f"| run | {head} |", "|---" * (width + 1) + "|",
            *(f"| {name} | " + " | ".join(cells + [""] * (width - len(cells))) + " |" for name, cells in rows)]


def mismatch(run: dict, config: dict, args) -> str | None:
    """What differs between a saved run's configuration and the run this invocation plans (None: nothing), so
    that a smoke run or other settings under the same ``--runs`` are never reused or resumed as table runs."""
    array = config["hardware"]["array"]
    asked = {"seed": run["seed"], "training.epochs": args.epochs or 6,
             "data.max_train": args.max_train or None, "data.max_test": args.max_test or None,
             "hardware.array.kind": run["array"]}
    got = {"seed": config["seed"], "training.epochs": config["training"]["epochs"],
           "data.max_train": config["data"].get("max_train"), "data.max_test": config["data"].get("max_test"),
           "hardware.array.kind": array["kind"]}
    if run["array"] == "passive":
        asked.update({"wire_ohm": float(run["wire_ohm"]), "write_scheme": run["scheme"], "tile_rows": 64,
                      "fidelity": "exact", "write_compensation": 2})
        got.update({"wire_ohm": array["circuit"]["r_wire_row"], "write_scheme": array["write_scheme"],
                    **{k: array.get(k) for k in ("tile_rows", "fidelity", "write_compensation")}})
    diff = [f"{k} {got[k]!r} (asked: {asked[k]!r})" for k in asked if got[k] != asked[k]]
    return "; ".join(diff) or None


def running_pid(pid_file: Path, name: str) -> int | None:
    """The process recorded in ``pid_file`` if it is alive and is the run ``name`` (its command line names it;
    a PID the system reused for something else does not count): another invocation of this script is
    running that run, and starting it again would write the same folder twice."""
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    try:
        if name.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return None
    except FileNotFoundError:  # exited meanwhile
        return None
    except OSError:  # no /proc here: alive is all we know
        pass
    return pid


def shown(run: dict, runs: Path) -> str:
    """The fresh-start command as a user types it, from the repository root."""
    return shlex.join(["mtjxbar", "train", *run["flags"], "--out", str(runs / run["name"])]).replace(
        str(ROOT) + "/", "")


def summarise(run: dict, results: dict) -> dict:
    """A table row of one finished run (accuracies in %, per-sample figures over all its in-situ samples)."""
    epochs, acc = results["insitu_epochs"], results["accuracy"]
    samples = results["n_train"] * results["epochs"]
    hardware = results.get("hardware") or {}
    energy = (hardware.get("insitu_parallel") or {}).get("energy_j")
    return {"array": run["array"], "wire_ohm": run["wire_ohm"], "scheme": run["scheme"], "seed": run["seed"],
            "train_samples": results["n_train"], "epochs": results["epochs"],
            **{f"{m}_acc": (None if acc.get(m) is None else 100 * acc[m]) for m in ("insitu", "exsitu", "float")},
            "flips_per_sample": sum(e["flips"] for e in epochs) / samples,
            "disturb_per_sample": sum(e.get("disturb_flips", 0) for e in epochs) / samples,
            "energy_per_sample_j": energy,
            "ms_per_sample": 1e3 * results["train_seconds"]["insitu"] / samples}


def _mean_sd(values: list[float | None]) -> tuple[float | None, float | None, int]:
    """Mean and sample sd (None for one value) of the values given, and how many (None entries left out)."""
    values = [v for v in values if v is not None]
    if not values:
        return None, None, 0
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None, len(values)


def _pm(values: list[float]) -> str:
    m, sd, _ = _mean_sd(values)
    if m is None:
        return "-"
    return f"{m:.2f} %" if sd is None else f"{m:.2f} ± {sd:.2f} %"


def _mean(rows: list[dict], key: str) -> float | None:
    values = [r[key] for r in rows if r[key] is not None]
    return statistics.fmean(values) if values else None


def _paired_gap(rows: list[dict], table: list[dict]) -> str:
    """In-situ accuracy minus the 1T1MTJ run's of the same seed (points), mean ± sd over the seeds that have
    both, and how many: the seeds' shared data order and initial weights drop out of the difference."""
    reference = {r["seed"]: r["insitu_acc"] for r in table if r["array"] == "1t1mtj" and r["insitu_acc"] is not None}
    gaps = [r["insitu_acc"] - reference[r["seed"]] for r in rows
            if r["array"] != "1t1mtj" and r["insitu_acc"] is not None and r["seed"] in reference]
    if not gaps:
        return "-"
    m, sd, n = _mean_sd(gaps)
    return f"{m:+.2f}" + ("" if sd is None else f" ± {sd:.2f}") + f" ({n})"


def plot_table(table: list[dict], path: Path) -> bool:
    """``path`` (PNG): in-situ and ex-situ accuracy, disturb flips and energy per sample against the wire
    resistance, one line per write scheme (mean over the seeds, bars one sd), the 1T1MTJ runs (and float) as
    horizontal lines. False (nothing written) while no passive run has finished."""
    passive = [r for r in table if r["array"] == "passive"]
    if not passive:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def stats(rows, key):  # mean and error bar (0 for one seed)
        m, sd, _ = _mean_sd([r[key] for r in rows])
        return m, sd or 0.0

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    reference = [r for r in table if r["array"] == "1t1mtj"]
    for scheme, colour in (("v2", "tab:blue"), ("v3", "tab:orange")):
        rows = [r for r in passive if r["scheme"] == scheme]
        ohms = sorted({r["wire_ohm"] for r in rows})
        for ax, key, style, label in ((axes[0], "insitu_acc", "o-", "in situ"),
                                      (axes[0], "exsitu_acc", "s--", "ex situ"),
                                      (axes[1], "disturb_per_sample", "o-", None),
                                      (axes[2], "energy_per_sample_j", "o-", None)):
            points = [(o, *stats([r for r in rows if r["wire_ohm"] == o], key)) for o in ohms]
            points = [(o, m, sd) for o, m, sd in points if m is not None]
            if not points:
                continue
            scale = 1e9 if key == "energy_per_sample_j" else 1.0
            ax.errorbar([p[0] for p in points], [scale * p[1] for p in points], [scale * p[2] for p in points],
                        fmt=style, color=colour, capsize=3,
                        label=f"passive {scheme.upper().replace('V', 'V/')}" + (f", {label}" if label else ""))
    for key, ax, style, label, scale in (("insitu_acc", axes[0], "-", "1T1MTJ in situ", 1.0),
                                         ("exsitu_acc", axes[0], "--", "1T1MTJ ex situ", 1.0),
                                         ("float_acc", axes[0], ":", "float", 1.0),
                                         ("energy_per_sample_j", axes[2], "-", "1T1MTJ", 1e9)):
        m, _ = stats(reference, key)
        if m is not None:
            ax.axhline(scale * m, color="grey", linestyle=style, label=label)
    axes[0].set(xlabel="wire resistance (ohm / segment)", ylabel="test accuracy (%)",
                title="MNIST, 784-512-160, 6 epochs (seeds: passive_study.md)")
    axes[1].set(xlabel="wire resistance (ohm / segment)", ylabel="disturb flips / training sample",
                title="half-selected cells switched")
    axes[2].set(xlabel="wire resistance (ohm / segment)", ylabel="energy / training sample (nJ)",
                title="modelled in-situ energy (parallel update)")
    if any(r["disturb_per_sample"] > 0 for r in passive):
        axes[1].set_yscale("log")
    for ax in axes:
        ax.set_xticks(OHMS, [f"{o:g}" for o in OHMS])
        ax.set_xlim(-0.3, OHMS[-1] + 0.3)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="center right" if ax is axes[0] else "best")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def markdown(table: list[dict], pending: list[dict], cmds: list[str], args, runs: list[dict] = ()) -> str:
    """The table of the finished runs, one row per configuration (mean ± sd over its seeds), the pending
    runs, the accuracy after each epoch of ``runs`` (:func:`epoch_lines`) and the commands."""
    label = {"v2": "V/2", "v3": "V/3", "": "-"}
    lines = ["# MNIST on passive arrays, the 1T1MTJ study's network (issue 23)", "",
             "`python examples/passive_study_table.py` (module docstring; one row per run: `passive_study_runs.csv`): "
             "`examples/mnist_independent.toml`, 784-512-160 (16 outputs per class), one MTJ per synapse against a "
             "reference column, 6 epochs of the 10,000 training images, the 10,000 test images. Passive: 64 x 64 "
             "tiles, exact circuits, write compensation 2 steps, per-tile read calibration. Accuracies: mean ± sd "
             "over the seeds listed. Energy: the cost model's in-situ energy per training sample (parallel update) "
             "on the run's own array kind. ms / sample: in-situ training, one core per run, two runs sharing the "
             "2-core machine. In situ vs 1T1MTJ: the in-situ accuracy minus the 1T1MTJ run's of the same seed, in "
             "points, mean ± sd over the seeds that have both (how many). Plot: `passive_study.png`.", "",
             "| array | wire (ohm / segment) | write scheme | seeds | in situ | in situ vs 1T1MTJ (paired) | ex situ "
             "| float | flips / sample | disturb flips / sample | energy / sample | ms / sample |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    if args.max_train or args.max_test or args.epochs:
        lines[3:3] = [f"**A smoke run, not the table:** --max-train {args.max_train or 'all'}, --max-test "
                      f"{args.max_test or 'all'}, --epochs {args.epochs or 6}.", ""]
    groups: dict[tuple, list[dict]] = {}
    for r in table:
        groups.setdefault((r["array"], r["wire_ohm"], r["scheme"]), []).append(r)
    for (array, ohm, scheme), rows in groups.items():
        energy = _mean(rows, "energy_per_sample_j")
        lines.append(f"| {'1T1MTJ' if array == '1t1mtj' else 'passive'} | {ohm or '-'} | {label[scheme]} | "
                     f"{','.join(str(r['seed']) for r in rows)} | {_pm([r['insitu_acc'] for r in rows])} | "
                     f"{_paired_gap(rows, table)} | {_pm([r['exsitu_acc'] for r in rows])} | "
                     f"{_pm([r['float_acc'] for r in rows])} | "
                     f"{_mean(rows, 'flips_per_sample'):.1f} | {_mean(rows, 'disturb_per_sample'):.4f} | "
                     f"{'-' if energy is None else f'{energy * 1e9:.1f} nJ'} | {_mean(rows, 'ms_per_sample'):.3g} |")
    if not table:
        lines.append("| (no run finished yet) |  |  |  |  |  |  |  |  |  |  |  |")
    if pending:
        lines += ["", f"Pending ({len(pending)} runs, resumed from their checkpoints by the same command): "
                  + ", ".join(f"`{r['name']}`" for r in pending) + "."]
        parked = [r for r in pending if parked_path(r, args).exists()]
        if parked:
            lines += ["", "Parked with their checkpoints in `passive_study_parked/` (`--park`), resumed from there: "
                      + ", ".join(f"`{r['name']}`" for r in parked) + "."]
    lines += epoch_lines(runs, args)
    lines += ["", "Commands (from the repository root; `--resume runs/passive_study/NAME` continues one):", "",
              "```", *cmds, "```", ""]
    return "\n".join(lines)


def write_table(runs: list[dict], args, cmds: list[str]) -> str:
    """Rewrite the table, the CSV and the plot from the runs finished so far; returns the markdown."""
    rows = {r["name"]: finished_row(r, args) for r in runs}
    done = [r for r in runs if rows[r["name"]] is not None]
    table = [rows[r["name"]] for r in done]
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "passive_study_runs.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(table)
    text = markdown(table, [r for r in runs if r not in done], cmds, args, runs)
    (args.out / "passive_study.md").write_text(text)
    plot_table(table, args.out / "passive_study.png")
    return text


def restore(run: dict, args) -> bool:
    """Unpack a parked run into its folder (and its log beside it) if the folder holds no checkpoint; True if
    it did. A local checkpoint older than the archive's (a folder kept from before the run was parked and
    resumed elsewhere) is replaced by the archive; a local one at least as far along is kept."""
    folder, archive = args.runs / run["name"], parked_path(run, args)
    if not archive.exists():
        return False
    if Checkpoint(folder).exists():
        if Checkpoint(folder).load_meta()["step"] >= parked_state(archive)["step"]:
            return False
        shutil.rmtree(folder)
    unpark_run(archive, folder, extra={"log": args.runs / f"{run['name']}.log"})
    return True


def park(runs: list[dict], args, cmds: list[str], wait: float = 900.0) -> int:
    """``--park``: stop this script's running invocation (no run is started after that), stop its runs (SIGTERM:
    each checkpoints at its next sample and exits), then pack every unfinished run that has a checkpoint into
    ``passive_study_parked/NAME.tar.xz`` beside the table, its log included, for the next checkout to resume."""
    table_pid = running_pid(args.runs / TABLE_PID, "passive_study_table")
    if table_pid is not None:
        os.kill(table_pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while running_pid(args.runs / TABLE_PID, "passive_study_table") and time.monotonic() < deadline:
            time.sleep(0.2)  # gone before the runs are: it starts no run after theirs end
        (args.runs / TABLE_PID).unlink(missing_ok=True)
        print(f"stopped the table (pid {table_pid})")
    stopping = {}
    for run in runs:
        pid = running_pid(args.runs / f"{run['name']}.pid", run["name"])
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            stopping[run["name"]] = pid
    deadline = time.monotonic() + wait
    while stopping and time.monotonic() < deadline:
        time.sleep(1.0)
        stopping = {n: p for n, p in stopping.items() if running_pid(args.runs / f"{n}.pid", n) is not None}
    if stopping:
        print(f"still running after {wait:.0f} s, not parked: {', '.join(stopping)}", file=sys.stderr)
    unparked = list(stopping)
    for run in runs:
        folder = args.runs / run["name"]
        if run["name"] in stopping or (folder / "results.json").exists() or not Checkpoint(folder).exists():
            continue
        (args.runs / f"{run['name']}.pid").unlink(missing_ok=True)
        try:  # a run still writing (started by hand, say) holds its folder's lock and is refused
            size = park_run(folder, parked_path(run, args), extra={"log": args.runs / f"{run['name']}.log"})
        except ParkingError as err:
            print(f"not parked: {err}", file=sys.stderr)
            unparked.append(run["name"])
            continue
        print(f"parked {run['name']}: {parked_path(run, args)} ({size / 1e6:.1f} MB)")
    write_table(runs, args, cmds)
    return 1 if unparked else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data/mnist-train10k"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--ohms", type=float, nargs="+", default=list(OHMS), choices=OHMS,
                        help="start only the passive runs of these wire resistances (ohm per segment); the table "
                        "still shows every finished run")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (one core each)")
    parser.add_argument("--checkpoint-every", type=int, default=1000, help="in-situ samples between checkpoints")
    parser.add_argument("--max-train", type=int, default=0, help="a smoke run: the first N training images (0: all)")
    parser.add_argument("--max-test", type=int, default=0, help="a smoke run: the first N test images (0: all)")
    parser.add_argument("--epochs", type=int, default=0, help="a smoke run: epochs (0: the recipe's 6)")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "passive_study")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results")
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    parser.add_argument("--table-only", action="store_true", help="write the table of the finished runs only")
    parser.add_argument("--park", action="store_true",
                        help="stop the table and its runs, and pack the unfinished ones beside the table to commit")
    args = parser.parse_args()
    args.seeds, args.ohms = list(dict.fromkeys(args.seeds)), list(dict.fromkeys(args.ohms))
    if not args.dry_run and not any(args.data_dir.glob("train-images-idx3-ubyte*")):
        parser.error(f"--data-dir {args.data_dir}: no MNIST training images there")
    todo = plan(args)  # what this invocation starts; the table, the checks and --park cover the whole plan
    whole = argparse.Namespace(**{**vars(args), "ohms": list(OHMS), "seeds": sorted({0, 1, 2, *args.seeds})})
    runs = plan(whole)
    cmds = [shown(r, args.runs) for r in runs]
    if args.dry_run:
        print("\n".join(shown(r, args.runs) for r in todo))
        return 0
    try:
        return _main(parser, args, runs, todo, cmds)
    except (ParkingError, ValueError) as err:  # a broken record or archive: named, without a traceback
        parser.exit(1, f"{parser.prog}: {err}\n")


def _main(parser, args, runs: list[dict], todo: list[dict], cmds: list[str]) -> int:
    for run in runs:  # saved runs of other settings are neither reused nor resumed, nor overwritten
        config = saved_config(args.runs / run["name"])
        if config is not None and (diff := mismatch(run, config, args)):
            parser.error(f"{args.runs / run['name']} holds a run of other settings ({diff}); "
                         "choose another --runs folder, or move that run away")
        config = None if Checkpoint(args.runs / run["name"]).exists() else parked_config(parked_path(run, args))
        if config is not None and (diff := mismatch(run, config, args)):
            parser.error(f"{parked_path(run, args)} holds a parked run of other settings ({diff}); "
                         "choose another --out folder, or move that archive away")
        record = load_record(run, args)
        if record is not None and record["config"] is not None and (diff := mismatch(run, record["config"], args)):
            parser.error(f"{record_path(run, args)} records a run of other settings ({diff}); "
                         "choose another --out folder, or move that record away")
    if args.table_only:
        print(write_table(runs, args, cmds))
        return 0
    if args.park:
        return park(runs, args, cmds)
    other = running_pid(args.runs / TABLE_PID, "passive_study_table")
    if other is not None and other != os.getpid():
        parser.error(f"the table is running already (pid {other}, {args.runs / TABLE_PID}); stop it (--park) "
                     "before starting it again")
    lock, failed = Lock(), []
    args.runs.mkdir(parents=True, exist_ok=True)
    (args.runs / TABLE_PID).write_text(str(os.getpid()))  # what --park stops first

    def say(line: str) -> None:  # one write per line: the runs' threads print at once
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def run_one(run: dict) -> None:
        folder = args.runs / run["name"]
        if (folder / "results.json").exists() or load_record(run, args) is not None:
            return
        pid_file = args.runs / f"{run['name']}.pid"
        other = running_pid(pid_file, run["name"])
        if other is not None:
            say(f"skipping {run['name']}: already running (pid {other})")
            return
        log_path = args.runs / f"{run['name']}.log"
        try:
            if restore(run, args):
                say(f"unparked {run['name']} from {parked_path(run, args)}")
        except (ParkingError, CheckpointError) as err:
            say(f"FAILED {run['name']}: {err}")
            with lock:
                failed.append(run["name"])
            return
        cmd = command(run, args.runs)
        say(f"{'resuming' if '--resume' in cmd else 'running'} {run['name']} (log: {log_path})")
        args.runs.mkdir(parents=True, exist_ok=True)
        with open(log_path, "a") as log:
            proc = subprocess.Popen(["nice", "-n", "5", *cmd], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
            pid_file.write_text(str(proc.pid))  # nice execs the run: the same process
            code = proc.wait()
        pid_file.unlink(missing_ok=True)
        say(f"{'done' if code == 0 else f'FAILED ({code}; see the log)'} {run['name']}")
        with lock:
            if code:
                failed.append(run["name"])
            write_table(runs, args, cmds)

    with ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(run_one, todo))
    if running_pid(args.runs / TABLE_PID, "passive_study_table") == os.getpid():
        (args.runs / TABLE_PID).unlink()
    print(write_table(runs, args, cmds))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
