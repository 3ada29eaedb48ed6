"""The house rules that code review would otherwise have to catch, checked on the source tree itself.

* Layers import one way: ``device`` -> ``crossbar`` -> ``periphery`` -> ``nn`` -> ``training`` (and ``optim``,
  the same rank) -> ``experiments`` -> ``cli`` / ``plots``; ``hardware`` accounts from what the arrays report
  (it sits above ``crossbar`` and ``periphery``).
  A module may import its own layer and the layers below, never one above.
* Physics code (``device``, ``crossbar``) never imports ``torch.nn``.
* No module reads another object's private attributes (``obj._x`` where ``obj`` is not ``self``/``cls``/``super()``:
  an override calling its base class, e.g. torch's ``_apply`` hooks, is the object's own business), nor
  imports another module's private names: what one part needs of another is public and documented.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

SRC = pathlib.Path(__file__).parents[1] / "src" / "mtjxbar"

LAYER = {"device": 0, "crossbar": 1, "periphery": 2, "hardware": 3, "nn": 3, "training": 4, "optim": 4,
         "experiments": 5, "cli": 6, "plots": 6}
"""Rank of each subpackage; a module may import ranks up to its own (top-level modules: rank 0)."""

THIRD_PARTY_INTERNALS = {"device/numba_cache.py"}
"""Files that reach into a library's internals on purpose (Numba's cache locators; see the module docstring)."""


def _modules():
    return sorted(p for p in SRC.rglob("*.py") if "__pycache__" not in p.parts)


def _package(path: pathlib.Path) -> str | None:
    rel = path.relative_to(SRC).parts
    return rel[0] if len(rel) > 1 else None


def _imported_packages(path: pathlib.Path, tree: ast.AST):
    """(line, subpackage of mtjxbar) for every import of mtjxbar code in ``tree``."""
    rel = path.relative_to(SRC).parts[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(rel[:len(rel) - node.level + 1])
                parts = base + (node.module.split(".") if node.module else [])
                if not node.module:  # from .. import x: x may be a subpackage
                    for alias in node.names:
                        yield node.lineno, (parts + [alias.name])[0] if parts else alias.name
                    continue
                yield node.lineno, parts[0] if parts else None
            elif node.module and node.module.startswith("mtjxbar."):
                yield node.lineno, node.module.split(".")[1]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("mtjxbar."):
                    yield node.lineno, alias.name.split(".")[1]


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_go_down_only(path):
    own = _package(path)
    if own is None:
        return
    tree = ast.parse(path.read_text())
    upward = [f"line {line}: imports {pkg}" for line, pkg in _imported_packages(path, tree)
              if pkg in LAYER and LAYER[pkg] > LAYER[own]]
    assert not upward, f"{own} (rank {LAYER[own]}) imports a higher layer: {upward}"
    if own in ("device", "crossbar"):
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n == "torch.nn" or n.startswith("torch.nn.") for n in names), \
                f"physics code imports torch.nn (line {node.lineno})"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_no_private_reads_across_objects(path):
    rel = str(path.relative_to(SRC))
    if rel in THIRD_PARTY_INTERNALS:
        return
    offenders = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            own = isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
            base = isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name) \
                and node.value.func.id == "super"
            if not (own or base):
                offenders.append(f"line {node.lineno}: {ast.unparse(node)}")
        if isinstance(node, ast.ImportFrom):
            offenders += [f"line {node.lineno}: imports {a.name}" for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__")]
    assert not offenders, f"{rel} reads private names of other objects: {offenders}"
