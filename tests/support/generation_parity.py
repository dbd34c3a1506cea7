"""The generation parity scenarios (seed 001, C6; gates P1-P3), run deterministically.

Each scenario writes a fixed workspace, scans it, and runs the real
`FrameGenerationQueue` with the real `FrameWriter` and `openai` provider
against the test server; only the clock (`SteppedClock`) and the randomness
(a seeded `random.Random`) are fakes. It returns one JSON-ready artifact:
what the prompt unit built (`PromptPayload.to_json`), what the provider unit
was asked (`ProviderRequest.to_json`) and what went over the wire, the frame
(content, metadata keys and values), the queue's events and, for failures,
the attempts, the class of each backoff and the terminal error class.

Nothing that varies between runs is kept: no timestamps, latencies, request
ids, ports or temporary paths (the server's URL and the workspace root are
replaced by `<server>` and `<workspace>`).
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from merkle.config import ProviderSettings, Settings
from merkle.context.api import FrameDraft, metadata_of
from merkle.context.generation.budget import PromptBudget
from merkle.context.generation.frame_writer import FrameWriter, GenerationDeps
from merkle.context.generation.parts import PartSummary
from merkle.context.generation.prompt import PromptPayload
from merkle.context.generation.provider_call import provider_request
from merkle.context.queue import (
    EventSink,
    FrameKey,
    FrameRequest,
    ListSink,
    QueueSettings,
    RequestFailed,
    RetrySettings,
)
from merkle.context.queue.queue import FrameGenerationQueue
from merkle.providers.base import Completion, CompletionOptions, Message, Provider
from merkle.providers.registry import ProviderRegistry
from merkle.store import NodeRecord
from merkle.workspace.init import init_workspace
from merkle.workspace.layout import Workspace
from tests.conftest import write_tree
from tests.support.apps import app_of, scan
from tests.support.llm_server import LlmServer, Reply

AGENT = "docs-writer"  # the built-in agent: its production prompts are part of the baseline
FRAME_TYPE = "context"
PROVIDER = "remote"
MODEL = "m"
SEED = 20_260_301
START_NS = 1_750_000_000 * 1_000_000_000
RETRY = RetrySettings(max_attempts=3, base_delay_s=0.5, max_delay_s=10.0, jitter=0.25)
RETRY_AFTER_S = 2  # what the scripted 429 asks for: longer than the first backoff
WAIT_S = 20.0

FILES: dict[str, bytes | str] = {
    "src/app.py": (
        '"""The shop\'s entry point."""\n\nimport sys\n\nfrom src.util import total\n\n\n'
        "def main(argv: list[str]) -> int:\n"
        '    print(total(float(a) for a in argv))\n    return 0\n\n\nif __name__ == "__main__":\n'
        "    sys.exit(main(sys.argv[1:]))\n"
    ),
    "src/util.py": 'def total(prices):\n    """The sum of `prices`."""\n    return sum(prices)\n',
}
SCENARIOS = (
    "file_success",
    "directory_success",
    "provider_retryable_failure",
    "provider_non_retryable_failure",
)


class SteppedClock:
    """A wall clock that stands still until the scenario moves it."""

    def __init__(self, start_ns: int = START_NS) -> None:
        self.now_ns = start_ns

    def __call__(self) -> int:
        return self.now_ns


@dataclass
class Attempt:
    """What one generation attempt built and sent."""

    prompt: PromptPayload | None = None
    call: dict[str, Any] | None = None


@dataclass
class Recorder:
    """The attempts of every request, in order."""

    attempts: list[Attempt] = field(default_factory=list)


class RecordingProvider:
    """A provider that notes each request (`ProviderRequest.to_json`) and passes it on."""

    def __init__(self, inner: Provider, recorder: Recorder) -> None:
        self._inner = inner
        self._recorder = recorder

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def provider_type(self) -> str:
        return self._inner.provider_type

    @property
    def model(self) -> str:
        return self._inner.model

    async def complete(self, messages: Sequence[Message], options: CompletionOptions) -> Completion:
        request = provider_request(self._inner, tuple(messages), options)
        self._recorder.attempts[-1].call = request.to_json()
        return await self._inner.complete(messages, options)

    async def aclose(self) -> None:
        close = getattr(self._inner, "aclose", None)
        if close is not None:
            await close()


class RecordingRegistry(ProviderRegistry):
    """The real registry; every provider it builds records its requests."""

    def __init__(self, configured: dict[str, ProviderSettings], recorder: Recorder) -> None:
        super().__init__(configured)
        self._recorder = recorder

    def build(self, name: str) -> Provider:
        return RecordingProvider(super().build(name), self._recorder)


class RecordingGenerator(FrameWriter):
    """The real frame writer; it notes the prompt of every attempt and checks that the
    trace of a success is what was recorded."""

    def __init__(self, deps: GenerationDeps, recorder: Recorder, *, sink: EventSink) -> None:
        super().__init__(deps, sink=sink)
        self._recorder = recorder

    def prompt(
        self,
        request: FrameRequest,
        budget: PromptBudget | None = None,
        parts: Sequence[PartSummary] | None = None,
    ) -> PromptPayload:
        payload = super().prompt(request, budget, parts)
        self._recorder.attempts[-1].prompt = payload
        return payload

    async def generate(
        self, request: FrameRequest, *, attempt: int, request_id: int | None = None
    ) -> FrameDraft:
        self._recorder.attempts.append(Attempt())
        draft, trace = await self.generate_traced(request, attempt=attempt, request_id=request_id)
        recorded = self._recorder.attempts[-1]
        assert trace.prompt == recorded.prompt, "the trace's prompt is not the one built"
        assert trace.call.to_json() == recorded.call, "the trace's call is not the one sent"
        return draft


@dataclass
class ScenarioRun:
    """A scanned workspace with a queue over it, for one scenario."""

    root: Path
    server: LlmServer
    queue: FrameGenerationQueue
    clock: SteppedClock
    sink: ListSink
    recorder: Recorder
    nodes: dict[str, NodeRecord]

    def request(self, path: str) -> FrameRequest:
        record = self.nodes[path]
        return FrameRequest(
            key=FrameKey(record.node_id, AGENT, FRAME_TYPE),
            path=record.path,
            node_type=record.node_type,
            provider_name=PROVIDER,
        )

    def row(self, path: str) -> tuple[str, int, int] | None:
        """State, attempts and next attempt time of the newest request for `path`."""
        with closing(sqlite3.connect(self.root / ".merkle" / "merkle.db")) as connection:
            found = connection.execute(
                "SELECT state, attempts, next_attempt_at_ns FROM frame_requests WHERE path = ?"
                " ORDER BY request_id DESC LIMIT 1",
                (path,),
            ).fetchone()
        return None if found is None else (str(found[0]), int(found[1]), int(found[2]))

    async def generate(self, path: str) -> tuple[str | None, RequestFailed | None, list[float]]:
        """Run one request to its end, moving the clock to each retry's due time.

        Returns the frame id or the final error, and the delay before each retry.
        """
        task = asyncio.create_task(self.queue.enqueue_and_wait(self.request(path)))
        delays: list[float] = []
        deadline = time.monotonic() + WAIT_S
        while not task.done():
            if time.monotonic() > deadline:
                task.cancel()
                raise AssertionError(f"{path}: no result within {WAIT_S} s")
            row = await asyncio.to_thread(self.row, path)
            state, attempts, due_ns = row or ("", 0, 0)
            if state == "pending" and attempts > len(delays):
                delays.append((due_ns - self.clock.now_ns) / 1e9)
                self.clock.now_ns = due_ns
            await asyncio.sleep(0.005)
        try:
            return task.result(), None, delays
        except RequestFailed as failure:
            return None, failure, delays


def _provider(server: LlmServer) -> ProviderSettings:
    return ProviderSettings(
        name=PROVIDER,
        type="openai",
        model=MODEL,
        base_url=server.openai_url,
        timeout_s=5.0,
        max_tokens=512,
    )


async def _run(root: Path, server: LlmServer, body: Callable[[ScenarioRun], Any]) -> dict[str, Any]:
    recorder = Recorder()
    app = app_of(Workspace(root), Settings.defaults())
    app.providers = RecordingRegistry({PROVIDER: _provider(server)}, recorder)
    nodes = {}
    for path, entry in app.store.nodes.load_tree().items():
        record = app.store.nodes.get(entry.node_id)
        assert record is not None
        nodes[path] = record
    clock = SteppedClock()
    sink = ListSink()
    settings = QueueSettings(poll_s=0.005, lease_s=30.0, heartbeat_s=5.0, retry=RETRY)
    with app:
        async with (
            app.generation_deps() as deps,
            app.running_queue(
                RecordingGenerator(deps, recorder, sink=sink),
                settings=settings,
                limits={},
                sink=sink,
                clock_ns=clock,
                rng=random.Random(SEED),
            ) as queue,
        ):
            run = ScenarioRun(
                root=root,
                server=server,
                queue=queue,
                clock=clock,
                sink=sink,
                recorder=recorder,
                nodes=nodes,
            )
            result: dict[str, Any] = await body(run)
            return result


def _frame(root: Path, frame_id: str) -> dict[str, Any]:
    with app_of(Workspace(root)) as app:
        frame = app.context.frame(frame_id)
        assert frame is not None
        metadata = metadata_of(frame).to_dict()
    return {
        "frame_id": frame.frame_id,
        "content": frame.content,
        "metadata_keys": sorted(metadata),
        "metadata": dict(sorted(metadata.items())),
    }


def _events(sink: ListSink) -> list[list[Any]]:
    varying = {"request_id", "latency_ms"}
    return [
        [kind, {key: value for key, value in sorted(data.items()) if key not in varying}]
        for kind, data in sink.events
        if kind != "queue_stats"  # a periodic report: how many depends on timing
    ]


def backoff_class(after_attempt: int, delay_s: float, retry_after_s: float | None) -> str:
    """`retry-after` when the wait is the server's, `exponential` when it lies in the
    jittered doubling band of the retry settings, else `unexpected`."""
    if retry_after_s is not None and abs(delay_s - retry_after_s) < 1e-9:
        return "retry-after"
    low = min(RETRY.max_delay_s, RETRY.base_delay_s * 2 ** (after_attempt - 1))
    if low - 1e-9 <= delay_s <= low * (1 + RETRY.jitter) + 1e-9:
        return "exponential"
    return "unexpected"


def _generation(run: ScenarioRun, path: str, first_request: int) -> dict[str, Any]:
    """The prompt, provider and wire requests of every attempt at `path` (all equal)."""
    attempts = run.recorder.attempts[first_request:]
    wires = [r.body for r in run.server.requests[first_request:]]
    assert attempts and len(attempts) == len(wires), "one provider call per attempt"
    prompts = [a.prompt.to_json() for a in attempts if a.prompt is not None]
    calls = [a.call for a in attempts]
    assert all(p == prompts[0] for p in prompts) and len(prompts) == len(attempts)
    assert all(c == calls[0] for c in calls), "every attempt sends the same request"
    assert all(w == wires[0] for w in wires), "every attempt sends the same body"
    request = run.server.requests[first_request]
    return {
        "node": {"path": path, "node_type": run.nodes[path].node_type.value},
        "prompt_request": prompts[0],
        "provider_request": calls[0],
        "wire_request": {"method": request.method, "path": request.path, "body": wires[0]},
    }


async def _file_success(run: ScenarioRun) -> dict[str, Any]:
    run.server.script(Reply.answer("The shop's command-line entry point.", model="m-2026-03-01"))
    frame_id, failure, delays = await run.generate("src/app.py")
    assert failure is None and frame_id is not None and delays == []
    return {
        **_generation(run, "src/app.py", 0),
        "outcome": {"state": "done", "attempts": 1},
        "frame": _frame(run.root, frame_id),
        "events": _events(run.sink),
    }


async def _directory_success(run: ScenarioRun) -> dict[str, Any]:
    run.server.script(
        Reply.answer("Entry point: parses prices from argv and prints their total."),
        Reply.answer("`total(prices)`: the sum of an iterable of prices."),
        Reply.answer("The shop's source: an entry point and its arithmetic helper."),
    )
    for child in ("src/app.py", "src/util.py"):
        _, failure, _ = await run.generate(child)
        assert failure is None, failure
    first = len(run.server.requests)
    run.sink.events.clear()
    frame_id, failure, delays = await run.generate("src")
    assert failure is None and frame_id is not None and delays == []
    return {
        **_generation(run, "src", first),
        "outcome": {"state": "done", "attempts": 1},
        "frame": _frame(run.root, frame_id),
        "events": _events(run.sink),
    }


async def _failure(run: ScenarioRun, replies: Sequence[Reply]) -> dict[str, Any]:
    run.server.script(*replies)
    frame_id, failure, delays = await run.generate("src/util.py")
    assert frame_id is None and failure is not None
    errors = [data["error_class"] for kind, data in run.sink.events if "error_class" in data]
    retry_after = [float(RETRY_AFTER_S) if r.status == 429 else None for r in replies]
    decided = [data for kind, data in run.sink.events if kind == "provider_request_failed"]
    return {
        **_generation(run, "src/util.py", 0),
        "outcome": {
            "state": "failed",
            "attempts": failure.attempts,
            "error_class": failure.error_class,
            "message": str(failure),
        },
        "frame": None,
        "retry": {
            "attempts": failure.attempts,
            "attempt_error_classes": errors,
            "backoff": [
                {
                    "after_attempt": index + 1,
                    "delay_s": round(delay, 6),
                    "class": backoff_class(index + 1, delay, retry_after[index]),
                }
                for index, delay in enumerate(delays)
            ],
            "terminal_error_class": failure.error_class,
            "terminal_reason": decided[-1]["reason"] if decided else None,
        },
        "events": _events(run.sink),
    }


async def _retryable_failure(run: ScenarioRun) -> dict[str, Any]:
    return await _failure(
        run,
        [
            Reply.rate_limited(retry_after=str(RETRY_AFTER_S)),
            Reply.error(503, "The upstream model is overloaded.", error_type="server_error"),
            Reply.error(503, "The upstream model is overloaded.", error_type="server_error"),
        ],
    )


async def _non_retryable_failure(run: ScenarioRun) -> dict[str, Any]:
    return await _failure(
        run,
        [Reply.error(400, "Unrecognized request argument supplied: frobnicate")],
    )


_BODIES: dict[str, Callable[[ScenarioRun], Any]] = {
    "file_success": _file_success,
    "directory_success": _directory_success,
    "provider_retryable_failure": _retryable_failure,
    "provider_non_retryable_failure": _non_retryable_failure,
}


def normalise(value: Any, replacements: dict[str, str]) -> Any:
    """`value` with every occurrence of each key of `replacements` replaced, in every string."""
    if isinstance(value, str):
        for old, new in replacements.items():
            value = value.replace(old, new)
        return value
    if isinstance(value, list):
        return [normalise(item, replacements) for item in value]
    if isinstance(value, dict):
        return {key: normalise(item, replacements) for key, item in value.items()}
    return value


def run_scenario(scenario: str, tmp_path: Path) -> dict[str, Any]:
    """The artifact of `scenario`, normalised, with the scenario's name first."""
    root = tmp_path / "ws"
    root.mkdir()
    workspace = init_workspace(root).workspace
    write_tree(root, FILES)
    scan(workspace)
    with LlmServer(models={MODEL, "m-2026-03-01"}) as server:
        artifact = asyncio.run(_run(root, server, _BODIES[scenario]))
        replacements = {server.url: "<server>", str(root): "<workspace>"}
        return {"scenario": scenario, **normalise(artifact, replacements)}


def render(artifact: dict[str, Any]) -> str:
    """The artifact as the checked-in file holds it."""
    return json.dumps(artifact, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
