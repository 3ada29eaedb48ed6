"""MNIST on passive (0T1MTJ) arrays with 64x64 tiles: in-situ and ex-situ accuracy against wire resistance.

The issue-4 table: ``../shared/data/mnist-train10k`` (the first ``--train`` training images, one epoch, the
full 10,000-image test set), 784-64-10 with 8 outputs per class, differential pairs (so each 784 x 128 and
64 x 160 layer is 26 + 3 tiles of at most 64 x 64), exact circuit reads and writes (line relaxation,
bias-dependent TMR), IR-drop compensation of the writes (2 steps of the periphery's model), V/2 at 0, 0.5, 1
and 2.5 ohm per segment and V/3 at 1 ohm, next to the same network in situ on a 1T1MTJ array (ideal wires)
and trained in float. Runs go two at a time (one torch / BLAS thread each, ``nice -n 5``); a run whose
``results.json`` exists under ``--runs`` is reused. Writes ``docs/results/passive_mnist.{csv,md}``.

    python examples/passive_mnist_table.py --data-dir ../shared/data/mnist-train10k
    python examples/passive_mnist_table.py --dry-run      # the commands only
"""

from __future__ import annotations

import argparse
import csv
import json
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from passive_table import COLUMNS, fmt, summarise  # the digits table's row format (this folder)

ROOT = Path(__file__).resolve().parents[1]


def runs(args) -> list[dict]:
    base = ["--config", "examples/mnist_simple_rule.toml", "--data-dir", str(args.data_dir), "--hidden", "64",
            "--scheme", "differential", "--epochs", "1", "--max-train", str(args.train), "--seed", str(args.seed),
            "--threads", "1", "--no-cost", "--quiet", "--methods", "float", "binary_software", "exsitu"]
    passive = ["--array", "passive", "--tile-size", "64", "--fidelity", "exact",
               "--set", f"hardware.array.write_compensation={args.compensation}"]
    out = [{"name": f"passive_{scheme}_{ohm:g}ohm", "array": "passive", "wire_ohm": ohm, "scheme": scheme,
            "flags": [*base, *passive, "--write-scheme", scheme, "--wire-resistance", f"{ohm:g}"]}
           for scheme, ohm in (("v2", 1.0), ("v2", 0.5), ("v2", 2.5), ("v3", 1.0), ("v2", 0.0))]
    out.append({"name": "1t1mtj", "array": "1t1mtj", "wire_ohm": "", "scheme": "",
                "flags": [*base, "--array", "1t1mtj"]})
    for run in out:
        run.update(mapping="differential", seed=args.seed)
    return out


def command(run: dict, folder: Path) -> list[str]:
    return ["nice", "-n", "5", sys.executable, "-m", "mtjxbar.cli.main", "train", *run["flags"],
            "--out", str(folder / run["name"]), "--overwrite"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data/mnist-train10k"))
    parser.add_argument("--train", type=int, default=10000, help="training images (the first N), one epoch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compensation", type=int, default=2, help="array.write_compensation of passive runs")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "passive_mnist")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()
    plan = runs(args)
    cmds = [shlex.join(["nice", "-n", "5", "mtjxbar", *command(r, args.runs)[6:]]).replace(str(ROOT) + "/", "")
            for r in plan]
    if args.dry_run:
        print("\n".join(cmds))
        return 0

    def run_one(run: dict) -> None:
        if not (args.runs / run["name"] / "results.json").exists():
            print(f"running {run['name']}", flush=True)
            subprocess.run(command(run, args.runs), check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        print(f"done {run['name']}", flush=True)

    with ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(run_one, plan))
    table = [summarise(r, json.loads((args.runs / r["name"] / "results.json").read_text())) for r in plan]
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "passive_mnist.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(table)
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(fmt(r[c]) for c in COLUMNS) + " |" for r in table]
    (args.out / "passive_mnist_table.md").write_text("\n".join(lines + ["", "```", *cmds, "```", ""]))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
