"""What the providers that call a remote API through an official SDK share.

The key comes from the environment, once, when the provider is built; every
failure becomes a `ProviderError` here, in words that name the provider, the
model and what to do, with the key redacted from anything the API said back.
Nothing here imports an SDK, so it costs nothing to import.

How an HTTP answer is classified (`classify_status`):

| answer | class | retryable |
| --- | --- | --- |
| 429 | `rate_limited` (with `Retry-After`) | yes |
| 408 | `timeout` | yes |
| 5xx, including Anthropic's 529 `overloaded_error` | `server_error` (with `Retry-After`) | yes |
| 401, 403 | `auth` | no |
| 413, or a 4xx that speaks of the context length | `context_length` | no |
| 404, or a 4xx that says the model does not exist | `model_not_found` | no |
| any other 4xx | `bad_request` | no |
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from merkle.config.model import ProviderSettings
from merkle.providers.base import ErrorClass, ProviderError
from merkle.providers.retry_after import retry_after_from_headers
from merkle.telemetry.egress import before_send

if TYPE_CHECKING:
    from pydantic import ValidationError

PLACEHOLDER_API_KEY = "unused"
"""The key sent to a server on this machine when no `api_key_env` is configured.

Local servers (Ollama, LM Studio, vLLM) ignore the key, but the SDKs insist on one.
"""

_CONTEXT_LENGTH = re.compile(
    r"context[_ ]length|context window|maximum context|prompt is too long|"
    r"too many tokens|input is too long|exceeds the model",
    re.IGNORECASE,
)
_MODEL_NOT_FOUND = re.compile(
    r"model_not_found|model\b.*\b(not found|does not exist|not exist)|unknown model|no such model",
    re.IGNORECASE,
)
_DETAIL_LIMIT = 300

_T = TypeVar("_T")


def utc_now() -> datetime:
    """The current time in UTC: when an answer arrived, for a `Retry-After` date."""
    return datetime.now(UTC)


def or_setting(option: _T | None, setting: _T) -> _T:
    """The per-request option when one is given, else the configured setting."""
    return setting if option is None else option


def require_model(settings: ProviderSettings) -> str:
    """The configured model, or a `config` error: a remote API has no default model."""
    if not settings.model:
        raise ProviderError(
            ErrorClass.CONFIG,
            f"provider {settings.name!r} has no model",
            hint=f'set model = "..." in [providers.{settings.name}]',
        )
    return settings.model


def read_api_key(settings: ProviderSettings, *, default_env: str) -> str:
    """The API key from the environment variable the settings name.

    Without `api_key_env`, a server on this machine gets `PLACEHOLDER_API_KEY`
    and any other server the key in `default_env` (the variable the vendor's
    own tools read). An unset or empty variable is a `config` error that
    names the variable; the key's value never appears in an error.
    """
    variable = api_key_variable(settings, default_env=default_env)
    if variable is None:
        return PLACEHOLDER_API_KEY
    key = os.environ.get(variable, "").strip()
    if not key:
        raise ProviderError(
            ErrorClass.CONFIG,
            f"provider {settings.name!r} needs an API key in the environment variable "
            f"{variable}, which is not set",
            hint=f"set {variable} (the key itself never goes in a configuration file)",
        )
    return key


# The variable each provider type reads its key from when `api_key_env` is not set.
DEFAULT_KEY_VARIABLES = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}


def api_key_variable(settings: ProviderSettings, *, default_env: str) -> str | None:
    """The environment variable the key is read from; None for a keyless local server."""
    if settings.api_key_env is None and is_loopback_url(settings.base_url):
        return None
    return settings.api_key_env or default_env


def is_loopback_url(url: str | None) -> bool:
    """Whether `url` points at this machine (`localhost`, 127.0.0.0/8, ::1)."""
    if not url:
        return False
    host = urlsplit(url).hostname
    if host is None:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def origin(url: str) -> str:
    """`scheme://host[:port]` of `url`: enough to say where, without paths, queries or userinfo."""
    parts = urlsplit(url)
    if not parts.hostname:
        return "(invalid base_url)"
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def classify_status(status: int, *, message: str | None, code: str | None) -> ErrorClass:
    """The class of an HTTP error answer, from its status and the API's own words.

    See the module's table. `message` and `code` are what the body's error
    says, if anything; they only matter for a 4xx other than 401, 403 and 408.
    """
    if status == 429:
        return ErrorClass.RATE_LIMITED
    if status == 408:
        return ErrorClass.TIMEOUT
    if status >= 500:
        return ErrorClass.SERVER_ERROR
    if status in (401, 403):
        return ErrorClass.AUTH
    said = f"{code or ''} {message or ''}"
    if status == 413 or _CONTEXT_LENGTH.search(said):
        return ErrorClass.CONTEXT_LENGTH
    if status == 404 or _MODEL_NOT_FOUND.search(said):
        return ErrorClass.MODEL_NOT_FOUND
    return ErrorClass.BAD_REQUEST


def error_details(body: object) -> tuple[str | None, str | None]:
    """The `(message, code)` an error body carries, in either wire format.

    OpenAI: `{"error": {"message", "type", "code"}}` (the SDK may already have
    unwrapped `error`); Anthropic: `{"type": "error", "error": {"type", "message"}}`.
    The code is `code` when given, else the error's `type`. A body that is not
    JSON is its own message.
    """
    if isinstance(body, str):
        return (body.strip() or None), None
    if not isinstance(body, Mapping):
        return None, None
    inner = body.get("error")
    error = inner if isinstance(inner, Mapping) else body
    message = error.get("message")
    code = error.get("code") or error.get("type")
    return (
        message if isinstance(message, str) and message else None,
        str(code) if isinstance(code, str | int) else None,
    )


def first_problem(error: ValidationError) -> str:
    """Where and why an answer failed validation, in one line: `choices: Field required`."""
    problem = error.errors()[0]
    where = ".".join(str(part) for part in problem["loc"]) or "body"
    return f"{where}: {problem['msg']}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    """One configured remote provider, as its errors describe it.

    Holds the key only to take it out of what the API says back; `repr`
    leaves it out.
    """

    name: str
    model: str
    base_url: str
    api_key_env: str | None
    api_key: str

    def __repr__(self) -> str:
        return f"Endpoint(name={self.name!r}, model={self.model!r}, at={origin(self.base_url)!r})"

    def timed_out(self, timeout_s: float) -> ProviderError:
        """No complete answer within `timeout_s`: retryable."""
        return ProviderError(
            ErrorClass.TIMEOUT,
            f"{self.name}: no answer from {origin(self.base_url)} within {timeout_s:g} s",
            hint=f"raise timeout_s in [providers.{self.name}] if the model is just slow",
        )

    def unreachable(self, cause: BaseException | None) -> ProviderError:
        """The connection failed or dropped before an answer: retryable."""
        detail = f": {self.redact(_describe(cause))}" if cause is not None else ""
        return ProviderError(
            ErrorClass.CONNECTION,
            f"{self.name}: cannot reach {origin(self.base_url)}{detail}",
            hint=f"check base_url in [providers.{self.name}] and that the server is running",
        )

    def malformed(self, problem: str) -> ProviderError:
        """A success status with an answer merkle cannot read: retryable as a server fault."""
        return ProviderError(
            ErrorClass.SERVER_ERROR,
            f"{self.name}: unreadable answer from {origin(self.base_url)}: {self.redact(problem)}",
            hint="the server answered with something that is not a completion; merkle retries",
        )

    def refused(self, problem: str) -> ProviderError:
        """The SDK refused to send the request at all: a configuration problem."""
        return ProviderError(
            ErrorClass.CONFIG,
            f"{self.name}: the request could not be sent: {self.redact(problem)}",
            hint=f"check [providers.{self.name}]",
        )

    def rejected(
        self, status: int, *, body: object, headers: Mapping[str, str], now: datetime
    ) -> ProviderError:
        """An HTTP error answer, classified (see `classify_status`)."""
        message, code = error_details(body)
        error_class = classify_status(status, message=message, code=code)
        said = f": {self.redact(_clip(message))}" if message else ""
        retry_after_s = (
            retry_after_from_headers(headers, now=now) if error_class.retryable else None
        )
        return ProviderError(
            error_class,
            f"{self.name}: {_WHAT[error_class].format(model=self.model)} (HTTP {status}){said}",
            retry_after_s=retry_after_s,
            hint=self._hint(error_class),
        )

    def redact(self, text: str) -> str:
        """`text` without the API key (servers sometimes quote the key they rejected)."""
        if len(self.api_key) < 4 or self.api_key == PLACEHOLDER_API_KEY:
            return text
        return text.replace(self.api_key, "[redacted]")

    def _hint(self, error_class: ErrorClass) -> str:
        section = f"[providers.{self.name}]"
        if error_class is ErrorClass.AUTH:
            if self.api_key_env is None:
                return f"set api_key_env in {section} to the variable that holds the API key"
            where = origin(self.base_url)
            return f"check that {self.api_key_env} holds a valid API key for {where}"
        if error_class is ErrorClass.MODEL_NOT_FOUND:
            return f"check model (and base_url) in {section}"
        if error_class is ErrorClass.CONTEXT_LENGTH:
            return "send less (generation.file_budget_bytes) or use a model with a larger context"
        if error_class is ErrorClass.BAD_REQUEST:
            return f"check model, max_tokens and temperature in {section}"
        return "merkle retries this after a wait"


_WHAT = {
    ErrorClass.RATE_LIMITED: "rate limited by the API",
    ErrorClass.TIMEOUT: "the server gave up waiting for the request",
    ErrorClass.SERVER_ERROR: "the server failed",
    ErrorClass.AUTH: "the API rejected the key",
    ErrorClass.CONTEXT_LENGTH: "the prompt is too long for {model}",
    ErrorClass.MODEL_NOT_FOUND: "model {model!r} not found",
    ErrorClass.BAD_REQUEST: "the API rejected the request",
}


def ledgered_client_options() -> dict[str, Any]:
    """Options for an SDK's HTTP client that record each request in the egress ledger
    before it is sent (`merkle.telemetry.egress`)."""
    return {"event_hooks": {"request": [_record_egress]}}


async def _record_egress(request: Any) -> None:
    try:
        size = len(request.content)
    except Exception:  # a streamed body: its declared length
        size = int(request.headers.get("content-length") or 0)
    await before_send(host=str(request.url.host), bytes_sent=size)


@dataclass(frozen=True, slots=True)
class SdkErrors:
    """An SDK's exception classes, as `translate_sdk_error` tells them apart."""

    timeout: type[BaseException]
    connection: type[BaseException]
    status: type[BaseException]
    validation: type[BaseException]


def translate_sdk_error(
    error: BaseException,
    *,
    errors: SdkErrors,
    endpoint: Endpoint,
    timeout_s: float,
    now: datetime,
) -> ProviderError:
    """The `ProviderError` for an SDK's exception: the one translation both SDKs share."""
    # The timeout class is a subclass of the connection class in both SDKs: test it first.
    if isinstance(error, errors.timeout):
        return endpoint.timed_out(timeout_s)
    if isinstance(error, errors.connection):
        return endpoint.unreachable(error)
    if isinstance(error, errors.status):
        status: Any = error
        return endpoint.rejected(
            status.status_code, body=status.body, headers=status.response.headers, now=now
        )
    if isinstance(error, errors.validation):
        return endpoint.malformed(str(getattr(error, "message", error)))
    return endpoint.refused(str(error))


def _clip(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= _DETAIL_LIMIT else text[: _DETAIL_LIMIT - 3] + "..."


def _describe(cause: BaseException) -> str:
    # The SDKs wrap the transport error; its own words ("Connection refused",
    # "Server disconnected without sending a response") say more than the wrapper's.
    root = cause.__cause__ or cause
    return _clip(str(root)) or type(root).__name__
