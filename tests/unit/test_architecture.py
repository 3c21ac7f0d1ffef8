"""The dependency rule and the one import name, checked on the source.

Layers, innermost first: registry <- projections <- application <- adapters (sdk, server, cli, ui).
The web UI (``ui``) is served by the server: the server's app mounts its routes, and the UI uses the
server's request admission; it never reads tables or builds commands.
Everything is imported as ``modelog.<layer>``; the repository's top-level folders are never
imported under their own names (the installed distribution provides only ``modelog``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("registry", "projections", "application", "sdk", "server", "cli", "ui")
FORBIDDEN = {
    "registry": {"projections", "application", "sdk", "server", "cli", "ui"},
    "projections": {"application", "sdk", "server", "cli", "ui"},
    "application": {"sdk", "server", "cli", "ui"},
    "sdk": {"server", "cli", "ui"},
    "server": {"sdk", "cli"},
    "cli": {"ui"},
    "ui": {"sdk", "cli"},
}
#: Adapters go through the application layer: they never build commands or touch the store.
ADAPTER_FORBIDDEN_MODULES = {
    "modelog.registry.commands", "modelog.registry.service", "modelog.registry.store",
    "modelog.registry.unit_of_work", "modelog.registry.transfer",
}
ADAPTERS = ("sdk", "server", "cli", "ui")
SOURCE_DIRS = (*LAYERS, "modelog", "tests", "bench", "examples")


def _sources(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py")) if (ROOT / folder).is_dir() else []


def _imports(path: Path) -> set[str]:
    """Every absolute module name ``path`` imports (``from a.b import c`` counts as a.b and a.b.c)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _layers_used(path: Path) -> set[str]:
    return {name.split(".")[1] for name in _imports(path) if name.startswith("modelog.") and name.count(".") >= 1}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_dependencies_point_inward(package: str) -> None:
    offenders = {str(p.relative_to(ROOT)): sorted(_layers_used(p) & FORBIDDEN[package]) for p in _sources(package)}
    assert {path: bad for path, bad in offenders.items() if bad} == {}


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_adapters_call_the_application_layer_not_the_command_layer(adapter: str) -> None:
    offenders = {str(p.relative_to(ROOT)): sorted(_imports(p) & ADAPTER_FORBIDDEN_MODULES) for p in _sources(adapter)}
    assert {path: bad for path, bad in offenders.items() if bad} == {}


#: The UI formats what the application layer answers: no SQL, no read-model tables or queries, no event store.
UI_FORBIDDEN_PREFIXES = ("sqlalchemy", "modelog.projections.tables", "modelog.projections.queries",
                         "modelog.projections.temporal", "modelog.registry.schema", "modelog.registry.recorder",
                         "modelog.registry.database", "modelog.registry.events", "modelog.application.local",
                         "modelog.application.writes", "modelog.application.reads")


def test_the_ui_reads_nothing_but_the_application_layer() -> None:
    offenders = {str(p.relative_to(ROOT)): sorted(n for n in _imports(p) if n.startswith(UI_FORBIDDEN_PREFIXES))
                 for p in _sources("ui")}
    assert {path: bad for path, bad in offenders.items() if bad} == {}
    assert _sources("ui"), "the ui folder has no sources"


def test_nothing_imports_the_folders_under_their_own_top_level_names() -> None:
    bare = {
        f"{p.relative_to(ROOT)}: {name}"
        for folder in SOURCE_DIRS for p in _sources(folder) for name in _imports(p)
        if name.split(".")[0] in LAYERS
    }
    assert bare == set()


def _is_overload(node: ast.AST) -> bool:
    decorators = getattr(node, "decorator_list", [])
    return any(getattr(d, "id", getattr(d, "attr", None)) == "overload" for d in decorators)


def test_every_public_function_and_class_has_a_docstring() -> None:
    missing = []
    for package in (*LAYERS, "modelog"):
        for path in _sources(package):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in tree.body:
                public = isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_")
                if public and ast.get_docstring(node) is None and not _is_overload(node):
                    missing.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert missing == []
