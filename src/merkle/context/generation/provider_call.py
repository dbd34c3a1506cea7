"""Generation unit C2: one provider call behind an explicit request and response.

No retry here: a failure is raised as the provider classified it, and the
queue decides whether to try again. The call is reported as it happens
(`provider_request_sent`, then `provider_response_received` with the call's
latency), measured here, around the call and nothing else.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from merkle.providers.base import (
    Completion,
    CompletionOptions,
    ErrorClass,
    Message,
    Provider,
    ProviderError,
    Usage,
)
from merkle.telemetry.egress import EgressCall, sending
from merkle.telemetry.sink import EventSink, NullSink


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderRequest:
    """Which provider and model, the messages, and the options of one call."""

    provider_name: str
    provider_type: str
    model: str
    messages: tuple[Message, ...]
    options: CompletionOptions

    def to_json(self) -> dict[str, Any]:
        """The request as plain data, in a stable shape (for parity artifacts)."""
        return {
            "provider_name": self.provider_name,
            "provider_type": self.provider_type,
            "model": self.model,
            "messages": [{"role": m.role.value, "content": m.content} for m in self.messages],
            "options": {
                "max_tokens": self.options.max_tokens,
                "temperature": self.options.temperature,
                "timeout_s": self.options.timeout_s,
            },
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderResponse:
    """What came back: the text, the model that wrote it, and the usage."""

    text: str
    model: str
    usage: Usage


def provider_request(
    provider: Provider, messages: tuple[Message, ...], options: CompletionOptions
) -> ProviderRequest:
    """The request for `provider` carrying `messages`."""
    return ProviderRequest(
        provider_name=provider.name,
        provider_type=provider.provider_type,
        model=provider.model,
        messages=messages,
        options=options,
    )


@dataclass(frozen=True, slots=True)
class CallEvents:
    """Where a call is reported, and what identifies it in each event (request,
    path, agent, provider, attempt)."""

    sink: EventSink
    info: Mapping[str, object]


async def call_provider(
    request: ProviderRequest,
    provider: Provider,
    *,
    events: CallEvents | None = None,
    egress: EgressCall | None = None,
) -> ProviderResponse:
    """Make the one call; raises `ProviderError` as classified by the provider.

    A remote provider's request is recorded in the egress ledger (`egress`)
    before it leaves, and its outcome after. An empty answer is a server
    error (worth another attempt), not a frame.
    """
    seen = events or CallEvents(NullSink(), {})
    seen.sink.emit("provider_request_sent", seen.info)
    started = time.monotonic()
    if egress is None:
        completion = await provider.complete(request.messages, request.options)
    else:
        completion = await _recorded(request, provider, egress)
    latency_ms = round((time.monotonic() - started) * 1000)
    if not completion.text.strip():
        raise ProviderError(
            ErrorClass.SERVER_ERROR,
            f"{request.provider_name} returned an empty answer",
            hint="the model said nothing; another attempt usually helps",
        )
    seen.sink.emit("provider_response_received", {**seen.info, "latency_ms": latency_ms})
    return ProviderResponse(text=completion.text, model=completion.model, usage=completion.usage)


async def _recorded(request: ProviderRequest, provider: Provider, egress: EgressCall) -> Completion:
    try:
        with sending(egress):
            completion = await provider.complete(request.messages, request.options)
    except ProviderError as error:
        await egress.ended(error.error_class.value)
        raise
    except BaseException:
        # Cancelled or broken: what left is still on the ledger, with no answer.
        await asyncio.shield(egress.ended("interrupted"))
        raise
    usage = completion.usage
    await egress.ended("ok", input_tokens=usage.input_tokens, output_tokens=usage.output_tokens)
    return completion
