"""The scan leaves out exactly what git leaves out, checked against git itself.

Random `.gitignore` files, at the root and in a subdirectory, built from
the patterns people write (negations, directory-only patterns, anchors,
`**`, classes, escapes), over one fixed tree: the files the scan keeps must
be the files `git ls-files --others --exclude-standard` lists.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from merkle.store import NodeType
from merkle.workspace.init import init_workspace
from tests.conftest import write_tree
from tests.support.apps import app_of

pytestmark = pytest.mark.timeout(120)

TREE = {
    "a.py": "",
    "b.txt": "",
    "#notes": "",
    "src/c.py": "",
    "src/d.txt": "",
    "src/deep/e.py": "",
    "src/deep/f.log": "",
    "docs/g.md": "",
    "docs/deep/h.md": "",
    "build/i.o": "",
    "x/y/z.py": "",
}
PATTERNS = [
    "*", "*.py", "!*.py", "*/", "!*/", "src/", "/src", "!src/", "src/*", "!src/deep/",
    "**/deep/**", "deep", "!deep", "deep/", "*.log", "/*.txt", "*.txt", "!/b.txt", "docs/**",
    "!docs/g.md", "!docs/", "build", "?.py", "[a-c].py", "[!a].py", "x/**/z.py", "**/y",
    "\\#notes", "#comment", "src/**/*.py", "/x/", "*.md", "!*.md", "deep/*", "   ", "!e.py",
]  # fmt: skip
RULES = st.lists(st.sampled_from(PATTERNS), max_size=6).map(lambda lines: "\n".join(lines) + "\n")


def git_kept(root: Path) -> set[str]:
    environment = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(root)}
    listed = subprocess.run(
        ["git", "-c", "core.excludesFile=", "ls-files", "--others", "--exclude-standard", "-z"],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {path for path in listed.split("\0") if path and not path.startswith(".merkle/")}


def merkle_kept(root: Path) -> set[str]:
    workspace = init_workspace(root).workspace
    with app_of(workspace) as app:
        app.scan()
        entries = app.store.nodes.load_tree().values()
        return {entry.path for entry in entries if entry.node_type is NodeType.FILE}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(root_rules=RULES, src_rules=st.one_of(st.none(), RULES))
def test_the_scan_keeps_exactly_the_files_git_keeps(root_rules: str, src_rules: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="merkle-ignore-") as tmp:
        root = Path(tmp)
        files = {**TREE, ".gitignore": root_rules}
        if src_rules is not None:
            files["src/.gitignore"] = src_rules
        write_tree(root, files)
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
        expected = git_kept(root)
        # merkle adds its own state directory to the root .gitignore; git never saw it.
        assert merkle_kept(root) - {".gitignore"} == expected - {".gitignore"}
