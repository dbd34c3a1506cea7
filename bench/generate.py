"""Benchmark `merkle context generate` end to end against a provider with a fixed latency.

Run it from the repository root with the project's virtual environment:

    .venv/bin/python bench/generate.py [--latency-ms N] [--concurrency N] [--profile]

What it does:

1. Builds a deterministic workspace in a temporary directory: 300 files in
   four levels (5 top directories, each with 4 files and 4 subdirectories of
   14 files), 326 nodes in all, then `merkle init` and `merkle scan` (not
   timed).
2. Starts the OpenAI-compatible test server of the test suite
   (`tests/support/llm_server.py`) whose every answer takes `--latency-ms`
   (default 100 ms), and configures the workspace: the `remote` provider
   aimed at it, and `[agents.docs-writer] max_concurrent = C` (default 8).
   The server keeps connections alive, as the hosted APIs do, so the client
   reuses its pooled connections as it would in real use.
3. Full run: `merkle context generate` as a subprocess of the real CLI,
   timed from spawn to exit. The level-barrier bound is what a perfect
   scheduler with C calls in flight and a barrier between levels needs:
   sum over levels of ceil(nodes in level / C) x latency. The makespan is
   the schedule's: from the first provider request in to the last answer out
   at the server, which is what the bound models (target <= 1.15). The whole
   process's wall time over the bound is printed beside it, with the CLI's
   start-up (interpreter, imports, the SDK's import) and shutdown, which no
   scheduler can remove and which a larger tree amortises. Calls per node:
   provider requests over nodes (target exactly 1.0).
4. Incremental run: one file at depth 3 is edited, `merkle scan` (not timed),
   then `merkle context generate` again: it must call the provider for that
   file and each of its ancestors only, depth + 1 = 4 calls.
5. Where the time went: per level, the requests, the span at the server, the
   gap from the previous level's last answer (the barrier's cost), and how
   long after a slot freed the next request arrived (the refill lag); when
   the start-up level was enqueued against the first provider call; and the
   start-up alone (`merkle context generate` with nothing to do) and the
   openai SDK's import time. With `--profile`, or when the makespan target is
   missed, the full run is repeated on a fresh workspace through an entry
   point that times the queue's store calls, the frame writes, plan building,
   the prompt and provider units and provider construction (calls, total and
   mean time, first start and last end).

How to read it: wall-clock seconds. The machine's other load shows up as
start-up time and as gaps between requests. Each target is marked PASS or
MISS. The script exits 0 whatever the figures (it is a measurement, not a
test) and 1 when a command fails.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.support.generate_cli import node_of  # noqa: E402
from tests.support.llm_server import LlmServer, Reply  # noqa: E402

TOP_DIRS = 5
SUB_DIRS = 4
FILES_PER_SUB = 14
FILES_PER_TOP = 4
EDITED = "d2/s1/f05.py"
MODEL = "m"
KEY_ENV = "MERKLE_BENCH_KEY"
API_KEY = "sk-" + "bench-generate"
TARGET_RATIO = 1.15
TARGET_CALLS_PER_NODE = 1.0


def build_tree(root: Path) -> list[str]:
    """Write the workspace's files; returns every node path, the root as `.`."""
    nodes = ["."]
    for top in range(TOP_DIRS):
        top_dir = f"d{top}"
        nodes.append(top_dir)
        for index in range(FILES_PER_TOP):
            nodes.append(write(root, f"{top_dir}/g{index:02d}.md", top, index))
        for sub in range(SUB_DIRS):
            sub_dir = f"{top_dir}/s{sub}"
            nodes.append(sub_dir)
            for index in range(FILES_PER_SUB):
                nodes.append(write(root, f"{sub_dir}/f{index:02d}.py", top * 10 + sub, index))
    return nodes


def write(root: Path, relative: str, group: int, index: int) -> str:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'"""Module {relative}."""\n\n\ndef value_{index}() -> int:\n'
        f"    return {group * 100 + index}\n",
        encoding="utf-8",
    )
    return relative


def depth(path: str) -> int:
    return 0 if path == "." else path.count("/") + 1


@dataclass
class Run:
    """One timed `merkle context generate`."""

    wall_s: float
    started: float
    started_wall_ns: int
    calls: list[tuple[str, float]]  # node, arrival (monotonic), in arrival order
    stdout: str


class Bench:
    """The workspace, the server and the environment every command runs with."""

    def __init__(self, root: Path, server: LlmServer, concurrency: int) -> None:
        self.root = root
        self.server = server
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MERKLE_")}
        self.env.update(
            NO_COLOR="1", XDG_CONFIG_HOME=str(root.parent / "xdg"), **{KEY_ENV: API_KEY}
        )
        self.merkle = str(Path(sys.executable).parent / "merkle")
        self.concurrency = concurrency

    def setup(self) -> list[str]:
        self.root.mkdir(parents=True)
        nodes = build_tree(self.root)
        self.command("init")
        (self.root / ".merkle" / "config.toml").write_text(
            '[defaults]\nprovider = "remote"\n\n'
            f'[providers.remote]\ntype = "openai"\nbase_url = "{self.server.openai_url}"\n'
            f'model = "{MODEL}"\napi_key_env = "{KEY_ENV}"\ntimeout_s = 30\n\n'
            f"[agents.docs-writer]\nmax_concurrent = {self.concurrency}\n",
            encoding="utf-8",
        )
        self.command("scan")
        return nodes

    def command(self, *args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
        """Run `merkle ARGS` (or `PREFIX ARGS`); exits the bench if it fails."""
        argv = [*prefix, *args] if prefix else [self.merkle, *args]
        completed = subprocess.run(
            argv,
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            sys.exit(
                f"merkle {' '.join(args)} failed ({completed.returncode}):\n{completed.stderr}"
            )
        return completed

    def generate(self, *, prefix: tuple[str, ...] = ()) -> Run:
        before = len(self.server.requests)
        started_wall_ns = time.time_ns()
        started = time.monotonic()
        completed = self.command("context", "generate", prefix=prefix)
        wall_s = time.monotonic() - started
        calls = [
            (node, request.received_at)
            for request in self.server.requests[before:]
            if (node := node_of(request)) is not None
        ]
        return Run(
            wall_s=wall_s,
            started=started,
            started_wall_ns=started_wall_ns,
            calls=calls,
            stdout=completed.stdout,
        )

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of the workspace database, read as another program would."""
        with closing(sqlite3.connect(self.root / ".merkle" / "merkle.db")) as connection:
            return connection.execute(sql).fetchall()


def barrier_bound_s(nodes: list[str], concurrency: int, latency_s: float) -> float:
    per_level = Counter(depth(node) for node in nodes)
    return sum(math.ceil(count / concurrency) for count in per_level.values()) * latency_s


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def refill_lags_ms(arrivals: list[float], latency_s: float, concurrency: int) -> list[float]:
    """For each request after the first C of a level: how long after a slot freed (the
    answer of the request C places earlier) it reached the server."""
    return [
        (arrivals[index] - (arrivals[index - concurrency] + latency_s)) * 1000
        for index in range(concurrency, len(arrivals))
    ]


def report_levels(run: Run, latency_s: float, concurrency: int) -> None:
    by_level: dict[int, list[float]] = defaultdict(list)
    for node, arrived in run.calls:
        by_level[depth(node)].append(arrived)
    print("  depth  requests  batches  ideal_s  span_s  gap_before_s  refill_lag_ms p50/p90")
    previous_end = None
    for level in sorted(by_level, reverse=True):
        arrivals = sorted(by_level[level])
        span = arrivals[-1] + latency_s - arrivals[0]
        gap = " " * 12 if previous_end is None else f"{arrivals[0] - previous_end:12.3f}"
        batches = math.ceil(len(arrivals) / concurrency)
        lags = sorted(refill_lags_ms(arrivals, latency_s, concurrency))
        lag = f"{statistics.median(lags):7.1f} / {lags[int(len(lags) * 0.9)]:5.1f}" if lags else ""
        print(
            f"  {level:5d}  {len(arrivals):8d}  {batches:7d}  {batches * latency_s:7.2f}"
            f"  {span:6.2f}  {gap}  {lag}"
        )
        previous_end = arrivals[-1] + latency_s


def report_start(bench: Bench, run: Run) -> None:
    """When the deepest level's requests were enqueued, against its first provider call."""
    rows = bench.query("SELECT path, created_at_ns FROM frame_requests ORDER BY request_id")
    deepest = max(depth(path) for path, _ in rows)
    created = [(ns - run.started_wall_ns) / 1e9 for path, ns in rows if depth(path) == deepest]
    first_call = min(arrived for _, arrived in run.calls) - run.started
    print("  start-up, from spawn:")
    print(f"    first request of the deepest level enqueued  {min(created):6.2f} s")
    print(f"    last request of the deepest level enqueued   {max(created):6.2f} s")
    print(f"    first provider call at the server            {first_call:6.2f} s")


def import_time_s(module: str) -> float:
    """How long a fresh interpreter takes to import `module` (after merkle's CLI)."""
    code = (
        "import time, merkle.cli.app; t = time.perf_counter(); "
        f"import {module}; print(time.perf_counter() - t)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return float(completed.stdout)


# Run in the profiled CLI process: wraps the queue's store calls, the frame writes, the
# prompt and provider units, plan building and provider construction with timers, then
# runs the real entry point; at exit, one JSON line per function (calls, total seconds,
# first start and last end, wall-clock ns) goes to the file named by MERKLE_BENCH_TIMELINE.
_TIMED_CLI = """
import atexit, functools, inspect, json, os, sys, threading, time
import merkle.cli.app
import merkle.context.api, merkle.context.generation.planner
import merkle.context.generation.frame_writer, merkle.context.generation.provider_call
import merkle.providers.registry, merkle.store.sqlite.queue
stats, lock = {}, threading.Lock()
def note(name, began, ended):
    with lock:
        entry = stats.setdefault(name, [0, 0.0, began, ended])
        entry[0] += 1; entry[1] += (ended - began) / 1e9
        entry[2] = min(entry[2], began); entry[3] = max(entry[3], ended)
def timed(owner, attribute, name):
    function = getattr(owner, attribute)
    if inspect.iscoroutinefunction(function):
        async def wrapper(*args, **kwargs):
            began = time.time_ns()
            try: return await function(*args, **kwargs)
            finally: note(name, began, time.time_ns())
    else:
        def wrapper(*args, **kwargs):
            began = time.time_ns()
            try: return function(*args, **kwargs)
            finally: note(name, began, time.time_ns())
    setattr(owner, attribute, functools.wraps(function)(wrapper))
store = merkle.store.sqlite.queue.SqliteQueue
for attribute in ("enqueue", "claim", "finish", "outcomes", "renew", "renew_plans", "get",
                  "open_plan", "close_plan"):
    timed(store, attribute, "SqliteQueue." + attribute)
timed(merkle.context.api.ContextApi, "put_frame", "ContextApi.put_frame")
timed(merkle.context.api.ContextApi, "head", "ContextApi.head")
timed(merkle.context.generation.planner.ContextGenerate, "plan", "ContextGenerate.plan")
writer = merkle.context.generation.frame_writer
timed(writer.FrameWriter, "prompt", "FrameWriter.prompt (prompt unit)")
timed(writer, "call_provider", "call_provider (provider unit, incl. latency)")
timed(merkle.providers.registry.ProviderRegistry, "build", "ProviderRegistry.build (SDK import)")
def dump():
    with open(os.environ["MERKLE_BENCH_TIMELINE"], "w") as out:
        json.dump(stats, out)
atexit.register(dump)
sys.argv = ["merkle", *sys.argv[1:]]
try:
    merkle.cli.app.main()
finally:
    dump()
"""


def profile(root: Path, server: LlmServer, concurrency: int) -> None:
    """The full run again, on a fresh workspace, with the timed entry point."""
    bench = Bench(root, server, concurrency)
    bench.setup()
    timeline = root.parent / "timeline.json"
    bench.env["MERKLE_BENCH_TIMELINE"] = str(timeline)
    run = bench.generate(prefix=(sys.executable, "-c", _TIMED_CLI))
    stats = json.loads(timeline.read_text(encoding="utf-8"))
    first_call = min(arrived for _, arrived in run.calls) - run.started
    print(
        f"\nWhere the time went (a profiled run: {run.wall_s:.2f} s; first provider call at"
        f" {first_call:.2f} s; times from spawn)"
    )
    heading = ("function", "calls", "total_s", "mean_ms", "first", "last")
    print("  {:46s} {:>6s} {:>8s} {:>8s} {:>6s} {:>6s}".format(*heading))
    for name, (calls, total_s, began, ended) in sorted(stats.items(), key=lambda i: i[1][2]):
        first_s = (began - run.started_wall_ns) / 1e9
        last_s = (ended - run.started_wall_ns) / 1e9
        mean_ms = total_s / calls * 1000
        print(f"  {name:46s} {calls:6d} {total_s:8.2f} {mean_ms:8.2f} {first_s:6.2f} {last_s:6.2f}")


def line(label: str, value: str, note: str = "") -> None:
    """One figure: its label, its value and what it is measured against."""
    print(f"  {label:36s} {value:>9s}   {note}".rstrip())


def ancestors_and_self(path: str) -> set[str]:
    chain = {path}
    while path != ".":
        path = path.rsplit("/", 1)[0] if "/" in path else "."
        chain.add(path)
    return chain


def full_run(bench: Bench, nodes: list[str], latency_s: float) -> float:
    """The first, complete generate; prints its figures and returns the makespan ratio."""
    bound_s = barrier_bound_s(nodes, bench.concurrency, latency_s)
    full = bench.generate()
    per_node = Counter(node for node, _ in full.calls)
    exact = set(per_node) == set(nodes) and set(per_node.values()) == {1}
    first_in = min(arrived for _, arrived in full.calls)
    last_out = max(arrived for _, arrived in full.calls) + latency_s
    span_s = last_out - first_in
    ratio = span_s / bound_s
    print("\nFull run")
    line("makespan (first request in to last answer out)", f"{span_s:.2f} s")
    line("level-barrier bound", f"{bound_s:.2f} s")
    ratio_note = f"target <= {TARGET_RATIO}  {verdict(ratio <= TARGET_RATIO)}"
    line("makespan / bound", f"{ratio:.3f}", ratio_note)
    line("process wall time (spawn to exit)", f"{full.wall_s:.2f} s")
    line("process wall time / bound", f"{full.wall_s / bound_s:.3f}", "(start-up included)")
    line("start-up (spawn to first request)", f"{first_in - full.started:.2f} s")
    line("shutdown (last answer to exit)", f"{full.started + full.wall_s - last_out:.2f} s")
    line("most requests in flight", f"{bench.server.max_in_flight}")
    calls_note = f"target exactly {TARGET_CALLS_PER_NODE}  {verdict(exact)}"
    line("provider calls per node", f"{len(full.calls) / len(nodes):.3f}", calls_note)
    report_levels(full, latency_s, bench.concurrency)
    report_start(bench, full)
    return ratio


def incremental_run(bench: Bench) -> None:
    """Edit one file, rescan, generate again: only the file and its ancestors are called."""
    edited = bench.root / EDITED
    edited.write_text(edited.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    bench.command("scan")
    rerun = bench.generate()
    expected = depth(EDITED) + 1
    right = Counter(node for node, _ in rerun.calls) == dict.fromkeys(ancestors_and_self(EDITED), 1)
    print(f"\nAfter editing {EDITED} and rescanning")
    line(
        "provider calls", f"{len(rerun.calls)}", f"target {expected} (depth + 1)  {verdict(right)}"
    )
    line("wall time", f"{rerun.wall_s:.2f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--profile", action="store_true", help="always profile the full run")
    options = parser.parse_args()
    latency_s = options.latency_ms / 1000
    work = Path(tempfile.mkdtemp(prefix="merkle-bench-generate-"))
    default = Reply.answer("note", delay_s=latency_s)
    server = LlmServer(models={MODEL}, api_key=API_KEY, default=default, keep_alive=True)
    server.start()
    try:
        bench = Bench(work / "ws", server, options.concurrency)
        nodes = bench.setup()
        levels = Counter(depth(node) for node in nodes)
        shape = [levels[d] for d in sorted(levels, reverse=True)]
        print(
            f"workspace: {len(nodes)} nodes, levels (deepest first) {shape};"
            f" latency {latency_s * 1000:.0f} ms; C = {options.concurrency}"
        )
        ratio = full_run(bench, nodes, latency_s)
        incremental_run(bench)
        idle = bench.generate()
        print("\nStart-up")
        line("generate with nothing to do", f"{idle.wall_s:.2f} s")
        line("openai SDK import (fresh interpreter)", f"{import_time_s('openai'):.2f} s")
        if options.profile or ratio > TARGET_RATIO:
            profile(work / "profiled" / "ws", server, options.concurrency)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
