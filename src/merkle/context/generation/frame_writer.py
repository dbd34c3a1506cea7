"""The frame writer: what the queue worker calls, a request in, a frame draft out.

`FrameWriter.generate` (the queue's `FrameGenerator` contract) runs the three
units in order - prompt (C1), provider call (C2), metadata (C3) - and
returns a `FrameDraft` for `ContextApi.put_frame`. It stores nothing itself
and retries nothing: a failure is raised as a `GenerationError` whose
failure value tells the queue whether another attempt may help.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blake3 import blake3

from merkle.agents import AgentRegistry
from merkle.config import DEFAULT_LOCAL_ONLY, GenerationSettings, ProviderSettings
from merkle.context.api import FrameDraft
from merkle.context.generation.budget import PromptBudget
from merkle.context.generation.credentials import CredentialGate
from merkle.context.generation.frame_metadata import generated_metadata
from merkle.context.generation.parts import MAX_LEVELS, PartPrompt, PartsNeeded, PartSummary
from merkle.context.generation.prompt import PromptBuilder, PromptError, PromptPayload
from merkle.context.generation.provider_call import (
    CallEvents,
    ProviderRequest,
    ProviderResponse,
    call_provider,
    provider_request,
)
from merkle.context.queue import EventSink, FrameRequest, NullSink
from merkle.errors import ReaderAgent, local_only_refusal
from merkle.metadata.redaction import redact
from merkle.metadata.redaction import warm as warm_redaction
from merkle.providers.base import (
    CompletionOptions,
    ErrorClass,
    Message,
    Provider,
    ProviderError,
)
from merkle.providers.registry import LOCAL, ProviderRegistry
from merkle.providers.tokens import estimate_tokens
from merkle.providers.windows import context_window
from merkle.store import EgressEntry, StorageBackend
from merkle.telemetry.egress import EgressCall, EgressLedger
from merkle.tree.hashing import sources_digest


@dataclass(frozen=True, slots=True, kw_only=True)
class GenerationTrace:
    """What one generation sent and got: the prompt, the provider request, the response."""

    prompt: PromptPayload
    call: ProviderRequest
    response: ProviderResponse


@dataclass(slots=True, kw_only=True)
class GenerationDeps:
    """What generation reads: the workspace, a store connection, the agents and providers."""

    workspace_root: Path
    store: StorageBackend
    agents: AgentRegistry
    providers: ProviderRegistry
    settings: GenerationSettings
    # `[security] local_only`: a remote provider is refused before anything is sent.
    local_only: bool = False
    # Built providers, by name: one client (and connection pool) per provider.
    _built: dict[str, Provider] = field(default_factory=dict)
    # The store connection is shared with the threads that build prompts.
    store_lock: threading.Lock = field(default_factory=threading.Lock)
    _ledger: EgressLedger | None = None
    _credentials: CredentialGate | None = None

    @property
    def credentials(self) -> CredentialGate:
        """One probe per provider configuration, through this store connection."""
        if self._credentials is None:
            self._credentials = CredentialGate(self.store, lock=self.store_lock)
        return self._credentials

    @property
    def ledger(self) -> EgressLedger:
        """The egress ledger, written through this store connection."""
        if self._ledger is None:
            self._ledger = EgressLedger(self.store, lock=self.store_lock)
        return self._ledger

    def provider(self, name: str) -> tuple[Provider, ProviderSettings]:
        """The provider called `name`, built once."""
        settings = self.providers.settings(name)
        if name not in self._built:
            self._built[name] = self.providers.build(name)
        return self._built[name], settings

    async def prepare(self, name: str) -> None:
        """Build the provider called `name` and load the secret detector ahead of the
        first call, off the event loop (importing an SDK takes a second or more)."""
        await asyncio.to_thread(self._prepare, name)

    def _prepare(self, name: str) -> None:
        warm_redaction()
        self.provider(name)

    async def aclose(self) -> None:
        """Close the providers' clients, in the event loop that used them."""
        for provider in self._built.values():
            close = getattr(provider, "aclose", None)
            if close is not None:
                await close()
        self._built.clear()


# What the provider-call events of one request say of it.
CallInfo = dict[str, Any]

# Nodes up to this size have their prompt built on the event loop's thread.
INLINE_PROMPT_BYTES = 256 * 1024


class FrameWriter:
    """Writes one frame draft per call: prompt, provider call, metadata."""

    def __init__(self, deps: GenerationDeps, *, sink: EventSink | None = None) -> None:
        self._deps = deps
        self._sink = sink or NullSink()
        self._nodes = deps.store.nodes
        self._prompts = PromptBuilder(
            workspace_root=deps.workspace_root,
            nodes=self._nodes,
            frames=deps.store.frames,
            file_budget_bytes=deps.settings.file_budget_bytes,
            allow_hardlinks=deps.settings.allow_hardlinks,
            local_only=(*DEFAULT_LOCAL_ONLY, *deps.settings.local_only),
        )

    async def prepare(self, provider_name: str) -> None:
        """Build the provider called `provider_name` ahead of its first call."""
        await self._deps.prepare(provider_name)

    def _is_small(self, request: FrameRequest) -> bool:
        with self._deps.store_lock:
            size = self._nodes.size_of(request.node_id)
        return size is not None and size <= INLINE_PROMPT_BYTES

    def prompt(
        self,
        request: FrameRequest,
        budget: PromptBudget | None = None,
        parts: Sequence[PartSummary] | None = None,
    ) -> PromptPayload:
        """Unit C1 alone: the prompt for `request` (reads files and frames; blocking),
        within `budget` (by default, the one of the request's provider). A directory
        too large for it raises `PartsNeeded`: see `generate`."""
        try:
            agent = self._deps.agents.writer(request.agent_id)
        except ReaderAgent as error:
            raise PromptError("reader_agent", error.message, hint=error.hint) from None
        budget = budget or self.budget(request.provider_name)
        with self._deps.store_lock:
            return self._prompts.build(request, agent, budget, parts)

    def budget(self, provider_name: str) -> PromptBudget:
        """The prompt budget of the provider called `provider_name`."""
        settings = self._deps.providers.settings(provider_name)
        return PromptBudget(
            window_tokens=context_window(settings), answer_tokens=settings.max_tokens
        )

    async def _prompt(
        self, request: FrameRequest, budget: PromptBudget, seen: CallInfo
    ) -> PromptPayload:
        """The prompt for `request`; a directory too large for one prompt has its
        parts summarised first (each part once: see `merkle.context.generation.parts`)."""
        parts: list[PartSummary] | None = None
        for _ in range(MAX_LEVELS):
            try:
                # A small node's prompt takes well under a millisecond to build: built in
                # place, it spares a trip to a thread, which costs more than that under load.
                if self._is_small(request):
                    return self.prompt(request, budget, parts)
                return await asyncio.to_thread(self.prompt, request, budget, parts)
            except PartsNeeded as needed:
                parts = [await self._part(request, prompt, seen) for prompt in needed.prompts]
        raise PromptError(
            "context_length",
            f"{request.path}: its entries do not fit the window even in parts of parts",
            hint="use a model with a larger context window (context_window_tokens)",
        )

    async def _part(self, request: FrameRequest, prompt: PartPrompt, seen: CallInfo) -> PartSummary:
        """The summary of one part: kept from an earlier call, or asked for and kept."""
        _, settings = self._deps.provider(request.provider_name)
        key = blake3(f"{prompt.digest}\0{settings.name}\0{settings.model}".encode()).hexdigest()
        with self._deps.store_lock:
            text = self._deps.store.frames.part_summary(key)
        if text is None:
            sent = _Sent(request=request, digest=prompt.digest, redactions=())
            _, response = await self._send(prompt.messages, request.provider_name, seen, sent)
            text, _ = redact(response.text)
            with self._deps.store_lock:
                self._deps.store.frames.put_part_summary(key, text, now_ns=time.time_ns())
        return PartSummary(prompt.first, prompt.last, prompt.count, text)

    async def generate(
        self, request: FrameRequest, *, attempt: int, request_id: int | None = None
    ) -> FrameDraft:
        """The frame draft for `request`; raises the classified error of a failure."""
        draft, _ = await self.generate_traced(request, attempt=attempt, request_id=request_id)
        return draft

    async def generate_traced(
        self, request: FrameRequest, *, attempt: int, request_id: int | None = None
    ) -> tuple[FrameDraft, GenerationTrace]:
        """`generate`, also returning what was sent and received."""
        budget = self.budget(request.provider_name)
        seen = {"request_id": request_id, "path": request.path, "agent_id": request.agent_id,
                "attempt": attempt}  # fmt: skip
        payload = await self._prompt(request, budget, seen)
        # Nothing a model could read, or kept offline: the embedded provider answers.
        provider_name = LOCAL.name if payload.local_only else request.provider_name
        sent = _Sent(request=request, digest=payload.digest, redactions=payload.redactions)
        try:
            call, response = await self._send(payload.messages, provider_name, seen, sent)
        except ProviderError as error:
            if error.error_class is not ErrorClass.CONTEXT_LENGTH or payload.local_only:
                raise
            # The estimate or the window was wrong for this model: once more, smaller.
            budget = budget.shrunk(reported_window(error.message))
            smaller = await self._prompt(request, budget, seen)
            if smaller.digest == payload.digest:
                raise  # nothing left to cut: the answer's reserve is what does not fit
            payload = smaller
            sent = _Sent(request=request, digest=payload.digest, redactions=payload.redactions)
            call, response = await self._send(payload.messages, provider_name, seen, sent)
        metadata = generated_metadata(
            request,
            call,
            response,
            prompt_digest=payload.digest,
            attempt=attempt,
            sources_digest=sources_digest(payload.sources) if payload.sources else None,
        )
        draft = FrameDraft(key=request.key, content=response.text, metadata=metadata)
        return draft, GenerationTrace(prompt=payload, call=call, response=response)

    async def _send(
        self, messages: tuple[Message, ...], provider_name: str, seen: CallInfo, sent: _Sent
    ) -> tuple[ProviderRequest, ProviderResponse]:
        provider, settings = self._deps.provider(provider_name)
        options = CompletionOptions(
            max_tokens=settings.max_tokens,
            temperature=settings.temperature,
            timeout_s=settings.timeout_s,
        )
        call = provider_request(provider, messages, options)
        events = CallEvents(self._sink, {**seen, "provider": provider_name})
        if provider.provider_type == LOCAL.type:
            return call, await call_provider(call, provider, events=events)
        if self._deps.local_only:
            raise local_only_refusal(provider_name)
        probe = await self._deps.credentials.admit(settings)
        # After the wait for the credentials: the ledger's latency is the call's own.
        egress = self._egress(call, sent, attempt=int(seen.get("attempt") or 1))
        try:
            response = await call_provider(call, provider, events=events, egress=egress)
        except ProviderError as error:
            await self._deps.credentials.settle(settings, probe, error)
            raise
        except BaseException:
            await asyncio.shield(self._deps.credentials.abandon(probe))
            raise
        await self._deps.credentials.settle(settings, probe, None)
        return call, response

    def _egress(self, call: ProviderRequest, sent: _Sent, *, attempt: int) -> EgressCall:
        """The ledger entry of a call to a remote provider; the client adds the host and
        the body's size when the request is about to leave."""
        request = sent.request
        entry = EgressEntry(
            sent_at_ns=0,
            workspace=str(self._deps.workspace_root),
            path=request.path,
            node_id=request.node_id,
            agent_id=request.agent_id,
            provider_name=call.provider_name,
            host="",
            model=call.model,
            bytes_sent=0,
            tokens_estimate=sum(estimate_tokens(m.content) for m in call.messages),
            prompt_digest=sent.digest,
            redaction_rules=sent.redactions,
            attempt=attempt,
        )
        return EgressCall(ledger=self._deps.ledger, entry=entry)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Sent:
    """What a call is for, as the ledger records it: the node's request, the prompt's
    digest and the redactions made in it."""

    request: FrameRequest
    digest: str
    redactions: tuple[str, ...]


# "maximum context length is 16384 tokens" (OpenAI, vLLM), "context window of 8192
# tokens", "exceeds the context length (4096)" (llama.cpp, Ollama).
_WINDOW_IN_MESSAGE = re.compile(
    r"(?:context[ _](?:length|window|size)|maximum)\D{0,40}?(\d[\d,]{2,})", re.IGNORECASE
)


def reported_window(message: str) -> int | None:
    """The context window a refusal names, if it names one."""
    found = _WINDOW_IN_MESSAGE.search(message)
    return int(found.group(1).replace(",", "")) if found else None
