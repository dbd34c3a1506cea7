"""The `openai` provider through the real SDK against the test server."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from merkle.config.model import ProviderSettings
from merkle.providers.base import (
    CompletionOptions,
    ErrorClass,
    Message,
    ProviderError,
    Role,
    Usage,
)
from merkle.providers.openai_provider import OpenAIProvider
from merkle.providers.remote import PLACEHOLDER_API_KEY
from tests.support.llm_server import LlmServer, Reply, refused_port
from tests.support.provider_calls import (
    MESSAGES,
    assert_key_absent,
    complete,
    complete_many,
    failure,
)

MODEL = "gpt-test"
KEY = "sk-test-0123456789abcdef"
KEY_ENV = "MERKLE_TEST_OPENAI_KEY"
NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def server() -> Iterator[LlmServer]:
    with LlmServer(models={MODEL}, api_key=KEY) as running:
        yield running


@pytest.fixture(autouse=True)
def key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)


def settings_for(server: LlmServer, **changes: object) -> ProviderSettings:
    settings = ProviderSettings(
        name="openai-test",
        type="openai",
        model=MODEL,
        base_url=server.openai_url,
        api_key_env=KEY_ENV,
        timeout_s=0.5,
        max_tokens=256,
    )
    return replace(settings, **changes)  # type: ignore[arg-type]


def provider_for(server: LlmServer, **changes: object) -> OpenAIProvider:
    return OpenAIProvider(settings_for(server, **changes), clock=lambda: NOW)


# -- what is sent and what comes back -------------------------------------------------


def test_request_carries_model_messages_max_tokens_and_temperature(server: LlmServer) -> None:
    complete(provider_for(server), options=CompletionOptions(max_tokens=77, temperature=0.25))

    [request] = server.requests
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.body == {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "You write short summaries."},
            {"role": "user", "content": "Summarise src/app.py please"},
        ],
        "max_tokens": 77,
        "temperature": 0.25,
    }


def test_settings_give_max_tokens_and_temperature_when_options_do_not(server: LlmServer) -> None:
    complete(provider_for(server, max_tokens=300, temperature=0.5))

    [request] = server.requests
    assert request.body["max_tokens"] == 300
    assert request.body["temperature"] == 0.5


def test_temperature_is_left_out_when_nothing_sets_it(server: LlmServer) -> None:
    complete(provider_for(server))

    [request] = server.requests
    assert "temperature" not in request.body
    assert request.body["max_tokens"] == 256


def test_assistant_turns_keep_their_role(server: LlmServer) -> None:
    messages = (
        *MESSAGES,
        Message(role=Role.ASSISTANT, content="Draft"),
        Message(role=Role.USER, content="Shorter"),
    )
    complete(provider_for(server), messages)

    roles = [message["role"] for message in server.requests[0].body["messages"]]
    assert roles == ["system", "user", "assistant", "user"]


def test_completion_maps_text_model_and_usage(server: LlmServer) -> None:
    server.script(Reply.answer("A small web app.", model="gpt-test-2030-01-01"))

    completion = complete(provider_for(server))

    assert completion.text == "A small web app."
    assert completion.model == "gpt-test-2030-01-01"
    # The server counts words: 4 in the system message + 3 in the user's; 4 in the answer.
    assert completion.usage == Usage(input_tokens=7, output_tokens=4)


def test_api_key_is_sent_as_a_bearer_token(server: LlmServer) -> None:
    complete(provider_for(server))

    [request] = server.requests
    assert request.has_credential
    assert request.credential == f"Bearer {KEY}"
    assert KEY not in repr(request)


def test_per_request_timeout_overrides_the_setting(server: LlmServer) -> None:
    server.script(Reply.hang())

    error = failure(provider_for(server, timeout_s=30.0), options=CompletionOptions(timeout_s=0.3))

    assert error.error_class is ErrorClass.TIMEOUT
    assert "0.3 s" in error.message
    assert server.requests[0].headers["x-stainless-read-timeout"] == "0.3"


def test_test_server_lists_its_models(server: LlmServer) -> None:
    with urllib.request.urlopen(f"{server.openai_url}/models", timeout=5) as response:
        listing = json.load(response)

    assert [model["id"] for model in listing["data"]] == [MODEL]
    assert not server.requests[0].has_credential


def test_concurrent_calls_are_in_flight_together(server: LlmServer) -> None:
    server.default = Reply.answer(in_flight=3)

    completions = complete_many(provider_for(server, timeout_s=5.0), 3)

    assert len(completions) == 3
    assert server.max_in_flight == 3


# -- every failure, classified, after exactly one request ------------------------------


@dataclass(frozen=True)
class Case:
    reply: Reply
    error_class: ErrorClass
    retryable: bool
    retry_after_s: float | None = None


CASES = {
    "429 retry-after seconds": Case(Reply.rate_limited("7"), ErrorClass.RATE_LIMITED, True, 7.0),
    "429 retry-after http-date": Case(
        Reply.rate_limited(format_datetime(NOW + timedelta(seconds=30), usegmt=True)),
        ErrorClass.RATE_LIMITED,
        True,
        30.0,
    ),
    "429 retry-after-ms": Case(
        Reply.rate_limited("9", **{"retry-after-ms": "1500"}), ErrorClass.RATE_LIMITED, True, 1.5
    ),
    "429 without retry-after": Case(Reply.rate_limited(), ErrorClass.RATE_LIMITED, True),
    "500": Case(Reply.error(500, "internal error"), ErrorClass.SERVER_ERROR, True),
    "502": Case(Reply.error(502, "bad gateway"), ErrorClass.SERVER_ERROR, True),
    "503 retry-after": Case(
        Reply.error(503, "unavailable", headers={"retry-after": "4"}),
        ErrorClass.SERVER_ERROR,
        True,
        4.0,
    ),
    "hang past the timeout": Case(Reply.hang(), ErrorClass.TIMEOUT, True),
    "dropped connection": Case(Reply.drop(), ErrorClass.CONNECTION, True),
    "malformed json": Case(Reply.malformed(), ErrorClass.SERVER_ERROR, True),
    "empty choices": Case(
        Reply.json(200, {"model": MODEL, "choices": []}), ErrorClass.SERVER_ERROR, True
    ),
    "null content": Case(
        Reply.json(200, {"choices": [{"message": {"role": "assistant", "content": None}}]}),
        ErrorClass.SERVER_ERROR,
        True,
    ),
    "not json at all": Case(
        Reply.raw(200, b"<html>hello</html>", content_type="text/html"),
        ErrorClass.SERVER_ERROR,
        True,
    ),
    "401": Case(Reply.error(401, "Invalid API key"), ErrorClass.AUTH, False),
    "403": Case(Reply.error(403, "Forbidden"), ErrorClass.AUTH, False),
    "404": Case(Reply.error(404, "Not found"), ErrorClass.MODEL_NOT_FOUND, False),
    "400 model not found": Case(
        Reply.error(400, "model 'gpt-test' not found, try pulling it first"),
        ErrorClass.MODEL_NOT_FOUND,
        False,
    ),
    "400 context_length_exceeded": Case(
        Reply.error(
            400,
            "This model's maximum context length is 8192 tokens.",
            code="context_length_exceeded",
        ),
        ErrorClass.CONTEXT_LENGTH,
        False,
    ),
    "400 other": Case(
        Reply.error(400, "max_tokens must be positive"), ErrorClass.BAD_REQUEST, False
    ),
    "422": Case(Reply.error(422, "unprocessable"), ErrorClass.BAD_REQUEST, False),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_failure_is_classified_after_exactly_one_request(server: LlmServer, case: Case) -> None:
    server.script(case.reply)

    error = failure(provider_for(server))

    assert error.error_class is case.error_class
    assert error.retryable is case.retryable
    assert error.retry_after_s == case.retry_after_s
    assert error.hint
    assert len(server.requests) == 1
    assert_key_absent(error, KEY)


def test_unknown_model_is_model_not_found(server: LlmServer) -> None:
    error = failure(provider_for(server, model="gpt-missing"))

    assert error.error_class is ErrorClass.MODEL_NOT_FOUND
    assert not error.retryable
    assert "gpt-missing" in error.message
    assert len(server.requests) == 1


def test_rejected_key_is_auth_and_never_quoted(
    server: LlmServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "sk-wrong-fedcba9876543210"
    monkeypatch.setenv(KEY_ENV, wrong)

    error = failure(provider_for(server))

    assert error.error_class is ErrorClass.AUTH
    assert not error.retryable
    assert KEY_ENV in (error.hint or "")
    assert server.requests[0].api_key == wrong  # the server did quote it back
    assert_key_absent(error, wrong)


def test_refused_port_is_a_connection_error() -> None:
    with refused_port() as port:
        settings = ProviderSettings(
            name="openai-test",
            type="openai",
            model=MODEL,
            base_url=f"http://127.0.0.1:{port}/v1",
            api_key_env=KEY_ENV,
            timeout_s=0.5,
        )
        error = failure(OpenAIProvider(settings))

    assert error.error_class is ErrorClass.CONNECTION
    assert error.retryable
    assert f"127.0.0.1:{port}" in error.message
    assert_key_absent(error, KEY)


# -- configuration -------------------------------------------------------------------


def test_missing_key_variable_is_a_config_error_naming_it(
    server: LlmServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV)

    with pytest.raises(ProviderError) as caught:
        provider_for(server)

    error = caught.value
    assert error.error_class is ErrorClass.CONFIG
    assert not error.retryable
    assert KEY_ENV in str(error)
    assert KEY_ENV in (error.hint or "")
    assert server.requests == []


def test_remote_server_without_key_variable_reads_openai_api_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    settings = ProviderSettings(
        name="openai-test", type="openai", model=MODEL, base_url="https://llm.example.invalid/v1"
    )

    with pytest.raises(ProviderError) as caught:
        OpenAIProvider(settings)

    assert caught.value.error_class is ErrorClass.CONFIG
    assert "OPENAI_API_KEY" in (caught.value.hint or "")


def test_local_server_without_key_variable_gets_a_placeholder_key() -> None:
    with LlmServer(models={MODEL}) as keyless:
        settings = ProviderSettings(
            name="ollama", type="openai", model=MODEL, base_url=keyless.openai_url
        )
        completion = complete(OpenAIProvider(settings))

    assert completion.text == "echo: Summarise src/app.py please"
    assert keyless.requests[0].api_key == PLACEHOLDER_API_KEY


def test_missing_model_is_a_config_error(server: LlmServer) -> None:
    with pytest.raises(ProviderError) as caught:
        provider_for(server, model=None)

    assert caught.value.error_class is ErrorClass.CONFIG
    assert "model" in str(caught.value)
