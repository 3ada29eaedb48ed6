"""Every third-party module the package imports is declared in pyproject.toml: a dependency, or an optional
extra for the parts that say which extra to install (Ray: ``sweep``; the cmtj oracle: ``oracle``)."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
# import name -> distribution name, where they differ
DISTRIBUTIONS = {"sklearn": "scikit-learn", "tomli_w": "tomli-w"}
OPTIONAL = {"ray": "sweep", "cmtj": "oracle"}


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower()


def _imports() -> set[str]:
    found = set()
    for path in (ROOT / "src" / "mtjxbar").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m not in ("mtjxbar", "__future__")}


def test_every_imported_package_is_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    required = {_name(r) for r in project["dependencies"]}
    extras = {extra: {_name(r) for r in reqs} for extra, reqs in project["optional-dependencies"].items()}
    for module in sorted(_imports()):
        dist = DISTRIBUTIONS.get(module, module)
        if module in OPTIONAL:
            assert dist in extras[OPTIONAL[module]], f"{module}: not in the extra {OPTIONAL[module]!r}"
        else:
            assert dist in required, f"{module} is imported by mtjxbar but {dist} is not a declared dependency"
    assert {"scipy", "threadpoolctl"} <= required and extras["sweep"] == {"ray"}
