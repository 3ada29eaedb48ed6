"""Fixtures shared by the CLI tests (test_safety.py, test_resume.py): a small finished training run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mtjxbar.cli.main import main

#: A small run (4 hidden units, 60 training samples, checkpoints every 20) for the CLI's file handling.
SMALL = ("train", "--hidden", "4", "--epochs", "1", "--max-train", "60", "--max-test", "30", "--quiet",
         "--checkpoint-every", "20")


@pytest.fixture
def small() -> list[str]:
    """The argv of :data:`SMALL` (a fresh list each test may extend)."""
    return list(SMALL)


@pytest.fixture(scope="session")
def finished(tmp_path_factory) -> Path:
    """A run of :data:`SMALL` that finished (trained once per session; copy it, don't change it)."""
    out = tmp_path_factory.mktemp("small") / "run"
    assert main([*SMALL, "--out", str(out)]) == 0
    return out


@pytest.fixture
def run(finished, tmp_path) -> Path:
    """This test's own copy of :func:`finished`."""
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    return out
