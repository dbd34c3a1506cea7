"""`merkle scan`: its output, the counts, the stat cache, and the ignore rules end to end."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from merkle.workspace.init import init_workspace
from merkle.workspace.layout import Workspace
from tests.conftest import write_tree
from tests.support.apps import scan
from tests.support.cli import CliResult
from tests.support.files import backdate, set_mtime
from tests.support.store import node_paths, tree_paths

Merkle = Callable[..., CliResult]

HEX64 = re.compile(r"[0-9a-f]{64}")

SMALL_TREE: dict[str, bytes | str] = {
    "a.txt": "abc",
    "src/b.py": "print()\n",
    "src/pkg/c.bin": b"\x00" * 10,
}


def scan_json(merkle: Merkle, root: Path, *args: str) -> dict[str, Any]:
    result = merkle(*args, "scan", "--json", cwd=root)
    assert result.code == 0, result.stderr
    payload = result.json()
    assert isinstance(payload, dict)
    return payload


# -- output ------------------------------------------------------------------------------


def test_scan_json_has_the_documented_schema(merkle: Merkle, workspace: Workspace) -> None:
    write_tree(workspace.root, SMALL_TREE)

    payload = scan_json(merkle, workspace.root)

    # The documented keys; the payload may grow more.
    assert set(payload) >= {
        "workspace",
        "scan_id",
        "root_node_id",
        "started_at",
        "finished_at",
        "duration_s",
        "counts",
        "changed",
        "warnings",
    }
    assert set(payload["counts"]) >= {
        "files",
        "directories",
        "bytes",
        "hashed",
        "reused",
        "ignored",
        "warnings",
    }
    assert payload["workspace"] == str(workspace.root)
    assert isinstance(payload["scan_id"], int)
    assert HEX64.fullmatch(payload["root_node_id"])
    started = datetime.fromisoformat(payload["started_at"])
    finished = datetime.fromisoformat(payload["finished_at"])
    assert started.tzinfo is not None
    assert started <= finished
    assert isinstance(payload["duration_s"], float | int)
    assert payload["duration_s"] >= 0
    assert payload["changed"] is True
    assert payload["warnings"] == []


def test_scan_counts_a_known_tree(merkle: Merkle, workspace: Workspace) -> None:
    write_tree(workspace.root, SMALL_TREE)

    payload = scan_json(merkle, workspace.root)

    expected = {
        "files": 3,
        "directories": 3,  # the root, src, src/pkg
        "bytes": 3 + 8 + 10,
        "hashed": 3,
        "reused": 0,
        "ignored": 1,  # .merkle
        "warnings": 0,
    }
    assert {key: payload["counts"][key] for key in expected} == expected
    assert set(tree_paths(workspace.root)) == {
        ".",
        "a.txt",
        "src",
        "src/b.py",
        "src/pkg",
        "src/pkg/c.bin",
    }
    assert tree_paths(workspace.root)["."] == payload["root_node_id"]


def test_scan_human_output_lists_the_counts_and_the_root(
    merkle: Merkle, workspace: Workspace
) -> None:
    write_tree(workspace.root, SMALL_TREE)

    result = merkle("scan", cwd=workspace.root)

    assert result.code == 0, result.stderr
    rows = dict(line.split(maxsplit=1) for line in result.stdout.splitlines() if line.strip())
    assert rows["files"] == "3"
    assert rows["directories"] == "3"
    assert rows["hashed"] == "3"
    assert rows["reused"] == "0"
    assert rows["root"] == tree_paths(workspace.root)["."]


def test_scan_gives_the_same_ids_to_the_same_tree_anywhere(
    merkle: Merkle, workspace: Workspace, tmp_path: Path
) -> None:
    write_tree(workspace.root, SMALL_TREE)
    other = tmp_path / "elsewhere" / "other"
    other.mkdir(parents=True)
    write_tree(other, SMALL_TREE)
    there = scan(init_workspace(other).workspace).scan

    here = scan_json(merkle, workspace.root)

    assert here["root_node_id"] == there.root_node_id
    assert tree_paths(workspace.root) == tree_paths(other)


# -- the stat cache ----------------------------------------------------------------------


def test_rescan_of_an_unchanged_tree_hashes_nothing_and_reuses_every_file(
    merkle: Merkle, workspace: Workspace
) -> None:
    write_tree(
        workspace.root,
        {**SMALL_TREE, ".gitignore": "*.log\n", "src/debug.log": "ignored", "src/.env": "X=1"},
    )
    backdate(workspace.root, 100)
    first = scan(workspace).scan

    second = scan_json(merkle, workspace.root)

    assert first.counts.hashed == 4
    expected = {
        "files": 4,
        "directories": 3,
        "bytes": 3 + 8 + 10 + 6,
        "hashed": 0,
        "reused": 4,
        "ignored": 3,  # .merkle, src/debug.log, src/.env
        "warnings": 0,
    }
    assert {key: second["counts"][key] for key in expected} == expected
    assert second["changed"] is False
    assert second["root_node_id"] == first.root_node_id
    assert second["scan_id"] > first.scan_id


def test_rescan_says_the_tree_is_unchanged(merkle: Merkle, workspace: Workspace) -> None:
    write_tree(workspace.root, SMALL_TREE)
    backdate(workspace.root, 100)
    scan(workspace)

    result = merkle("scan", cwd=workspace.root)

    assert result.code == 0, result.stderr
    assert "The tree is unchanged since the last scan." in result.stderr


def test_rescan_after_editing_one_file_hashes_exactly_that_file(
    merkle: Merkle, workspace: Workspace
) -> None:
    write_tree(workspace.root, SMALL_TREE)
    backdate(workspace.root, 100)
    first = scan(workspace).scan
    before = tree_paths(workspace.root)
    edited = workspace.root / "src" / "b.py"
    edited.write_text("print(1)\n", encoding="utf-8")
    set_mtime(edited, 50)

    second = scan_json(merkle, workspace.root)

    assert second["counts"]["hashed"] == 1
    assert second["counts"]["reused"] == 2
    assert second["changed"] is True
    assert second["root_node_id"] != first.root_node_id
    after = tree_paths(workspace.root)
    # The ids on the path to the root change, and nothing else.
    changed = {path for path in before if before[path] != after[path]}
    assert changed == {".", "src", "src/b.py"}


def test_rescan_after_an_edit_that_keeps_size_and_content_keeps_the_root(
    merkle: Merkle, workspace: Workspace
) -> None:
    write_tree(workspace.root, SMALL_TREE)
    backdate(workspace.root, 100)
    first = scan(workspace).scan
    touched = workspace.root / "a.txt"
    touched.write_text("abc", encoding="utf-8")
    set_mtime(touched, 50)

    second = scan_json(merkle, workspace.root)

    assert second["counts"]["hashed"] == 1
    assert second["changed"] is False
    assert second["root_node_id"] == first.root_node_id


def test_rescan_finds_files_added_to_and_removed_from_a_directory_listed_before(
    merkle: Merkle, workspace: Workspace
) -> None:
    write_tree(workspace.root, SMALL_TREE)
    backdate(workspace.root, 100)
    scan(workspace)
    write_tree(workspace.root, {"src/new.py": "new = 1\n"})
    (workspace.root / "src" / "pkg" / "c.bin").unlink()

    payload = scan_json(merkle, workspace.root)

    assert payload["counts"]["files"] == 3
    assert payload["counts"]["hashed"] == 1
    assert set(tree_paths(workspace.root)) == {
        ".",
        "a.txt",
        "src",
        "src/b.py",
        "src/new.py",
        "src/pkg",
    }


def test_scan_from_subdirectory_finds_the_workspace_and_scans_all_of_it(
    merkle: Merkle, workspace: Workspace
) -> None:
    write_tree(workspace.root, SMALL_TREE)
    from_root = scan(workspace).scan

    from_subdirectory = scan_json(merkle, workspace.root / "src" / "pkg")

    assert from_subdirectory["workspace"] == str(workspace.root)
    assert from_subdirectory["root_node_id"] == from_root.root_node_id
    assert from_subdirectory["counts"]["files"] == 3


# -- ignore rules ------------------------------------------------------------------------


def test_nested_gitignores_apply_with_git_semantics(merkle: Merkle, workspace: Workspace) -> None:
    write_tree(
        workspace.root,
        {
            ".gitignore": "*.log\nbuild/\n/only_root.txt\ndocs/*.md\n",
            "app.log": "ignored: *.log",
            "keep.txt": "kept",
            "local.txt": "kept: sub's local.txt is relative to sub",
            "only_root.txt": "ignored: anchored at the root",
            "docs/guide.md": "ignored: docs/*.md",
            "docs/index.rst": "kept",
            "build/out.bin": "ignored: build/ is a directory",
            "tools/build": "kept: a file, and build/ matches directories only",
            "sub/.gitignore": "!important.log\nlocal.txt\n/anchored.txt\n",
            "sub/important.log": "kept: re-included by the deeper file",
            "sub/other.log": "ignored: *.log from the root",
            "sub/local.txt": "ignored",
            "sub/anchored.txt": "ignored: anchored at sub",
            "sub/only_root.txt": "kept: /only_root.txt is anchored at the root",
            "sub/docs/guide.md": "kept: docs/*.md is anchored at the root",
            "sub/build/x.txt": "ignored: build/ matches at any depth",
            "sub/deeper/.gitignore": "important.log\n",
            "sub/deeper/important.log": "ignored: the deepest file wins",
            "sub/deeper/anchored.txt": "kept: /anchored.txt is anchored at sub",
        },
    )

    payload = scan_json(merkle, workspace.root)

    assert set(tree_paths(workspace.root)) == {
        ".",
        ".gitignore",
        "keep.txt",
        "local.txt",
        "docs",
        "docs/index.rst",
        "tools",
        "tools/build",
        "sub",
        "sub/.gitignore",
        "sub/important.log",
        "sub/only_root.txt",
        "sub/docs",
        "sub/docs/guide.md",
        "sub/deeper",
        "sub/deeper/.gitignore",
        "sub/deeper/anchored.txt",
    }
    # .merkle, app.log, only_root.txt, docs/guide.md, build, sub/other.log,
    # sub/local.txt, sub/anchored.txt, sub/build, sub/deeper/important.log
    assert payload["counts"]["ignored"] == 10


def test_a_pattern_for_the_contents_of_a_directory_lets_a_negation_re_include_a_file(
    merkle: Merkle, workspace: Workspace
) -> None:
    write_tree(
        workspace.root,
        {
            ".gitignore": "logs/*\n!logs/keep.txt\n",
            "logs/keep.txt": "kept",
            "logs/run.txt": "ignored",
        },
    )

    scan_json(merkle, workspace.root)

    assert set(tree_paths(workspace.root)) == {".", ".gitignore", "logs", "logs/keep.txt"}


def test_merkleignore_adds_rules_and_overrides_the_gitignore_beside_it(
    merkle: Merkle, workspace: Workspace
) -> None:
    write_tree(
        workspace.root,
        {
            ".gitignore": "*.log\n",
            ".merkleignore": "!keep.log\nnotes/\n",
            "keep.log": "kept: re-included by .merkleignore",
            "drop.log": "ignored by .gitignore",
            "notes/todo.md": "ignored by .merkleignore",
            "scratch.tmp": "kept: *.tmp is only ignored in sub",
            "sub/.merkleignore": "*.tmp\n",
            "sub/scratch.tmp": "ignored",
            "sub/code.py": "kept",
        },
    )

    scan_json(merkle, workspace.root)

    assert set(tree_paths(workspace.root)) == {
        ".",
        ".gitignore",
        ".merkleignore",
        "keep.log",
        "scratch.tmp",
        "sub",
        "sub/.merkleignore",
        "sub/code.py",
    }


def test_editing_a_gitignore_takes_effect_on_rescan_in_directories_listed_before(
    merkle: Merkle, workspace: Workspace
) -> None:
    write_tree(
        workspace.root,
        {".gitignore": "*.log\n", "sub/.gitignore": "*.bak\n", "sub/x.tmp": "x", "sub/y.py": "y"},
    )
    backdate(workspace.root, 100)
    scan(workspace)
    assert "sub/x.tmp" in tree_paths(workspace.root)

    # Edited in place: the directories' own stat does not change.
    gitignore = workspace.root / ".gitignore"
    gitignore.write_text("*.log\n*.tmp\n", encoding="utf-8")
    set_mtime(gitignore, 50)
    scan_json(merkle, workspace.root)

    assert set(tree_paths(workspace.root)) == {
        ".",
        ".gitignore",
        "sub",
        "sub/.gitignore",
        "sub/y.py",
    }


def test_git_info_exclude_applies_at_the_root(merkle: Merkle, workspace: Workspace) -> None:
    write_tree(
        workspace.root,
        {
            ".git/info/exclude": "*.scratch\n",
            "notes.scratch": "ignored",
            "sub/more.scratch": "ignored",
            "main.py": "kept",
        },
    )

    scan_json(merkle, workspace.root)

    assert set(tree_paths(workspace.root)) == {".", "main.py", "sub"}


def test_builtin_rules_leave_out_tool_directories_and_virtual_environments(
    merkle: Merkle, workspace: Workspace
) -> None:
    write_tree(
        workspace.root,
        {
            ".git/config": "[core]\n",
            "__pycache__/m.cpython-311.pyc": b"\x00",
            "pkg/__pycache__/n.cpython-311.pyc": b"\x00",
            "pkg/module.py": "kept",
            "pkg/stale.pyc": b"\x00",
            "node_modules/left/index.js": "ignored",
            "web/node_modules/right/index.js": "ignored",
            "web/app.js": "kept",
            "myenv/pyvenv.cfg": "home = /usr/bin\n",
            "myenv/lib/site.py": "ignored: inside a virtual environment",
            "tools/py/pyvenv.cfg": "home = /usr/bin\n",
            "tools/py/bin/activate": "ignored",
            "tools/run.sh": "kept",
            "env/lib/notes.txt": "kept: no pyvenv.cfg, so not a virtual environment",
        },
    )

    payload = scan_json(merkle, workspace.root)

    assert set(tree_paths(workspace.root)) == {
        ".",
        "pkg",
        "pkg/module.py",
        "web",
        "web/app.js",
        "tools",
        "tools/run.sh",
        "env",
        "env/lib",
        "env/lib/notes.txt",
    }
    # .merkle, .git, __pycache__, pkg/__pycache__, pkg/stale.pyc, node_modules,
    # web/node_modules, myenv, tools/py
    assert payload["counts"]["ignored"] == 9


SECRETS = (
    ".env",
    ".env.local",
    "id_rsa",
    "server.pem",
    "tls.key",
    "cert.crt",
    "credentials.json",
    "config/.env",
    "config/credentials.json",
    "deploy/keys/id_rsa",
)


def test_secret_looking_files_are_never_in_the_tree_and_count_as_ignored(
    merkle: Merkle, workspace: Workspace
) -> None:
    write_tree(workspace.root, {path: "SECRET=hunter2\n" for path in SECRETS})
    write_tree(workspace.root, {"config/settings.py": "DEBUG = False\n", "README.md": "# app\n"})

    payload = scan_json(merkle, workspace.root)

    assert set(tree_paths(workspace.root)) == {
        ".",
        "README.md",
        "config",
        "config/settings.py",
        "deploy",
        "deploy/keys",
    }
    assert not node_paths(workspace.root) & set(SECRETS)
    assert payload["counts"]["ignored"] == len(SECRETS) + 1  # and .merkle


def test_secret_looking_files_cannot_be_re_included(merkle: Merkle, workspace: Workspace) -> None:
    write_tree(
        workspace.root,
        {
            ".gitignore": "!.env\n!id_rsa\n!*.pem\n",
            ".merkleignore": "!.env\n!id_rsa\n!*.pem\n",
            ".env": "SECRET=hunter2\n",
            "id_rsa": "-----BEGIN OPENSSH PRIVATE KEY-----\n",
            "server.pem": "-----BEGIN CERTIFICATE-----\n",
        },
    )

    scan_json(merkle, workspace.root)

    assert set(tree_paths(workspace.root)) == {".", ".gitignore", ".merkleignore"}


def test_status_applies_the_same_ignore_rules_as_the_scan(
    merkle: Merkle, workspace: Workspace
) -> None:
    write_tree(
        workspace.root,
        {
            ".gitignore": "*.log\n",
            "app.log": "ignored",
            ".env": "SECRET=1\n",
            "node_modules/x/index.js": "ignored",
            "venv/pyvenv.cfg": "home = /usr/bin\n",
            "main.py": "kept",
        },
    )
    scan(workspace)

    status = merkle("status", "--json", cwd=workspace.root)

    assert status.code == 0, status.stderr
    assert status.json()["changes"] == {"added": [], "modified": [], "removed": []}
