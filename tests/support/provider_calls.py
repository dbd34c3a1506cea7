"""Calling an SDK-backed provider from a synchronous test, one event loop per call."""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Sequence
from typing import Protocol

import pytest

from merkle.providers.base import (
    Completion,
    CompletionOptions,
    Message,
    ProviderError,
    Role,
)
from merkle.telemetry.egress import probing

MESSAGES = (
    Message(role=Role.SYSTEM, content="You write short summaries."),
    Message(role=Role.USER, content="Summarise src/app.py please"),
)


class ClosableProvider(Protocol):
    """A provider with the `aclose` the SDK-backed ones have."""

    async def complete(
        self, messages: Sequence[Message], options: CompletionOptions
    ) -> Completion: ...

    async def aclose(self) -> None: ...


def complete(
    provider: ClosableProvider,
    messages: Sequence[Message] = MESSAGES,
    options: CompletionOptions | None = None,
) -> Completion:
    """`provider.complete(...)` in a fresh event loop, as a provider check (unrecorded
    in the egress ledger); the provider is closed afterwards."""

    async def run() -> Completion:
        try:
            with probing():
                return await provider.complete(messages, options or CompletionOptions())
        finally:
            await provider.aclose()

    return asyncio.run(run())


def complete_many(provider: ClosableProvider, count: int) -> list[Completion]:
    """`count` concurrent `complete` calls in one event loop; the provider is closed afterwards."""

    async def run() -> list[Completion]:
        try:
            with probing():
                calls = [provider.complete(MESSAGES, CompletionOptions()) for _ in range(count)]
                return list(await asyncio.gather(*calls))
        finally:
            await provider.aclose()

    return asyncio.run(run())


def failure(
    provider: ClosableProvider,
    messages: Sequence[Message] = MESSAGES,
    options: CompletionOptions | None = None,
) -> ProviderError:
    """The `ProviderError` that `complete` raises (the test fails if it returns)."""
    with pytest.raises(ProviderError) as caught:
        complete(provider, messages, options)
    return caught.value


def assert_key_absent(error: ProviderError, key: str) -> None:
    """`key` is in neither the message, the hint, nor the traceback with its causes."""
    assert key not in str(error)
    assert key not in error.message
    assert key not in (error.hint or "")
    assert key not in "".join(traceback.format_exception(error))
