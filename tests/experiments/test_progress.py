"""Progress lines: the rate and the time left count the samples done since the line started, so that a run
resumed part-way through an epoch does not report the samples it skipped as done in no time."""

from __future__ import annotations

import io

import mtjxbar.experiments.progress as progress_module
from mtjxbar.experiments.progress import ProgressPrinter


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _lines(monkeypatch, first: int, done: int, seconds: float, total: int = 10_000) -> str:
    clock = _Clock()
    monkeypatch.setattr(progress_module.time, "perf_counter", clock)
    out = io.StringIO()  # not a terminal: one plain line per quarter reached
    printer = ProgressPrinter(out)
    printer.start("epoch 3/6 insitu", done=first)
    clock.now += seconds
    printer.update(done, total)
    return out.getvalue()


def test_a_fresh_epoch_counts_every_sample(monkeypatch):
    # 2,500 samples in 100 s: 25 per second, 7,500 left: 300 s
    assert _lines(monkeypatch, 0, 2_500, 100.0) == "epoch 3/6 insitu: 2500/10000 samples, 25/s, 300 s left\n"


def test_a_resumed_epoch_counts_only_the_samples_since_it_resumed(monkeypatch):
    # resumed at 3,877, at 5,000 after 66 s: 1,123 samples, 17 per second, 5,000 left: 294 s (the line
    # used to read 76/s and 66 s left)
    assert _lines(monkeypatch, 3_877, 5_000, 66.0) == "epoch 3/6 insitu: 5000/10000 samples, 17/s, 294 s left\n"


def test_slow_runs_show_their_rate(monkeypatch):
    # a 1-ohm passive run: 2 samples in 5 s is 0.4 per second, not "0/s"
    assert _lines(monkeypatch, 7_499, 7_501, 5.0) == "epoch 3/6 insitu: 7501/10000 samples, 0.4/s, 6248 s left\n"

