"""Variation sampling: configured mean and sd, reproducibility, spatial correlation, faults, nominal case.

Tolerances: a sample mean of N factors is within 5 standard errors (sd / sqrt(N)) of 1; a sample sd is
within 5 standard errors of the configured spread, the standard error of the sd estimated from the
sample's own fourth moment, sqrt(Var[(x - m)^2] / N) / (2 sd), which is right for any distribution (the
lognormal's heavier tail makes it larger than the normal's sd / sqrt(2N)). 5 standard errors: a false
failure has probability below 1e-6 per check, while a bias of 1 % of the sd would still be caught
(N = 160000 gives a standard error of about 0.2 % of the sd).
"""

from __future__ import annotations

import math

import pytest
import torch

from mtjxbar.config import ConfigError, from_dict, to_dict
from mtjxbar.crossbar import CELL_PARAMETERS
from mtjxbar.device import MTJParams, VariationConfig, sample_cell_params, sample_ic0_c2c, sample_stuck
from mtjxbar.device.variation import CELL_PARAMETER_NAMES, NORMAL_FLOOR, gaussian_field
from mtjxbar.experiments.config import ExperimentConfig

ROWS = COLS = 400
SPREADS = ("r_p_dtod", "tmr0_dtod", "ic0_p2ap_dtod", "ic0_ap2p_dtod", "delta_dtod", "tau0_dtod")
TARGET = {"r_p_dtod": "r_p", "tmr0_dtod": "tmr0", "ic0_p2ap_dtod": "ic0_p2ap", "ic0_ap2p_dtod": "ic0_ap2p",
          "delta_dtod": "delta", "tau0_dtod": "tau0_p2ap"}


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _check_mean_sd(x: torch.Tensor, mean: float, sd: float) -> None:
    x = x.flatten().double()
    n = x.numel()
    m, s = float(x.mean()), float(x.std())
    se_mean = sd / math.sqrt(n)
    se_sd = float(((x - m) ** 2).var()) ** 0.5 / math.sqrt(n) / (2 * s)
    assert abs(m - mean) < 5 * se_mean, (m, mean, se_mean)
    assert abs(s - sd) < 5 * se_sd, (s, sd, se_sd)


def test_keys_match_the_crossbar_cell_parameters():
    assert CELL_PARAMETER_NAMES == CELL_PARAMETERS
    out = sample_cell_params(MTJParams(), VariationConfig(), 3, 4, _gen())
    assert tuple(out) == CELL_PARAMETERS
    assert all(v.shape == (3, 4) and v.dtype == torch.float64 for v in out.values())


def test_zero_spread_gives_the_nominal_exactly():
    params = MTJParams(r_p=7.3e3, delta=55.5)
    out = sample_cell_params(params, VariationConfig(correlation_length=2.0), 20, 30, _gen())
    for name in CELL_PARAMETERS:
        assert torch.equal(out[name], torch.full((20, 30), float(getattr(params, name)), dtype=torch.float64))
    stuck_p, stuck_ap = sample_stuck(VariationConfig(), 20, 30, _gen())
    assert not stuck_p.any() and not stuck_ap.any()
    g = _gen()
    state = g.get_state()
    assert torch.equal(sample_ic0_c2c(VariationConfig(), (5, 6), g), torch.ones(5, 6))
    assert torch.equal(g.get_state(), state), "no draw when ic0_c2c = 0"


@pytest.mark.parametrize("distribution", ["normal", "lognormal"])
@pytest.mark.parametrize("spread", [0.05, 0.3, 0.5])
def test_sampled_spread_has_the_configured_mean_and_sd(distribution, spread):
    params = MTJParams()
    variation = VariationConfig(distribution=distribution, **{name: spread for name in SPREADS})
    out = sample_cell_params(params, variation, ROWS, COLS, _gen(1))
    for name in SPREADS:
        nominal = getattr(params, TARGET[name])
        _check_mean_sd(out[TARGET[name]] / nominal, 1.0, spread)
        assert float(out[TARGET[name]].min()) > 0
        if distribution == "normal":
            assert float(out[TARGET[name]].min()) >= NORMAL_FLOOR * nominal * (1 - 1e-12)
    assert torch.equal(out["tau0_p2ap"] / params.tau0_p2ap, out["tau0_ap2p"] / params.tau0_ap2p)
    assert torch.equal(out["v_h"], torch.full((ROWS, COLS), params.v_h, dtype=torch.float64))
    # independent factors per parameter
    a = (out["r_p"] / params.r_p).flatten() - 1
    b = (out["ic0_p2ap"] / params.ic0_p2ap).flatten() - 1
    assert abs(float(torch.corrcoef(torch.stack([a, b]))[0, 1])) < 5 / math.sqrt(a.numel())


@pytest.mark.parametrize("distribution", ["normal", "lognormal"])
def test_cycle_to_cycle_factors_have_the_configured_mean_and_sd(distribution):
    variation = VariationConfig(distribution=distribution, ic0_c2c=0.1)
    g = _gen(2)
    first = sample_ic0_c2c(variation, (ROWS, COLS), g, dtype=torch.float64)
    _check_mean_sd(first, 1.0, 0.1)
    second = sample_ic0_c2c(variation, (ROWS, COLS), g)
    assert second.dtype == torch.float32 and not torch.equal(first.float(), second), "fresh at every write"


def test_same_seed_same_sample_and_different_seed_different_sample():
    variation = VariationConfig(r_p_dtod=0.1, ic0_ap2p_dtod=0.2, stuck_p_rate=0.1, stuck_ap_rate=0.05,
                                correlation_length=1.5)
    a = sample_cell_params(MTJParams(), variation, 16, 24, _gen(7))
    b = sample_cell_params(MTJParams(), variation, 16, 24, _gen(7))
    c = sample_cell_params(MTJParams(), variation, 16, 24, _gen(8))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["r_p"], c["r_p"])
    assert all(torch.equal(x, y) for x, y in zip(sample_stuck(variation, 16, 24, _gen(7)),
                                                 sample_stuck(variation, 16, 24, _gen(7)), strict=True))


def test_common_random_numbers_across_spreads():
    small = sample_cell_params(MTJParams(), VariationConfig(r_p_dtod=0.05), 30, 30, _gen(3))
    large = sample_cell_params(MTJParams(), VariationConfig(r_p_dtod=0.1, delta_dtod=0.2), 30, 30, _gen(3))
    # same pattern, scaled (the normal's truncation is at 3 sd for both)
    assert torch.allclose(large["r_p"] / 5e3 - 1, 2 * (small["r_p"] / 5e3 - 1), atol=1e-12)


def test_correlation_length_correlates_neighbours():
    length = 2.0
    z = gaussian_field((8, 120, 120), length, _gen(4))
    assert abs(float(z.var()) - 1.0) < 0.06  # unit variance (8 x 120^2 cells, correlated: fewer effective)
    for axis in (-1, -2):
        near = z.narrow(axis, 1, 119) * z.narrow(axis, 0, 119)
        assert abs(float(near.mean()) - math.exp(-1 / (2 * length**2))) < 0.03
        far = z.narrow(axis, 12, 108) * z.narrow(axis, 0, 108)  # 12 cells = 6 L apart: exp(-18)
        assert abs(float(far.mean())) < 0.03
    white = gaussian_field((120, 120), 0.0, _gen(4))
    assert abs(float((white[:, 1:] * white[:, :-1]).mean())) < 5 / 120
    # the sampled parameters inherit it
    out = sample_cell_params(MTJParams(), VariationConfig(r_p_dtod=0.05, correlation_length=length), 120, 120,
                             _gen(5))
    x = out["r_p"] / 5e3 - 1
    corr = float(torch.corrcoef(torch.stack([x[:, 1:].flatten(), x[:, :-1].flatten()]))[0, 1])
    assert corr > 0.8


def test_stuck_masks_have_the_configured_rates_and_are_disjoint():
    variation = VariationConfig(stuck_p_rate=0.05, stuck_ap_rate=0.1)
    stuck_p, stuck_ap = sample_stuck(variation, ROWS, COLS, _gen(6))
    n = ROWS * COLS
    assert not (stuck_p & stuck_ap).any()
    for mask, rate in ((stuck_p, 0.05), (stuck_ap, 0.1)):
        assert abs(float(mask.double().mean()) - rate) < 5 * math.sqrt(rate * (1 - rate) / n)
    fewer, _ = sample_stuck(VariationConfig(stuck_p_rate=0.01), ROWS, COLS, _gen(6))
    assert not (fewer & ~stuck_p).any(), "the stuck cells at 1 % are among those at 5 % (same seed)"


def test_chips_are_a_leading_dimension_of_independent_arrays():
    variation = VariationConfig(r_p_dtod=0.1, stuck_p_rate=0.2)
    out = sample_cell_params(MTJParams(), variation, 10, 12, _gen(9), chips=3)
    assert out["r_p"].shape == (3, 10, 12) and not torch.equal(out["r_p"][0], out["r_p"][1])
    stuck_p, stuck_ap = sample_stuck(variation, 10, 12, _gen(9), chips=3)
    assert stuck_p.shape == stuck_ap.shape == (3, 10, 12)


def test_config_validation_names_the_field_and_range():
    with pytest.raises(ConfigError, match=r"r_p_dtod = 0.7: must be in \[0, 0.5\]"):
        VariationConfig(r_p_dtod=0.7)
    with pytest.raises(ConfigError, match="distribution = 'gamma'"):
        VariationConfig(distribution="gamma")
    with pytest.raises(ConfigError, match="stuck_p_rate \\+ stuck_ap_rate"):
        VariationConfig(stuck_p_rate=0.6, stuck_ap_rate=0.5)
    with pytest.raises(ConfigError, match=r"hardware\.variation\.tau0_dtod = -0.1"):
        from_dict(ExperimentConfig, {"hardware": {"variation": {"tau0_dtod": -0.1}}})


def test_experiment_configs_carry_the_variation_and_round_trip(tmp_path):
    from mtjxbar.experiments.config import load_config, save_config

    assert ExperimentConfig().hardware.variation == VariationConfig()
    assert VariationConfig().is_nominal
    config = from_dict(ExperimentConfig, {"hardware": {"variation": {
        "distribution": "lognormal", "r_p_dtod": 0.1, "ic0_c2c": 0.02, "stuck_ap_rate": 0.01,
        "correlation_length": 3}}})
    assert not config.hardware.variation.is_nominal and config.hardware.variation.correlation_length == 3.0
    for name in ("c.toml", "c.json"):
        save_config(config, tmp_path / name)
        assert load_config(tmp_path / name) == config
    assert from_dict(ExperimentConfig, to_dict(config)) == config
