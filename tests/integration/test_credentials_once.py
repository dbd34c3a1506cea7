"""A rejected key is paid for once for the whole store: one call checks it while the
others wait; a refusal stops every process and every later run until the key or the
configuration changes. Through the real command line against the test server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import run_merkle
from tests.support.generate_cli import (
    API_KEY,
    BROKEN_PROVIDER,
    TREE_NODES,
    WRONG_KEY_ENV,
    generate_bench,
)

pytestmark = pytest.mark.timeout(120)


def test_a_rejected_key_costs_one_call_then_none_until_it_changes(tmp_path: Path) -> None:
    with generate_bench(tmp_path) as bench:
        first = bench.run("context", "generate", "--provider", BROKEN_PROVIDER, "--json")
        after_first = len(bench.server.requests)
        again = bench.run("context", "generate", "--provider", BROKEN_PROVIDER)
        after_again = len(bench.server.requests)
        fixed_env = {**bench.env, WRONG_KEY_ENV: API_KEY}
        fixed = run_merkle(
            "context", "generate", "--provider", BROKEN_PROVIDER, "--json",
            cwd=bench.root, env=fixed_env, timeout_s=60,
        )  # fmt: skip
        after_fixed = len(bench.server.requests)

    assert first.code == 1
    assert after_first == 1  # one call found the key wrong; the other nodes made none
    failures = first.json()["failures"].values()
    assert {failure["error_class"] for failure in failures} == {"auth"}
    assert again.code == 1
    assert after_again == 1  # the next run knows, and asks nothing
    said = again.stdout + again.stderr
    assert "an earlier call was refused" in said
    assert WRONG_KEY_ENV in said  # the hint names the variable to check
    assert fixed.code == 0, fixed.stderr
    assert after_fixed - after_again == len(TREE_NODES)


def test_two_processes_with_a_wrong_key_make_one_call_between_them(tmp_path: Path) -> None:
    with generate_bench(tmp_path) as bench:
        processes = [
            bench.start("context", "generate", "--provider", BROKEN_PROVIDER) for _ in range(2)
        ]
        results = [process.collect() for process in processes]
        calls = len(bench.server.requests)

    assert [result.code for result in results] == [1, 1]
    assert calls == 1
