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
