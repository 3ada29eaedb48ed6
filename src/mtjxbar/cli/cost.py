"""``mtjxbar cost``: latency and energy per training sample of in-situ (parallel and row-by-row update)
and ex-situ training, for an array (``--rows``, ``--cols``) or a network (``--layers 784,256,10``), on
1T1MTJ arrays or (``--array passive``) passive ones.

Registered by :mod:`mtjxbar.cli.main` with :func:`add_parser` and dispatched to :func:`run`.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..config import ConfigError, apply_overrides, replace_path
from ..hardware import ActivityConfig, CostConfig, ScheduleConfig, estimate, format_table
from ..hardware.report import array_description, si
from ..nn import HardwareConfig
from .array_flags import add_array_arguments, apply_array_flags, check_array_flags

__all__ = ["add_parser", "run"]

# flag -> dotted path in the setup tree below
FLAGS = {
    "samples": "activity.samples",
    "update_probability": "activity.update_probability",
    "input_density": "activity.input_density",
    "seed": "activity.seed",
    "training_samples": "schedule.training_samples",
    "program_current_ratio": "schedule.program_current_ratio",
    "lines_per_adc": "schedule.lines_per_adc",
    "ref_mac_energy": "cost.reference_mac_energy",
    "ref_mac_time": "cost.reference_mac_time",
}


@dataclass(frozen=True)
class CostSetup:
    """Everything ``mtjxbar cost`` is configured by (the target of ``--set PATH=VALUE``)."""

    hardware: HardwareConfig = field(default_factory=HardwareConfig)
    cost: CostConfig = field(default_factory=CostConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    activity: ActivityConfig = field(default_factory=ActivityConfig)


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``cost`` sub-command to ``subparsers`` (from ``ArgumentParser.add_subparsers``)."""
    p = subparsers.add_parser("cost", help="latency and energy per training sample: in-situ vs ex-situ",
                              description=__doc__.split("\n\n")[0], allow_abbrev=False)
    size = p.add_argument_group("size (an array, or a network)")
    size.add_argument("--rows", type=int, help="array rows (inputs)")
    size.add_argument("--cols", type=int, help="array columns (one MTJ per weight, reference column)")
    size.add_argument("--layers", help="layer sizes of a network, e.g. 784,256,10 (mapping from the config)")
    p.add_argument("--config", type=Path, help="experiment config (TOML/JSON) whose hardware section to use")
    p.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                   help="set any field under hardware., cost., schedule. or activity., e.g. "
                        "--set cost.adc_bits=6 (repeatable)")
    act = p.add_argument_group("representative activity and schedule")
    act.add_argument("--samples", type=int, help="random training samples simulated (default 4)")
    act.add_argument("--update-probability", type=float, help="mean switching probability asked per update")
    act.add_argument("--input-density", type=float, help="fraction of non-zero inputs")
    act.add_argument("--seed", type=int)
    act.add_argument("--training-samples", type=int, help="samples the ex-situ programming is amortised over")
    act.add_argument("--program-current-ratio", type=float, help="write-verify current / Ic0")
    act.add_argument("--lines-per-adc", type=int, help="sensed lines sharing one ADC")
    act.add_argument("--ref-mac-energy", type=float, help="reference processor energy per MAC, J")
    act.add_argument("--ref-mac-time", type=float, help="reference processor time per MAC, s")
    arr = p.add_argument_group("array kind (as mtjxbar train's flags)")
    add_array_arguments(arr, "array kind: 1t1mtj (default) or passive (0T1MTJ: sneak paths, half-select "
                        "writes, wire losses; costed from its solved circuits)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--threads", type=int, help="torch, Numba and BLAS CPU threads (default 1)")
    return p


def _setup(args: argparse.Namespace) -> CostSetup:
    setup = CostSetup()
    if args.config:
        from ..experiments.config import load_config

        setup = CostSetup(hardware=load_config(args.config).hardware)
    for flag, path in FLAGS.items():
        if getattr(args, flag) is not None:
            setup = replace_path(setup, path, getattr(args, flag))
    setup = apply_overrides(apply_array_flags(setup, args), args.set, example="cost.adc_bits=6")
    check_array_flags(setup, args)
    return setup


def _layers(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(t) for t in text.replace(",", " ").split()]
    except ValueError:
        raise ConfigError(f"--layers {text!r}: expected sizes separated by commas, e.g. 784,256,10") from None


def _check_memory(setup: CostSetup, layers: list[int] | None, rows: int | None, cols: int | None) -> None:
    """Refuse, before any array is built, a size whose simulated arrays cannot fit in memory."""
    from ..experiments.memory import array_cells, check_memory

    advice = "use smaller layers"
    if layers is not None:
        sizes, subject = layers, f"--layers {','.join(map(str, layers))}"
        cells = array_cells(sizes, setup.hardware.mapping.mtjs_per_synapse, setup.hardware.mapping.scheme)
    elif rows is not None and cols is not None:
        sizes, subject, advice = [rows, cols], f"--rows {rows} --cols {cols}", "use a smaller array"
        cells = array_cells(sizes)  # one MTJ per weight, a reference column
    else:
        return  # estimate() says what is missing
    if min(sizes) < 1:
        return  # and what is wrong
    from ..experiments.memory import BYTES_PER_CELL

    check_memory(cells * BYTES_PER_CELL, f"{cells:,} simulated MTJ cells", subject, advice=advice)


def run(args: argparse.Namespace) -> int:
    """Print the cost table (or JSON); errors are one line on stderr and exit status 2."""
    from ..experiments.threads import limit_threads, resolve_threads

    try:
        setup = _setup(args)
        layers = _layers(args.layers)
        threads, note = resolve_threads(args.threads)
        _check_memory(setup, layers, args.rows, args.cols)
        if note:
            print(f"mtjxbar: note: {note}", file=sys.stderr)
        limit_threads(threads)
        summary = estimate(setup.hardware, layers=layers, rows=args.rows, cols=args.cols, cost=setup.cost,
                           schedule=setup.schedule, activity=setup.activity)
    except (ConfigError, ValueError) as err:
        print(f"mtjxbar: error: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    net, act = summary["network"], summary["activity"]
    shape = "-".join(map(str, net["sizes"])) if net["kind"] == "network" else "x".join(map(str, net["sizes"]))
    print(f"{net['kind']} {shape}: arrays {', '.join(f'{r}x{c}' for r, c in net['arrays'])}; activity: "
          f"{act['samples']} random samples, input density {act['input_density']:g}, "
          f"mean update probability {act['update_probability']:g}")
    print(f"array kind: {array_description(net['array'])}")
    print(format_table(summary))
    par = summary["insitu_parallel"]["energy_breakdown_j"]
    print("  in-situ parallel energy: " + ", ".join(f"{k} {si(v, 'J')}" for k, v in par.items()))
    if "reads_writes" in summary:
        rw = summary["reads_writes"]["insitu_parallel"]
        print("  in-situ parallel: " + "; ".join(f"{k} {si(v['latency_s'], 's')}, {si(v['energy_j'], 'J')}"
                                                 for k, v in rw.items()))
    if "passive_read_split" in summary:
        print("  passive forward read power (raw circuit, last sample): " + ", ".join(
            f"{k} {100 * v:.3g} %" for k, v in summary["passive_read_split"].items()))
    return 0

