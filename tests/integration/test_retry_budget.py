"""Retries within a time budget, through the real command line against the test
server: a flaky provider costs retries, not nodes; a provider that asks to wait a
day is a spent quota, and the node fails at once with the provider's words."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.support.generate_cli import TREE_NODES, generate_bench, node_of
from tests.support.llm_server import Reply

pytestmark = pytest.mark.timeout(180)

FAULTS = [
    Reply.rate_limited(),
    Reply.error(500, "The server had an error while processing your request."),
    Reply.error(503, "The upstream model is overloaded."),
]


def test_a_provider_failing_half_of_its_calls_fails_no_node(tmp_path: Path) -> None:
    with generate_bench(tmp_path) as bench:
        bench.server.fail_at_random(0.5, FAULTS, seed=13)
        result = bench.run("context", "generate", "--json", timeout_s=150)
        requests = bench.server.requests
        faulted = {id(request) for request in bench.server.faulted}

    assert result.code == 0, result.stderr
    document = result.json()
    assert (document["total_generated"], document["total_failed"]) == (len(TREE_NODES), 0)
    assert faulted, "the seed must fault some calls"
    answered = Counter(node_of(r) for r in requests if id(r) not in faulted)
    # One paid answer per node, however many attempts it took.
    assert answered == Counter(TREE_NODES)


def test_a_day_long_retry_after_fails_the_node_as_a_spent_quota_at_once(tmp_path: Path) -> None:
    with generate_bench(tmp_path) as bench:
        bench.server.route(
            "src/util.py",
            Reply.error(429, "You exceeded your current quota.", headers={"retry-after": "86400"}),
        )
        result = bench.run("context", "generate", "--json", timeout_s=60)
        calls = bench.server.call_counts()

    assert result.code == 1
    document = result.json()
    (failure,) = document["failures"].values()
    assert failure["path"] == "src/util.py"
    assert failure["error_class"] == "quota_exhausted"
    assert "You exceeded your current quota." in failure["message"]
    assert "over max_retry_after_s = 300" in failure["message"]
    assert calls["src/util.py"] == 1
