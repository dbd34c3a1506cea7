"""The egress ledger, through the real command line against the test server: a row
committed before every request leaves (checked by the server as each arrives), the
body's exact size, totals that match what the server received, and `local_only`
that sends nothing."""

from __future__ import annotations

import sqlite3
from collections import Counter
from contextlib import closing
from pathlib import Path

import pytest

from tests.support.generate_cli import TREE_NODES, generate_bench, node_of
from tests.support.llm_server import RecordedRequest, Reply

pytestmark = pytest.mark.timeout(120)


def rows_for(database: Path, request: RecordedRequest) -> int:
    """Ledger rows already committed for this request's node and exact body size."""
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        (count,) = db.execute(
            "SELECT COUNT(*) FROM egress WHERE path = ? AND bytes_sent = ?",
            (node_of(request), len(request.raw_body)),
        ).fetchone()
    return int(count)


def test_every_request_is_on_the_ledger_before_it_arrives(tmp_path: Path) -> None:
    with generate_bench(tmp_path) as bench:
        database = bench.root / ".merkle" / "merkle.db"
        seen: list[tuple[str | None, int]] = []
        bench.server.on_arrival = lambda request: seen.append(
            (node_of(request), rows_for(database, request))
        )
        # The first request to arrive fails once: its retry is on the ledger too.
        bench.server.script(Reply.error(500, "The server had an error."))
        result = bench.run("context", "generate", "--json", "--no-scan")
        ledger = bench.run("egress", "--json").json()
        under_src = bench.run("egress", "--json", "--path", "src", "--provider", "remote").json()
        requests = bench.server.requests

    assert result.code == 0, result.stderr
    # Each request found its row committed when it reached the server.
    assert seen and all(count >= 1 for _, count in seen), seen
    rows = ledger["requests"]
    assert len(rows) == len(requests)
    sent = Counter((node_of(r), len(r.raw_body)) for r in requests)
    assert Counter((row["path"], row["bytes_sent"]) for row in rows) == sent
    totals = ledger["totals"]
    assert totals["requests"] == len(requests)
    assert totals["bytes_sent"] == sum(len(r.raw_body) for r in requests)
    assert totals["by_provider"] == {
        "remote": {"requests": len(requests), "bytes_sent": totals["bytes_sent"]}
    }
    assert {row["host"] for row in rows} == {"127.0.0.1"}
    statuses = Counter(row["status"] for row in rows)
    assert statuses == {"ok": len(TREE_NODES), "server_error": 1}
    (failed,) = [row for row in rows if row["status"] == "server_error"]
    retried = [row for row in rows if row["path"] == failed["path"]]
    assert [row["attempt"] for row in retried] == [1, 2]
    assert all(row["tokens_estimate"] > 0 and len(row["prompt_digest"]) == 64 for row in rows)
    assert {row["path"] for row in under_src["requests"]} == {
        node for node in TREE_NODES if node == "src" or node.startswith("src/")
    }


def test_local_only_sends_nothing_and_says_which_setting(tmp_path: Path) -> None:
    with generate_bench(tmp_path) as bench:
        env = {**bench.env, "MERKLE_LOCAL_ONLY": "1"}
        from tests.support.cli import run_merkle

        refused = run_merkle("context", "generate", "--json", cwd=bench.root, env=env)
        configured = bench.root / ".merkle" / "config.toml"
        configured.write_text(
            configured.read_text(encoding="utf-8") + "\n[security]\nlocal_only = true\n",
            encoding="utf-8",
        )
        refused_by_file = bench.run("context", "generate")
        allowed = bench.run("context", "generate", "--provider", "local", "--json")
        calls = len(bench.server.requests)
        ledger = bench.run("egress", "--json").json()

    assert refused.code == 2
    assert "local_only" in refused.stderr and "nothing was sent" in refused.stderr
    assert refused_by_file.code == 2 and "local_only" in refused_by_file.stderr
    assert allowed.code == 0, allowed.stderr
    assert calls == 0
    assert ledger["requests"] == [] and ledger["totals"]["requests"] == 0


def test_a_since_that_is_not_a_date_is_bad_usage(tmp_path: Path) -> None:
    with generate_bench(tmp_path) as bench:
        result = bench.run("egress", "--since", "last tuesday")

    assert result.code == 2
    assert "--since 'last tuesday' is not a date or time" in result.stderr
