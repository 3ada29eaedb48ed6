"""Accuracy against each swept parameter, from a sweep's results table alone.

Axes are found in the table: swept columns equal in every row were tied to one value and form one axis.
For each axis, rows are grouped by the values of the other axes; groups in which the axis takes a single
value belong to another sweep (e.g. the zero-spread rows of a fault sweep) and are left out. Each remaining
group and method is one line: the mean test accuracy over seeds, with error bars of one standard deviation
(sample sd; none for a single seed).
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from ..experiments.sweep_table import read_table
from .history import LABELS

__all__ = ["find_axes", "axis_series", "plot_sweep", "plot_sweep_table"]


def find_axes(fields: tuple[str, ...], rows: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """Swept columns grouped into axes: columns equal in every row are one (tied) axis."""
    axes: list[tuple[str, ...]] = []
    for field in fields:
        for i, axis in enumerate(axes):
            if all(row[field] == row[axis[0]] for row in rows):
                axes[i] = (*axis, field)
                break
        else:
            axes.append((field,))
    return axes


def _key(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def axis_series(axis: tuple[str, ...], axes: list[tuple[str, ...]], rows: list[dict[str, Any]]
                ) -> dict[tuple[str, tuple], list[tuple[Any, float, float, int]]]:
    """(method, other axes' values) -> [(x, mean, sd, seeds)] sorted by x, for the lines of ``axis``."""
    others = [a[0] for a in axes if a != axis]
    groups: dict[tuple, dict[Any, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        context = tuple((name, _key(row[name])) for name in others)
        groups[(row["method"], context)][_key(row[axis[0]])].append(float(row["accuracy"]))
    wide = {k: v for k, v in groups.items() if len(v) > 1}
    chosen = wide or groups
    series = {}
    for key, by_x in chosen.items():
        points = []
        for x, accs in by_x.items():
            sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
            points.append((x, statistics.fmean(accs), sd, len(accs)))
        series[key] = sorted(points, key=lambda p: (isinstance(p[0], str), p[0] if not isinstance(p[0], str)
                                                    else 0, str(p[0])))
    return series


def _short(path: str) -> str:
    return path.rsplit(".", 1)[-1]


def _file_name(axis: tuple[str, ...]) -> str:
    return "accuracy_vs_" + re.sub(r"[^A-Za-z0-9_.+-]", "_", "+".join(_short(p) for p in axis)) + ".png"


def plot_sweep(fields: tuple[str, ...], rows: list[dict[str, Any]], out_dir: str | Path,
               title: str = "") -> list[Path]:
    """One PNG per axis in ``out_dir`` (``accuracy_vs_<fields>.png``); returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    axes = find_axes(fields, rows)
    paths = []
    for axis in axes:
        series = axis_series(axis, axes, rows)
        numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool)
                      for pts in series.values() for x, *_ in pts)
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        order = list(dict.fromkeys(row["method"] for row in rows))
        for (method, context), pts in sorted(series.items(), key=lambda kv: (order.index(kv[0][0]), str(kv[0][1]))):
            xs = [p[0] if numeric else str(p[0]) for p in pts]
            label = LABELS.get(method, method)
            if context and len(series) > len({m for m, _ in series}):
                label += " (" + ", ".join(f"{_short(n)}={v}" for n, v in context) + ")"
            ax.errorbar(xs, [100 * p[1] for p in pts], yerr=[100 * p[2] for p in pts], marker="o", capsize=3,
                        label=label)
        seeds = sorted({p[3] for pts in series.values() for p in pts})
        ax.set_xlabel(", ".join(_short(p) for p in axis))
        ax.set_ylabel("test accuracy (%)")
        per = f"mean ± sd over {'/'.join(map(str, seeds))} seeds"
        ax.set_title(f"{title}: {per}" if title else per, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = out_dir / _file_name(axis)
        fig.savefig(path, dpi=120)
        plt.close(fig)
        paths.append(path)
    return paths


def plot_sweep_table(table: str | Path, out_dir: str | Path | None = None) -> list[Path]:
    """Redraw the plots of a results table (CSV); next to it unless ``out_dir`` is given."""
    table = Path(table)
    fields, rows = read_table(table)
    if not fields:
        from ..experiments.sweep_table import TableError

        raise TableError(f"{table}: the table has no swept-field columns to plot against")
    title = table.parent.resolve().name if table.stem == "results" else table.stem
    return plot_sweep(fields, rows, out_dir if out_dir is not None else table.parent, title=title)
