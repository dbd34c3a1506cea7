"""What a file's prompt says about where the file sits: its directory, its siblings'
names, and the workspace files it imports and that import it (the import map the
scan reads, `merkle.tree.imports`).

A model asked "what depends on it" can only answer from what it is shown; these
few lines show it. They are loaded once per scan of the tree and bounded, so a
directory of thousands of files adds a short list and a count.
"""

from __future__ import annotations

from collections import defaultdict

from merkle.store import NodeRepository, NodeType
from merkle.tree.imports import ImportGraph
from merkle.tree.paths import ROOT, name_of, parent_of

MAX_SIBLINGS = 60
MAX_LINKED = 30


class Surroundings:
    """Each file's surroundings in the current tree, reloaded when a scan changes it."""

    def __init__(self, nodes: NodeRepository) -> None:
        self._nodes = nodes
        self._scan_id: int | None = None
        self._children: dict[str, list[str]] = {}
        self._graph = ImportGraph((), {})

    def of(self, path: str) -> str:
        """The lines on the surroundings of the file at `path`; empty when there is
        nothing to say beyond its directory."""
        self._refresh()
        directory = parent_of(path) or ROOT
        shown = f"`{directory}/`" if directory != ROOT else "the workspace root"
        lines = [f"Directory: {shown}"]
        siblings = [name for name in self._children.get(directory, ()) if name != name_of(path)]
        if siblings:
            lines.append(
                f"Other entries there ({len(siblings):,}): {_names(siblings, MAX_SIBLINGS)}"
            )
        imports, importers = self._graph.imports(path), self._graph.imported_by(path)
        if imports:
            lines.append(
                f"Imports from this workspace ({len(imports):,}): {_names(imports, MAX_LINKED)}"
            )
        if importers:
            lines.append(f"Imported by ({len(importers):,}): {_names(importers, MAX_LINKED)}")
        elif self._graph.covers(path):
            lines.append("Imported by: no file of this workspace")
        return "\n".join(lines) if len(lines) > 1 else ""

    def _refresh(self) -> None:
        scan = self._nodes.last_scan()
        scan_id = scan.scan_id if scan is not None else None
        if scan_id == self._scan_id and self._children:
            return
        tree = self._nodes.load_tree()
        children: defaultdict[str, list[str]] = defaultdict(list)
        for entry in tree.values():
            if entry.parent_path is not None:
                suffix = "/" if entry.node_type is NodeType.DIRECTORY else ""
                children[entry.parent_path].append(name_of(entry.path) + suffix)
        self._children = {parent: sorted(names) for parent, names in children.items()}
        files = [p for p, entry in tree.items() if entry.node_type is NodeType.FILE]
        self._graph = ImportGraph(files, self._nodes.tree_imports())
        self._scan_id = scan_id


def _names(names: tuple[str, ...] | list[str], limit: int) -> str:
    shown = ", ".join(f"`{name}`" for name in names[:limit])
    hidden = len(names) - limit
    return shown + (f" and {hidden:,} more" if hidden > 0 else "")
