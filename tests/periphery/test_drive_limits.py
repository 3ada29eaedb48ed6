"""Drive limits of 1T1MTJ writes: the compliance voltage and the access transistor's saturation current clip
the column currents (eager encoder and fused kernel alike, clipped currents counted), and hardware whose
writes can never switch, or whose fixed pulses the drivers cannot deliver, is refused by name."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mtjxbar.config import replace_path
from mtjxbar.crossbar.events import ap_resistance_at_current
from mtjxbar.experiments.config import ExperimentConfig
from mtjxbar.experiments.datasets import load_dataset
from mtjxbar.experiments.runner import run_experiment
from mtjxbar.nn import HardwareConfig
from mtjxbar.periphery import PulseEncoder
from mtjxbar.periphery.encoder import check_drivers, driver_limits
from mtjxbar.training.fused import device_vector
from mtjxbar.training.fused import kernels as K

HW = HardwareConfig()
LOW = replace_path(HW, "array.access_saturation_current", 40e-6)  # below Ic0 (45 / 60 uA): clips, still switches


def test_limits_are_the_cell_path_at_the_compliance_voltage():
    dev, array = HW.device, HW.array
    (to_p, to_ap), fields = driver_limits(dev, array)
    r_ap = float(ap_resistance_at_current(torch.tensor(to_p, dtype=torch.float64), r_p=dev.r_p, tmr0=dev.tmr0,
                                          v_h=dev.v_h))
    assert to_p * (r_ap + array.r_access) == pytest.approx(array.driver_compliance_voltage, rel=1e-9)
    assert to_ap == pytest.approx(array.driver_compliance_voltage / (dev.r_p + array.r_access), rel=1e-12)
    assert fields == ("driver_compliance_voltage", "driver_compliance_voltage")
    (lo_p, lo_ap), fields = driver_limits(dev, LOW.array)
    assert (lo_p, lo_ap) == (40e-6, 40e-6) and fields == ("access_saturation_current",) * 2


def _requests(n: int = 64) -> torch.Tensor:
    return torch.linspace(1e-6, 0.6, n, dtype=torch.float64)


def test_eager_encoder_clips_and_counts():
    enc = PulseEncoder(LOW.encoder, LOW.device)
    free = enc.column_currents(_requests())
    enc.limit_currents(LOW.array)
    clipped = enc.column_currents(_requests())
    over = free > 40e-6
    assert over.any() and (~over).any()
    assert enc.clipped == int(over.sum())
    assert torch.equal(clipped, torch.where(over, torch.full_like(free, 40e-6), free))


def test_fused_encoder_clips_as_the_eager_one():
    enc = PulseEncoder(LOW.encoder, LOW.device)
    enc.limit_currents(LOW.array)
    ep = device_vector(LOW.device, LOW.encoder, LOW.converters, LOW.array.r_access)
    ep[K.EP_I_MAX:K.EP_I_MAX + 2] = enc.limits
    cols = 64
    lp = np.zeros(K.LP_COUNT)
    lp[K.LP_PER_OUTPUT], lp[K.LP_SWING] = 1.0, 1.0
    r = np.array([1.0, -0.5])
    c_out = _requests(cols).numpy()  # q = |c| * max|r| / swing
    currents = np.zeros((2, cols))
    clipped = np.zeros(1, dtype=np.int64)
    K.encode_counted(r, c_out, np.ones(cols, dtype=np.float32), lp, ep, np.zeros(2), np.zeros(2), np.zeros(cols),
                     currents, clipped)
    expect = enc.column_currents(torch.from_numpy(c_out.astype(np.float32)).double())
    np.testing.assert_allclose(currents, expect.numpy(), rtol=1e-6)
    assert clipped[0] == enc.clipped > 0


@pytest.mark.parametrize(("path", "value", "needle"), [
    ("device.ic0_p2ap", 1.0, "hardware.array.driver_compliance_voltage: writes can never switch towards AP"),
    ("array.access_saturation_current", 1e-6, "hardware.array.access_saturation_current: writes can never"),
    ("array.driver_compliance_voltage", 0.05, "largest current a write can drive through a cell is 3.8"),
])
def test_writes_that_cannot_switch_are_refused(path, value, needle):
    with pytest.raises(ValueError, match=needle.replace(".", r"\.")):
        check_drivers(replace_path(HW, path, value))
    check_drivers(HW)  # the defaults deliver every pulse


def test_undeliverable_fixed_pulses_are_refused():
    coincidence = replace_path(replace_path(HW, "encoder.scheme", "coincidence"), "encoder.overdrive", 4.0)
    with pytest.raises(ValueError, match="hardware.encoder.overdrive = 4"):
        check_drivers(coincidence)
    carry = replace_path(replace_path(HW, "transfer.counter_bits", 3), "transfer.carry_overdrive", 3.5)
    with pytest.raises(ValueError, match="hardware.transfer.carry_overdrive = 3.5"):
        check_drivers(carry)


@pytest.mark.parametrize("engine", ["eager", "fused"])
def test_runs_count_clipped_currents(engine):
    config = ExperimentConfig()
    for path, value in (("hidden", (8,)), ("training.epochs", 1), ("data.max_train", 40), ("data.max_test", 20),
                        ("training.lr", 3.0), ("training.engine", engine), ("baselines.methods", ("float",))):
        config = replace_path(config, path, value)
    config = replace_path(config, "hardware.array.access_saturation_current", 40e-6)
    data = load_dataset("digits", max_train=40, max_test=20)
    results = run_experiment(config, data=data, meter=False)
    assert results["insitu_epochs"][0]["engine"] == engine
    assert results["insitu_epochs"][0]["clipped_currents"] > 0
    free = run_experiment(replace_path(config, "hardware.array.access_saturation_current", 200e-6), data=data,
                          meter=False)
    assert free["insitu_epochs"][0]["clipped_currents"] == 0
    assert math.isfinite(results["accuracy"]["insitu"])
