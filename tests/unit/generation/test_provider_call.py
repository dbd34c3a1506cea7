"""Generation unit C2 on its own: the request it builds and the one call, offline.

The embedded `local` provider is a real provider that needs no network; the
failure classes of the remote providers are covered against the test server
in tests/integration/test_generation_units.py.
"""

from __future__ import annotations

import asyncio

import pytest

from merkle.config import ProviderSettings
from merkle.context.generation.provider_call import (
    ProviderRequest,
    ProviderResponse,
    call_provider,
    provider_request,
)
from merkle.providers.base import CompletionOptions, ErrorClass, Message, ProviderError, Role, Usage
from merkle.providers.local import LocalProvider
from merkle.providers.payload import file_block
from merkle.providers.registry import ProviderRegistry

MESSAGES = (
    Message(role=Role.SYSTEM, content="You write context notes."),
    Message(
        role=Role.USER,
        content=file_block("src/app.py", "def main():\n    return 0\n") + "\n\nDescribe it.",
    ),
)
OPTIONS = CompletionOptions(max_tokens=300, temperature=0.5, timeout_s=12.5)


def local(**changes: object) -> LocalProvider:
    settings = ProviderSettings(name="offline", type="local", **changes)  # type: ignore[arg-type]
    provider = ProviderRegistry({"offline": settings}).build("offline")
    assert isinstance(provider, LocalProvider)
    return provider


def call(request: ProviderRequest, provider: LocalProvider) -> ProviderResponse:
    return asyncio.run(call_provider(request, provider))


def test_provider_request_names_the_provider_its_type_and_model() -> None:
    request = provider_request(local(), MESSAGES, OPTIONS)

    assert request.provider_name == "offline"
    assert request.provider_type == "local"
    assert request.model == "merkle-local-1"
    assert request.messages == MESSAGES
    assert request.options == OPTIONS


def test_provider_request_as_plain_data() -> None:
    request = provider_request(local(), MESSAGES, OPTIONS)

    assert request.to_json() == {
        "provider_name": "offline",
        "provider_type": "local",
        "model": "merkle-local-1",
        "messages": [
            {"role": "system", "content": MESSAGES[0].content},
            {"role": "user", "content": MESSAGES[1].content},
        ],
        "options": {"max_tokens": 300, "temperature": 0.5, "timeout_s": 12.5},
    }


def test_call_returns_the_completion_text_model_and_usage() -> None:
    provider = local()
    request = provider_request(provider, MESSAGES, OPTIONS)
    direct = asyncio.run(provider.complete(MESSAGES, OPTIONS))

    response = call(request, provider)

    assert response == ProviderResponse(
        text=direct.text, model="merkle-local-1", usage=direct.usage
    )
    assert "src/app.py" in response.text
    assert response.usage == Usage(
        input_tokens=direct.usage.input_tokens, output_tokens=direct.usage.output_tokens
    )
    assert response.usage.input_tokens is not None and response.usage.input_tokens > 0


def test_call_raises_the_providers_error_as_classified() -> None:
    provider = local(model="merkle-local-9")
    request = provider_request(provider, MESSAGES, OPTIONS)

    with pytest.raises(ProviderError) as caught:
        call(request, provider)

    assert caught.value.error_class is ErrorClass.MODEL_NOT_FOUND
    assert caught.value.retryable is False


def test_call_with_no_content_block_is_bad_request_not_retryable() -> None:
    provider = local()
    bare = (Message(role=Role.USER, content="Describe something."),)

    with pytest.raises(ProviderError) as caught:
        call(provider_request(provider, bare, OPTIONS), provider)

    assert caught.value.error_class is ErrorClass.BAD_REQUEST
    assert caught.value.retryable is False


def test_same_request_gives_the_same_response() -> None:
    provider = local()
    request = provider_request(provider, MESSAGES, CompletionOptions())

    assert call(request, provider) == call(request, provider)
