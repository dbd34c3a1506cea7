"""The provider protocol: messages in, a completion or a classified error out.

A provider is the only thing that talks to an LLM. It never retries (the
queue owns retries): it makes one attempt and either returns a `Completion`
or raises a `ProviderError` whose `error_class` says what went wrong and
whether trying again can help.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from merkle.errors import GenerationError, GenerationFailure


class Role(Enum):
    """Who speaks a message."""

    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """One message of a conversation with the model."""

    role: Role
    content: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CompletionOptions:
    """Per-request options; None leaves the provider's configured value."""

    max_tokens: int | None = None
    temperature: float | None = None
    timeout_s: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage:
    """Token counts, when the provider reports them."""

    input_tokens: int | None = None
    output_tokens: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Completion:
    """The model's answer: its text, the model that wrote it, and the usage."""

    text: str
    model: str
    usage: Usage


class ErrorClass(Enum):
    """What went wrong with a provider call. The first four are worth retrying."""

    RATE_LIMITED = "rate_limited"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    SERVER_ERROR = "server_error"
    AUTH = "auth"
    MODEL_NOT_FOUND = "model_not_found"
    BAD_REQUEST = "bad_request"
    CONTEXT_LENGTH = "context_length"
    CONFIG = "config"

    @property
    def retryable(self) -> bool:
        """Whether a later attempt may succeed."""
        return self in _RETRYABLE


_RETRYABLE = frozenset(
    {ErrorClass.RATE_LIMITED, ErrorClass.TIMEOUT, ErrorClass.CONNECTION, ErrorClass.SERVER_ERROR}
)


class ProviderError(GenerationError):
    """A provider call that failed, classified.

    `retry_after_s` is the wait the provider asked for (Retry-After), if any.
    """

    def __init__(
        self,
        error_class: ErrorClass,
        message: str,
        *,
        retry_after_s: float | None = None,
        hint: str | None = None,
    ) -> None:
        # A permanent failure is recorded for its node, where only the message goes:
        # it carries what to do about it (check the key, the model).
        recorded = message if error_class.retryable or not hint else f"{message}; {hint}"
        failure = GenerationFailure(
            error_class=error_class.value,
            message=recorded,
            retryable=error_class.retryable,
            retry_after_s=retry_after_s,
        )
        super().__init__(failure, hint=hint)
        self.args = (message,)
        self.message = message  # shown with its hint beside it, not inside it
        self.error_class = error_class
        self.retry_after_s = retry_after_s
        # A provider that cannot even be set up is bad configuration, not failed work.
        self.exit_code = 2 if error_class is ErrorClass.CONFIG else 1

    @property
    def retryable(self) -> bool:
        """Whether a later attempt may succeed."""
        return self.error_class.retryable


class Provider(Protocol):
    """An LLM behind one call. Implementations make exactly one attempt per call."""

    @property
    def name(self) -> str:
        """The configured name (what `--provider` takes)."""
        ...

    @property
    def provider_type(self) -> str:
        """`openai`, `anthropic` or `local`."""
        ...

    @property
    def model(self) -> str:
        """The model requests go to."""
        ...

    async def complete(self, messages: Sequence[Message], options: CompletionOptions) -> Completion:
        """One completion, or a `ProviderError`."""
        ...
