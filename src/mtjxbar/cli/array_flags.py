"""The array-kind flags ``mtjxbar train`` and ``mtjxbar cost`` share (1T1MTJ or passive arrays, and the
passive arrays' wires, tiles and write scheme): their arguments, the config fields they set, and the check
that the passive-only ones go with passive arrays (on the final config, ``--set`` included). ``root`` is the
config path the command's hardware sits under (``hardware`` for both)."""

from __future__ import annotations

import argparse

from ..config import ConfigError, field_value, replace_path, to_dict

__all__ = ["add_array_arguments", "apply_array_flags", "check_array_flags", "check_not_overridden"]

#: flag -> field under the hardware config
FIELDS = {"array": "array.kind", "write_scheme": "array.write_scheme",
          "write_compensation": "array.write_compensation",
          "compensation_model": "array.write_compensation_model", "fidelity": "array.fidelity"}
#: flag -> (section under the hardware config, fields of it the flag sets together, validated as one change)
GROUPS = {"wire_resistance": ("array.circuit", ("r_wire_row", "r_wire_col")),
          "tile_size": ("array", ("tile_rows", "tile_cols"))}
#: refused for 1T1MTJ arrays
PASSIVE_ONLY = ("wire_resistance", "tile_size", "write_scheme", "write_compensation", "compensation_model",
                "fidelity")


def add_array_arguments(group, kind_help: str) -> None:
    """The array flags on ``group`` (a parser or an argument group); ``kind_help``: the help of ``--array``."""
    group.add_argument("--array", choices=("1t1mtj", "passive"), help=kind_help)
    group.add_argument("--wire-resistance", type=float, metavar="OHM", help="passive arrays: resistance of one "
                       "wire segment between adjacent cells, rows and columns (default 0: ideal wires)")
    group.add_argument("--tile-size", type=int, metavar="N", help="passive arrays: largest tile, N x N cells "
                       "(larger layers are split, partial sums added in the periphery; default 256)")
    group.add_argument("--write-scheme", choices=("v2", "v3"), help="passive arrays: half-select write scheme "
                       "(default v2)")
    group.add_argument("--write-compensation", type=int, metavar="STEPS", help="passive arrays: IR-drop "
                       "compensation steps of the write sources (default 2; 0: sources set for ideal wires)")
    group.add_argument("--compensation-model", choices=("solve", "response"), help="passive arrays: how the "
                       "compensation evaluates its state-blind tile model: solve (the model circuit of each phase, "
                       "default) or response (a table of the model tile's linear response, no solve per phase)")
    group.add_argument("--fidelity", choices=("ideal", "lumped", "exact"), help="passive arrays: read model "
                       "(default exact: nodal analysis of each tile)")


def apply_array_flags(config, args: argparse.Namespace, root: str = "hardware"):
    """``config`` with the array flags given in ``args`` set under ``root`` (whether the passive-only ones
    apply is :func:`check_array_flags`' question, asked once ``--set`` has been applied too)."""
    for flag, path in FIELDS.items():
        if getattr(args, flag, None) is not None:
            config = replace_path(config, f"{root}.{path}", getattr(args, flag))
    for flag, (section, names) in GROUPS.items():
        value = getattr(args, flag, None)
        if value is not None:
            current = to_dict(field_value(config, f"{root}.{section}"))
            config = replace_path(config, f"{root}.{section}", {**current, **dict.fromkeys(names, value)})
    return config


def check_array_flags(config, args: argparse.Namespace, root: str = "hardware") -> None:
    """Refuse passive-only flags on a ``config`` (the final one: ``--set`` applied) whose arrays are not
    passive (a :class:`ConfigError` naming them): they would do nothing."""
    given = [f"--{flag.replace('_', '-')}" for flag in PASSIVE_ONLY if getattr(args, flag, None) is not None]
    hardware = field_value(config, root)
    if given and hardware.array.kind != "passive":
        raise ConfigError(f"{', '.join(given)}: only for passive arrays, and this run's {root}.array.kind is "
                          f"{hardware.array.kind!r} (use --array passive)")
    paths = {**{flag: (path,) for flag, path in FIELDS.items()},
             **{flag: tuple(f"{section}.{name}" for name in names) for flag, (section, names) in GROUPS.items()}}
    for flag, fields in paths.items():  # a flag that --set overrode would otherwise vanish without a word
        value = getattr(args, flag, None)
        for path in fields if value is not None else ():
            check_not_overridden(config, f"{root}.{path}", f"--{flag.replace('_', '-')}", value)


def check_not_overridden(config, path: str, flag: str, value) -> None:
    """Refuse ``flag`` (given as ``value``) when ``--set`` left its field ``path`` of the final ``config`` at
    another value: the flag would vanish without a word (a :class:`ConfigError` naming both)."""
    final = field_value(config, path)
    if final != value:
        raise ConfigError(f"{flag} {value}: overridden by --set ({path} = {final!r}); give one or the other")
