"""Ignore rules: built-ins, secrets, and gitignore semantics across nested files."""

from __future__ import annotations

from pathlib import Path

import pytest

from merkle.workspace.ignore import WorkspaceIgnore, is_builtin_ignored


def rules_at(root: Path, path: str) -> WorkspaceIgnore:
    """The rules in force inside directory `path`, entering every directory from the root."""
    rules: WorkspaceIgnore | None = WorkspaceIgnore()
    current = "."
    parts = [] if path == "." else path.split("/")
    for part in [None, *parts]:
        if part is not None:
            current = part if current == "." else f"{current}/{part}"
        directory = root / current
        assert rules is not None
        rules = rules.enter(current, str(directory), [p.name for p in directory.iterdir()])
    assert rules is not None
    return rules


@pytest.mark.parametrize(
    "name",
    [
        ".env",
        ".env.local",
        ".envrc",
        "id_rsa",
        "id_ed25519",
        "server.pem",
        "tls.key",
        "cert.crt",
        "store.p12",
        "credentials.json",
        "gcp-credentials.json",
        ".netrc",
        ".npmrc",
        ".git-credentials",
        "prod.tfvars",
        "SERVER.PEM",
    ],
)
def test_secret_looking_files_are_always_ignored(name: str) -> None:
    assert is_builtin_ignored(name, is_dir=False)


@pytest.mark.parametrize(
    "name", [".git", ".merkle", ".venv", "__pycache__", "node_modules", ".mypy_cache", ".ssh"]
)
def test_tool_and_cache_directories_are_ignored(name: str) -> None:
    assert is_builtin_ignored(name, is_dir=True)


@pytest.mark.parametrize(
    "name", ["main.py", "README.md", "environment.yml", "keys.py", "credentials.py", "git.md"]
)
def test_ordinary_files_are_not_ignored(name: str) -> None:
    assert not is_builtin_ignored(name, is_dir=False)


def test_a_directory_holding_pyvenv_cfg_is_ignored_whatever_its_name(tmp_path: Path) -> None:
    env = tmp_path / "myenv"
    env.mkdir()
    (env / "pyvenv.cfg").write_text("home = /usr\n")
    assert WorkspaceIgnore().enter("myenv", str(env), ["pyvenv.cfg"]) is None
    # The workspace root itself is never left out.
    assert WorkspaceIgnore().enter(".", str(tmp_path), ["pyvenv.cfg"]) is not None


def test_gitignore_patterns_apply_relative_to_their_directory(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / ".gitignore").write_text("/local.txt\n*.log\nout/\n")
    rules = rules_at(tmp_path, "pkg")
    assert rules.is_ignored("pkg/local.txt", is_dir=False)
    assert not rules.is_ignored("pkg/sub/local.txt", is_dir=False)
    assert rules.is_ignored("pkg/deep/x.log", is_dir=False)
    assert rules.is_ignored("pkg/out", is_dir=True)
    assert not rules.is_ignored("pkg/out", is_dir=False)  # `out/` only matches directories
    # A pattern of pkg/.gitignore says nothing about the root.
    assert not rules_at(tmp_path, ".").is_ignored("local.txt", is_dir=False)


def test_deeper_files_override_shallower_ones_and_the_last_match_wins(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / ".gitignore").write_text("*.log\n")
    (tmp_path / "a" / ".gitignore").write_text("!keep.log\n")
    rules = rules_at(tmp_path, "a")
    assert rules.is_ignored("a/drop.log", is_dir=False)
    assert not rules.is_ignored("a/keep.log", is_dir=False)
    assert rules_at(tmp_path, ".").is_ignored("keep.log", is_dir=False)


def test_merkleignore_overrides_the_gitignore_beside_it(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("generated/\n")
    (tmp_path / ".merkleignore").write_text("!generated/\ndocs/drafts/\n")
    rules = rules_at(tmp_path, ".")
    assert not rules.is_ignored("generated", is_dir=True)
    assert rules.is_ignored("docs/drafts", is_dir=True)


def test_a_gitignore_cannot_re_include_a_secret(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("!.env\n!*.pem\n")
    rules = rules_at(tmp_path, ".")
    assert rules.is_ignored(".env", is_dir=False)
    assert rules.is_ignored("certs/server.pem", is_dir=False)


def test_git_info_exclude_applies_at_the_root(tmp_path: Path) -> None:
    (tmp_path / ".git" / "info").mkdir(parents=True)
    (tmp_path / ".git" / "info" / "exclude").write_text("scratch/\n")
    assert rules_at(tmp_path, ".").is_ignored("scratch", is_dir=True)


def test_a_rule_file_that_is_a_link_is_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("*.py\n")
    root = tmp_path / "ws"
    root.mkdir()
    (root / ".gitignore").symlink_to(outside)
    assert not rules_at(root, ".").is_ignored("main.py", is_dir=False)


def test_invalid_patterns_are_left_out_and_the_rest_still_apply(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("!\n*.log\n")
    assert rules_at(tmp_path, ".").is_ignored("x.log", is_dir=False)


def test_a_pattern_that_is_not_a_valid_glob_is_skipped_and_named(tmp_path: Path) -> None:
    # `[z-a]` is an empty range: git skips the pattern; the rest of the file applies.
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / ".gitignore").write_text("# notes\n[z-a].py\n*.log\n")
    rules = rules_at(tmp_path, "pkg")

    assert rules.is_ignored("pkg/x.log", is_dir=False)
    assert not rules.is_ignored("pkg/a.py", is_dir=False)
    [(rule_file, message)] = rules.problems()
    assert rule_file == "pkg/.gitignore"
    assert message.startswith("line 2: the pattern '[z-a].py' is invalid")
    assert rules_at(tmp_path, ".").problems() == []
