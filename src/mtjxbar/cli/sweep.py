"""``mtjxbar sweep CONFIG.toml``: train and evaluate every point x seed of a grid (on Ray, or ``--local``),
resumably; ``mtjxbar plot RESULTS.csv``: redraw a sweep's plots from its table.

Registered by :mod:`mtjxbar.cli.main` with :func:`add_parser` and dispatched to :func:`run`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import replace
from pathlib import Path

from ..config import apply_overrides

__all__ = ["add_parser", "run", "COMMANDS"]

COMMANDS = ("sweep", "plot")


def add_parser(subparsers) -> None:
    """Add the ``sweep`` and ``plot`` sub-commands to ``subparsers``."""
    p = subparsers.add_parser("sweep", help="train every point x seed of a grid over config fields (Ray)",
                              description="Run a sweep file: an experiment config plus [sweep] (grid, seeds, "
                              "methods). Finished runs are stored as they finish; rerunning skips them.",
                              allow_abbrev=False)
    p.add_argument("config", type=Path, metavar="CONFIG.toml", help="sweep file (experiment config + [sweep])")
    p.add_argument("--out", type=Path, help="output directory (default runs/<config name>); rerunning into it "
                   "continues the sweep")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--local", action="store_true", help="run in this process, one run at a time, without Ray "
                       "(on Ray otherwise: pip install 'mtjxbar[sweep]')")
    where.add_argument("--address", help="join the Ray cluster at this address (e.g. auto, or ray://host:10001)")
    p.add_argument("--workers", type=int, help="runs at a time (default: all CPUs of the Ray instance/cluster)")
    p.add_argument("--threads", type=int, default=1, help="torch, Numba and BLAS CPU threads per run (default 1; at "
                   "most the cores there are)")
    p.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                   help="change the base config, e.g. --set data.max_train=100 (repeatable; swept fields "
                        "keep their grid values)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")

    plot = subparsers.add_parser("plot", help="redraw a sweep's accuracy plots from its results table",
                                 description="Accuracy against each swept parameter (mean ± sd over seeds, "
                                 "one line per method), from a sweep's results.csv alone.", allow_abbrev=False)
    plot.add_argument("table", type=Path, metavar="RESULTS.csv")
    plot.add_argument("--out", type=Path, help="directory for the PNGs (default: next to the table)")


def _print_means(rows: list[dict], fields: tuple[str, ...]) -> None:
    groups: dict[tuple, list[float]] = {}
    for row in rows:
        groups.setdefault((tuple(str(row[f]) for f in fields), row["method"]), []).append(row["accuracy"])
    short = [f.rsplit(".", 1)[-1] for f in fields]
    print("  ".join([*short, "method", "accuracy (mean ± sd, %)", "seeds"]))
    for (values, method), accs in groups.items():
        sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
        print("  ".join([*values, method, f"{100 * statistics.fmean(accs):.2f} ± {100 * sd:.2f}", str(len(accs))]))


def _sweep(args: argparse.Namespace) -> int:
    from ..experiments.progress import ProgressPrinter
    from ..experiments.sweep import run_sweep
    from ..experiments.sweep_config import expand, load_sweep
    from ..experiments.threads import resolve_threads
    from ..plots.sweep import plot_sweep_table

    threads, note = resolve_threads(args.threads)
    if note:
        print(f"mtjxbar: note: {note}", file=sys.stderr)
    sweep = load_sweep(args.config)
    if args.set:
        sweep = replace(sweep, base=apply_overrides(sweep.base, args.set, example="data.max_train=100"))
        expand(sweep)  # every point must still be valid
    out = args.out if args.out is not None else Path("runs") / args.config.stem

    def log(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    inner = ProgressPrinter(quiet=args.quiet or not sys.stderr.isatty())
    result = run_sweep(sweep, out, local=args.local, address=args.address, workers=args.workers,
                       threads=threads, log=log, progress=inner)
    from ..experiments.sweep_table import read_table

    fields, rows = read_table(result.table)
    _print_means(rows, fields)
    plots = plot_sweep_table(result.table)
    print(f"table: {result.table}")
    for path in plots:
        print(f"plot:  {path}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run ``sweep`` or ``plot``; Ctrl-C exits 130 with a hint. Bad input (every error here is a
    ``ValueError`` or an ``OSError``) becomes one line on stderr and exit status 2 in :func:`.main.main`."""
    try:
        if args.command == "plot":
            from ..plots.sweep import plot_sweep_table

            for path in plot_sweep_table(args.table, args.out):
                print(f"plot: {path}")
            return 0
        return _sweep(args)
    except KeyboardInterrupt:
        print("mtjxbar: interrupted; finished runs are stored: run the same command again to continue",
              file=sys.stderr)
        return 130
