"""The `anthropic` provider: Anthropic's Messages API through the official SDK.

Importing the SDK takes hundreds of milliseconds: nothing in merkle imports
this module until a provider of this type is actually built.

One call is one HTTP request: the SDK's own retries are off, because the
queue owns retries. Every SDK exception is translated here into a
`ProviderError` (see `merkle.providers.remote` for the status table).
Anthropic's 529 `overloaded_error` is a retryable `server_error`: the service
as a whole is short of capacity, which is not this client's rate, and like
a 503 it honours `Retry-After`. A 200 whose body is not a message with
text is a retryable `server_error` too.

The SDK (2.x) sends API version 2026-10-21, which rejects `temperature`
(HTTP 400 even at its default value) and no longer has it as a parameter:
a configured temperature is a `config` error, and a per-request one is not sent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import anthropic
from anthropic.types import MessageParam
from pydantic import BaseModel, ConfigDict, ValidationError

from merkle.config.model import ProviderSettings
from merkle.providers.base import (
    Completion,
    CompletionOptions,
    ErrorClass,
    Message,
    ProviderError,
    Role,
    Usage,
)
from merkle.providers.remote import (
    DEFAULT_KEY_VARIABLES,
    Endpoint,
    SdkErrors,
    api_key_variable,
    first_problem,
    ledgered_client_options,
    or_setting,
    read_api_key,
    require_model,
    translate_sdk_error,
    utc_now,
)

_ERRORS = SdkErrors(
    timeout=anthropic.APITimeoutError,
    connection=anthropic.APIConnectionError,
    status=anthropic.APIStatusError,
    validation=anthropic.APIResponseValidationError,
)
DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_API_KEY_ENV = DEFAULT_KEY_VARIABLES["anthropic"]


class AnthropicProvider:
    """A `Provider` that speaks Anthropic's Messages API.

    Reads the API key from the environment when built (see
    `merkle.providers.remote.read_api_key`) and raises a `config`
    `ProviderError` if it is missing, no model is configured, or a
    temperature is. `clock` gives the time an answer arrived, to turn a
    `Retry-After` date into seconds.
    """

    def __init__(
        self, settings: ProviderSettings, *, clock: Callable[[], datetime] = utc_now
    ) -> None:
        base_url = settings.base_url or DEFAULT_BASE_URL
        _refuse_temperature(settings)
        self._settings = settings
        self._clock = clock
        self._endpoint = Endpoint(
            name=settings.name,
            model=require_model(settings),
            base_url=base_url,
            api_key_env=api_key_variable(settings, default_env=DEFAULT_API_KEY_ENV),
            api_key=read_api_key(settings, default_env=DEFAULT_API_KEY_ENV),
        )
        # base_url is always passed so that ANTHROPIC_BASE_URL in the environment
        # cannot silently send requests elsewhere; tracing is off so that
        # OTEL_* variables cannot make the SDK export prompts (workspace source).
        self._client = anthropic.AsyncAnthropic(
            api_key=self._endpoint.api_key,
            base_url=base_url,
            timeout=settings.timeout_s,
            max_retries=0,
            open_telemetry=False,
            http_client=anthropic.DefaultAsyncHttpxClient(**ledgered_client_options()),
        )

    @property
    def name(self) -> str:
        """The configured name (what `--provider` takes)."""
        return self._settings.name

    @property
    def provider_type(self) -> str:
        """Always `anthropic`."""
        return "anthropic"

    @property
    def model(self) -> str:
        """The model requests go to."""
        return self._endpoint.model

    async def complete(self, messages: Sequence[Message], options: CompletionOptions) -> Completion:
        """One Messages API request: a `Completion`, or a classified `ProviderError`.

        System messages are joined into the `system` parameter, the others go
        in `messages`; `max_tokens` (required by the API) is the option, else
        the setting. `options.temperature` is not sent (see the module).
        """
        timeout_s = or_setting(options.timeout_s, self._settings.timeout_s)
        max_tokens = or_setting(options.max_tokens, self._settings.max_tokens)
        system = "\n\n".join(m.content for m in messages if m.role is Role.SYSTEM)
        try:
            raw = await self._client.messages.with_raw_response.create(
                model=self._endpoint.model,
                max_tokens=max_tokens,
                system=system or anthropic.omit,
                messages=[_wire_message(m) for m in messages if m.role is not Role.SYSTEM],
                timeout=timeout_s,
            )
            body = await raw.read()
        except anthropic.AnthropicError as error:
            # Only a transport failure stays the cause (shown by --verbose): an
            # error answer's text may quote the key, and is in the message, redacted.
            cause = error if isinstance(error, anthropic.APIConnectionError) else None
            raise self._translate(error, timeout_s=timeout_s) from cause
        return self._completion(body)

    async def aclose(self) -> None:
        """Close the HTTP connections; the provider cannot be used afterwards."""
        await self._client.close()

    def _translate(self, error: anthropic.AnthropicError, *, timeout_s: float) -> ProviderError:
        return translate_sdk_error(
            error, errors=_ERRORS, endpoint=self._endpoint, timeout_s=timeout_s, now=self._clock()
        )

    def _completion(self, body: bytes) -> Completion:
        try:
            answer = _Message.model_validate_json(body)
        except ValidationError as error:
            raise self._endpoint.malformed(first_problem(error)) from error
        texts = [block.text for block in answer.content if block.type == "text"]
        if not texts or any(text is None for text in texts):
            raise self._endpoint.malformed("the answer has no text block")
        usage = answer.usage or _Usage()
        return Completion(
            text="".join(text for text in texts if text is not None),
            model=answer.model or self._endpoint.model,
            usage=Usage(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens),
        )


def _refuse_temperature(settings: ProviderSettings) -> None:
    if settings.temperature is not None:
        raise ProviderError(
            ErrorClass.CONFIG,
            f"provider {settings.name!r} sets a temperature, which the Anthropic API "
            "(version 2026-10-21) rejects",
            hint=f"remove temperature from [providers.{settings.name}]",
        )


def _wire_message(message: Message) -> MessageParam:
    if message.role is Role.USER:
        return {"role": "user", "content": message.content}
    return {"role": "assistant", "content": message.content}


# The part of a message merkle reads. An API answer carries many more fields
# (and block types: thinking, tool use), so extras are ignored.
class _Block(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str
    text: str | None = None


class _Usage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    input_tokens: int | None = None
    output_tokens: int | None = None


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    content: list[_Block]
    usage: _Usage | None = None
