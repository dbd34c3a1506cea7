"""The event model: `ts`, `session`, `seq`, `type`, `data`.

`ts` is UTC ISO 8601 with milliseconds (`2026-11-21T21:14:03.123Z`). Readers
ignore fields they do not know, so newer writers stay readable.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from merkle.errors import MerkleError


class EventFormatError(MerkleError):
    """A stored or serialised event that lacks a field every event has."""


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened in a session."""

    ts: str
    session: str
    seq: int
    type: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The event as a JSON object."""
        return {
            "ts": self.ts,
            "session": self.session,
            "seq": self.seq,
            "type": self.type,
            "data": dict(self.data),
        }

    def to_json(self) -> str:
        """One line of JSON."""
        return json.dumps(self.to_dict(), separators=(",", ":"), default=str)

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> Event:
        """Read an event, ignoring unknown fields."""
        try:
            ts, session, seq, kind = (document[k] for k in ("ts", "session", "seq", "type"))
        except KeyError as missing:
            raise EventFormatError(f"an event without {missing.args[0]!r}") from None
        data = document.get("data")
        if not isinstance(seq, int) or not isinstance(kind, str):
            raise EventFormatError(f"an event with a bad seq or type: {seq!r}, {kind!r}")
        return cls(
            ts=str(ts),
            session=str(session),
            seq=seq,
            type=kind,
            data=dict(data) if isinstance(data, Mapping) else {},
        )

    @classmethod
    def from_json(cls, text: str) -> Event:
        """Read an event from its JSON text."""
        try:
            document = json.loads(text)
        except ValueError as error:
            raise EventFormatError(f"an event that is not JSON: {error}") from None
        if not isinstance(document, Mapping):
            raise EventFormatError("an event that is not a JSON object")
        return cls.from_dict(document)


def format_ts(time_ns: int) -> str:
    """`time_ns` (nanoseconds since the epoch) as UTC ISO 8601 with milliseconds."""
    # Integer arithmetic: float seconds lose the milliseconds far enough out.
    ms = time_ns // 1_000_000
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def parse_ts(ts: str) -> datetime:
    """A `ts` back as an aware datetime."""
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def new_session_id(time_ns: int) -> str:
    """A session id that sorts by start time: `20261121T211403-9f2c41d07a`.

    Forty random bits tell apart sessions started in the same second; the
    store refuses a duplicate and the writer then draws again.
    """
    moment = datetime.fromtimestamp(time_ns // 1_000_000_000, tz=UTC)
    return f"{moment:%Y%m%dT%H%M%S}-{secrets.token_hex(5)}"


def clean_data(data: Mapping[str, object]) -> dict[str, Any]:
    """`data` as plain JSON values: strings for anything JSON cannot hold."""
    return {str(key): _plain(value) for key, value in data.items()}


def _plain(value: object) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return clean_data(value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return str(getattr(value, "value", value))


def scrubbed(value: Any, scrub: Callable[[str], str]) -> Any:
    """`value` (plain JSON values) with `scrub` applied to every string in it."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {key: scrubbed(item, scrub) for key, item in value.items()}
    if isinstance(value, list):
        return [scrubbed(item, scrub) for item in value]
    return value
