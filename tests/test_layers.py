"""The import direction: models import nothing from harness; a harness stage imports only
the stages below it (harness/__init__.py lists them in order)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Lowest first; a module may import its own package and any package earlier in the list.
# "harness" is the package root (it holds only __version__) and anything under harness/
# outside the named stages, so that models importing any of harness fails too.
LAYERS = ("models", "harness", "harness.common", "harness.data", "harness.evaluation", "harness.training",
          "harness.tracking", "harness.runs", "harness.study", "harness.report", "harness.ui",
          "harness.cli")


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_modules(path: Path) -> set[str]:
    """Every absolute module the file imports, at the top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _layer(module: str) -> int | None:
    """The index in LAYERS of the package that holds `module` (None: outside harness/models)."""
    for index, package in reversed(list(enumerate(LAYERS))):
        if module == package or module.startswith(package + "."):
            return index
    return None


def _sources() -> list[Path]:
    return sorted([*REPO.glob("harness/**/*.py"), *REPO.glob("models/**/*.py")])


def upward_imports() -> list[str]:
    found = []
    for path in _sources():
        module = _module_name(path)
        own = _layer(module)
        if own is None:
            continue
        for imported in sorted(_imported_modules(path)):
            target = _layer(imported)
            if target is not None and target > own:
                found.append(f"{module} imports {imported}")
    return found


def test_every_module_belongs_to_a_layer():
    outside = [_module_name(path) for path in _sources()
               if _layer(_module_name(path)) is None and _module_name(path) != "harness"]
    assert outside == []


def test_no_module_imports_upward():
    assert upward_imports() == []


@pytest.mark.parametrize("source, imported, upward", [
    ("models.config", "harness.common.files", True),
    ("models.registry", "harness.errors", True),
    ("harness.data.dataset", "harness.__version__", False),
    ("harness.training.trainer", "harness.evaluation.quality", False),
    ("harness.evaluation.quality", "harness.training.trainer", True),
    ("harness.report.build", "harness.study.spec", False),
    ("harness.runs.train", "harness.tracking.store", False),
    ("harness.tracking.store", "harness.runs.train", True),
    ("harness.study.worker", "harness.runs.train", False),
])
def test_the_layer_order_catches_what_it_should(source, imported, upward):
    assert (_layer(imported) > _layer(source)) is upward
