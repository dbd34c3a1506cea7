"""The event model: serialisation, timestamps, session ids.

Pure functions, plus the session writer against a real SQLite store in a
temporary directory where an id must be unique in the store.
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from enum import Enum
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from merkle.errors import MerkleError
from merkle.store import open_store
from merkle.telemetry import model
from merkle.telemetry.model import (
    Event,
    EventFormatError,
    clean_data,
    format_ts,
    new_session_id,
    parse_ts,
)
from merkle.telemetry.writer import SessionWriter
from tests.support.apps import backend

pytestmark = pytest.mark.timeout(30)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# 2025-11-21T21:14:03Z, in seconds since the epoch.
KNOWN_S = 1_763_759_643
TS_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
ID_PATTERN = re.compile(r"(\d{8}T\d{6})-([0-9a-f]{10})")
# The round trip below divides timedeltas into floats: exact up to 2**33 s.
MAX_EXACT_NS = 2**33 * 10**9 - 1

EVENT = Event(
    ts="2025-11-21T21:14:03.123Z",
    session="20251121T211403-9f2c41d07a",
    seq=7,
    type="node_generation_failed",
    data={"path": "src/ü.py", "attempt": 2, "delay_s": 1.5, "ok": False, "tags": ["a", "b"],
          "nested": {"code": None}},
)  # fmt: skip

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


def expected_ts(time_ns: int) -> str:
    """The `ts` of `time_ns`, computed with integers only."""
    moment = EPOCH + timedelta(seconds=time_ns // 10**9)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{time_ns // 10**6 % 1000:03d}Z"


# Serialisation


def test_an_event_survives_json_and_dict_round_trips() -> None:
    assert Event.from_json(EVENT.to_json()) == EVENT
    assert Event.from_dict(EVENT.to_dict()) == EVENT
    # One line, compact: the form a log file or a pipe carries.
    assert "\n" not in EVENT.to_json()
    assert EVENT.to_json().startswith('{"ts":"2025-11-21T21:14:03.123Z","session":')


@given(
    seq=st.integers(min_value=1, max_value=2**53),
    kind=st.text(min_size=1),
    data=st.dictionaries(st.text(), json_values, max_size=5),
)
@settings(max_examples=100, deadline=None)
def test_any_json_event_round_trips(seq: int, kind: str, data: dict[str, Any]) -> None:
    event = Event("2025-11-21T21:14:03.123Z", "s-1", seq, kind, data)
    assert Event.from_json(event.to_json()) == event


def test_unknown_top_level_fields_are_ignored() -> None:
    document = {**EVENT.to_dict(), "schema": 2, "host": "elsewhere", "span": {"id": 1}}
    assert Event.from_dict(document) == EVENT
    assert Event.from_json(EVENT.to_json()[:-1] + ',"future":[1,2]}') == EVENT


def test_unknown_data_fields_are_kept_as_data_without_error() -> None:
    document = EVENT.to_dict()
    document["data"] = {**document["data"], "added_later": {"x": 1}}
    event = Event.from_dict(document)
    assert event.data["added_later"] == {"x": 1}
    assert {k: v for k, v in event.data.items() if k != "added_later"} == EVENT.data


def test_missing_or_odd_data_reads_as_empty() -> None:
    bare = {"ts": EVENT.ts, "session": EVENT.session, "seq": 1, "type": "x"}
    assert Event.from_dict(bare).data == {}
    assert Event.from_dict({**bare, "data": [1, 2]}).data == {}
    assert Event.from_dict({**bare, "data": None}).data == {}


@pytest.mark.parametrize("missing", ["ts", "session", "seq", "type"])
def test_an_event_without_a_required_field_is_refused(missing: str) -> None:
    document = EVENT.to_dict()
    del document[missing]
    with pytest.raises(EventFormatError, match=repr(missing)):
        Event.from_dict(document)
    with pytest.raises(EventFormatError, match=repr(missing)):
        Event.from_json(EVENT.to_json().replace(f'"{missing}":', '"renamed":', 1))


@pytest.mark.parametrize(
    "text",
    ["not json", "[1, 2]", '"a string"', '{"ts":"t","session":"s","seq":"7","type":"x"}',
     '{"ts":"t","session":"s","seq":7,"type":3}'],
)  # fmt: skip
def test_text_that_is_not_an_event_is_refused(text: str) -> None:
    with pytest.raises(EventFormatError):
        Event.from_json(text)


def test_clean_data_turns_values_into_plain_json() -> None:
    class Colour(Enum):
        RED = "red"

    # A key that is not a string, as a careless caller might pass: it becomes one.
    odd: dict[Any, object] = {4: {"n": {Colour.RED}}}
    cleaned = clean_data({"p": Path("a/b.py"), "c": Colour.RED, "t": (1, (2, 3)), **odd})
    assert cleaned == {"p": "a/b.py", "c": "red", "t": [1, [2, 3]], "4": {"n": str({Colour.RED})}}


# Timestamps


@pytest.mark.parametrize(
    ("time_ns", "text"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (KNOWN_S * 10**9 + 123_456_789, "2025-11-21T21:14:03.123Z"),
        # Milliseconds are truncated, never rounded up into the next second.
        (KNOWN_S * 10**9 + 999_999_999, "2025-11-21T21:14:03.999Z"),
        (KNOWN_S * 10**9 + 1_000_000, "2025-11-21T21:14:03.001Z"),
        (951_782_400 * 10**9 + 5 * 10**6, "2000-02-29T00:00:00.005Z"),
    ],
)
def test_format_ts_is_utc_with_three_digits_of_milliseconds(time_ns: int, text: str) -> None:
    assert format_ts(time_ns) == text
    assert parse_ts(text) == EPOCH + timedelta(milliseconds=time_ns // 10**6)
    assert parse_ts(text).utcoffset() == timedelta(0)


@given(st.integers(min_value=0, max_value=MAX_EXACT_NS))
@settings(max_examples=500, deadline=None)
def test_format_ts_round_trips_to_the_millisecond(time_ns: int) -> None:
    text = format_ts(time_ns)
    assert TS_PATTERN.fullmatch(text), text
    assert text == expected_ts(time_ns)
    parsed = parse_ts(text)
    assert parsed == EPOCH + timedelta(milliseconds=time_ns // 10**6)
    assert format_ts(int((parsed - EPOCH) / timedelta(microseconds=1)) * 1000) == text


def test_format_ts_is_exact_in_the_far_future() -> None:
    time_ns = 8_590_094_619_154_121_267  # 2242-03-18T09:23:39.154121267Z
    assert format_ts(time_ns) == expected_ts(time_ns) == "2242-03-18T09:23:39.154Z"


# Session ids


def test_a_session_id_names_its_start_second_in_utc() -> None:
    session_id = new_session_id(KNOWN_S * 10**9 + 123_456_789)
    match = ID_PATTERN.fullmatch(session_id)
    assert match is not None, session_id
    assert match.group(1) == "20251121T211403"


def test_ten_thousand_ids_drawn_in_the_same_nanosecond_are_distinct() -> None:
    time_ns = KNOWN_S * 10**9
    ids = [new_session_id(time_ns) for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert {i.partition("-")[0] for i in ids} == {"20251121T211403"}
    assert all(ID_PATTERN.fullmatch(i) for i in ids)


@given(
    st.dictionaries(
        st.integers(min_value=0, max_value=2**32 - 1),
        st.integers(min_value=0, max_value=999_999_999),
        min_size=2,
        max_size=20,
    )
)
@settings(max_examples=200, deadline=None)
def test_ids_of_sessions_started_in_different_seconds_sort_by_start_time(
    starts: dict[int, int],
) -> None:
    ids = {second: new_session_id(second * 10**9 + ns) for second, ns in starts.items()}
    assert sorted(ids.values()) == [ids[second] for second in sorted(ids)]


def test_an_id_started_at_the_end_of_a_second_names_that_second() -> None:
    late = new_session_id(KNOWN_S * 10**9 + 999_999_999)
    assert late.startswith("20251121T211403-")


def test_writers_started_at_the_same_instant_get_distinct_ids(tmp_path: Path) -> None:
    database_path = tmp_path / "merkle.db"
    open_store(database_path, create=True).close()
    ids: list[str] = []
    lock = threading.Lock()
    gate = threading.Barrier(4)

    def start_many() -> None:
        gate.wait(timeout=10)
        for _ in range(25):
            # One frozen clock for every writer: the same second, the same nanosecond.
            writer = SessionWriter(
                partial(open_store, database_path), command="c", clock_ns=lambda: KNOWN_S * 10**9
            )
            started = writer.start()
            writer.end("completed")
            with lock:
                ids.append(started.session)

    threads = [threading.Thread(target=start_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(ids) == 100
    assert len(set(ids)) == 100
    with backend(database_path) as store:
        stored = store.events.sessions()
    assert sorted(row.session_id for row in stored) == sorted(ids)
    assert {row.last_seq for row in stored} == {2}


class ScriptedTokens:
    """Stands in for the id's random part: the draws a collision test needs."""

    def __init__(self, draws: list[str]) -> None:
        self._draws = iter(draws)

    def token_hex(self, nbytes: int) -> str:
        assert nbytes == 5
        return next(self._draws)


def test_a_writer_draws_again_when_its_id_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database_path = tmp_path / "merkle.db"
    draws = ["aaaaaaaaaa", "aaaaaaaaaa", "aaaaaaaaaa", "bbbbbbbbbb"]
    monkeypatch.setattr(model, "secrets", ScriptedTokens(draws))
    first, second = (
        SessionWriter(
            partial(open_store, database_path, create=True),
            command=name,
            clock_ns=lambda: KNOWN_S * 10**9,
        )
        for name in ("first", "second")
    )
    try:
        assert first.start().session == "20251121T211403-aaaaaaaaaa"
        assert second.start().session == "20251121T211403-bbbbbbbbbb"
    finally:
        first.end("completed")
        second.end("completed")
    with backend(database_path) as store:
        stored = {row.session_id: row.command for row in store.events.sessions()}
    assert stored == {
        "20251121T211403-aaaaaaaaaa": "first",
        "20251121T211403-bbbbbbbbbb": "second",
    }


def test_a_writer_gives_up_when_every_drawn_id_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database_path = tmp_path / "merkle.db"
    monkeypatch.setattr(model, "secrets", SimpleNamespace(token_hex=lambda _: "cccccccccc"))
    connect = partial(open_store, database_path, create=True)
    first = SessionWriter(connect, command="first", clock_ns=lambda: KNOWN_S * 10**9)
    second = SessionWriter(connect, command="second", clock_ns=lambda: KNOWN_S * 10**9)
    first.start()
    try:
        with pytest.raises(MerkleError, match="every drawn id was taken"):
            second.start()
    finally:
        second.close()  # start opened the database before it gave up
        first.end("completed")
    with backend(database_path) as store:
        assert [row.command for row in store.events.sessions()] == ["first"]
