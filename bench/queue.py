"""Benchmark the frame generation queue's own overhead, end to end, with no provider.

Run it from the repository root with the project's virtual environment:

    .venv/bin/python bench/queue.py [--files N] [--concurrency N] [--repeats N] [--profile]

What it does:

1. Builds a workspace of N files (default 2,000, in directories of 100) in a
   temporary directory, runs `init` and `scan` (not timed).
2. Replaces the generation units with an instant generator: `generate`
   returns a fixed-content `FrameDraft` whose metadata comes from
   `build_metadata(source=GENERATED, provider="bench", provider_type="local")`.
   No prompt, no provider, no network: what is left is the queue itself
   (enqueue with head check and dedup, claim under a lease, heartbeat, the
   head short-circuit before the call, `ContextApi.put_frame` writing frame
   and head, the final `finish`, and waking the waiter).
3. Run "unique": one `FrameGenerationQueue` with the built-in agent's limit
   and the queue's workers raised to `--concurrency` (default 64), every file
   submitted at once with `enqueue_and_wait`; timed from the first submit to
   the last result.
4. Run "dedup": a fresh workspace, every key submitted twice at once (2N
   submissions, N keys): the second submission of a key joins the live
   request or is answered by its head.
5. Checks each run: one frame and one head per key, every request done.

Each run is repeated (`--repeats`, default 3) on a fresh copy of the scanned
workspace and the median is reported. The load average and a calibration (a
bare SQLite write transaction, in microseconds) are printed with the figures:
on a shared machine they vary from one hour to the next.

How to read it: wall-clock throughput in completed requests per second, and
overhead per request (wall time / requests, with `--concurrency` requests in
flight, so it is the queue's cost amortised, not a latency). CPU time per
request counts every thread of the process (the event loop and the store's
thread). The target is at least 500 completed requests per second for the
"unique" run, marked PASS or MISS. On a MISS, or with `--profile`, the run is
repeated under cProfile (the event loop's thread and the store's thread
separately) and the top functions are printed. The script exits 0 whatever
the figures (it is a measurement, not a test), and 1 when a check fails.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run by path, this file's directory comes first on the import path, where its
# name would shadow the standard library's `queue` (which asyncio's executors
# import): take the directory off before anything else is imported.
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import shutil
import sqlite3
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from merkle.app import MerkleApp
from merkle.config import Settings
from merkle.context.api import FrameDraft
from merkle.context.queue import AgentLimits, FrameKey, FrameRequest, QueueSettings
from merkle.context.queue.queue import FrameGenerationQueue
from merkle.metadata import Source, build_metadata
from merkle.store import NodeType
from merkle.workspace.layout import Workspace

AGENT_ID = "docs-writer"
FRAME_TYPE = "context"
TARGET_RPS = 500.0
FILES_PER_DIRECTORY = 100
TOP_FUNCTIONS = 25


class InstantGenerator:
    """The generation units' contract, answered at once with a fixed text."""

    async def generate(
        self, request: FrameRequest, *, attempt: int, request_id: int | None = None
    ) -> FrameDraft:
        """A fixed-content draft with generated metadata; no provider at all."""
        metadata = build_metadata(
            agent_id=request.agent_id,
            frame_type=request.frame_type,
            source=Source.GENERATED,
            provider="bench",
            provider_type="local",
            attempts=attempt,
        )
        return FrameDraft(
            key=request.key,
            content="A benchmark frame: fixed text, no provider was called.",
            metadata=metadata,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResult:
    """What one timed run measured (wall and CPU time over the same interval)."""

    name: str
    keys: int
    submissions: int
    wall_s: float
    cpu_s: float

    @property
    def requests_per_s(self) -> float:
        return self.keys / self.wall_s

    @property
    def submissions_per_s(self) -> float:
        return self.submissions / self.wall_s

    @property
    def overhead_ms(self) -> float:
        return self.wall_s / self.keys * 1000

    @property
    def cpu_ms(self) -> float:
        return self.cpu_s / self.keys * 1000


def build_template(root: Path, files: int) -> tuple[Path, list[FrameRequest]]:
    """A scanned workspace of `files` small files, and one request per file; each run
    works on a copy of it."""
    root.mkdir(parents=True)
    for index in range(files):
        directory = root / f"d{index // FILES_PER_DIRECTORY:03d}"
        directory.mkdir(exist_ok=True)
        (directory / f"f{index:05d}.py").write_text(f"VALUE_{index} = {index}\n")
    MerkleApp.init(root)
    with MerkleApp(Workspace(root), Settings.defaults()) as app:
        app.scan()
        entries = app.store.nodes.load_tree().values()
        requests = [
            FrameRequest(
                key=FrameKey(entry.node_id, AGENT_ID, FRAME_TYPE),
                path=entry.path,
                node_type=entry.node_type,
                provider_name="bench",
            )
            for entry in sorted(entries, key=lambda e: e.path)
            if entry.node_type is NodeType.FILE
        ]
    assert len(requests) == files, (len(requests), files)
    return root, requests


def fresh_copy(template: Path, destination: Path) -> Workspace:
    """A copy of the template workspace (its database closed, so the copy is whole)."""
    shutil.copytree(template, destination)
    return Workspace(destination)


def make_queue(workspace: Workspace, concurrency: int) -> FrameGenerationQueue:
    limits = AgentLimits(max_concurrent=concurrency)
    return MerkleApp(workspace, Settings.defaults()).queue(
        InstantGenerator(),
        limits={AGENT_ID: limits},
        settings=QueueSettings(workers=concurrency, default_limits=limits),
    )


async def submit_all(
    queue: FrameGenerationQueue, submissions: list[FrameRequest]
) -> tuple[float, float]:
    """Start the queue, submit everything at once, wait for every result. Returns the wall
    and CPU seconds from the first submission to the last result."""
    async with queue:
        wall_started, cpu_started = time.perf_counter(), time.process_time()
        frame_ids = await asyncio.gather(*(queue.enqueue_and_wait(r) for r in submissions))
        wall_s = time.perf_counter() - wall_started
        cpu_s = time.process_time() - cpu_started
    assert all(frame_ids), "a submission returned no frame id"
    return wall_s, cpu_s


def check(workspace: Workspace, keys: int) -> list[str]:
    """What is wrong with the store after a run: one frame and one head per key, all done."""
    queries = {
        "frames": ("SELECT COUNT(*) FROM frames", keys),
        "heads": ("SELECT COUNT(*) FROM heads", keys),
        "keys with a done request": (
            "SELECT COUNT(DISTINCT node_id) FROM frame_requests WHERE state = 'done'",
            keys,
        ),
        "requests not done": ("SELECT COUNT(*) FROM frame_requests WHERE state != 'done'", 0),
    }
    connection = sqlite3.connect(workspace.database_path)
    try:
        found = {name: connection.execute(sql).fetchone()[0] for name, (sql, _) in queries.items()}
    finally:
        connection.close()
    return [
        f"{name}: {found[name]:,}, expected {expected:,}"
        for name, (_, expected) in queries.items()
        if found[name] != expected
    ]


def timed_run(
    name: str,
    workspace: Workspace,
    requests: list[FrameRequest],
    *,
    copies: int,
    concurrency: int,
) -> tuple[RunResult, list[str]]:
    submissions = [request for _ in range(copies) for request in requests]
    queue = make_queue(workspace, concurrency)
    wall_s, cpu_s = asyncio.run(submit_all(queue, submissions))
    result = RunResult(
        name=name, keys=len(requests), submissions=len(submissions), wall_s=wall_s, cpu_s=cpu_s
    )
    return result, [f"{name}: {problem}" for problem in check(workspace, len(requests))]


def profiled_run(
    workspace: Workspace, requests: list[FrameRequest], concurrency: int
) -> tuple[cProfile.Profile, cProfile.Profile]:
    """The "unique" run again under cProfile: the event loop's thread, and the store's."""
    queue = make_queue(workspace, concurrency)
    loop_profile, store_profile = cProfile.Profile(), cProfile.Profile()
    # The queue's store runs on a thread of its own; the bench swaps in one whose
    # thread profiles itself (cProfile sees only the thread it runs in).
    queue.store.swap_executor(
        ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="merkle-store", initializer=store_profile.enable
        )
    )
    loop_profile.enable()
    try:
        asyncio.run(submit_all(queue, requests))
    finally:
        loop_profile.disable()
    return loop_profile, store_profile


def top_functions(profile: cProfile.Profile, sort: str) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.strip_dirs().sort_stats(sort).print_stats(TOP_FUNCTIONS)
    lines = out.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    return "\n".join(lines[start:])


def run_line(label: str, result: RunResult) -> str:
    return (
        f"  {label:<14} {result.submissions:>6,} submissions {result.wall_s:7.3f} s"
        f" {result.requests_per_s:8.1f} requests/s {result.submissions_per_s:8.1f} submissions/s"
        f"   overhead {result.overhead_ms:6.3f} ms/request  CPU {result.cpu_ms:6.3f} ms/request"
    )


def median_run(results: list[RunResult]) -> RunResult:
    """The run of median wall time."""
    return sorted(results, key=lambda r: r.wall_s)[len(results) // 2]


def print_profiles(profiles: tuple[cProfile.Profile, cProfile.Profile]) -> None:
    loop_profile, store_profile = profiles
    sections: list[tuple[str, cProfile.Profile, str]] = [
        ("event loop thread, by own time", loop_profile, "tottime"),
        ("store thread, by cumulative time", store_profile, "cumulative"),
        ("store thread, by own time", store_profile, "tottime"),
    ]
    for title, profile, sort in sections:
        print()
        print(f"profile: {title}")
        print(top_functions(profile, sort))


def calibration_us(root: Path, transactions: int = 2_000) -> float:
    """Microseconds per small write transaction on this machine, now: a bare SQLite
    insert with the store's settings (WAL, synchronous NORMAL), for reading the
    figures against the machine's speed at the time (a request takes four such
    transactions and about thirty statements)."""
    connection = sqlite3.connect(root / "calibration.db", isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
        connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, value TEXT NOT NULL)")
        started = time.perf_counter()
        for index in range(transactions):
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("INSERT INTO t (value) VALUES (?)", (f"value {index}",))
            connection.execute("COMMIT")
        return (time.perf_counter() - started) / transactions * 1e6
    finally:
        connection.close()


def say(message: str) -> None:
    print(f"  .. {message}", flush=True)


def load_text() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="profile even on a PASS")
    args = parser.parse_args(argv)

    print(f"queue throughput: instant generator, {args.files:,} files,"
          f" concurrency {args.concurrency}, {args.repeats} runs each")  # fmt: skip
    print(f"  {load_text()}")
    results: dict[str, list[RunResult]] = {"unique": [], "dedup": []}
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="merkle-bench-queue-") as tmp:
        root = Path(tmp)
        print(f"  calibration: {calibration_us(root):.1f} us per bare SQLite write transaction")
        say(f"building and scanning {args.files:,} files")
        template, requests = build_template(root / "template", args.files)
        for number in range(1, args.repeats + 1):
            for name, copies in (("unique", 1), ("dedup", 2)):
                say(f"run {name} {number}: every key {'once' if copies == 1 else 'twice'}")
                workspace = fresh_copy(template, root / f"{name}-{number}")
                result, found = timed_run(
                    name, workspace, requests, copies=copies, concurrency=args.concurrency
                )
                results[name].append(result)
                problems += found
                shutil.rmtree(workspace.root)
        print()
        print(f"{args.files:,} keys per run; overhead = wall time / keys (amortised over"
              f" {args.concurrency} in flight); CPU counts every thread")  # fmt: skip
        for name, runs in results.items():
            for number, result in enumerate(runs, 1):
                print(run_line(f"{name} {number}", result))
            print(run_line(f"{name} median", median_run(runs)))
        print(f"  {load_text()}")
        for problem in problems:
            print(f"CHECK FAILED {problem}")
        rate = median_run(results["unique"]).requests_per_s
        passed = rate >= TARGET_RPS
        print()
        print("target")
        print(f"  completed requests/s (unique, median) >= {TARGET_RPS:.0f}: {rate:.1f}"
              f"  {'PASS' if passed else 'MISS'}")  # fmt: skip
        if args.profile or not passed:
            say("profiling a unique run (slower under the profiler)")
            workspace = fresh_copy(template, root / "profiled")
            print_profiles(profiled_run(workspace, requests, args.concurrency))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
