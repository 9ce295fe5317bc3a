"""Every import points down: the layers of the house, written once, checked from the code's own imports.

``LAYERS`` lists the top-level packages from the bottom up. A module may import from its own
package or from any package below it, never from one above (that would also be the only way to
make a cycle between packages). Every import counts: module level, inside functions (lazy) and
under ``TYPE_CHECKING``. Tests, benchmarks, notebooks and scripts stand outside the house and may
use any layer. docs/architecture.md draws the same order.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Bottom first. infra: settings, database, scheduler, broker, Faust app, logs, metrics.
# simulator: a tool beside the product (the demo, tests and the bootstrap model's training data).
# retain: the composition root (wiring, API, console, CLI); nothing imports it.
LAYERS: tuple[str, ...] = ("infra", "simulator", "signals", "models", "triggers", "outreach", "retain")
RANK = {name: rank for rank, name in enumerate(LAYERS)}


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imported_packages(path: Path) -> list[tuple[int, str]]:
    """(line, top-level package) of every absolute import in ``path`` that names one of the layers."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue  # relative imports stay inside their own package
        found += [(node.lineno, name.split(".")[0]) for name in names if name.split(".")[0] in RANK]
    return found


def upward_imports() -> list[str]:
    """``file:line: package imports higher-layer package`` for every violation in the tree."""
    problems = []
    for package in LAYERS:
        for path in _modules(package):
            for line, target in _imported_packages(path):
                if RANK[target] > RANK[package]:
                    problems.append(f"{path.relative_to(ROOT)}:{line}: {package} imports {target} (a higher layer)")
    return problems


def test_every_layer_exists_and_is_a_package():
    for package in LAYERS:
        assert (ROOT / package / "__init__.py").is_file(), package


def test_no_import_points_up():
    assert upward_imports() == []


def test_every_top_level_package_is_a_layer():
    # A new top-level package must take its place in LAYERS (and in pyproject's package list).
    outside = {"tests", "bench", "notebooks", "scripts", "schemas", "docs", "rules"}
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - outside
    assert packages == set(LAYERS)


@pytest.mark.parametrize(
    "package, source, expected",
    [
        ("signals", "from triggers.rule import Rule", ["triggers"]),  # upward: must be found
        ("signals", "def f():\n    import retain.cli", ["retain"]),  # lazy imports count
        ("triggers", "from signals import features\nimport infra.settings", ["signals", "infra"]),
        ("signals", "from . import events", []),  # relative: same package
        ("signals", "import json, numpy", []),  # not ours
    ],
)
def test_the_walker_sees_every_kind_of_import(tmp_path, package, source, expected):
    path = tmp_path / "probe.py"
    path.write_text(source)
    assert [target for _, target in _imported_packages(path)] == expected
