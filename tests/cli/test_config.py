"""Configuration through the CLI: precedence of the sources, and every error path."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from merkle.workspace.layout import Workspace
from tests.support.cli import CliResult

Run = Callable[..., CliResult]


@pytest.fixture
def user_home(tmp_path: Path) -> dict[str, str]:
    """An XDG config home of the test's own, so no real user file leaks in."""
    home = tmp_path / "xdg"
    (home / "merkle").mkdir(parents=True)
    return {"XDG_CONFIG_HOME": str(home)}


def write_user_config(env: dict[str, str], text: str) -> Path:
    path = Path(env["XDG_CONFIG_HOME"]) / "merkle" / "config.toml"
    path.write_text(text)
    return path


def defaults_of(merkle: Run, workspace: Workspace, env: dict[str, str]) -> dict[str, object]:
    result = merkle("status", "--json", cwd=workspace.root, env=env)
    assert result.code == 0, result.stderr
    config: dict[str, object] = result.json()["config"]
    return config


def test_built_in_defaults_apply_with_no_configuration(
    merkle: Run, workspace: Workspace, user_home: dict[str, str]
) -> None:
    config = defaults_of(merkle, workspace, user_home)
    assert (config["agent"], config["provider"], config["frame_type"]) == (
        "docs-writer",
        "local",
        "context",
    )


def test_later_sources_win_workspace_then_user_then_environment(
    merkle: Run, workspace: Workspace, user_home: dict[str, str]
) -> None:
    workspace.config_path.write_text(
        '[defaults]\nagent = "from-workspace"\nframe_type = "ws-type"\nprovider = "ws-prov"\n'
    )
    assert defaults_of(merkle, workspace, user_home)["agent"] == "from-workspace"

    write_user_config(user_home, '[defaults]\nagent = "from-user"\nframe_type = "user-type"\n')
    config = defaults_of(merkle, workspace, user_home)
    assert (config["agent"], config["frame_type"], config["provider"]) == (
        "from-user",
        "user-type",
        "ws-prov",  # only what the later source sets is replaced
    )

    env = {**user_home, "MERKLE_AGENT": "from-env"}
    config = defaults_of(merkle, workspace, env)
    assert (config["agent"], config["frame_type"]) == ("from-env", "user-type")
    assert any("MERKLE_AGENT" in source for source in config["sources"])  # type: ignore[union-attr]


def test_a_flag_wins_over_every_file_and_variable(
    merkle: Run, workspace: Workspace, user_home: dict[str, str]
) -> None:
    (workspace.root / "a.txt").write_text("hello")
    assert merkle("scan", cwd=workspace.root, env=user_home).code == 0
    workspace.config_path.write_text(
        '[agents.flagged]\nsystem_prompt = "s"\nuser_prompt_file = "f {path}"\n'
        'user_prompt_directory = "d {path}"\n\n[defaults]\nagent = "docs-writer"\n'
    )
    env = {**user_home, "MERKLE_AGENT": "docs-writer"}
    frame = workspace.root / "frame.txt"
    frame.write_text("A note about a.txt.")
    put = merkle(
        "context",
        "put",
        "a.txt",
        "--file",
        str(frame),
        "--agent",
        "flagged",
        "--json",
        cwd=workspace.root,
        env=env,
    )
    assert put.code == 0, put.stderr
    got = merkle(
        "context", "get", "a.txt", "--agent", "flagged", "--json", cwd=workspace.root, env=env
    )
    assert got.code == 0, got.stderr
    assert got.json()["agent_id"] == "flagged"
    # Without the flag the environment's agent applies, which has no frame.
    assert merkle("context", "get", "a.txt", cwd=workspace.root, env=env).code == 1


@pytest.mark.parametrize(
    ("text", "expected_key", "expected_words"),
    [
        ("[defaults\nagent = 1", None, "not valid TOML"),
        ("[nonsense]\nx = 1\n", "nonsense", "unknown section"),
        ("[defaults]\ncolour = 'blue'\n", "defaults.colour", "unknown key"),
        ("[defaults]\nagent = 'two words'\n", "defaults.agent", "must be a name"),
        ("[generation]\nmax_attempts = 0\n", "generation.max_attempts", "from 1 to 100"),
        ("[generation]\nmax_attempts = 'four'\n", "generation.max_attempts", "whole number"),
        ("[providers.p]\ntype = 'mystery'\n", "providers.p.type", "must be one of"),
        ("[providers.p]\ntype = 'openai'\n", "providers.p.model", "is required"),
        ("[providers.p]\nmodel = 'm'\n", "providers.p.type", "is required"),
        (
            "[providers.p]\ntype = 'openai'\nmodel = 'm'\ntimeout_s = -1\n",
            "providers.p.timeout_s",
            "above 0",
        ),
        (
            "[providers.p]\ntype = 'openai'\nmodel = 'm'\nbase_url = 'localhost:1'\n",
            "providers.p.base_url",
            "URL",
        ),
        (
            "[providers.p]\ntype = 'openai'\nmodel = 'm'\napi_key_env = 'not a var'\n",
            "providers.p.api_key_env",
            "environment variable",
        ),
        (
            "[providers.p]\ntype = 'openai'\nmodel = 'm'\napi_key = 'sk-123'\n",
            "providers.p.api_key",
            "never read from configuration",
        ),
        (
            "[providers.p]\ntype = 'openai'\nmodel = 'm'\ntemperature = 3\n",
            "providers.p.temperature",
            "up to 2",
        ),
        (
            "[providers.c]\ntype = 'anthropic'\nmodel = 'm'\ntemperature = 0.5\n",
            "providers.c.temperature",
            "no longer takes it",
        ),
        ("[agents.a]\nrole = 'boss'\n", "agents.a.role", "must be one of"),
        ("[agents.a]\nmax_concurrent = 0\n", "agents.a.max_concurrent", "from 1 to 256"),
        (
            "[agents.a]\nsystem_prompt_file = 'missing.md'\n",
            "agents.a.system_prompt_file",
            "cannot read",
        ),
        (
            "[agents.new-agent]\nsystem_prompt = 's'\n",
            "agents.new-agent.user_prompt_file",
            "is required",
        ),
        ("providers = 3\n", "providers", "table"),
    ],
)
def test_bad_configuration_names_the_file_and_key_and_exits_2(
    merkle: Run,
    workspace: Workspace,
    user_home: dict[str, str],
    text: str,
    expected_key: str | None,
    expected_words: str,
) -> None:
    workspace.config_path.write_text(text)
    result = merkle("status", cwd=workspace.root, env=user_home)
    assert result.code == 2
    assert "Traceback" not in result.stderr
    assert expected_words in result.stderr
    if expected_key is not None:
        assert f"{expected_key}:" in result.stderr
    assert str(workspace.config_path) in result.stderr
    assert "hint:" in result.stderr


def test_an_error_in_the_user_file_names_the_user_file(
    merkle: Run, workspace: Workspace, user_home: dict[str, str]
) -> None:
    path = write_user_config(user_home, "[defaults]\nprovider = 'a b'\n")
    result = merkle("status", "--json", cwd=workspace.root, env=user_home)
    assert result.code == 2
    assert f"{path}: defaults.provider:" in result.stderr
    assert result.json()["error"]["type"] == "ConfigError"


def test_a_bad_environment_variable_is_named(
    merkle: Run, workspace: Workspace, user_home: dict[str, str]
) -> None:
    env = {**user_home, "MERKLE_MAX_ATTEMPTS": "lots"}
    result = merkle("status", cwd=workspace.root, env=env)
    assert result.code == 2
    assert "MERKLE_MAX_ATTEMPTS" in result.stderr


def test_prompt_files_are_read_relative_to_the_workspace(
    merkle: Run, workspace: Workspace, user_home: dict[str, str]
) -> None:
    (workspace.root / "prompts").mkdir()
    (workspace.root / "prompts" / "system.md").write_text("You are terse.")
    workspace.config_path.write_text(
        "[agents.terse]\nsystem_prompt_file = 'prompts/system.md'\n"
        "user_prompt_file = 'File {path}'\nuser_prompt_directory = 'Dir {path}'\n"
    )
    result = merkle("agent", "show", "terse", "--json", cwd=workspace.root, env=user_home)
    assert result.code == 0, result.stderr
    assert result.json()["system_prompt"] == "You are terse."


def test_agent_validate_reports_unknown_placeholders_and_exits_1(
    merkle: Run, workspace: Workspace, user_home: dict[str, str]
) -> None:
    workspace.config_path.write_text(
        "[agents.sloppy]\nsystem_prompt = 's'\nuser_prompt_file = 'About {path} by {author}'\n"
        "user_prompt_directory = 'Dir {path'\n"
    )
    result = merkle("agent", "validate", "--json", cwd=workspace.root, env=user_home)
    assert result.code == 1
    report = {a["agent_id"]: a["problems"] for a in result.json()["agents"]}
    assert report["docs-writer"] == []
    assert any("{author}" in p for p in report["sloppy"])
    assert any("user_prompt_directory" in p and "malformed" in p for p in report["sloppy"])


def test_a_reader_agent_may_not_write_frames(
    merkle: Run, workspace: Workspace, user_home: dict[str, str]
) -> None:
    (workspace.root / "a.txt").write_text("hello")
    assert merkle("scan", cwd=workspace.root, env=user_home).code == 0
    workspace.config_path.write_text("[agents.docs-writer]\nrole = 'reader'\n")
    frame = workspace.root / "frame.txt"
    frame.write_text("note")
    result = merkle(
        "context", "put", "a.txt", "--file", str(frame), cwd=workspace.root, env=user_home
    )
    assert result.code == 2
    assert "reader" in result.stderr


def test_agent_and_provider_commands_work_outside_a_workspace(
    merkle: Run, tmp_path: Path, user_home: dict[str, str]
) -> None:
    outside = tmp_path / "nowhere"
    outside.mkdir()
    agents = merkle("agent", "list", "--json", cwd=outside, env=user_home)
    assert agents.code == 0, agents.stderr
    assert [a["agent_id"] for a in agents.json()["agents"]] == ["docs-writer"]
    providers = merkle("provider", "list", "--json", cwd=outside, env=user_home)
    assert providers.code == 0
    assert [p["name"] for p in providers.json()["providers"]] == ["local"]


def test_provider_show_says_whether_the_key_is_set_but_never_shows_it(
    merkle: Run, workspace: Workspace, user_home: dict[str, str]
) -> None:
    workspace.config_path.write_text(
        "[providers.remote]\ntype = 'openai'\nmodel = 'gpt-x'\napi_key_env = 'TEST_MERKLE_KEY'\n"
    )
    secret = "sk-test-abcdefghijklmnopqrstuvwxyz0123456789"
    env = {**user_home, "TEST_MERKLE_KEY": secret}
    for args in (("provider", "show", "remote", "--json"), ("provider", "list")):
        result = merkle(*args, cwd=workspace.root, env=env)
        assert result.code == 0, result.stderr
        assert secret not in result.stdout + result.stderr
    shown = merkle("provider", "show", "remote", "--json", cwd=workspace.root, env=env).json()
    assert shown["api_key_set"] is True
    unset = merkle("provider", "show", "remote", "--json", cwd=workspace.root, env=user_home)
    assert unset.json()["api_key_set"] is False


def test_unknown_agent_and_provider_are_usage_errors_with_the_known_names(
    merkle: Run, workspace: Workspace, user_home: dict[str, str]
) -> None:
    agent = merkle("agent", "show", "ghost", cwd=workspace.root, env=user_home)
    assert agent.code == 2
    assert "docs-writer" in agent.stderr
    provider = merkle("provider", "show", "ghost", cwd=workspace.root, env=user_home)
    assert provider.code == 2
    assert "local" in provider.stderr


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("../outside.md", "is outside"),
        ("/etc/passwd", "is outside"),
        ("/dev/zero", "is outside"),
        ("linked.md", "is outside"),
        ("pipe.md", "is not a regular file"),
        ("big.md", "larger than"),
    ],
)
def test_a_prompt_file_must_be_a_small_regular_file_inside_the_workspace(
    merkle: Run, workspace: Workspace, user_home: dict[str, str], name: str, says: str
) -> None:
    # A prompt file is sent to the provider: nothing outside the workspace may be.
    (workspace.root.parent / "outside.md").write_text("a note from elsewhere\\n")
    (workspace.root / "linked.md").symlink_to(workspace.root.parent / "outside.md")
    os.mkfifo(workspace.root / "pipe.md")
    (workspace.root / "big.md").write_text("x" * 70_000)
    workspace.config_path.write_text(f"[agents.a]\nsystem_prompt_file = {name!r}\n")

    result = merkle("status", cwd=workspace.root, env=user_home, timeout_s=20)

    assert result.code == 2, result
    assert "agents.a.system_prompt_file" in result.stderr and says in result.stderr
