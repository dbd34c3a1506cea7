"""A 429 pauses the provider for every process sharing the store: after a
Retry-After, no call from any process reaches the server before it ends.
Two real `merkle context generate` processes against the test server."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.support.generate_cli import generate_bench, node_of
from tests.support.llm_server import Reply

pytestmark = pytest.mark.timeout(120)

PAUSE_S = 1
# One level of files, so that other work is ready while the paused call waits.
FILES: dict[str, bytes | str] = {f"m{n}.py": f"N = {n}\n" for n in range(8)}


def test_a_retry_after_pauses_every_process_until_it_ends(tmp_path: Path) -> None:
    # One call in flight across both processes (agent limits hold across processes):
    # when the 429 arrives nothing else is in flight, so any call after it was
    # claimed after the pause was recorded.
    limits = "[agents.docs-writer]\nmax_concurrent = 1\n"
    with generate_bench(tmp_path, files=FILES, extra_config=limits) as bench:
        bench.server.script(Reply.rate_limited(retry_after=str(PAUSE_S)))
        processes = [bench.start("context", "generate") for _ in range(2)]
        results = bench.finish_all(processes)
        requests = bench.server.requests
        limited = requests[0]

    assert [result.code for result in results] == [0, 0], [r.stderr for r in results]
    later = [r.received_at - limited.received_at for r in requests[1:]]
    assert later and min(later) >= PAUSE_S * 0.95, later
    answered = Counter(node_of(r) for r in requests[1:])
    assert answered == Counter([*FILES, "."])  # one paid answer per node, both processes
