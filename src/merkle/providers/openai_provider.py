"""The `openai` provider: any OpenAI-compatible chat completions endpoint.

Built on the official SDK's `AsyncOpenAI`, so `base_url` makes it serve
OpenAI itself, Ollama, vLLM, LM Studio or OpenRouter. Importing the SDK takes
hundreds of milliseconds: nothing in merkle imports this module until a
provider of this type is actually built.

One call is one HTTP request: the SDK's own retries are off, because the
queue owns retries. Every SDK exception is translated here into a
`ProviderError` (see `merkle.providers.remote` for the status table); a 200
whose body is not a chat completion with text is a retryable `server_error`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import openai
from openai.types.chat import ChatCompletionMessageParam
from pydantic import BaseModel, ConfigDict, ValidationError

from merkle.config.model import ProviderSettings
from merkle.providers.base import (
    Completion,
    CompletionOptions,
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
    timeout=openai.APITimeoutError,
    connection=openai.APIConnectionError,
    status=openai.APIStatusError,
    validation=openai.APIResponseValidationError,
)
DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_API_KEY_ENV = DEFAULT_KEY_VARIABLES["openai"]


class OpenAIProvider:
    """A `Provider` that speaks the OpenAI chat completions API.

    Reads the API key from the environment when built (see
    `merkle.providers.remote.read_api_key`) and raises a `config`
    `ProviderError` if it is missing or no model is configured. `clock` gives
    the time an answer arrived, to turn a `Retry-After` date into seconds.
    """

    def __init__(
        self, settings: ProviderSettings, *, clock: Callable[[], datetime] = utc_now
    ) -> None:
        base_url = settings.base_url or DEFAULT_BASE_URL
        self._settings = settings
        self._clock = clock
        self._endpoint = Endpoint(
            name=settings.name,
            model=require_model(settings),
            base_url=base_url,
            api_key_env=api_key_variable(settings, default_env=DEFAULT_API_KEY_ENV),
            api_key=read_api_key(settings, default_env=DEFAULT_API_KEY_ENV),
        )
        # base_url is always passed so that OPENAI_BASE_URL in the environment
        # cannot silently send requests somewhere the configuration does not say.
        self._client = openai.AsyncOpenAI(
            api_key=self._endpoint.api_key,
            base_url=base_url,
            timeout=settings.timeout_s,
            max_retries=0,
            http_client=openai.DefaultAsyncHttpxClient(**ledgered_client_options()),
        )

    @property
    def name(self) -> str:
        """The configured name (what `--provider` takes)."""
        return self._settings.name

    @property
    def provider_type(self) -> str:
        """Always `openai`."""
        return "openai"

    @property
    def model(self) -> str:
        """The model requests go to."""
        return self._endpoint.model

    async def complete(self, messages: Sequence[Message], options: CompletionOptions) -> Completion:
        """One chat completion request: a `Completion`, or a classified `ProviderError`.

        Sends `model`, `messages`, `max_tokens` (the option, else the
        setting) and `temperature` only when the option or the setting gives one.
        """
        timeout_s = or_setting(options.timeout_s, self._settings.timeout_s)
        max_tokens = or_setting(options.max_tokens, self._settings.max_tokens)
        temperature = or_setting(options.temperature, self._settings.temperature)
        try:
            raw = await self._client.chat.completions.with_raw_response.create(
                model=self._endpoint.model,
                messages=[_wire_message(message) for message in messages],
                max_tokens=max_tokens,
                temperature=openai.omit if temperature is None else temperature,
                timeout=timeout_s,
            )
        except openai.OpenAIError as error:
            # Only a transport failure stays the cause (shown by --verbose): an
            # error answer's text may quote the key, and is in the message, redacted.
            cause = error if isinstance(error, openai.APIConnectionError) else None
            raise self._translate(error, timeout_s=timeout_s) from cause
        return self._completion(raw.content)

    async def aclose(self) -> None:
        """Close the HTTP connections; the provider cannot be used afterwards."""
        await self._client.close()

    def _translate(self, error: openai.OpenAIError, *, timeout_s: float) -> ProviderError:
        return translate_sdk_error(
            error, errors=_ERRORS, endpoint=self._endpoint, timeout_s=timeout_s, now=self._clock()
        )

    def _completion(self, body: bytes) -> Completion:
        try:
            answer = _ChatCompletion.model_validate_json(body)
        except ValidationError as error:
            raise self._endpoint.malformed(first_problem(error)) from error
        if not answer.choices:
            raise self._endpoint.malformed("the answer has no choices")
        text = answer.choices[0].message.content
        if text is None:
            raise self._endpoint.malformed("the first choice has no text")
        usage = answer.usage or _Usage()
        return Completion(
            text=text,
            model=answer.model or self._endpoint.model,
            usage=Usage(input_tokens=usage.prompt_tokens, output_tokens=usage.completion_tokens),
        )


def _wire_message(message: Message) -> ChatCompletionMessageParam:
    if message.role is Role.SYSTEM:
        return {"role": "system", "content": message.content}
    if message.role is Role.USER:
        return {"role": "user", "content": message.content}
    return {"role": "assistant", "content": message.content}


# The part of a chat completion merkle reads. An API answer carries many more
# fields, which vary between OpenAI-compatible servers, so extras are ignored.
class _Usage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class _ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    content: str | None = None


class _Choice(BaseModel):
    model_config = ConfigDict(extra="ignore")

    message: _ChatMessage


class _ChatCompletion(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    choices: list[_Choice]
    usage: _Usage | None = None
