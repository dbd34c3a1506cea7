"""Global options and usage errors of the `merkle` command, shared by every command."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import pytest

from merkle.workspace.layout import Workspace
from tests.conftest import write_tree
from tests.support.cli import CliResult

Merkle = Callable[..., CliResult]

WORKSPACE_COMMANDS = [("scan",), ("status",), ("workspace", "validate")]


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A directory that is not inside any workspace."""
    directory = tmp_path / "elsewhere"
    directory.mkdir()
    return directory


def test_version_prints_the_installed_version(merkle: Merkle) -> None:
    result = merkle("--version")

    assert result.code == 0, result.stderr
    assert result.stdout.strip() == f"merkle {version('merkle')}"


@pytest.mark.parametrize("command", WORKSPACE_COMMANDS, ids=" ".join)
def test_command_outside_a_workspace_fails_with_a_hint_to_run_init(
    merkle: Merkle, elsewhere: Path, command: tuple[str, ...]
) -> None:
    result = merkle(*command, cwd=elsewhere)

    assert result.code == 2
    assert "no merkle workspace" in result.stderr
    assert "merkle init" in result.stderr
    assert result.stdout == ""
    assert not (elsewhere / ".merkle").exists()


@pytest.mark.parametrize("command", WORKSPACE_COMMANDS, ids=" ".join)
def test_command_outside_a_workspace_with_json_prints_an_error_object(
    merkle: Merkle, elsewhere: Path, command: tuple[str, ...]
) -> None:
    result = merkle(*command, "--json", cwd=elsewhere)

    assert result.code == 2
    payload = result.json()
    assert isinstance(payload, dict)
    error = payload["error"]
    assert error["type"] == "WorkspaceNotFound"
    assert error["exit_code"] == 2
    assert "merkle init" in error["hint"]


def test_workspace_option_works_on_that_workspace_from_an_unrelated_directory(
    merkle: Merkle, workspace: Workspace, elsewhere: Path
) -> None:
    write_tree(workspace.root, {"a.txt": "a", "src/b.py": "b = 1\n"})

    result = merkle("--workspace", str(workspace.root), "scan", "--json", cwd=elsewhere)

    assert result.code == 0, result.stderr
    payload = result.json()
    assert payload["workspace"] == str(workspace.root)
    assert payload["counts"]["files"] == 2
    assert not (elsewhere / ".merkle").exists()


def test_workspace_option_finds_the_workspace_above_a_subdirectory(
    merkle: Merkle, workspace: Workspace, elsewhere: Path
) -> None:
    write_tree(workspace.root, {"src/deep/b.py": "b = 1\n"})

    result = merkle("-w", str(workspace.root / "src" / "deep"), "status", "--json", cwd=elsewhere)

    assert result.code == 0, result.stderr
    assert result.json()["workspace"] == str(workspace.root)


def test_workspace_option_with_a_relative_path_is_taken_from_the_current_directory(
    merkle: Merkle, workspace: Workspace
) -> None:
    result = merkle(
        "--workspace", workspace.root.name, "status", "--json", cwd=workspace.root.parent
    )

    assert result.code == 0, result.stderr
    assert result.json()["workspace"] == str(workspace.root)


def test_workspace_option_naming_a_missing_directory_fails_with_exit_2(
    merkle: Merkle, elsewhere: Path
) -> None:
    result = merkle("--workspace", str(elsewhere / "missing"), "status", cwd=elsewhere)

    assert result.code == 2
    assert "is not a directory" in result.stderr


def test_workspace_option_names_the_directory_init_makes_a_workspace(
    merkle: Merkle, elsewhere: Path, tmp_path: Path
) -> None:
    target = tmp_path / "project"
    target.mkdir()

    result = merkle("--workspace", str(target), "init", cwd=elsewhere)

    assert result.code == 0, result.stderr
    assert (target / ".merkle" / "merkle.db").is_file()
    assert not (elsewhere / ".merkle").exists()


def test_verbose_and_quiet_together_are_a_usage_error(merkle: Merkle, workspace: Workspace) -> None:
    result = merkle("--verbose", "--quiet", "status", cwd=workspace.root)

    assert result.code == 2
    assert "--verbose and --quiet exclude each other" in result.stderr
    assert result.stdout == ""


def test_unknown_command_is_a_usage_error(merkle: Merkle, workspace: Workspace) -> None:
    result = merkle("frobnicate", cwd=workspace.root)

    assert result.code == 2
    assert "No such command 'frobnicate'" in result.stderr


def _dangling_links(root: Path, count: int) -> None:
    for index in range(count):
        (root / f"dangling-{index:02}").symlink_to(root / f"missing-{index:02}")


def test_quiet_prints_the_result_but_no_warnings(merkle: Merkle, workspace: Workspace) -> None:
    write_tree(workspace.root, {"a.txt": "a"})
    _dangling_links(workspace.root, 1)

    quiet = merkle("--quiet", "scan", cwd=workspace.root)
    normal = merkle("scan", cwd=workspace.root)

    assert quiet.code == 0, quiet.stderr
    assert quiet.stderr == ""
    assert "root" in quiet.stdout
    assert "warning: dangling-00: symbolic link is broken" in normal.stderr


def test_warnings_are_shortened_unless_verbose(merkle: Merkle, workspace: Workspace) -> None:
    _dangling_links(workspace.root, 12)

    normal = merkle("scan", cwd=workspace.root)
    verbose = merkle("--verbose", "scan", cwd=workspace.root)

    assert normal.code == 0, normal.stderr
    assert normal.stderr.count("warning:") == 10
    assert "... and 2 more (--verbose lists all)" in normal.stderr
    assert verbose.code == 0, verbose.stderr
    assert verbose.stderr.count("warning:") == 12
    assert "dangling-11" in verbose.stderr
