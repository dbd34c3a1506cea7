"""An interrupted `merkle context generate` resumes: the real CLI, killed with SIGKILL
halfway through, then run again against the same test server.

The killed process leaves its open plan and its in-flight requests behind,
under leases that nobody renews; the second run must take them over (the
CLI's lease is the queue's default, 30 s, and no setting shortens it), call
the provider only for nodes that still have no frame, and leave a store that
validates.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.support.generate_cli import generate_bench
from tests.support.llm_server import Reply

pytestmark = pytest.mark.timeout(150)

# Sixteen files in four directories: levels of 16, 4 and 1 nodes.
FILES: dict[str, bytes | str] = {
    f"pkg{d}/mod{f}.py": f'"""Module {d}.{f}."""\n\nVALUE = {d * 10 + f}\n'
    for d in range(4)
    for f in range(4)
}
NODES = {".", *(f"pkg{d}" for d in range(4)), *FILES}
# The lease (30 s) a dead process's work is held under, and a margin for a loaded machine.
RESUME_TIMEOUT_S = 90.0


def test_a_killed_run_resumes_calling_only_for_nodes_without_a_frame(tmp_path: Path) -> None:
    with generate_bench(tmp_path, files=FILES, default=Reply.answer(delay_s=0.3)) as bench:
        first = bench.start("context", "generate")
        assert bench.server.wait_for_requests(len(NODES) // 2, timeout_s=60)
        first.kill(signal.SIGKILL)
        assert first.collect().code == -signal.SIGKILL
        framed = set(bench.heads())
        assert 0 < len(framed) < len(NODES)
        calls_before = len(bench.server.calls())

        started = time.monotonic()
        second = bench.start("context", "generate", "--json", "--list-skipped")
        [result] = bench.finish_all([second], timeout_s=RESUME_TIMEOUT_S)
        took_s = time.monotonic() - started

        assert result.code == 0, result.stderr
        resumed = Counter(bench.server.calls()[calls_before:])
        assert resumed == dict.fromkeys(NODES - framed, 1), (
            f"second run ({took_s:.1f} s) called {dict(resumed)}; had frames: {sorted(framed)}"
        )
        assert set(bench.heads()) == NODES
        assert sorted(result.json()["skipped"]) == sorted(framed)
        validate = bench.run("workspace", "validate")
        assert validate.code == 0, validate.stdout + validate.stderr
        print(f"resumed in {took_s:.1f} s")
