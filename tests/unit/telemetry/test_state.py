"""SessionState: the fold of a session's events that the displays draw.

A scripted generation run is folded and every view it yields is checked;
replay must equal applying the events one by one, and whatever a reader does
not know (event types, data fields) must change nothing.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from merkle.telemetry.model import Event
from merkle.telemetry.state import LevelView, NodeStatus, NodeView, Problem, SessionState

pytestmark = pytest.mark.timeout(10)

SESSION = "20251121T211403-9f2c41d07a"

# Two levels: a.py, b.py, c.py in level 0 (b.py retried once, c.py failed), then
# the directory src in level 1; one unchanged node skipped.
SCRIPT: list[tuple[str, dict[str, Any]]] = [
    ("session_started", {"command": "context generate", "argv": ["src"]}),
    ("plan_constructed", {"plan_id": "p1", "target_path": "src", "total_nodes": 4,
                          "total_levels": 2, "failure_policy": "continue"}),
    ("node_skipped", {"path": "src/unchanged.py"}),
    ("level_started", {"level": 0, "total": 3}),
    ("node_generation_started", {"path": "src/a.py", "level": 0}),
    ("node_generation_started", {"path": "src/b.py", "level": 0}),
    ("node_generation_started", {"path": "src/c.py", "level": 0}),
    ("provider_request_sent", {"path": "src/a.py", "attempt": 1}),
    ("provider_request_sent", {"path": "src/b.py", "attempt": 1}),
    ("provider_request_sent", {"path": "src/c.py", "attempt": 1}),
    ("provider_response_received", {"path": "src/a.py", "latency_ms": 120}),
    ("node_generation_completed", {"path": "src/a.py"}),
    ("provider_request_retrying", {"path": "src/b.py", "error_class": "rate_limited",
                                   "message": "429 slow down", "delay_s": 2}),
    ("provider_request_failed", {"path": "src/c.py", "error_class": "timeout",
                                 "message": "no answer in 30 s"}),
    ("node_generation_failed", {"path": "src/c.py"}),
    ("provider_request_sent", {"path": "src/b.py", "attempt": 2}),
    ("provider_response_received", {"path": "src/b.py", "latency_ms": 300}),
    ("node_generation_completed", {"path": "src/b.py"}),
    ("level_completed", {"level": 0, "generated": 2, "failed": 1}),
    ("level_started", {"level": 1, "total": 1}),
    ("node_generation_started", {"path": "src", "level": 1}),
    ("provider_request_sent", {"path": "src", "attempt": 1}),
    ("queue_stats", {"live": 1, "waiting": 0, "rate": 2.5, "note": "dropped: not a number"}),
    ("provider_response_received", {"path": "src", "latency_ms": 80}),
    ("generation_completed", {"total_generated": 3, "total_failed": 1}),
    ("session_ended", {"outcome": "partial"}),
]  # fmt: skip

# Handlers that keep every numeric (or text) field on purpose: unknown fields
# there are data, not noise.
PASS_THROUGH = {"queue_stats", "scan_started", "scan_progress", "scan_completed"}


def events_of(script: list[tuple[str, dict[str, Any]]]) -> list[Event]:
    return [
        Event(f"2025-11-21T21:14:{seq:02d}.000Z", SESSION, seq, kind, data)
        for seq, (kind, data) in enumerate(script, 1)
    ]


EVENTS = events_of(SCRIPT)


def test_folding_a_run_gives_its_nodes_levels_latencies_retries_and_failures() -> None:
    state = SessionState.replay(EVENTS)

    assert (state.session_id, state.command, state.last_seq) == (SESSION, "context generate", 26)
    assert (state.started_ts, state.ended_ts) == (EVENTS[0].ts, EVENTS[-1].ts)
    assert (state.ended, state.outcome) == (True, "partial")
    assert state.plan == {"plan_id": "p1", "target_path": "src", "total_nodes": 4,
                          "total_levels": 2, "failure_policy": "continue"}  # fmt: skip
    assert state.nodes == {
        "src/a.py": NodeView("src/a.py", level=0, status=NodeStatus.DONE, attempts=1,
                             latency_ms=120),
        "src/b.py": NodeView("src/b.py", level=0, status=NodeStatus.DONE, attempts=2,
                             latency_ms=300, error_class="rate_limited", message="429 slow down"),
        "src/c.py": NodeView("src/c.py", level=0, status=NodeStatus.FAILED, attempts=1,
                             error_class="timeout", message="no answer in 30 s"),
        # Its answer came, but no `node_generation_completed` yet: still sending.
        "src": NodeView("src", level=1, status=NodeStatus.SENDING, attempts=1, latency_ms=80),
    }  # fmt: skip
    assert state.levels == [
        LevelView(0, total=3, done=2, failed=1, started=True, completed=True),
        LevelView(1, total=1, done=0, failed=0, started=True, completed=False),
    ]
    assert state.status_counts() == {"waiting": 0, "sending": 1, "retrying": 0, "done": 2,
                                     "failed": 1}  # fmt: skip
    assert state.skipped == 1
    assert state.latencies_ms == [120, 300, 80]
    assert state.latency_summary() == {"count": 3, "p50": 120, "p95": 300, "max": 300}
    assert state.retries == [Problem("src/b.py", "rate_limited", "429 slow down", 2.0)]
    assert state.failures == [Problem("src/c.py", "timeout", "no answer in 30 s", None)]
    assert state.queue == {"live": 1, "waiting": 0, "rate": 2.5}
    assert state.result == {"total_generated": 3, "total_failed": 1}


def test_statuses_along_the_way() -> None:
    state = SessionState()
    seen: dict[int, dict[str, NodeStatus]] = {}
    for event in EVENTS:
        state.apply(event)
        seen[event.seq] = {path: node.status for path, node in state.nodes.items()}

    assert seen[5] == {"src/a.py": NodeStatus.WAITING}
    assert seen[10]["src/b.py"] is NodeStatus.SENDING
    assert seen[13]["src/b.py"] is NodeStatus.RETRYING
    assert seen[14]["src/c.py"] is NodeStatus.SENDING  # a failed call is not yet a failed node
    assert seen[16]["src/b.py"] is NodeStatus.SENDING
    assert seen[18]["src/b.py"] is NodeStatus.DONE


def test_level_counts_follow_nodes_until_the_level_reports_its_own() -> None:
    state = SessionState.replay(EVENTS[:18])  # up to b.py completed, before level_completed
    assert (state.levels[0].done, state.levels[0].failed, state.levels[0].completed) == (
        2,
        1,
        False,
    )
    state.apply(
        Event("t", SESSION, 19, "level_completed", {"level": 0, "generated": 5, "failed": 0})
    )
    assert (state.levels[0].done, state.levels[0].failed) == (5, 0)  # the level's word wins


def test_latency_summary_of_no_calls_is_a_count_of_zero() -> None:
    assert SessionState().latency_summary() == {"count": 0}


def test_replay_equals_applying_one_by_one_at_every_prefix() -> None:
    live = SessionState()
    for count, event in enumerate(EVENTS, 1):
        live.apply(event)
        assert SessionState.replay(EVENTS[:count]) == live
    assert live == SessionState.replay(EVENTS)
    assert live != SessionState.replay(EVENTS[:-1])


def test_an_unknown_event_type_changes_nothing_but_last_seq() -> None:
    for count in (1, 12, len(EVENTS)):
        state = SessionState.replay(EVENTS[:count])
        before = copy.deepcopy(state)
        state.apply(Event("t", SESSION, 99, "node_teleported", {"path": "src/a.py", "level": 7}))
        assert state == dataclasses.replace(before, last_seq=99)


def test_unknown_data_fields_change_nothing() -> None:
    noisy = [
        (kind, data if kind in PASS_THROUGH else {**data, "shard": "eu-1", "extra": {"a": 1}})
        for kind, data in SCRIPT
    ]
    assert SessionState.replay(events_of(noisy)) == SessionState.replay(EVENTS)


def test_odd_values_are_ignored_rather_than_trusted() -> None:
    state = SessionState.replay(
        [
            Event("t", SESSION, 1, "level_started", {"level": "0", "total": 3}),
            Event("t", SESSION, 2, "node_generation_started", {"path": "x", "level": True}),
            Event("t", SESSION, 3, "provider_response_received", {"path": "x", "latency_ms": "9"}),
            Event("t", SESSION, 4, "session_ended", {"outcome": 1}),
        ]
    )
    assert state.levels == []
    assert state.nodes == {"x": NodeView("x")}
    assert state.latencies_ms == []
    assert state.outcome == "completed"


def test_last_seq_is_the_highest_seen() -> None:
    state = SessionState.replay([EVENTS[4], EVENTS[2]])
    assert state.last_seq == 5
