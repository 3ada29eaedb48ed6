"""The passive-array row of the buffer-and-counter rule (issue 19): in situ on passive (0T1MTJ) arrays at
1 ohm per segment with V/3 writes against the same network in situ on 1T1MTJ arrays.

Both arrays train the recipe of ``examples/mnist_insitu.toml`` (a 2-MTJ buffer written per sample, handed to a
6-bit counter of one-MTJ tiles every 64 samples, 8 MTJs per synapse; gains 2 and 8, lr 1.585), on a network
small enough for the passive step's speed (issue 23): 784-64-10 with 8 outputs per class (every array of a
layer cut into 64 x 64 tiles on the passive chip), the first ``--train`` MNIST training images once, the first
``--test`` test images. Passive arrays are read and written through each tile's exact circuit (line relaxation,
bias-dependent TMR), with the periphery's write compensation and read calibration; the transfer's column
reads, carry writes and buffer resets are ordinary reads and half-select writes of those arrays (their
disturbs counted). Ex-situ: the software binary network programmed into the same arrays. This row keeps the
default carry pulse (1.2 Ic0), whose -V/3 disturbs the passive arrays' other cells; with ``--carry-overdrive 1.0``
the passive chip trains as the 1T1MTJ one does (``examples/transfer_passive_disturbs.py``, docs/passive.md,
seventh round).

A run whose ``results.json`` exists under ``--runs`` is reused, so an interrupted row continues (a passive run
itself resumes with ``mtjxbar train --resume``). Writes ``docs/results/transfer_passive/row.md`` and
``runs.csv``.

    python examples/transfer_passive_row.py --data-dir ../shared/data/mnist-train10k
    python examples/transfer_passive_row.py --dry-run      # the commands only
"""

from __future__ import annotations

import argparse
import csv
import json
import shlex
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def plan(args) -> list[dict]:
    base = ["--config", "examples/mnist_insitu.toml", "--data-dir", str(args.data_dir), "--hidden", "64",
            "--outputs-per-class", "8", "--epochs", "1", "--max-train", str(args.train), "--max-test",
            str(args.test), "--methods", "float", "binary_software", "exsitu", "--checkpoint-every", "250"]
    passive = ["--array", "passive", "--tile-size", "64", "--fidelity", "exact", "--write-scheme", "v3",
               "--wire-resistance", "1"]
    out = [{"name": f"passive_v3_1ohm_s{s}", "array": "passive", "seed": s,
            "flags": [*base, *passive, "--seed", str(s)]} for s in args.passive_seeds]
    out += [{"name": f"1t1mtj_3k_s{s}", "array": "1t1mtj", "seed": s, "flags": [*base, "--seed", str(s)]}
            for s in args.reference_seeds]
    return out


def command(run: dict, runs: Path) -> list[str]:
    return [sys.executable, "-m", "mtjxbar.cli.main", "train", *run["flags"], "--out", str(runs / run["name"])]


def summarise(run: dict, results: dict) -> dict:
    epochs, acc = results["insitu_epochs"], results["accuracy"]
    samples = results["n_train"] * results["epochs"]
    transfer = {}
    for e in epochs:
        for k, v in (e.get("transfer") or {}).items():
            transfer[k] = transfer.get(k, 0) + v
    return {"array": run["array"], "seed": run["seed"], "insitu": 100 * acc["insitu"],
            "exsitu": 100 * acc["exsitu"], "float": 100 * acc["float"],
            "flips_per_sample": sum(e["flips"] for e in epochs) / samples,
            "disturb_per_sample": sum(e.get("disturb_flips", 0) for e in epochs) / samples,
            "carry_writes_per_sample": transfer.get("cell_writes", 0) / samples,
            "failed_writes": transfer.get("failed", 0),
            "s_per_sample": results["train_seconds"]["insitu"] / samples}


def sense_check(config_path: Path, columns: int = 16) -> str:
    """Misreads of the transfer's one-hot column sense on the passive chip: a fresh random chip of the run's
    configuration, the first ``columns`` columns of every bit tile and the buffer of both layers, each cell's
    sensed state against its true state (the transfer's own read, ``TransferLinear._read_column``)."""
    import torch

    from mtjxbar.experiments.config import load_config
    from mtjxbar.nn.transfer_linear import TransferLinear
    from mtjxbar.rng import generator

    torch.set_num_threads(1)
    config = load_config(config_path)
    wrong = total = 0
    for n_in, n_out, gain in ((784, 64, 2.0), (64, 80, 8.0)):
        layer = TransferLinear(n_in, n_out, config.hardware, gain)
        layer.randomize(generator(0, "sense-check"))
        for array in (*layer.tiles, layer.buffer):
            for col in range(min(array.crossbar.cols, columns)):
                true = array.crossbar.parallel[:, col].cpu()
                wrong += int((layer._read_column(array, col) != true).sum())
                total += true.numel()
    return f"The transfer's sense on a fresh passive chip of this configuration misread {wrong} of {total:,} cells."


def _pm(values: list[float]) -> str:
    m = statistics.fmean(values)
    return f"{m:.2f} %" if len(values) == 1 else f"{m:.2f} ± {statistics.stdev(values):.2f} %"


def markdown(rows: list[dict], cmds: list[str], args) -> str:
    lines = ["# The buffer-and-counter rule on passive arrays (issue 19's passive row)", "",
             "`python examples/transfer_passive_row.py` (module docstring): MNIST "
             f"(`../shared/data/mnist-train10k`, the first {args.train:,} training images once, the first "
             f"{args.test:,} test images), 784-64-10 with 8 outputs per class, the recipe of "
             "`examples/mnist_insitu.toml`; passive: 64 x 64 tiles, 1 ohm per wire segment, V/3 writes, exact "
             "circuits. Accuracies: mean ± sd over the seeds; flips, disturbs and the transfer's cell writes per "
             "training sample; s per sample: in-situ training on a shared 2-core machine (1T1MTJ: fused loop).", "",
             "| array | seeds | in situ | ex situ | float | flips / sample | disturb flips / sample "
             "| transfer cell writes / sample | failed after verify | s / sample |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for array in ("1t1mtj", "passive"):
        group = [r for r in rows if r["array"] == array]
        if not group:
            continue
        mean = {k: statistics.fmean(r[k] for r in group) for k in
                ("flips_per_sample", "disturb_per_sample", "carry_writes_per_sample", "failed_writes",
                 "s_per_sample")}
        lines.append(f"| {'1T1MTJ' if array == '1t1mtj' else 'passive, 1 ohm, V/3'} | "
                     f"{','.join(str(r['seed']) for r in group)} | {_pm([r['insitu'] for r in group])} | "
                     f"{_pm([r['exsitu'] for r in group])} | {_pm([r['float'] for r in group])} | "
                     f"{mean['flips_per_sample']:.0f} | {mean['disturb_per_sample']:.4f} | "
                     f"{mean['carry_writes_per_sample']:.0f} | {mean['failed_writes']:.0f} | "
                     f"{mean['s_per_sample']:.3g} |")
    by = {a: [r["insitu"] for r in rows if r["array"] == a] for a in ("1t1mtj", "passive")}
    if by["1t1mtj"] and by["passive"]:
        gap = statistics.fmean(by["passive"]) - statistics.fmean(by["1t1mtj"])
        lines += ["", f"Passive in situ - 1T1MTJ in situ: {gap:+.2f} points."]
    lines += ["", "Commands (from the repository root):", "", "```", *cmds, "```", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data/mnist-train10k"))
    parser.add_argument("--train", type=int, default=3000, help="training images (the first N), one epoch")
    parser.add_argument("--test", type=int, default=2000, help="test images (the first N)")
    parser.add_argument("--passive-seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--reference-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "transfer_passive")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "transfer_passive")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--sense-check", action="store_true",
                        help="also read the passive chip's bit tiles through the transfer's sense (a few minutes)")
    args = parser.parse_args()
    runs = plan(args)
    cmds = [shlex.join(["mtjxbar", *command(r, args.runs)[3:]]).replace(str(ROOT) + "/", "") for r in runs]
    if args.dry_run:
        print("\n".join(cmds))
        return 0
    for run in runs:
        if not (args.runs / run["name"] / "results.json").exists():
            print(f"running {run['name']}", flush=True)
            subprocess.run(command(run, args.runs), check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    table = [summarise(r, json.loads((args.runs / r["name"] / "results.json").read_text())) for r in runs]
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "runs.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    text = markdown(table, cmds, args)
    passive = [r for r in runs if r["array"] == "passive"]
    if args.sense_check and passive:
        text += "\n" + sense_check(args.runs / passive[0]["name"] / "config.toml") + "\n"
    (args.out / "row.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
