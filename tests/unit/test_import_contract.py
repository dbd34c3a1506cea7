"""The import contract of ARCHITECTURE.md section 2, checked on the source as written.

Layers depend downward only: a module may import from its own package and the
rows below it, never from a row above. On top of the table: only `merkle.store`
imports a database driver or the SQLite backend; the command line, the monitor
and the app reach the store through its protocol and values; the queue takes
agent limits as values (it imports nothing of `merkle.agents`); Typer and
Rich are imported only by `merkle.cli` (Rich also by `merkle.tui`, which Textual
draws with), Textual only by `merkle.tui`.
Imports made inside functions (deferred for start-up time) count the same.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[2] / "src"

# ARCHITECTURE.md section 2, top to bottom.
LAYERS = (
    "merkle.cli",
    "merkle.tui",
    "merkle.mcp",
    "merkle.app",
    "merkle.workspace",
    "merkle.context.generation",
    "merkle.context.queue",
    "merkle.context.api",
    "merkle.metadata",
    "merkle.providers",
    "merkle.agents",
    "merkle.telemetry",
    "merkle.tree",
    "merkle.store",
    "merkle.config",
)
# Below every layer, importable from all of them.
FOUNDATION = ("merkle", "merkle.errors", "merkle.context")
# Above every layer: `python -m merkle`.
ENTRY_POINTS = ("merkle.__main__",)

# (importer prefix, forbidden import prefix, why)
FORBIDDEN = (
    ("merkle.context.queue", "merkle.agents", "the queue takes agent limits as values"),
    ("merkle.cli", "merkle.store.sqlite", "the command line never touches a backend"),
    ("merkle.tui", "merkle.store.sqlite", "the monitor reads through the app"),
    ("merkle.app", "merkle.store.sqlite", "the app opens stores by URL"),
)
DRIVERS = ("sqlite3", "psycopg")
UI_TOOLKITS = {
    "typer": ("merkle.cli",),
    "rich": ("merkle.cli", "merkle.tui"),
    "textual": ("merkle.tui",),
}


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def layer_of(module: str) -> int | None:
    """The row of `module` in the table (the longest matching package wins)."""
    matches = [index for index, package in enumerate(LAYERS) if _within(module, package)]
    return max(matches, key=lambda index: len(LAYERS[index])) if matches else None


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports() -> Iterator[tuple[str, str, int]]:
    """Every `(importer, imported, line)` of the package's source."""
    for path in sorted((SOURCE / "merkle").rglob("*.py")):
        importer = _module_name(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield importer, alias.name, node.lineno
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                yield importer, node.module, node.lineno


def test_every_module_of_the_package_has_a_row_in_the_table() -> None:
    modules = {_module_name(path) for path in (SOURCE / "merkle").rglob("*.py")}
    placed = {*FOUNDATION, *ENTRY_POINTS}
    unplaced = sorted(m for m in modules if layer_of(m) is None and m not in placed)
    assert unplaced == [], "add the package to ARCHITECTURE.md section 2 and to LAYERS"


def upward_imports() -> list[str]:
    """Imports from a row above the importer's own."""
    found = []
    for importer, imported, line in imports():
        if not imported.startswith("merkle") or imported in FOUNDATION:
            continue
        if importer in ENTRY_POINTS:
            continue
        source, target = layer_of(importer), layer_of(imported)
        if source is None or target is None:
            found.append(f"{importer}:{line} imports {imported}, which has no row")
        elif target < source:
            found.append(f"{importer}:{line} imports {imported} ({LAYERS[target]} is above)")
    return found


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    assert upward_imports() == []


def test_the_rows_order_the_layers_as_the_architecture_draws_them() -> None:
    # The checker must be able to fail: the store importing the queue is upward,
    # the planner importing the queue is downward.
    rows = {
        m: layer_of(m)
        for m in (
            "merkle.store.sqlite.queue",
            "merkle.context.queue.worker",
            "merkle.context.generation.planner",
            "merkle.app",
        )
    }
    assert rows == {
        "merkle.store.sqlite.queue": 13,
        "merkle.context.queue.worker": 6,
        "merkle.context.generation.planner": 5,
        "merkle.app": 3,
    }


@pytest.mark.parametrize(("importer", "forbidden", "why"), FORBIDDEN)
def test_forbidden_imports_are_absent(importer: str, forbidden: str, why: str) -> None:
    offending = [
        f"{source}:{line} imports {imported}"
        for source, imported, line in imports()
        if _within(source, importer) and _within(imported, forbidden)
    ]
    assert offending == [], why


def test_only_the_store_imports_a_database_driver() -> None:
    offending = [
        f"{source}:{line} imports {imported}"
        for source, imported, line in imports()
        if imported.split(".")[0] in DRIVERS and not _within(source, "merkle.store")
    ]
    assert offending == []


def test_ui_toolkits_are_imported_only_by_their_layer() -> None:
    offending = [
        f"{source}:{line} imports {imported}"
        for source, imported, line in imports()
        if imported.split(".")[0] in UI_TOOLKITS
        and not any(_within(source, owner) for owner in UI_TOOLKITS[imported.split(".")[0]])
    ]
    assert offending == []
