"""device_figures agrees with the device functions; plot_switching_curves writes a PNG."""

from __future__ import annotations

import math

import pytest
import torch

from mtjxbar.device import DIRECTIONS, MTJParams, resistance_ap, switching_probability
from mtjxbar.device.figures import FIGURE_BIASES, FIGURE_WIDTHS, SECONDS_PER_YEAR, device_figures
from mtjxbar.plots.device_curves import plot_switching_curves

F64 = torch.float64
PARAMS = MTJParams(ic0_p2ap=62e-6, ic0_ap2p=41e-6, tau0_p2ap=2e-9, tau0_ap2p=1e-9, delta=45.0)


@pytest.fixture(scope="module")
def figures() -> dict[str, float]:
    return device_figures(PARAMS)


def test_keys_and_values_are_finite_floats(figures):
    expected = {"tmr0", "delta"}
    for v in FIGURE_BIASES:
        expected |= {f"r_p_{v:g}V_ohm", f"r_ap_{v:g}V_ohm", f"tmr_{v:g}V"}
    for d in DIRECTIONS:
        expected |= {f"ic0_{d}_uA", f"retention_tau_{d}_years"}
        expected |= {f"i50_{d}_{w * 1e9:g}ns_uA" for w in FIGURE_WIDTHS}
    assert set(figures) == expected
    assert "r_ap_0.1V_ohm" in figures and "i50_ap2p_10ns_uA" in figures
    assert all(isinstance(v, float) and math.isfinite(v) for v in figures.values())


def test_resistances_match_the_resistance_model(figures):
    for v in FIGURE_BIASES:
        volts = torch.tensor(v, dtype=F64)
        want = resistance_ap(volts, r_p=PARAMS.r_p, tmr0=PARAMS.tmr0, v_h=PARAMS.v_h).item()
        assert figures[f"r_ap_{v:g}V_ohm"] == pytest.approx(want, rel=1e-14)
        assert figures[f"r_p_{v:g}V_ohm"] == PARAMS.r_p
        assert figures[f"tmr_{v:g}V"] == pytest.approx(want / PARAMS.r_p - 1.0, rel=1e-12)
    assert figures["r_ap_0V_ohm"] == pytest.approx(PARAMS.r_ap, rel=1e-14)
    assert figures["tmr_0V"] == pytest.approx(figures["tmr0"], rel=1e-12) and figures["tmr0"] == PARAMS.tmr0
    assert figures["r_ap_0V_ohm"] > figures["r_ap_0.1V_ohm"] > figures["r_ap_0.3V_ohm"] > PARAMS.r_p


def test_switching_figures_match_the_switching_model(figures):
    assert figures["delta"] == PARAMS.delta
    for d in DIRECTIONS:
        kw = PARAMS.switching(d)
        assert figures[f"ic0_{d}_uA"] == pytest.approx(kw["ic0"] * 1e6, rel=1e-15)
        years = figures[f"retention_tau_{d}_years"]
        assert years * SECONDS_PER_YEAR == pytest.approx(kw["tau0"] * math.exp(PARAMS.delta), rel=1e-12)
        previous = math.inf
        for w in FIGURE_WIDTHS:
            i50 = figures[f"i50_{d}_{w * 1e9:g}ns_uA"] * 1e-6
            p = switching_probability(torch.tensor(i50, dtype=F64), torch.tensor(w, dtype=F64), **kw).item()
            assert p == pytest.approx(0.5, rel=1e-9)
            assert i50 < previous  # longer pulses need less current
            previous = i50
    assert figures["ic0_p2ap_uA"] == pytest.approx(62.0) and figures["ic0_ap2p_uA"] == pytest.approx(41.0)


def test_default_retention_is_years():
    years = device_figures(MTJParams())["retention_tau_ap2p_years"]
    assert years == pytest.approx(1e-9 * math.exp(40.0) / (365.25 * 86400), rel=1e-12)
    assert 5 < years < 10


@pytest.mark.parametrize("direction", ["ap2p", "p2ap", "both"])
def test_plot_writes_a_png(tmp_path, direction):
    path = tmp_path / "sub" / f"curves_{direction}.png"
    plot_switching_curves(PARAMS, path, direction=direction)
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 10_000


def test_plot_custom_widths_and_str_path(tmp_path):
    path = str(tmp_path / "curves.png")
    plot_switching_curves(MTJParams(), path, widths=(0.5e-9, 1e-6))
    with open(path, "rb") as fh:
        assert fh.read(4) == b"\x89PNG"


def test_plot_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="direction"):
        plot_switching_curves(PARAMS, tmp_path / "x.png", direction="AP2P")
    with pytest.raises(ValueError, match="widths"):
        plot_switching_curves(PARAMS, tmp_path / "x.png", widths=(1e-9, 0.0))
    assert not (tmp_path / "x.png").exists()
