"""`merkle provider test` through the CLI, against the test LLM server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from merkle.workspace.layout import Workspace
from tests.support.cli import CliResult
from tests.support.llm_server import LlmServer, Reply

Run = Callable[..., CliResult]
KEY = "sk-test-0123456789abcdefghijklmnopqrstuv"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "xdg").mkdir()
    return {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "TEST_LLM_KEY": KEY}


def configure(workspace: Workspace, server: LlmServer, kind: str = "openai") -> None:
    url = server.openai_url if kind == "openai" else server.anthropic_url
    workspace.config_path.write_text(
        f"[providers.remote]\ntype = '{kind}'\nbase_url = '{url}'\nmodel = 'test-model'\n"
        "api_key_env = 'TEST_LLM_KEY'\ntimeout_s = 5\n"
    )


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_provider_test_reports_model_and_latency_after_one_request(
    merkle: Run, workspace: Workspace, env: dict[str, str], kind: str
) -> None:
    with LlmServer(models=["test-model"]) as server:
        configure(workspace, server, kind)
        result = merkle("provider", "test", "remote", "--json", cwd=workspace.root, env=env)
        requests = server.requests
    assert result.code == 0, result.stderr
    report = result.json()
    assert report["ok"] is True
    assert report["model"] == "test-model"
    assert report["latency_s"] >= 0
    assert len(requests) == 1
    assert requests[0].api_key == KEY
    assert KEY not in result.stdout + result.stderr


def test_provider_test_classifies_an_auth_failure_with_a_hint(
    merkle: Run, workspace: Workspace, env: dict[str, str]
) -> None:
    with LlmServer(models=["test-model"]) as server:
        server.script(Reply.error(401, "bad key"))
        configure(workspace, server)
        result = merkle("provider", "test", "remote", "--json", cwd=workspace.root, env=env)
    assert result.code == 1
    report = result.json()
    assert (report["ok"], report["error_class"], report["retryable"]) == (False, "auth", False)
    assert "TEST_LLM_KEY" in (report["hint"] or "")
    assert KEY not in result.stdout + result.stderr


def test_provider_test_with_the_key_variable_unset_says_which_variable_to_set(
    merkle: Run, workspace: Workspace, env: dict[str, str]
) -> None:
    with LlmServer() as server:
        configure(workspace, server)
        result = merkle(
            "provider", "test", "remote", cwd=workspace.root, env={**env, "TEST_LLM_KEY": ""}
        )
        assert server.requests == []
    assert result.code == 2  # a provider that cannot be set up is bad configuration
    assert "TEST_LLM_KEY" in result.stderr


def test_provider_test_of_the_local_provider_needs_no_network(
    merkle: Run, workspace: Workspace, env: dict[str, str]
) -> None:
    result = merkle("provider", "test", "local", "--json", cwd=workspace.root, env=env)
    assert result.code == 0, result.stderr
    assert result.json()["model"] == "merkle-local-1"
