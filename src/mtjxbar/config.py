"""Frozen, validated configuration dataclasses and their TOML/JSON round trip.

Every field of a configuration dataclass is declared with :func:`param`, which records its unit, a
one-line description and its allowed range. :func:`validate` (called from each dataclass's
``__post_init__``) checks every field and raises :class:`ConfigError` naming the field path, the value
and what is allowed. :func:`to_dict` / :func:`from_dict` convert nested dataclasses to plain dicts (for
TOML and JSON) and back; unknown keys are errors with a did-you-mean suggestion.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import types
import typing
from typing import Any

__all__ = ["ConfigError", "param", "validate", "to_dict", "from_dict", "describe", "field_value", "replace_path",
           "parse_value", "apply_overrides"]


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the field, the value and what is allowed."""


def param(
    default: Any,
    unit: str,
    doc: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
    choices: tuple | None = None,
    allow_empty: bool = False,
) -> Any:
    """Declare a configuration field with its SI unit, description and allowed range.

    ``lo``/``hi`` bound numeric values (closed unless ``lo_open``/``hi_open``); ``choices`` lists the
    allowed values of a string field; a tuple field must hold at least one value unless ``allow_empty``.
    Use ``unit="1"`` for dimensionless quantities.
    """
    meta = {"unit": unit, "doc": doc, "lo": lo, "hi": hi, "lo_open": lo_open, "hi_open": hi_open,
            "choices": choices, "allow_empty": allow_empty}
    if isinstance(default, (list, dict, set)):
        raise TypeError("mutable defaults are not allowed in frozen configs; use a tuple")
    return dataclasses.field(default=default, metadata=meta)


def _bound_text(x: float) -> str:
    """A range bound as written: whole numbers in full (1048576, not 1.04858e+06), others to 6 digits."""
    if isinstance(x, int):
        return str(x)
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e16 else f"{x:.6g}"


def _range_text(meta: dict) -> str:
    if meta.get("choices") is not None:
        return "one of " + ", ".join(repr(c) for c in meta["choices"])
    lo, hi = meta.get("lo"), meta.get("hi")
    left = "(" if meta.get("lo_open") else "["
    right = ")" if meta.get("hi_open") else "]"
    lo_s = "-inf" if lo is None else _bound_text(lo)
    hi_s = "inf" if hi is None else _bound_text(hi)
    if lo is None:
        left = "("
    if hi is None:
        right = ")"
    unit = meta.get("unit", "")
    unit_s = "" if unit in ("", "1") else f" {unit}"
    return f"in {left}{lo_s}, {hi_s}{right}{unit_s}"


def _check_number(path: str, value: Any, meta: dict, integer: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = "an integer" if integer else "a number"
        raise ConfigError(f"{path} = {value!r}: must be {kind} {_range_text(meta)}")
    if integer and not isinstance(value, int):
        raise ConfigError(f"{path} = {value!r}: must be an integer {_range_text(meta)}")
    if not math.isfinite(value):
        raise ConfigError(f"{path} = {value!r}: must be finite, {_range_text(meta)}")
    lo, hi = meta.get("lo"), meta.get("hi")
    bad = (lo is not None and (value < lo or (meta.get("lo_open") and value == lo))) or (
        hi is not None and (value > hi or (meta.get("hi_open") and value == hi))
    )
    if bad:
        raise ConfigError(f"{path} = {value!r}: must be {_range_text(meta)}")


def _resolved_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _strip_optional(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


def validate(obj: Any, prefix: str = "") -> None:
    """Check every field of a config dataclass against its declared type and range."""
    hints = _resolved_types(type(obj))
    for f in dataclasses.fields(obj):
        path = f"{prefix}{f.name}"
        value = getattr(obj, f.name)
        tp, optional = _strip_optional(hints[f.name])
        meta = f.metadata
        if value is None:
            if optional:
                continue
            raise ConfigError(f"{path} = None: a value is required ({_range_text(meta)})")
        if dataclasses.is_dataclass(tp):
            if not isinstance(value, tp):
                raise ConfigError(f"{path}: expected a {tp.__name__} section, got {type(value).__name__}")
            validate(value, prefix=f"{path}.")
            continue
        if tp is bool:
            if not isinstance(value, bool):
                raise ConfigError(f"{path} = {value!r}: must be true or false")
        elif tp is int:
            _check_number(path, value, meta, integer=True)
        elif tp is float:
            _check_number(path, value, meta, integer=False)
        elif tp is str:
            if not isinstance(value, str):
                raise ConfigError(f"{path} = {value!r}: must be a string ({_range_text(meta)})")
            if meta.get("choices") is not None and value not in meta["choices"]:
                raise ConfigError(f"{path} = {value!r}: must be {_range_text(meta)}")
        elif typing.get_origin(tp) is tuple:
            (item_tp, *_rest) = typing.get_args(tp)
            if not isinstance(value, tuple):
                raise ConfigError(f"{path} = {value!r}: must be a list")
            if meta.get("lo") is not None or meta.get("hi") is not None:
                for i, item in enumerate(value):
                    _check_number(f"{path}[{i}]", item, meta, integer=item_tp is int)
            if meta.get("choices") is not None:
                for i, item in enumerate(value):
                    if item not in meta["choices"]:
                        raise ConfigError(f"{path}[{i}] = {item!r}: must be {_range_text(meta)}")
            if not value and meta.get("choices") is None and not meta.get("allow_empty"):
                raise ConfigError(f"{path} = []: must name at least one value")


def to_dict(obj: Any) -> dict[str, Any]:
    """Nested dataclass -> plain dict of TOML/JSON-friendly values (tuples become lists)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            out[f.name] = to_dict(value)
        elif isinstance(value, tuple):
            out[f.name] = list(value)
        elif value is not None:
            out[f.name] = value
    return out


def _unknown_key_error(path: str, key: str, known: list[str]) -> ConfigError:
    def norm(name: str) -> str:
        return str(name).lower().replace("-", "_")

    by_norm = {norm(k): k for k in known}
    guess = [by_norm[norm(key)]] if norm(key) in by_norm else difflib.get_close_matches(key, known, n=1)
    if not guess:
        close = difflib.get_close_matches(norm(key), list(by_norm), n=1)
        guess = [by_norm[close[0]]] if close else []
    hint = f"; did you mean {guess[0]!r}?" if guess else f"; known keys: {', '.join(sorted(known))}"
    return ConfigError(f"unknown key {path + key!r}{hint}")


def _coerce(path: str, value: Any, tp: Any) -> Any:
    tp, _ = _strip_optional(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a table of settings, got {value!r}")
        return from_dict(tp, value, prefix=f"{path}.")
    if typing.get_origin(tp) is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path} = {value!r}: a list field takes a list, e.g. [{value!r}], not a single value")
        (item_tp, *_rest) = typing.get_args(tp)
        return tuple(float(v) if item_tp is float and isinstance(v, int) and not isinstance(v, bool) else v
                     for v in value)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def from_dict(cls: type, data: dict[str, Any], prefix: str = "") -> Any:
    """Build (and so validate) a config dataclass from a plain dict; unknown keys are errors."""
    if not isinstance(data, dict):
        where = prefix.rstrip(".") or "the configuration"
        raise ConfigError(f"{where}: expected a table of settings, got {data!r:.60}")
    hints = _resolved_types(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        if key not in names:
            raise _unknown_key_error(prefix, key, names)
        kwargs[key] = _coerce(f"{prefix}{key}", value, hints[key])
    try:
        return cls(**kwargs)
    except ConfigError as err:
        if prefix and not str(err).startswith(prefix):
            raise ConfigError(f"{prefix}{err}") from None
        raise


def field_value(config: Any, path: str) -> Any:
    """The value of a dotted ``path`` in a nested config."""
    for part in path.split("."):
        config = getattr(config, part)
    return config


def replace_path(obj: Any, path: str, value: Any, _prefix: str = "") -> Any:
    """Return a copy of a nested config with the dotted ``path`` set to ``value`` (validated; errors
    name the whole path)."""
    head, _, rest = path.partition(".")
    names = [f.name for f in dataclasses.fields(obj)]
    if head not in names:
        raise _unknown_key_error(_prefix, head, names)
    if rest:
        child = getattr(obj, head)
        if not dataclasses.is_dataclass(child):
            raise ConfigError(f"{_prefix}{head} is a value, not a section: cannot set {_prefix}{path}")
        return dataclasses.replace(obj, **{head: replace_path(child, rest, value, f"{_prefix}{head}.")})
    hints = _resolved_types(type(obj))
    try:
        return dataclasses.replace(obj, **{head: _coerce(f"{_prefix}{head}", value, hints[head])})
    except ConfigError as err:
        if _prefix and not str(err).startswith(_prefix):
            raise ConfigError(f"{_prefix}{err}") from None
        raise


def parse_value(text: str) -> Any:
    """A command-line override value: true/false, none/null, JSON literals (numbers, [lists]) or a string."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def apply_overrides(obj: Any, items: list[str], *, strip_prefix: str = "", example: str = "delta=45") -> Any:
    """Apply ``PATH=VALUE`` overrides (``--set``) to a nested config, each validated; ``strip_prefix`` is
    removed from paths that start with it (so a device-only command accepts ``hardware.device.delta``)."""
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected PATH=VALUE, e.g. {example}")
        path, value = item.split("=", 1)
        path = path.strip()
        if strip_prefix and path.startswith(strip_prefix):
            path = path[len(strip_prefix):]
        obj = replace_path(obj, path, parse_value(value))
    return obj


def describe(cls: type, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(path, unit, allowed range, description) for every field of a config class, nested included."""
    hints = _resolved_types(cls)
    rows = []
    for f in dataclasses.fields(cls):
        tp, _ = _strip_optional(hints[f.name])
        if dataclasses.is_dataclass(tp):
            rows.extend(describe(tp, prefix=f"{prefix}{f.name}."))
        else:
            rows.append((f"{prefix}{f.name}", f.metadata.get("unit", ""), _range_text(f.metadata),
                         f.metadata.get("doc", "")))
    return rows
