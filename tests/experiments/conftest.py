"""Shared fixture of the tests of scripts in ``examples/`` and ``bench/``: :func:`load_script`."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load(relative: str):
    """The script at ``relative`` (to the repository root) as a module; its own folder is importable while it
    loads, since the scripts import their neighbours (``passive_state_blind_bound``, ``bench/_data``)."""
    path = ROOT / relative
    patch = pytest.MonkeyPatch()
    patch.syspath_prepend(str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        patch.undo()


@pytest.fixture(scope="session")
def load_script():
    """``load_script("examples/NAME.py")``: that script as a module."""
    return _load
