"""Benchmark how soon a follower in another process sees an emitted event.

Run it from the repository root with the project's virtual environment:

    .venv/bin/python bench/events.py [--events N] [--interval-ms MS] [--burst N]

What it does:

1. Creates a database in a temporary directory and starts a session in this
   process: a `SessionWriter` (its default flush interval unless
   `--flush-interval-s`) behind an `EventBus`, as the command line does.
2. Starts a follower as a separate OS process (this script again, in its
   `--follow` role): it opens the same database and runs
   `SessionReader.follow` with the default poll (unless `--poll-s`), noting
   the wall time (`time.time_ns()`) at which it is handed each event. It says
   it is ready before the first event is emitted.
3. Steady phase: `--events` events (default 500), one every `--interval-ms`
   (default 15 ms), paced against a fixed schedule. Burst phase: after a
   pause long enough for both sides to go idle, `--burst` events (default
   100) emitted back to back. Each event carries in its data the wall time
   just before `emit` was called.
4. Ends the session; the follower stops at `session_ended` and reports what
   it saw. Checks that it saw every event once, with seq 1..n and no gap.

How to read it: emit-to-visible latency in milliseconds, the follower's
receive time minus the emit time, both from the same machine's wall clock.
It is bounded by the writer's flush interval (an event waits at most that
long for its commit) plus the follower's poll interval (a committed event
waits at most that long to be read), plus a commit and a read. With the
defaults (50 ms + 50 ms) a median near 50 ms and a maximum near 100 ms are
expected on an idle machine; a burst is committed in a few transactions, so
its events share a latency. The cost of `emit` itself in the emitting
process (numbering and queueing only) is printed in microseconds. Targets for
all events together: median < 150 ms and p95 < 500 ms, marked PASS or MISS.
The load average is printed with the figures. The script exits 0 whatever the
figures (it is a measurement, not a test), and 1 when a check fails.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run by path, this file's directory comes first on the import path, where
# bench/queue.py would shadow the standard library's `queue`: take the
# directory off before anything else is imported.
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import json
import math
import os
import statistics
import subprocess
import tempfile
import time
from contextlib import closing
from dataclasses import dataclass
from functools import partial
from typing import Any

from merkle.store import open_store
from merkle.telemetry.bus import EventBus
from merkle.telemetry.reader import POLL_INTERVAL_S, SessionReader
from merkle.telemetry.writer import FLUSH_INTERVAL_S, SessionWriter

TARGET_MEDIAN_MS = 150.0
TARGET_P95_MS = 500.0
EVENT_TYPE = "bench_tick"
# The follower's start-up (interpreter and imports) and its report, on a loaded machine.
FOLLOWER_TIMEOUT_S = 60.0
# Long enough for the writer's thread and the follower to be idle before the burst.
IDLE_PAUSE_S = 0.3


@dataclass(frozen=True, slots=True)
class Seen:
    """One event as the follower saw it."""

    seq: int
    phase: str
    emit_ns: int
    seen_ns: int

    @property
    def latency_ms(self) -> float:
        return (self.seen_ns - self.emit_ns) / 1e6


def follow(database_path: Path, session_id: str, poll_s: float) -> int:
    """The follower's role: one JSON line when ready, one with every event seen."""
    with closing(open_store(database_path)) as store:
        reader = SessionReader(store)
        print(json.dumps({"ready": True}), flush=True)
        seqs: list[int] = []
        seen: list[list[Any]] = []
        for event in reader.follow(session_id, poll_s=poll_s, timeout_s=FOLLOWER_TIMEOUT_S * 5):
            seen_ns = time.time_ns()
            seqs.append(event.seq)
            if event.type == EVENT_TYPE:
                seen.append([event.seq, event.data["phase"], event.data["emit_ns"], seen_ns])
        print(json.dumps({"seqs": seqs, "seen": seen}), flush=True)
    return 0


def start_follower(database_path: Path, session_id: str, poll_s: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--follow",
            str(database_path),
            session_id,
            f"--poll-s={poll_s}",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )


def emit_all(bus: EventBus, args: argparse.Namespace) -> list[float]:
    """The steady phase, then the burst; the cost of each `emit` in microseconds."""
    costs: list[float] = []

    def emit(index: int, phase: str) -> None:
        started = time.perf_counter()
        bus.emit(EVENT_TYPE, {"index": index, "phase": phase, "emit_ns": time.time_ns()})
        costs.append((time.perf_counter() - started) * 1e6)

    interval_s = args.interval_ms / 1000
    first = time.perf_counter()
    for index in range(args.events):
        # Paced against a fixed schedule, so a slow emit does not stretch the run.
        delay = first + index * interval_s - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        emit(index, "steady")
    time.sleep(IDLE_PAUSE_S)
    for index in range(args.events, args.events + args.burst):
        emit(index, "burst")
    return costs


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def figures_line(label: str, values: list[float], unit: str = "ms") -> str:
    if not values:
        return f"  {label:<8} no events"
    return (
        f"  {label:<8} {len(values):>5} events  median {statistics.median(values):8.2f} {unit}"
        f"  p95 {percentile(values, 0.95):8.2f} {unit}  max {max(values):8.2f} {unit}"
    )


def check(report: dict[str, Any], expected_ticks: int) -> list[str]:
    """What is wrong with what the follower saw."""
    problems = []
    seqs: list[int] = report["seqs"]
    total = expected_ticks + 2  # with session_started and session_ended
    if seqs != list(range(1, total + 1)):
        problems.append(f"seqs seen are not 1..{total}: {len(seqs)} seen")
    if len(report["seen"]) != expected_ticks:
        problems.append(f"{len(report['seen'])} events seen, {expected_ticks} emitted")
    return problems


def load_text() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def run(args: argparse.Namespace) -> int:
    print(
        f"event latency, writer and follower in two processes: {args.events} events every"
        f" {args.interval_ms:g} ms, then a burst of {args.burst}"
    )
    print(f"  writer flush interval {args.flush_interval_s * 1000:g} ms,"
          f" follower poll {args.poll_s * 1000:g} ms")  # fmt: skip
    print(f"  {load_text()}")
    with tempfile.TemporaryDirectory(prefix="merkle-bench-events-") as tmp:
        database_path = Path(tmp) / "merkle.db"
        # The store is created here; the writer opens its own connection to it.
        open_store(database_path, create=True).close()
        writer = SessionWriter(
            partial(open_store, database_path),
            command="bench events",
            flush_interval_s=args.flush_interval_s,
        )
        writer.start()
        follower = start_follower(database_path, writer.session_id, args.poll_s)
        try:
            assert follower.stdout is not None
            ready = follower.stdout.readline()
            if not ready or not json.loads(ready).get("ready"):
                print("CHECK FAILED the follower did not start")
                return 1
            costs = emit_all(EventBus(writer), args)
            writer.end("completed")
            output, _ = follower.communicate(timeout=FOLLOWER_TIMEOUT_S)
        finally:
            writer.close()
            if follower.poll() is None:
                follower.kill()
            follower.wait(timeout=10)
        if follower.returncode != 0 or not output.strip():
            print(f"CHECK FAILED the follower exited with {follower.returncode}")
            return 1
        report = json.loads(output.strip().splitlines()[-1])

    seen = [Seen(*row) for row in report["seen"]]
    latencies = {
        "steady": [s.latency_ms for s in seen if s.phase == "steady"],
        "burst": [s.latency_ms for s in seen if s.phase == "burst"],
        "all": [s.latency_ms for s in seen],
    }
    print()
    print("emit-to-visible latency (follower's receive time - emit time)")
    for label, values in latencies.items():
        print(figures_line(label, values))
    print("cost of emit in the emitting process")
    print(figures_line("emit", costs, unit="us"))
    print(f"  {load_text()}")
    problems = check(report, args.events + args.burst)
    for problem in problems:
        print(f"CHECK FAILED {problem}")
    everything = latencies["all"]
    if everything:
        median, p95 = statistics.median(everything), percentile(everything, 0.95)
        print()
        print("targets (all events)")
        print(f"  median < {TARGET_MEDIAN_MS:.0f} ms: {median:.1f} ms"
              f"  {'PASS' if median < TARGET_MEDIAN_MS else 'MISS'}")  # fmt: skip
        print(f"  p95 < {TARGET_P95_MS:.0f} ms: {p95:.1f} ms"
              f"  {'PASS' if p95 < TARGET_P95_MS else 'MISS'}")  # fmt: skip
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500, help="events in the steady phase")
    parser.add_argument("--interval-ms", type=float, default=15.0)
    parser.add_argument("--burst", type=int, default=100, help="events emitted back to back")
    parser.add_argument("--flush-interval-s", type=float, default=FLUSH_INTERVAL_S)
    parser.add_argument("--poll-s", type=float, default=POLL_INTERVAL_S)
    # The follower's role, when this script is started as the follower process.
    parser.add_argument("--follow", nargs=2, metavar=("DB", "SESSION"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.follow:
        database, session_id = args.follow
        return follow(Path(database), session_id, args.poll_s)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
