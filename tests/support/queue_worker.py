"""One `merkle` queue process, for the multi-process queue tests.

Run it by path or as `python -m tests.support.queue_worker` (it imports only
`merkle`):

    queue_worker.py DB ROOT URL NODES [--lease-s S] [--heartbeat-s S]
                    [--max-concurrent N] [--mode wait]

- `DB`, `ROOT`: the workspace database and root.
- `URL`: the OpenAI-compatible base URL of the test server; the provider is
  `remote` (type `openai`, model `m`, key from `TEST_KEY`).
- `NODES`: a JSON list of `[node_id, path, node_type]`, or `all-files` for
  every file of the current tree.
- The built-in `docs-writer` agent and frame type `context`; `--max-concurrent`
  is that agent's limit (shared by every process, as the store counts it).

Modes, both inside `async with queue`:

- `wait` submits every node at once with `enqueue_and_wait` and reports what
  each returned, then leaves.
- `serve` submits every node with plain `enqueue` (no waiting, as watch mode
  or the scanner would), reports each status, then keeps its dispatcher
  running, working for every process, until a second line (or the end) on
  stdin. `--max-concurrent 0` makes a process that submits and never calls.

Protocol: one JSON document per line on stdout.

1. `{"ready": true, "owner": OWNER}` once the queue is built (not started);
   then the worker blocks on reading one line from stdin, so a test can
   release several workers at the same moment.
2. `wait`: `{"owner": OWNER, "frames": {node_id: frame_id}, "errors": {node_id: text}}`
   when every request has its final result (exit status 0).
   `serve`: `{"owner": OWNER, "enqueued": {node_id: status}}` once submitted, and
   `{"owner": OWNER, "served": true}` when told to stop (exit status 0).
3. `{"interrupted": true}` on Ctrl-C (SIGINT), after the queue
   has been left through `async with`, as `merkle` itself leaves it (exit 130).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from merkle.app import MerkleApp
from merkle.config import ProviderSettings, Settings, StoreSettings
from merkle.context.queue import AgentLimits, FrameKey, FrameRequest, QueueSettings
from merkle.context.queue.queue import FrameGenerationQueue
from merkle.store import NodeType, StorageBackend, sqlite_url
from merkle.workspace.layout import Workspace

AGENT_ID = "docs-writer"
FRAME_TYPE = "context"
PROVIDER_NAME = "remote"
MODEL = "m"
KEY_VARIABLE = "TEST_KEY"
ALL_FILES = "all-files"
INTERRUPTED_STATUS = 130


def emit(document: dict[str, Any]) -> None:
    """One JSON line on stdout, flushed at once (the test reads it as it comes)."""
    sys.stdout.write(json.dumps(document, sort_keys=True) + "\n")
    sys.stdout.flush()


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", type=Path)
    parser.add_argument("root", type=Path)
    parser.add_argument("url")
    parser.add_argument("nodes", help=f"a JSON list of [node_id, path, node_type], or {ALL_FILES}")
    parser.add_argument("--lease-s", type=float, default=30.0)
    parser.add_argument("--heartbeat-s", type=float, default=10.0)
    parser.add_argument("--max-concurrent", type=int, default=4)
    parser.add_argument("--mode", choices=["wait", "serve"], default="wait")
    return parser.parse_args(argv)


def requests_for(nodes: str, store: StorageBackend) -> list[FrameRequest]:
    """The requests for `nodes` (a JSON list, or every file of the current tree)."""
    chosen: list[tuple[str, str, NodeType]]
    if nodes == ALL_FILES:
        entries = store.nodes.load_tree().values()
        chosen = [(e.node_id, e.path, e.node_type) for e in entries if e.node_type is NodeType.FILE]
    else:
        chosen = [(n, p, NodeType(t)) for n, p, t in json.loads(nodes)]
    return [
        FrameRequest(
            key=FrameKey(node_id, AGENT_ID, FRAME_TYPE),
            path=path,
            node_type=node_type,
            provider_name=PROVIDER_NAME,
        )
        for node_id, path, node_type in chosen
    ]


def app_for(args: argparse.Namespace) -> MerkleApp:
    """The app of the workspace at ROOT, its store at DB, the provider aimed at URL."""
    provider = ProviderSettings(
        name=PROVIDER_NAME,
        type="openai",
        base_url=args.url,
        model=MODEL,
        api_key_env=KEY_VARIABLE,
        timeout_s=10,
    )
    settings = dataclasses.replace(
        Settings.defaults(),
        providers={PROVIDER_NAME: provider},
        store=StoreSettings(url=sqlite_url(args.database)),
    )
    return MerkleApp(Workspace(args.root), settings)


async def run(args: argparse.Namespace) -> None:
    with app_for(args) as app:
        requests = requests_for(args.nodes, app.store)
        settings = QueueSettings(poll_s=0.02, lease_s=args.lease_s, heartbeat_s=args.heartbeat_s)
        limits = {AGENT_ID: AgentLimits(max_concurrent=args.max_concurrent)}
        async with app.frame_writer() as writer:
            queue = app.queue(writer, limits=limits, settings=settings)
            emit({"ready": True, "owner": queue.owner})
            # Blocking on purpose: nothing runs in this loop yet, and the test releases
            # every worker with one line each, so they start together without sleeps.
            sys.stdin.readline()
            # KeyboardInterrupt reaches this coroutine as CancelledError (asyncio.run
            # cancels the main task on SIGINT), so `async with` sees an interrupt; the
            # cancellation propagates and asyncio.run raises KeyboardInterrupt.
            async with queue:
                if args.mode == "serve":
                    await serve(queue, requests)
                else:
                    await wait(queue, requests)


async def wait(queue: FrameGenerationQueue, requests: list[FrameRequest]) -> None:
    """Mode `wait`: every request submitted at once, each final result reported."""
    outcomes = await asyncio.gather(
        *(queue.enqueue_and_wait(request) for request in requests), return_exceptions=True
    )
    frames: dict[str, str] = {}
    errors: dict[str, str] = {}
    for request, outcome in zip(requests, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            errors[request.node_id] = f"{type(outcome).__name__}: {outcome}"
        else:
            frames[request.node_id] = outcome
    emit({"owner": queue.owner, "frames": frames, "errors": errors})


async def serve(queue: FrameGenerationQueue, requests: list[FrameRequest]) -> None:
    """Mode `serve`: submit without waiting, then run the dispatcher until told to stop."""
    enqueued = {r.node_id: (await queue.enqueue(r)).status.value for r in requests}
    emit({"owner": queue.owner, "enqueued": enqueued})
    # Read stdin through the loop, not a thread: a thread blocked on a read would
    # keep asyncio.run from closing its executor after an interrupt.
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    try:
        await reader.readline()
    finally:
        transport.close()
    emit({"owner": queue.owner, "served": True})


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    try:
        asyncio.run(run(args))
    except KeyboardInterrupt:
        emit({"interrupted": True})
        return INTERRUPTED_STATUS
    return 0


if __name__ == "__main__":
    sys.exit(main())
