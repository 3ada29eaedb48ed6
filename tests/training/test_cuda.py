"""The CUDA path (skipped cleanly where no GPU exists): a short run trains and matches CPU's shapes."""

from __future__ import annotations

import pytest
import torch

from mtjxbar.config import replace_path
from mtjxbar.experiments.config import ExperimentConfig
from mtjxbar.experiments.runner import run_experiment

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")


def test_short_run_on_cuda():
    config = ExperimentConfig()
    for path, value in [("device", "cuda"), ("training.epochs", 1), ("data.max_train", 300),
                        ("data.max_test", 200), ("hidden", (16,))]:
        config = replace_path(config, path, value)
    results = run_experiment(config)
    assert results["accuracy"]["insitu"] > 0.2
    assert set(results["accuracy"]) == {"insitu", "float", "binary_software", "exsitu"}


def test_batched_chips_train_on_cuda():
    """Three chips (stuck cells) train one short epoch on the GPU; per-chip stats come back."""
    from mtjxbar.device import VariationConfig
    from mtjxbar.experiments.datasets import load_dataset
    from mtjxbar.nn import HardwareConfig
    from mtjxbar.training import TrainingConfig, build_architecture
    from mtjxbar.training.chips import ChipNetwork, evaluate_chips, train_chips

    data = load_dataset("digits")
    x, y = data.train_x[:200].cuda(), data.train_y[:200].cuda()
    tcfg = TrainingConfig()
    hardware = HardwareConfig(variation=VariationConfig(stuck_p_rate=0.02, stuck_ap_rate=0.02))
    net = ChipNetwork(build_architecture(x, 10, (16,), tcfg), hardware, [0, 1, 2], device="cuda")
    stats = train_chips(net, x, y, tcfg, 0, torch.arange(200, device="cuda"))
    assert len(stats.train_accuracy) == 3 and int(stats.updates.sum()) > 0
    assert len(evaluate_chips(net, x, y, 100)) == 3
