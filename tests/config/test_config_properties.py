"""Property-based checks over the whole configuration space (hypothesis).

Every field of every config dataclass declares its type and allowed range; from that declaration we
draw valid configurations (which must round-trip TOML -> dataclass -> TOML unchanged) and invalid values
(out of range, wrong type, not one of the choices, missing), which must be rejected with a message that
names the field's dotted path, from Python, from a TOML file and at the command line.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import typing

import pytest
import tomli_w
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mtjxbar.config import ConfigError, _strip_optional, from_dict, replace_path, to_dict
from mtjxbar.experiments.config import ExperimentConfig, load_config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclasses.dataclass(frozen=True)
class Field:
    path: str
    tp: typing.Any  # int, float, bool, str or tuple[...]
    optional: bool
    meta: dict


def _fields(cls: type, prefix: str = "") -> list[Field]:
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        tp, optional = _strip_optional(hints[f.name])
        if dataclasses.is_dataclass(tp):
            out.extend(_fields(tp, f"{prefix}{f.name}."))
        else:
            out.append(Field(f"{prefix}{f.name}", tp, optional, dict(f.metadata)))
    return out


FIELDS = _fields(ExperimentConfig)


def _set(data: dict, path: str, value) -> dict:
    head, *rest = path.split(".")
    if rest:
        data[head] = _set(dict(data.get(head, {})), ".".join(rest), value)
    else:
        data[head] = value
    return data


# ------------------------------------------------------------------------------------------ valid values
def _numbers(meta: dict, integer: bool) -> st.SearchStrategy:
    lo, hi = meta.get("lo"), meta.get("hi")
    if integer:
        lo_i = None if lo is None else math.ceil(lo) + (1 if meta.get("lo_open") and lo == math.ceil(lo) else 0)
        hi_i = None if hi is None else math.floor(hi) - (1 if meta.get("hi_open") and hi == math.floor(hi) else 0)
        if hi_i is None:
            hi_i = (lo_i or 0) + 10**6
        return st.integers(min_value=lo_i, max_value=hi_i)
    return st.floats(min_value=lo, max_value=hi, exclude_min=bool(meta.get("lo_open")) and lo is not None,
                     exclude_max=bool(meta.get("hi_open")) and hi is not None, allow_nan=False,
                     allow_infinity=False)


def _valid(f: Field) -> st.SearchStrategy:
    meta, tp = f.meta, f.tp
    if typing.get_origin(tp) is tuple:
        (item,) = typing.get_args(tp)[:1]
        if meta.get("choices") is not None:
            items = st.sampled_from(meta["choices"])
            return st.lists(items, min_size=0, max_size=3).map(tuple)
        return st.lists(_numbers(meta, item is int), min_size=1, max_size=3).map(tuple)
    if tp is bool:
        strat = st.booleans()
    elif tp is str:
        strat = (st.sampled_from(meta["choices"]) if meta.get("choices") is not None
                 else st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20))
    else:
        strat = _numbers(meta, tp is int)
    return st.one_of(st.none(), strat) if f.optional else strat


@st.composite
def valid_configs(draw) -> ExperimentConfig:
    data: dict = {}
    for f in FIELDS:
        if draw(st.booleans()):
            value = draw(_valid(f))
            if value is not None:
                _set(data, f.path, list(value) if isinstance(value, tuple) else value)
    hardware = data.get("hardware", {})
    if hardware.get("transfer", {}).get("counter_bits", 0) > 0:  # transfer layers keep the default mapping (a
        hardware.pop("mapping", None)  # cross-field rule); drawing one anyway would filter out most examples
    try:
        return from_dict(ExperimentConfig, data)
    except ConfigError:  # a cross-field rule (e.g. exsitu needs binary_software)
        assume(False)


@SETTINGS
@given(valid_configs())
def test_valid_configs_round_trip_through_toml(config):
    text = tomli_w.dumps(to_dict(config))
    again = from_dict(ExperimentConfig, tomllib.loads(text))
    assert again == config
    assert tomli_w.dumps(to_dict(again)) == text


@SETTINGS
@given(config=valid_configs())
def test_valid_configs_round_trip_through_files(tmp_path_factory, config):
    from mtjxbar.experiments.config import save_config

    path = tmp_path_factory.mktemp("cfg") / "c.toml"
    save_config(config, path)
    text = path.read_text()
    assert load_config(path) == config
    save_config(load_config(path), path)
    assert path.read_text() == text


# ---------------------------------------------------------------------------------------- invalid values
def _invalid(f: Field) -> st.SearchStrategy:
    """Values ``f`` must reject: out of range, non-finite, wrong type, not a choice, None if required."""
    meta, tp = f.meta, f.tp
    wrong_type = st.sampled_from([{"a": 1}, "nonsense"]) if tp is not str else st.sampled_from([3, 2.5, True])
    options = [wrong_type]
    if not f.optional:
        options.append(st.just(None))
    scalar = typing.get_args(tp)[0] if typing.get_origin(tp) is tuple else tp
    if scalar in (int, float):
        lo, hi = meta.get("lo"), meta.get("hi")
        if scalar is int:
            if lo is not None:
                options.append(st.integers(max_value=math.ceil(lo) - (0 if meta.get("lo_open") else 1)))
            if hi is not None:
                options.append(st.integers(min_value=math.floor(hi) + (0 if meta.get("hi_open") else 1)))
        else:
            if lo is not None:
                options.append(st.floats(max_value=lo, exclude_max=not meta.get("lo_open"), allow_nan=False,
                                         allow_infinity=False))
            if hi is not None:
                options.append(st.floats(min_value=hi, exclude_min=not meta.get("hi_open"), allow_nan=False,
                                         allow_infinity=False))
        options.append(st.sampled_from([float("nan"), float("inf"), True]))
        if scalar is int:
            options.append(st.sampled_from([1.5, 2.0]))
        else:
            options.append(st.just("1.0"))
    elif scalar is bool:
        options.append(st.sampled_from([0, 1, "true", 1.0]))
    elif meta.get("choices") is not None:
        options.append(st.text(max_size=12).filter(lambda s: s not in meta["choices"]))
    bad = st.one_of(*options)
    if typing.get_origin(tp) is tuple:
        # one bad item among good ones (a scalar or None given for a list is wrapped or refused)
        good = _valid(dataclasses.replace(f, optional=False)).map(list)
        return st.tuples(good, bad.filter(lambda v: v is not None)).map(lambda gb: tuple([*gb[0], gb[1]]))
    return bad


@st.composite
def invalid_fields(draw) -> tuple[Field, typing.Any]:
    f = draw(st.sampled_from(FIELDS))
    return f, draw(_invalid(f))


@SETTINGS
@given(invalid_fields())
def test_invalid_values_are_rejected_naming_the_field(case):
    f, value = case
    with pytest.raises(ConfigError) as err:
        replace_path(ExperimentConfig(), f.path, value)
    assert f.path in str(err.value), (f.path, value, str(err.value))
    if value is not None and not isinstance(value, tuple):
        with pytest.raises(ConfigError) as err:
            from_dict(ExperimentConfig, _set({}, f.path, value))
        assert f.path in str(err.value)


@SETTINGS
@given(case=invalid_fields())
def test_invalid_values_in_toml_files_are_rejected_naming_the_field(tmp_path_factory, case):
    f, value = case
    assume(value is not None and not (isinstance(value, float) and math.isnan(value)))
    data = _set({}, f.path, list(value) if isinstance(value, tuple) else value)
    try:
        text = tomli_w.dumps(data)
    except (TypeError, ValueError):  # not representable in TOML (e.g. None inside a list)
        assume(False)
    path = tmp_path_factory.mktemp("bad") / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert f.path in str(err.value) and str(path) in str(err.value)


@st.composite
def unknown_keys(draw) -> tuple[str, str]:
    """A section path and a misspelt key (one character dropped, doubled or swapped)."""
    f = draw(st.sampled_from(FIELDS))
    section, _, name = f.path.rpartition(".")
    i = draw(st.integers(0, len(name) - 1))
    how = draw(st.sampled_from(["drop", "double", "upper"]))
    typo = {"drop": name[:i] + name[i + 1:], "double": name[:i] + name[i] * 2 + name[i + 1:],
            "upper": name[:i] + name[i].upper() + name[i + 1:]}[how]
    assume(typo and typo != name)
    siblings = {g.path.rpartition(".")[2] for g in FIELDS if g.path.rpartition(".")[0] == section}
    sections = {g.path.split(".")[0] for g in FIELDS if "." in g.path}
    assume(typo not in siblings and (section or typo not in sections))
    return section, typo


@SETTINGS
@given(unknown_keys())
def test_unknown_keys_are_errors_with_a_suggestion(case):
    section, typo = case
    path = f"{section}.{typo}" if section else typo
    with pytest.raises(ConfigError) as err:
        from_dict(ExperimentConfig, _set({}, path, 1))
    message = str(err.value)
    assert f"unknown key {path!r}" in message and "did you mean" in message, message


def test_every_field_declares_type_unit_and_range():
    for f in FIELDS:
        assert f.meta.get("doc"), f"{f.path}: no description"
        assert "unit" in f.meta, f"{f.path}: no unit"
        scalar = typing.get_args(f.tp)[0] if typing.get_origin(f.tp) is tuple else f.tp
        assert scalar in (int, float, bool, str), f"{f.path}: undeclared type {f.tp}"
        if scalar in (int, float):
            assert f.meta.get("lo") is not None or f.meta.get("hi") is not None, f"{f.path}: no range"
        if scalar is str and f.path != "data.data_dir":
            assert f.meta.get("choices"), f"{f.path}: a string field without choices"


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("c.json", b"[1, 2]", "the configuration: expected a table of settings"),
        ("c.toml", b"\xff\xfe", "not a text (UTF-8) config file"),
        ("c.toml", b"[[training]]\nlr = 1\n", "training: expected a table of settings"),
        ("c.toml", b"[training]\nLR = 1\n", "did you mean 'lr'"),
        ("c.toml", b"[hardware.device]\nic0-p2ap = 1e-5\n", "did you mean 'ic0_p2ap'"),
    ],
)
def test_odd_config_files_are_config_errors_naming_the_file(tmp_path, name, content, needle):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value) and needle in str(err.value), str(err.value)
