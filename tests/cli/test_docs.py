"""The README is the front page and docs/ holds the rest: these tests keep the two honest as both change.

The README opens with the two commands; every relative link of the README, bench/README.md and docs/*.md
reaches a file (and a heading, where it names one); every script, config or result a page names exists;
every topic page opens by naming what produces its figures; and every flag of every command is documented
in the README or in docs/.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from mtjxbar.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [ROOT / "README.md", ROOT / "bench" / "README.md", *DOCS]
# pages that report figures, so they must open by naming what produces them
TOPICS = ["update.md", "mnist.md", "variation.md", "passive.md", "cost.md", "speed.md"]
# repository paths a page may name in backticks: scripts, configs and results
NAMED_PATH = re.compile(r"`(?:python |\.venv/bin/python )?((?:examples|bench|docs/results)/[\w./{},*<>-]+)")


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _headings(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return {_slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


def test_readme_opens_with_the_two_commands():
    lines = (ROOT / "README.md").read_text().splitlines()
    fence = lines.index("```bash")
    assert lines[fence + 1].startswith("make run ") and lines[fence + 2].startswith("make test ")
    assert lines[fence + 3] == "```"
    assert all(not line.startswith("## ") for line in lines[:fence])


def test_docs_has_every_topic_page():
    names = {p.name for p in DOCS}
    assert set(TOPICS) | {"commands.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_relative_links_reach_a_file_and_heading(page):
    bad = []
    for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            bad.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in _headings(dest):
            bad.append(f"{target}: no heading #{anchor}")
    assert not bad, f"{_rel(page)}: {bad}"


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_named_scripts_configs_and_results_exist(page):
    missing = []
    for name in NAMED_PATH.findall(page.read_text()):
        name = name.rstrip(".,;:")
        if any(c in name for c in "*{<"):  # a pattern or placeholder, e.g. docs/results/x.{csv,md}
            continue
        if not (ROOT / name).exists():
            missing.append(name)
    assert not missing, f"{_rel(page)} names files that do not exist: {missing}"


@pytest.mark.parametrize("name", TOPICS)
def test_topic_page_opens_by_naming_what_produces_its_figures(name):
    text = (ROOT / "docs" / name).read_text()
    opening = text.split("\n## ", 1)[0]
    producers = [p for p in NAMED_PATH.findall(opening) if p.endswith((".py", ".toml"))]
    producers += re.findall(r"`(?:make test|mtjxbar \w+)", opening)
    producers += re.findall(r"tests/[\w/]+\.py", opening)
    assert producers, f"docs/{name} does not open by naming the script or command behind its figures"


def _documented(option: str, text: str) -> bool:
    if re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text):
        return True
    # --[no-]center-inputs documents --center-inputs and --no-center-inputs
    stem = option[len("--no-"):] if option.startswith("--no-") else option[2:]
    return option.startswith("--") and f"--[no-]{stem}" in text


def test_every_flag_of_every_command_is_documented():
    text = "\n".join(p.read_text() for p in [ROOT / "README.md", *DOCS])
    missing = []
    for action in build_parser()._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for command, sub in action.choices.items():
            for act in sub._actions:
                options = [o for o in act.option_strings if o not in ("-h", "--help")]
                if options and not any(_documented(o, text) for o in options):
                    missing.append(f"{command} {'/'.join(options)}")
    assert not missing, f"flags in neither README.md nor docs/*.md: {missing}"
