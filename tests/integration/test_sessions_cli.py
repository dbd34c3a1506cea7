"""Sessions through the real CLI: what `scan` and `context generate` record, and
`merkle sessions list|show|prune` reading it back from another process."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.generate_cli import (
    API_KEY,
    BROKEN_PROVIDER,
    WRONG_API_KEY,
    GenerateBench,
    generate_bench,
    subtree,
)
from tests.support.llm_server import Reply

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def bench(tmp_path: Path) -> Iterator[GenerateBench]:
    with generate_bench(tmp_path) as running:
        running.server.script(*(Reply.answer(f"secret-free note {i}") for i in range(200)))
        yield running


def show(bench: GenerateBench, session_id: str, *flags: str) -> dict[str, Any]:
    result = bench.run("sessions", "show", session_id, "--json", *flags)
    assert result.code == 0, result.stderr
    document: dict[str, Any] = result.json()
    return document


def test_generate_records_its_session_from_start_to_end(bench: GenerateBench) -> None:
    generated = bench.run("context", "generate", "src", "--json")
    assert generated.code == 0, generated.stderr
    session_id = generated.json()["session_id"]

    shown = show(bench, session_id, "--events")

    assert shown["session"]["command"] == "context generate"
    assert (shown["session"]["status"], shown["session"]["outcome"]) == ("completed", "succeeded")
    events = shown["events"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "session_started" and events[-1]["type"] == "session_ended"
    assert shown["session"]["events"] == len(events)
    nodes = subtree("src")
    assert shown["nodes"]["done"] == len(nodes) and shown["nodes"]["failed"] == 0
    assert shown["plan"]["target_path"] == "src"
    assert sum(level["done"] for level in shown["levels"]) == len(nodes)
    assert shown["latency_ms"]["count"] == len(nodes)
    completed = {e["data"]["path"] for e in events if e["type"] == "node_generation_completed"}
    assert completed == nodes
    # Events are for watching: no frame content, no credential.
    text = json.dumps(events)
    assert "secret-free note" not in text and API_KEY not in text


def test_a_failed_generation_is_recorded_with_its_error_and_no_key(bench: GenerateBench) -> None:
    failed = bench.run("context", "generate", "docs", "--provider", BROKEN_PROVIDER, "--json")
    assert failed.code == 1, failed.stderr

    shown = show(bench, failed.json()["session_id"], "--events")

    assert shown["session"]["outcome"] == "failed"
    assert [(f["path"], f["error_class"]) for f in shown["failures"]] == [("docs/guide.md", "auth")]
    assert shown["failures"][0]["message"]
    assert WRONG_API_KEY not in json.dumps(shown)


def test_scan_records_a_session_with_its_counts(bench: GenerateBench) -> None:
    scanned = bench.run("scan", "--json")
    assert scanned.code == 0, scanned.stderr

    listed = bench.run("sessions", "list", "--json").json()["sessions"]

    newest = listed[0]
    assert (newest["command"], newest["outcome"]) == ("scan", "succeeded")
    scan = show(bench, newest["session_id"])["scan"]
    assert scan["files"] == scanned.json()["counts"]["files"]
    assert scan["root_node_id"] == scanned.json()["root_node_id"]


def test_prune_keeps_the_newest_and_refuses_to_guess(bench: GenerateBench) -> None:
    for _ in range(3):
        assert bench.run("scan").code == 0
    ids = [s["session_id"] for s in bench.run("sessions", "list", "--json").json()["sessions"]]
    assert len(ids) == 3

    pruned = bench.run("sessions", "prune", "--keep", "1", "--json")

    assert pruned.code == 0, pruned.stderr
    assert sorted(pruned.json()["deleted"]) == sorted(ids[1:])
    left = bench.run("sessions", "list", "--json").json()["sessions"]
    assert [s["session_id"] for s in left] == ids[:1]
    nothing = bench.run("sessions", "prune")
    assert nothing.code == 2 and "--keep" in nothing.stderr
    bad = bench.run("sessions", "prune", "--older-than", "3 weeks")
    assert bad.code == 2 and "not a duration" in bad.stderr


def test_show_names_an_unknown_session_and_follow_prints_a_finished_one(
    bench: GenerateBench,
) -> None:
    missing = bench.run("sessions", "show", "19990101")
    assert missing.code == 2 and "no session 19990101" in missing.stderr
    assert "merkle sessions list" in missing.stderr

    assert bench.run("scan").code == 0
    session_id = bench.run("sessions", "list", "--json").json()["sessions"][0]["session_id"]
    followed = bench.run("sessions", "show", session_id[:20], "--follow", "--json")

    lines = [json.loads(line) for line in followed.stdout.splitlines()]
    assert followed.code == 0, followed.stderr
    assert [e["type"] for e in (lines[0], lines[-1])] == ["session_started", "session_ended"]
    assert [e["seq"] for e in lines] == list(range(1, len(lines) + 1))


@pytest.mark.parametrize(
    ("sig", "status", "outcome"),
    [(signal.SIGINT, "completed", "cancelled"), (signal.SIGKILL, "interrupted", None)],
)
def test_a_stopped_generate_leaves_a_readable_session(
    bench: GenerateBench, sig: int, status: str, outcome: str | None
) -> None:
    gate = bench.server.hold(subtree("src"))
    running = bench.start("context", "generate", "src")
    bench.server.wait_for_calls(["src/sub/deep/e.py"])
    # A kill loses what the writer had not committed yet (at most its flush
    # interval): wait until the call is on record.
    bench.wait_until(
        "the provider call is recorded",
        lambda: bench.query("SELECT 1 FROM events WHERE type = 'provider_request_sent'"),
    )

    running.kill(sig)
    gate.release()

    sessions = bench.run("sessions", "list", "--json").json()["sessions"]
    assert [s["command"] for s in sessions] == ["context generate"]
    assert (sessions[0]["status"], sessions[0]["outcome"]) == (status, outcome)
    shown = show(bench, sessions[0]["session_id"], "--events")
    types = [e["type"] for e in shown["events"]]
    assert types[0] == "session_started" and "provider_request_sent" in types
    assert (types[-1] == "session_ended") is (sig == signal.SIGINT)


def test_an_error_before_generation_is_recorded_with_its_reason(bench: GenerateBench) -> None:
    missing = bench.run("context", "generate", "no/such/path.py", "--json")
    assert missing.code == 2, missing.stderr
    assert "no/such/path.py" in missing.json()["error"]["message"]

    session = bench.run("sessions", "list", "--json").json()["sessions"][0]
    shown = show(bench, session["session_id"], "--events")

    assert (session["command"], session["outcome"]) == ("context generate", "failed")
    ended = shown["events"][-1]
    assert ended["type"] == "session_ended"
    assert ended["data"]["exit_code"] == 2
    assert "no/such/path.py" in ended["data"]["error"]


def test_each_command_prunes_completed_sessions_beyond_the_configured_retention(
    bench: GenerateBench,
) -> None:
    bench.configure(extra="\n[sessions]\nkeep = 2\n")
    for _ in range(4):
        assert bench.run("scan").code == 0

    sessions = bench.run("sessions", "list", "--json").json()["sessions"]

    assert len(sessions) == 2
    assert bench.query("SELECT COUNT(DISTINCT session_id) FROM events") == [(2,)]


def test_a_bad_retention_is_a_configuration_error_and_scan_then_prunes_nothing(
    bench: GenerateBench,
) -> None:
    bench.configure(extra="\n[sessions]\nkeep = -1\n")

    generated = bench.run("context", "generate")
    scans = [bench.run("scan") for _ in range(3)]

    assert generated.code == 2 and "sessions.keep" in generated.stderr
    assert [scan.code for scan in scans] == [0, 0, 0]
    assert len(bench.run("sessions", "list", "--json").json()["sessions"]) == 3
