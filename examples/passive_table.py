"""Digits on passive (0T1MTJ) arrays: in-situ and ex-situ accuracy against wire resistance, with disturbs.

Runs ``mtjxbar train`` once per row (64x64 tiles, exact circuit reads and writes, one torch / BLAS thread,
``nice -n 5``), then writes ``docs/results/passive_digits.csv`` and ``.md`` with the exact commands. Runs
whose ``results.json`` exists under ``--runs`` are reused, so an interrupted table continues.

    python examples/passive_table.py                      # the committed table (1 seed, 1 epoch)
    python examples/passive_table.py --dry-run            # print the commands only
"""

from __future__ import annotations

import argparse
import csv
import json
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OHMS = (0.0, 0.5, 1.0, 2.5)
COLUMNS = ("mapping", "array", "wire_ohm", "scheme", "seed", "train_samples", "epochs", "insitu_acc", "exsitu_acc",
           "float_acc", "flips_per_sample", "disturb_per_sample", "ms_per_sample")

NOTES = """Reading (seed 0, one epoch; not a tuned comparison). The writes' IR drop is compensated by the
periphery (`array.write_compensation = 2`: the sources of each phase moved by the row + column split of the
shortfall its model of the tile predicts, every cell at the mean conductance, states unknown, except that a cell
the phase can switch is known to be in the state it switches from) and each tile gets a gain per driven and per
sensed line fitted on the same model (`array.read_calibration = cells`). Without them the fully parallel V/2 write
leaves the selected cells 28 % short at 1 ohm, thermal switching stalls and in-situ training collapses (measured
with the first passive writes: 12.9 % at 1 ohm, 7.6 % at 2.5 ohm), and raw column currents lose 15-35 % along the
wires while the reference current is computed in the periphery (ex-situ 25.6 % at 1 ohm). Differential pairs share
their IR drop; with calibration the reference column works too. Ex-situ weights come from the software binary
network of the same mapping, programmed into the same passive arrays and read through the same circuits. Disturb
flips are half-selected or unselected cells that switched (V/2: cells see at most about V/2; V/3: about V/3, plus
-V/3 on unselected cells)."""


def rows(args) -> list[dict]:
    """One dict per run: its name, flags and table labels (both weight mappings: a reference column, whose
    reference current the periphery computes ideally, and differential pairs, read as a difference)."""
    out = []
    for seed in args.seeds:
        for mapping in ("reference", "differential"):
            base = ["--dataset", "digits", "--epochs", str(args.epochs), "--seed", str(seed), "--threads", "1",
                    "--no-cost", "--quiet", "--scheme", mapping]
            tag = f"{mapping[:3]}_s{seed}"
            out.append({"name": f"1t1mtj_{tag}", "mapping": mapping, "array": "1t1mtj", "wire_ohm": "", "scheme": "",
                        "seed": seed, "flags": [*base, "--array", "1t1mtj"]})
            passive = [*base, "--array", "passive", "--tile-size", "64", "--fidelity", "exact",
                       "--write-compensation", str(args.compensation)]
            for ohm in OHMS if mapping == "differential" else (1.0,):
                out.append({"name": f"passive_v2_{ohm:g}ohm_{tag}", "mapping": mapping, "array": "passive",
                            "wire_ohm": ohm, "scheme": "v2", "seed": seed,
                            "flags": [*passive, "--write-scheme", "v2", "--wire-resistance", f"{ohm:g}"]})
            if mapping == "differential":
                out.append({"name": f"passive_v3_1ohm_{tag}", "mapping": mapping, "array": "passive",
                            "wire_ohm": 1.0, "scheme": "v3", "seed": seed,
                            "flags": [*passive, "--write-scheme", "v3", "--wire-resistance", "1"]})
    return out


def command(run: dict, runs: Path) -> list[str]:
    return ["nice", "-n", "15", sys.executable, "-m", "mtjxbar.cli.main", "train", *run["flags"],
            "--out", str(runs / run["name"]), "--overwrite"]


def summarise(run: dict, results: dict) -> dict:
    epochs = results["insitu_epochs"]
    samples = results["n_train"] * results["epochs"]
    acc = results["accuracy"]
    ohm = "" if run["wire_ohm"] == "" else f"{run['wire_ohm']:g}"
    return {**{k: run[k] for k in ("mapping", "array", "scheme", "seed")}, "wire_ohm": ohm,
            "train_samples": results["n_train"],
            "epochs": results["epochs"], "insitu_acc": acc.get("insitu"), "exsitu_acc": acc.get("exsitu"),
            "float_acc": acc.get("float"), "flips_per_sample": sum(e["flips"] for e in epochs) / samples,
            "disturb_per_sample": sum(e.get("disturb_flips", 0) for e in epochs) / samples,
            "ms_per_sample": 1e3 * results["train_seconds"]["insitu"] / samples}


def fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if value < 1 else f"{value:.4g}"
    return "" if value is None else str(value)


def write_tables(table: list[dict], cmds: list[str], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "passive_digits.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(table)
    lines = ["# Digits on passive (0T1MTJ) arrays: accuracy against wire resistance", "",
             "Network 64-128-80 (8 outputs per class), k = 1, a reference column or differential pairs (`mapping`); "
             "passive rows: 64x64 tiles, exact circuit reads and writes (line relaxation, bias-dependent TMR), "
             "write IR-drop compensation (2 steps), driver and sense resistance 0. "
             "Accuracies on the 450 digits test samples; flips and disturbs per training sample; ms per in-situ "
             "sample, one thread, the runs one after another. Generated by `examples/passive_table.py`.", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(fmt(r[c]) for c in COLUMNS) + " |" for r in table]
    lines += ["", NOTES, "", "Commands (from the repository root):", "", "```", *cmds, "```", ""]
    (out / "passive_digits.md").write_text("\n".join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--compensation", type=int, default=2, help="array.write_compensation of passive runs")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "passive_table")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()
    table, cmds = [], []
    for run in rows(args):
        cmd = command(run, args.runs)
        shown = shlex.join(["mtjxbar", *cmd[6:]])
        cmds.append(shown.replace(str(ROOT) + "/", ""))
        result = args.runs / run["name"] / "results.json"
        if args.dry_run:
            print(cmds[-1])
            continue
        if not result.exists():
            print(f"running {run['name']}", flush=True)
            subprocess.run(cmd, check=True, cwd=ROOT)
        table.append(summarise(run, json.loads(result.read_text())))
        print(", ".join(f"{k}={fmt(v)}" for k, v in table[-1].items()), flush=True)
    if not args.dry_run:
        write_tables(table, cmds, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
