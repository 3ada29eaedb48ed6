"""Checkpoints of buffer-and-counter runs: every array (buffer and bit tiles) and the one-MTJ buffers'
column references are saved; a run resumed mid-epoch ends bit for bit where the uninterrupted one does,
with the fused engine (transfers scheduled by the sample count) and the eager one."""

from __future__ import annotations

import shutil

import pytest
import torch

from mtjxbar.config import replace_path
from mtjxbar.experiments.checkpoint import Checkpoint, load_tensors
from mtjxbar.experiments.config import ExperimentConfig
from mtjxbar.experiments.datasets import load_dataset
from mtjxbar.experiments.runner import run_experiment

WALL_CLOCK = ("train_seconds", "samples_per_second")


def _config(engine: str, k: int) -> ExperimentConfig:
    config = ExperimentConfig()
    for path, value in [("hidden", (8,)), ("training.epochs", 2), ("data.max_train", 120), ("data.max_test", 60),
                        ("training.engine", engine), ("hardware.transfer.counter_bits", 3),
                        ("hardware.transfer.buffer_mtjs", k), ("hardware.transfer.samples_per_sweep", 8),
                        ("baselines.methods", ("float",))]:
        config = replace_path(config, path, value)
    return config


@pytest.mark.parametrize("engine,k", [("fused", 1), ("fused", 2), ("eager", 2)])
def test_transfer_run_resumes_bit_for_bit(tmp_path, engine, k):
    data = load_dataset("digits", max_train=120, max_test=60)
    saved, original = [], Checkpoint.save

    def save(self, meta, tensors):
        original(self, meta, tensors)
        dest = tmp_path / f"snap{len(saved)}"
        shutil.copytree(self.directory, dest / "checkpoint")
        saved.append(dest)

    Checkpoint.save = save
    try:
        full = run_experiment(_config(engine, k), data=data, out_dir=tmp_path / "full", checkpoint_every=50,
                              meter=False)
    finally:
        Checkpoint.save = original
    states = load_tensors(tmp_path / "full" / "final_states.safetensors")[0]
    assert {f"insitu.layer0.bit{m}.states" for m in range(3)} <= set(states)
    assert "insitu.layer1.reference" in states  # periphery state of one-MTJ buffers (kept for every k)
    assert full["insitu_epochs"][0]["transfer"]["columns"] > 0
    out = tmp_path / "resumed"
    shutil.copytree(saved[4], out)  # epoch 2, sample 50: mid-epoch, mid-sweep
    resumed = run_experiment(_config(engine, k), data=data, out_dir=out, checkpoint_every=50, resume=True,
                             meter=False)
    strip = lambda r: {key: v for key, v in r.items() if key not in WALL_CLOCK}  # noqa: E731
    assert strip(resumed) == strip(full)
    again = load_tensors(out / "final_states.safetensors")[0]
    assert again.keys() == states.keys() and all(torch.equal(again[key], states[key]) for key in states)
