"""In-situ-only runs of examples/variation_sweep_current.toml's base config (1 epoch unless training.epochs is set),
one per argument, appended to OUT.jsonl (docs/results/variation_coincidence.md):

    OMP_NUM_THREADS=1 nice -n 10 python docs/results/variation_coincidence_runs.py OUT.jsonl 'LABEL;SETTINGS;SEED' ...

SETTINGS: comma-separated PATH=VALUE config overrides; ``spread=X`` sets the relative spread of R_P, TMR0
and both Ic0 together. Example: 'co4-s20;hardware.encoder.scheme=coincidence,hardware.encoder.slots=4,spread=0.2;0'.
"""

import json
import sys
import time

import torch

from mtjxbar.config import parse_value, replace_path
from mtjxbar.experiments.runner import _load, run_experiment
from mtjxbar.experiments.sweep_config import load_sweep

SPREAD = ["hardware.variation.r_p_dtod", "hardware.variation.tmr0_dtod", "hardware.variation.ic0_p2ap_dtod",
          "hardware.variation.ic0_ap2p_dtod"]


def main(out: str, specs: list[str]) -> None:
    torch.set_num_threads(1)
    base = replace_path(load_sweep("examples/variation_sweep_current.toml").base, "baselines.methods", ())
    base = replace_path(base, "training.epochs", 1)
    data = None
    for spec in specs:
        label, sets, seed = spec.split(";")
        cfg = replace_path(base, "seed", int(seed))
        for kv in filter(None, sets.split(",")):
            k, v = kv.split("=")
            for path in (SPREAD if k == "spread" else [k]):
                cfg = replace_path(cfg, path, parse_value(v))
        data = data or _load(cfg)
        t = time.time()
        res = run_experiment(cfg, None, data=data, meter=False)
        row = {"label": label, "sets": sets, "seed": int(seed), "insitu": res["accuracy"]["insitu"],
               "seconds": round(time.time() - t, 1), "epochs": res["epochs"],
               "flips": [e.get("flips") for e in res.get("insitu_epochs", [])],
               "phases": [e.get("phases") for e in res.get("insitu_epochs", [])]}
        print(json.dumps(row), flush=True)
        with open(out, "a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
