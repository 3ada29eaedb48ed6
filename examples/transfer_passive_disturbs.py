"""Why the buffer-and-counter rule loses on passive arrays (issue 23): the transfers' carry writes disturb.

The passive row of the rule (``examples/transfer_passive_row.py``: MNIST, 784-64-10 with 8 outputs per class,
the recipe of ``examples/mnist_insitu.toml``, the first 3,000 training images once, the first 2,000 test images)
trains 5 points below 1T1MTJ at 1 ohm with V/3 writes. A column transfer writes the counter's bits and resets
the buffer with pulses of ``carry_overdrive`` x Ic0 (1.2) for ``carry_width`` (10 ns); under V/3 every
unselected cell of the array sees -V/3 meanwhile, and on the default device (thermal stability delta = 40) a
P cell there carries half its Ic0 and switches with some 4.5e-4 per pulse. The verify reads only the written
column, so the counters drift. This table tests that cause on ideal wires (0 ohm: no IR drop to soften -V/3,
and a passive step fast enough for three seeds): the same runs with delta = 40 and with delta = 60 (the
disturb rate falls by exp(-20 x 0.25), the selected cells' switching is set by the encoder either way), on
passive V/3 arrays and on 1T1MTJ arrays, in-situ accuracy against the transfers' disturb flips per sample
(``results.json``: ``insitu_epochs[].transfer.disturbs``).

Each finished run leaves its summary in ``OUT/disturb_runs/NAME.json`` (committed), and a rerun skips it.

    python examples/transfer_passive_disturbs.py            # 12 runs, 2 at a time (passive ~5 min each)
    python examples/transfer_passive_disturbs.py --dry-run  # the commands only
"""

from __future__ import annotations

import argparse
import csv
import json
import shlex
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ("array", "delta", "seed", "insitu", "float", "flips_per_sample", "transfer_flips_per_sample",
           "transfer_disturbs_per_sample", "buffer_disturbs_per_sample", "s_per_sample")


def plan(args) -> list[dict]:
    base = ["--config", "examples/mnist_insitu.toml", "--data-dir", str(args.data_dir), "--hidden", "64",
            "--outputs-per-class", "8", "--epochs", "1", "--max-train", str(args.train), "--max-test",
            str(args.test), "--methods", "float", "--no-cost", "--threads", "1"]
    passive = ["--array", "passive", "--tile-size", "64", "--fidelity", "exact", "--write-scheme", "v3",
               "--wire-resistance", "0"]
    out = []
    for array in ("passive", "1t1mtj"):
        for delta in args.deltas:
            for s in args.seeds:
                flags = [*base, *(passive if array == "passive" else []), "--delta", f"{delta:g}", "--seed", str(s)]
                out.append({"name": f"{array}_delta{delta:g}_s{s}", "array": array, "delta": delta, "seed": s,
                            "flags": flags})
    return out


def summarise(run: dict, results: dict) -> dict:
    epochs, acc = results["insitu_epochs"], results["accuracy"]
    samples = results["n_train"] * results["epochs"]
    transfer = {}
    for e in epochs:
        for k, v in (e.get("transfer") or {}).items():
            transfer[k] = transfer.get(k, 0) + v
    return {"array": run["array"], "delta": run["delta"], "seed": run["seed"], "insitu": 100 * acc["insitu"],
            "float": 100 * acc["float"], "flips_per_sample": sum(e["flips"] for e in epochs) / samples,
            "transfer_flips_per_sample": transfer.get("flips", 0) / samples,
            "transfer_disturbs_per_sample": transfer.get("disturbs", 0) / samples,
            "buffer_disturbs_per_sample": sum(e.get("disturb_flips", 0) for e in epochs) / samples,
            "s_per_sample": results["train_seconds"]["insitu"] / samples}


def _pm(values: list[float]) -> str:
    m = statistics.fmean(values)
    return f"{m:.2f} %" if len(values) == 1 else f"{m:.2f} ± {statistics.stdev(values):.2f} %"


def markdown(rows: list[dict], cmds: list[str], args) -> str:
    lines = ["# The buffer-and-counter rule on passive arrays: the transfers' disturbs (issue 23)", "",
             "`python examples/transfer_passive_disturbs.py` (module docstring): MNIST "
             f"(`../shared/data/mnist-train10k`, the first {args.train:,} training images once, the first "
             f"{args.test:,} test images), 784-64-10 with "
             "8 outputs per class, the recipe of `examples/mnist_insitu.toml`; passive: 64 x 64 tiles, 0 ohm, V/3 "
             "writes. Accuracies: mean ± sd over the seeds; per training sample: the buffer's flips, the transfers' "
             "flips and, of those, their disturbs (cells a carry or reset pulse switched without aiming at them), "
             "and the buffer writes' disturbs.", "",
             "| array | delta | seeds | in situ | float | buffer flips / sample | transfer flips / sample "
             "| transfer disturbs / sample | buffer-write disturbs / sample | s / sample |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for array in ("1t1mtj", "passive"):
        for delta in args.deltas:
            group = [r for r in rows if r["array"] == array and r["delta"] == delta]
            if not group:
                continue
            mean = {k: statistics.fmean(r[k] for r in group) for k in COLUMNS[5:]}
            lines.append(f"| {'1T1MTJ' if array == '1t1mtj' else 'passive, 0 ohm, V/3'} | {delta:g} | "
                         f"{','.join(str(r['seed']) for r in group)} | {_pm([r['insitu'] for r in group])} | "
                         f"{_pm([r['float'] for r in group])} | {mean['flips_per_sample']:.0f} | "
                         f"{mean['transfer_flips_per_sample']:.0f} | {mean['transfer_disturbs_per_sample']:.2f} | "
                         f"{mean['buffer_disturbs_per_sample']:.4f} | {mean['s_per_sample']:.3g} |")
    lines += ["", "Commands (from the repository root; `--out runs/transfer_disturbs/NAME`):", "", "```", *cmds,
              "```", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data/mnist-train10k"))
    parser.add_argument("--train", type=int, default=3000, help="training images (the first N), one epoch")
    parser.add_argument("--test", type=int, default=2000, help="test images (the first N)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--deltas", type=float, nargs="+", default=[40.0, 60.0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "transfer_disturbs")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "transfer_passive")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()
    runs = plan(args)
    cmds = [shlex.join(["mtjxbar", "train", *r["flags"]]) for r in runs]
    if args.dry_run:
        print("\n".join(cmds))
        return 0
    if not any(args.data_dir.glob("train-images-idx3-ubyte*")):
        parser.error(f"--data-dir {args.data_dir}: no MNIST training images there")
    records = args.out / "disturb_runs"
    records.mkdir(parents=True, exist_ok=True)

    def run_one(run: dict) -> None:
        record = records / f"{run['name']}.json"
        if record.exists():
            return
        folder = args.runs / run["name"]
        folder.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "mtjxbar.cli.main", "train", *run["flags"], "--out", str(folder), "--overwrite",
               "--quiet"]
        code = subprocess.run(cmd, cwd=ROOT).returncode
        if code == 0:
            row = summarise(run, json.loads((folder / "results.json").read_text()))
            record.write_text(json.dumps(row, indent=1) + "\n")
        print(f"{'done' if code == 0 else f'FAILED ({code})'} {run['name']}", flush=True)

    with ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(run_one, runs))
    rows = [json.loads((records / f"{r['name']}.json").read_text()) for r in runs
            if (records / f"{r['name']}.json").exists()]
    with open(args.out / "disturbs.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    text = markdown(rows, cmds, args)
    (args.out / "disturbs.md").write_text(text)
    print(text)
    return 0 if len(rows) == len(runs) else 1


if __name__ == "__main__":
    sys.exit(main())
