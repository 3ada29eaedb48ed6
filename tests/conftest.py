"""Test-suite settings and shared fixtures.

* one torch thread (the tensors are small; extra threads only contend on 2 cores);
* ``asymmetric_device``: an MTJ whose two switching directions differ in every parameter the model keeps
  per direction (critical current and attempt time; ``MTJParams`` has one Delta for both directions), so
  a test run on it fails when code swaps the directions. The default device has ``tau0_p2ap ==
  tau0_ap2p``, which hides a swapped attempt time.
"""

import pytest
import torch

from mtjxbar.device import MTJParams

torch.set_num_threads(1)

#: Both directions differ: Ic0 45 vs 60 uA (the default), tau0 0.7 vs 2.5 ns; Delta 44 (shared).
ASYMMETRIC_DEVICE = dict(ic0_ap2p=45e-6, ic0_p2ap=60e-6, tau0_ap2p=0.7e-9, tau0_p2ap=2.5e-9, delta=44.0)


@pytest.fixture(scope="session")
def asymmetric_device() -> MTJParams:
    """:data:`ASYMMETRIC_DEVICE` as :class:`MTJParams` (the other parameters default)."""
    return MTJParams(**ASYMMETRIC_DEVICE)


@pytest.fixture(scope="session", params=["default", "asymmetric"])
def both_devices(request) -> MTJParams:
    """The default device and :func:`asymmetric_device`, one test each."""
    return MTJParams() if request.param == "default" else MTJParams(**ASYMMETRIC_DEVICE)
