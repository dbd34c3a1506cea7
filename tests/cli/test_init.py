"""`merkle init`: the `.merkle/` directory, its configuration, its database, `.gitignore`."""

from __future__ import annotations

import re
import sqlite3
import tomllib
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from merkle.workspace.init import init_workspace
from tests.support.apps import scan
from tests.support.cli import CliResult, run_merkle
from tests.support.store import query, tree_paths

Merkle = Callable[..., CliResult]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty directory that is not a workspace yet."""
    root = tmp_path / "project"
    root.mkdir()
    return root


@pytest.fixture(scope="module")
def initialised(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CliResult]:
    """A directory, outside any git work tree, after one `merkle init` in it."""
    root = tmp_path_factory.mktemp("initialised")
    return root, run_merkle("init", cwd=root)


def test_init_says_it_initialised_the_workspace(initialised: tuple[Path, CliResult]) -> None:
    root, result = initialised

    assert result.code == 0, result.stderr
    assert f"Initialised a merkle workspace in {root}" in result.stdout
    assert "merkle scan" in result.stderr


def test_init_writes_a_commented_config_that_parses_as_toml(
    initialised: tuple[Path, CliResult],
) -> None:
    root, _ = initialised

    text = (root / ".merkle" / "config.toml").read_text(encoding="utf-8")

    # The defaults are there, commented out: the built-ins apply until the user changes one.
    # Table headers are commented too, so that a pasted table is never declared twice.
    assert '# agent = "docs-writer"' in text
    assert '# provider = "local"' in text
    assert tomllib.loads(text) == {}


def test_every_snippet_of_the_readme_pastes_into_the_config_init_writes(
    initialised: tuple[Path, CliResult], merkle: Callable[..., CliResult]
) -> None:
    root, _ = initialised
    config = root / ".merkle" / "config.toml"
    written = config.read_text(encoding="utf-8")
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    snippets = re.findall(r"```toml\n(.*?)```", readme, flags=re.S)
    assert snippets, "the README shows configuration snippets"

    for snippet in snippets:
        config.write_text(written + "\n" + snippet, encoding="utf-8")
        result = merkle("provider", "list", "--json", cwd=root)
        assert result.code == 0, f"{snippet}\n{result.stderr}"


def test_init_creates_the_database_in_wal_mode_with_the_schema(
    initialised: tuple[Path, CliResult],
) -> None:
    root, _ = initialised

    with closing(sqlite3.connect(root / ".merkle" / "merkle.db")) as connection:
        (journal_mode,) = connection.execute("PRAGMA journal_mode").fetchone()
        tables = {
            name
            for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }

    assert journal_mode == "wal"
    assert {"nodes", "node_children", "tree_entries", "scans"} <= tables


def test_init_outside_a_git_work_tree_writes_no_gitignore(
    initialised: tuple[Path, CliResult],
) -> None:
    root, _ = initialised

    assert not (root / ".gitignore").exists()


def test_init_json_describes_the_new_workspace(merkle: Merkle, project: Path) -> None:
    result = merkle("init", "--json", cwd=project)

    assert result.code == 0, result.stderr
    payload = result.json()
    # The documented keys; the payload may grow more.
    expected = {
        "workspace": str(project),
        "created": True,
        "config": str(project / ".merkle" / "config.toml"),
        "database": str(project / ".merkle" / "merkle.db"),
        "gitignore_updated": False,
    }
    assert {key: payload[key] for key in expected} == expected


def test_init_takes_the_directory_as_an_argument(merkle: Merkle, project: Path) -> None:
    result = merkle("init", str(project), "--json", cwd=project.parent)

    assert result.code == 0, result.stderr
    assert result.json()["workspace"] == str(project)
    assert (project / ".merkle" / "merkle.db").is_file()
    assert not (project.parent / ".merkle").exists()


def test_init_again_changes_nothing_and_keeps_the_users_config(
    merkle: Merkle, project: Path
) -> None:
    init_workspace(project)
    config = project / ".merkle" / "config.toml"
    edited = '[defaults]\nprovider = "openai-main"\n'
    config.write_text(edited, encoding="utf-8")

    again = merkle("init", cwd=project)
    again_json = merkle("init", "--json", cwd=project)

    assert again.code == 0, again.stderr
    assert "already a merkle workspace" in again.stdout
    assert again_json.code == 0, again_json.stderr
    assert again_json.json()["created"] is False
    assert config.read_text(encoding="utf-8") == edited


def test_init_again_keeps_the_scanned_tree(merkle: Merkle, project: Path) -> None:
    (project / "a.txt").write_text("a", encoding="utf-8")
    scan(init_workspace(project).workspace)
    tree = tree_paths(project)

    result = merkle("init", cwd=project)

    assert result.code == 0, result.stderr
    assert query(project, "SELECT COUNT(*) FROM scans") == [(1,)]
    assert tree_paths(project) == tree


def test_init_in_a_git_work_tree_ignores_the_state_directory_once(
    merkle: Merkle, project: Path
) -> None:
    (project / ".git").mkdir()

    first = merkle("init", "--json", cwd=project)
    second = merkle("init", "--json", cwd=project)

    assert first.code == 0, first.stderr
    assert first.json()["gitignore_updated"] is True
    assert second.json()["gitignore_updated"] is False
    assert (project / ".gitignore").read_text(encoding="utf-8") == "/.merkle/\n"


def test_init_appends_to_an_existing_gitignore_on_a_line_of_its_own(
    merkle: Merkle, project: Path
) -> None:
    (project / ".git").mkdir()
    (project / ".gitignore").write_text("*.log\nbuild/", encoding="utf-8")

    result = merkle("init", cwd=project)

    assert result.code == 0, result.stderr
    assert (project / ".gitignore").read_text(encoding="utf-8") == "*.log\nbuild/\n/.merkle/\n"


@pytest.mark.parametrize("line", [".merkle", "/.merkle/"])
def test_init_leaves_a_gitignore_that_already_ignores_the_state_directory(
    merkle: Merkle, project: Path, line: str
) -> None:
    (project / ".git").mkdir()
    original = f"*.log\n{line}\n"
    (project / ".gitignore").write_text(original, encoding="utf-8")

    result = merkle("init", "--json", cwd=project)

    assert result.code == 0, result.stderr
    assert result.json()["gitignore_updated"] is False
    assert (project / ".gitignore").read_text(encoding="utf-8") == original


def test_init_of_a_file_fails_with_a_message_and_exit_2(merkle: Merkle, tmp_path: Path) -> None:
    not_a_directory = tmp_path / "notes.txt"
    not_a_directory.write_text("notes", encoding="utf-8")

    result = merkle("init", str(not_a_directory))
    as_json = merkle("init", str(not_a_directory), "--json")

    assert result.code == 2
    assert f"{not_a_directory} is not a directory" in result.stderr
    assert not (tmp_path / ".merkle").exists()
    assert as_json.code == 2
    assert as_json.json()["error"]["type"] == "UsageError"


def test_init_of_a_missing_directory_fails_with_exit_2(merkle: Merkle, tmp_path: Path) -> None:
    missing = tmp_path / "missing"

    result = merkle("init", str(missing))

    assert result.code == 2
    assert "is not a directory" in result.stderr
    assert not missing.exists()
