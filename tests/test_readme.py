"""The README's quick start runs as written and learns: its first ``python`` code block is executed unchanged
(1,200 single-sample in-situ steps on the digits with buffer-and-counter synapses, about 30 s of one core)
and must reach 5x chance on the 597 held-out digits (measured 80 % against chance at 10 %)."""

from __future__ import annotations

import re
from pathlib import Path

PAGE = Path(__file__).resolve().parents[1] / "README.md"


def quickstart() -> str:
    blocks = re.findall(r"^```python\n(.*?)^```$", PAGE.read_text(), flags=re.S | re.M)
    assert blocks, f"{PAGE}: no python code block"
    return blocks[0]


def test_the_readme_quick_start_runs_as_written_and_learns(capsys):
    code = quickstart()
    assert len(code.strip().splitlines()) <= 22  # a quick start, not a program
    scope: dict = {"__name__": "quickstart"}
    exec(compile(code, str(PAGE), "exec"), scope)
    assert "test accuracy" in capsys.readouterr().out
    assert scope["accuracy"] > 0.5, scope["accuracy"]
