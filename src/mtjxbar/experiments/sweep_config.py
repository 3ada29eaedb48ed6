"""A sweep: a base experiment config, a grid over any of its fields, seeds and methods.

A sweep file is an experiment config (TOML or JSON, as ``mtjxbar train --config`` reads) plus a ``[sweep]``
table::

    [sweep]
    seeds = [0, 1, 2]
    methods = ["insitu", "exsitu"]          # any of insitu, exsitu, float, binary_software

    [sweep.grid]                            # one grid: the product of its axes
    "hardware.variation.r_p_dtod" = [0.0, 0.1]
    "hardware.variation.tmr0_dtod, hardware.variation.ic0_p2ap_dtod" = [0.0, 0.1]   # tied: one value, both

A key naming several fields separated by commas ties them to one swept value. ``[[sweep.grid]]`` (an array
of tables) gives several grids whose points are joined, e.g. two one-dimensional sweeps; a field a grid
does not sweep keeps the base config's value, and a point that two grids share runs once.
Every point x seed x method is validated when the sweep is loaded, so a bad value fails before anything runs.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import ConfigError, field_value, from_dict, replace_path, to_dict
from .config import ExperimentConfig, read_config_file

if sys.version_info >= (3, 11):
    pass
else:  # pragma: no cover
    pass

__all__ = ["METHODS", "Axis", "Sweep", "Task", "load_sweep", "parse_sweep", "expand", "field_value", "sweep_to_dict"]

METHODS = ("insitu", "exsitu", "float", "binary_software")
_SWEEP_KEYS = ("grid", "seeds", "methods")
_NOT_SWEPT = {"seed": "use [sweep] seeds", "baselines.methods": "use [sweep] methods"}


@dataclass(frozen=True)
class Axis:
    """One swept value applied to one or more (tied) fields."""

    paths: tuple[str, ...]
    values: tuple[Any, ...]

    @property
    def name(self) -> str:
        return ", ".join(self.paths)


@dataclass(frozen=True)
class Sweep:
    """A parsed sweep: the base config, its grids (each a product of axes), seeds and methods."""

    base: ExperimentConfig
    grids: tuple[tuple[Axis, ...], ...]
    seeds: tuple[int, ...]
    methods: tuple[str, ...]

    @property
    def fields(self) -> tuple[str, ...]:
        """Every swept field path, in order of first appearance (the table's extra columns)."""
        seen: dict[str, None] = {}
        for grid in self.grids:
            for axis in grid:
                seen.update(dict.fromkeys(axis.paths))
        return tuple(seen)


@dataclass(frozen=True)
class Task:
    """One training run: point ``point`` (0-based) at ``seed``; ``values`` are the swept fields' values."""

    point: int
    seed: int
    values: tuple[tuple[str, Any], ...]
    config: ExperimentConfig

    @property
    def key(self) -> str:
        """A digest of the whole config: a stored result is reused only for exactly this run."""
        text = json.dumps(to_dict(self.config), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    def label(self) -> str:
        shown = ", ".join(f"{path.rsplit('.', 1)[-1]}={value}" for path, value in self.values)
        return f"point {self.point + 1} ({shown}) seed {self.seed}"


def _unknown(where: str, key: str, known: tuple[str, ...]) -> ConfigError:
    guess = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean {guess[0]!r}?" if guess else f"; known keys: {', '.join(known)}"
    return ConfigError(f"{where}: unknown key {key!r}{hint}")


def _parse_axes(table: Any, where: str, base: ExperimentConfig) -> tuple[Axis, ...]:
    if not isinstance(table, dict) or not table:
        raise ConfigError(f"{where}: expected a table of \"field.path\" = [values], e.g. "
                          "\"hardware.variation.r_p_dtod\" = [0.0, 0.1]")
    axes, seen = [], set()
    for key, values in table.items():
        paths = tuple(p.strip() for p in key.split(","))
        if not all(paths):
            raise ConfigError(f"{where}: {key!r}: an empty field name (separate tied fields with commas)")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{where}: {key!r} = {values!r}: expected a non-empty list of values")
        for path in paths:
            if path in _NOT_SWEPT:
                raise ConfigError(f"{where}: {path!r} cannot be a grid field; {_NOT_SWEPT[path]}")
            if path in seen:
                raise ConfigError(f"{where}: {path!r} is swept twice in one grid")
            seen.add(path)
            for value in values:
                try:
                    replace_path(base, path, value)
                except ConfigError as err:
                    raise ConfigError(f"{where}: {err}") from None
        axes.append(Axis(paths, tuple(values)))
    return tuple(axes)


def _parse_list(sweep: dict, key: str, where: str, check, allowed: str, default: tuple) -> tuple:
    if key not in sweep:
        return default
    values = sweep[key]
    if not isinstance(values, list) or not values or not all(check(v) for v in values):
        raise ConfigError(f"{where}.{key} = {values!r}: expected a non-empty list of {allowed}")
    if len(set(values)) != len(values):
        raise ConfigError(f"{where}.{key} = {values!r}: a value is repeated")
    return tuple(values)


def parse_sweep(data: dict, where: str = "sweep") -> Sweep:
    """A :class:`Sweep` from a parsed sweep file (the config's keys plus ``sweep``); errors name the key."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table of settings")
    data = dict(data)
    sweep = data.pop("sweep", None)
    if not isinstance(sweep, dict):
        raise ConfigError(f"{where}: no [sweep] table (with grid, seeds and methods); a sweep file is an "
                          "experiment config plus [sweep]")
    for key in sweep:
        if key not in _SWEEP_KEYS:
            raise _unknown(f"{where}: [sweep]", key, _SWEEP_KEYS)
    try:
        base = from_dict(ExperimentConfig, data)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None
    if "grid" not in sweep:
        raise ConfigError(f"{where}: [sweep] has no grid: add [sweep.grid] with \"field.path\" = [values]")
    grid = sweep["grid"]
    tables = grid if isinstance(grid, list) else [grid]
    if not tables:
        raise ConfigError(f"{where}: [sweep] grid is empty")
    grids = tuple(_parse_axes(t, f"{where}: [sweep] grid" + (f" {i + 1}" if len(tables) > 1 else ""), base)
                  for i, t in enumerate(tables))
    seeds = _parse_list(sweep, "seeds", f"{where}: sweep", lambda v: isinstance(v, int) and not
                        isinstance(v, bool) and 0 <= v < 2**63, "seeds (integers >= 0)", (base.seed,))
    methods = _parse_list(sweep, "methods", f"{where}: sweep", lambda v: v in METHODS,
                          f"methods ({', '.join(METHODS)})", ("insitu", "exsitu"))
    result = Sweep(base, grids, seeds, methods)
    expand(result, where)  # every point must be a valid config (cross-field rules too)
    return result


def load_sweep(path: str | Path) -> Sweep:
    """Read a sweep file (TOML, or JSON when the name ends in .json)."""
    data = read_config_file(path, "sweep")
    return parse_sweep(data, str(path))


def _baselines(methods: tuple[str, ...]) -> tuple[str, ...]:
    needed = set(methods) | ({"binary_software"} if "exsitu" in methods else set())
    return tuple(m for m in ("float", "binary_software", "exsitu") if m in needed)


def expand(sweep: Sweep, where: str = "sweep") -> list[Task]:
    """Every point x seed of the sweep as a :class:`Task`, in grid order then seed order; a point that
    several grids share appears once."""
    fields = sweep.fields
    base = replace_path(sweep.base, "baselines.methods", _baselines(sweep.methods))
    points: list[ExperimentConfig] = []
    for grid in sweep.grids:
        for combo in itertools.product(*(axis.values for axis in grid)):
            config = base
            try:
                for axis, value in zip(grid, combo, strict=True):
                    for path in axis.paths:
                        config = replace_path(config, path, value)  # validated, cross-field rules too
            except ConfigError as err:
                shown = ", ".join(f"{a.name} = {v!r}" for a, v in zip(grid, combo, strict=True))
                raise ConfigError(f"{where}: the point {shown}: {err}") from None
            if config not in points:
                points.append(config)
    tasks = []
    for index, config in enumerate(points):
        values = tuple((path, field_value(config, path)) for path in fields)
        for seed in sweep.seeds:
            tasks.append(Task(index, seed, values, replace_path(config, "seed", seed)))
    return tasks


def sweep_to_dict(sweep: Sweep) -> dict:
    """The sweep as a plain dict (the base config's keys plus ``sweep``): what :func:`parse_sweep` reads."""
    grids = [{axis.name: list(axis.values) for axis in grid} for grid in sweep.grids]
    data = to_dict(sweep.base)
    data["sweep"] = {"seeds": list(sweep.seeds), "methods": list(sweep.methods),
                     "grid": grids[0] if len(grids) == 1 else grids}
    return data
