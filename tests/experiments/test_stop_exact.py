"""A stop asked (SIGINT / SIGTERM through the runner's ``interrupt``) is honoured at the sample it is seen:
after any sample of the eager loop, at the next chunk boundary (100 samples) of the fused loop, not at the
next 500-sample report; the checkpoint written there resumes bit for bit."""

from __future__ import annotations

import pytest
import torch

from mtjxbar.config import replace_path
from mtjxbar.experiments.checkpoint import Checkpoint, load_tensors
from mtjxbar.experiments.config import ExperimentConfig
from mtjxbar.experiments.datasets import load_dataset
from mtjxbar.experiments.progress import Interrupted
from mtjxbar.experiments.runner import run_experiment

WALL_CLOCK = ("train_seconds", "samples_per_second")


class AskAt:
    """An ``interrupt`` that says stop from its ``n``-th question on."""

    signum = 2

    def __init__(self, n: int) -> None:
        self.n, self.asked = n, 0

    def __call__(self) -> bool:
        self.asked += 1
        return self.asked >= self.n


def _config(engine: str, n: int) -> ExperimentConfig:
    config = ExperimentConfig()
    for path, value in (("hidden", (8,)), ("training.epochs", 1), ("data.max_train", n), ("data.max_test", 30),
                        ("training.engine", engine), ("baselines.methods", ("float",))):
        config = replace_path(config, path, value)
    return config


@pytest.mark.parametrize(("engine", "n", "ask", "stops_at"), [("eager", 90, 37, 37), ("fused", 300, 1, 100)])
def test_stop_at_the_current_sample_resumes_bit_for_bit(tmp_path, engine, n, ask, stops_at):
    config, data = _config(engine, n), load_dataset("digits", max_train=n, max_test=30)
    full = run_experiment(config, data=data, out_dir=tmp_path / "full", checkpoint_every=10000)
    out = tmp_path / "stopped"
    with pytest.raises(Interrupted) as err:
        run_experiment(config, data=data, out_dir=out, checkpoint_every=10000, interrupt=AskAt(ask))
    assert err.value.saved and f"sample {stops_at}" in str(err.value.where)
    record, _ = Checkpoint(out).load()
    assert record["position"] == {"epoch": 0, "phase": "insitu", "sample": stops_at}
    resumed = run_experiment(config, data=data, out_dir=out, checkpoint_every=10000, resume=True)
    assert resumed["engine"] == engine
    assert {k: v for k, v in resumed.items() if k not in WALL_CLOCK} == \
        {k: v for k, v in full.items() if k not in WALL_CLOCK}
    a, b = (load_tensors(p / "final_states.safetensors")[0] for p in (tmp_path / "full", out))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
