"""MTJParams: validation, direction selection and the config dict round trip."""

from __future__ import annotations

import dataclasses
import math

import pytest

from mtjxbar.config import ConfigError, from_dict, to_dict
from mtjxbar.device import DIRECTIONS, MTJParams
from mtjxbar.device.switching import switching_probability


def test_defaults_are_valid_and_documented_values():
    p = MTJParams()
    assert p.r_p == 5.0e3
    assert p.delta == 40.0
    assert p.ic0_p2ap > p.ic0_ap2p > 0
    assert p.r_ap == pytest.approx(p.r_p * (1.0 + p.tmr0), rel=1e-15)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("r_p", -1.0),
        ("r_p", 0.0),
        ("tmr0", 0.0),
        ("tmr0", 11.0),
        ("delta", 0.0),
        ("n_exponent", 5.0),
        ("ic0_ap2p", -45e-6),
        ("tau0_p2ap", 0.0),
        ("tau_d", math.nan),
        ("v_h", math.inf),
        ("delta", "40"),
    ],
)
def test_invalid_value_names_field_and_value(field, value):
    with pytest.raises(ConfigError) as err:
        MTJParams(**{field: value})
    message = str(err.value)
    assert field in message
    assert repr(value) in message


def test_config_error_is_a_value_error():
    with pytest.raises(ValueError):
        MTJParams(delta=0.0)


def test_boundary_values_are_accepted():
    MTJParams(delta=1.0, n_exponent=1.0, tmr0=10.0)
    MTJParams(n_exponent=3.0, delta=200.0)


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_switching_picks_the_direction(direction):
    p = MTJParams(ic0_p2ap=61e-6, ic0_ap2p=44e-6, tau0_p2ap=2e-9, tau0_ap2p=3e-9, n_exponent=1.5)
    kw = p.switching(direction)
    assert kw["ic0"] == getattr(p, f"ic0_{direction}")
    assert kw["tau0"] == getattr(p, f"tau0_{direction}")
    assert kw["delta"] == p.delta and kw["n"] == p.n_exponent and kw["tau_d"] == p.tau_d
    # the dict is exactly the keyword set switching_probability takes
    assert 0.0 <= switching_probability(30e-6, 10e-9, **kw).item() <= 1.0


def test_p2ap_uses_ic0_p2ap():
    p = MTJParams()
    assert p.switching("p2ap")["ic0"] == p.ic0_p2ap == 60e-6
    assert p.switching("ap2p")["ic0"] == p.ic0_ap2p == 45e-6


@pytest.mark.parametrize("direction", ["P2AP", "ap->p", "", "set"])
def test_bad_direction_raises(direction):
    with pytest.raises(ValueError, match="direction"):
        MTJParams().switching(direction)


def test_dict_round_trip_gives_equal_object():
    p = MTJParams(r_p=3.3e3, tmr0=1.5, delta=55.0, ic0_ap2p=40e-6, n_exponent=1.0)
    data = to_dict(p)
    assert set(data) == {f.name for f in dataclasses.fields(MTJParams)}
    assert from_dict(MTJParams, data) == p
    assert from_dict(MTJParams, to_dict(MTJParams())) == MTJParams()


def test_from_dict_coerces_integers_to_float():
    p = from_dict(MTJParams, {"delta": 45, "r_p": 4000})
    assert isinstance(p.delta, float) and p.delta == 45.0


def test_from_dict_unknown_key_suggests_a_field():
    with pytest.raises(ConfigError, match=r"did you mean 'tmr0'\?"):
        from_dict(MTJParams, {"tmr": 1.2})
    with pytest.raises(ConfigError, match=r"did you mean 'ic0_p2ap'\?"):
        from_dict(MTJParams, {"ic0_p2p": 60e-6})


def test_from_dict_validates():
    with pytest.raises(ConfigError, match="delta"):
        from_dict(MTJParams, {"delta": 0})


def test_params_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        MTJParams().delta = 30.0  # type: ignore[misc]
