"""The wait an HTTP API asks for before the next attempt (`Retry-After`).

`Retry-After` is either a number of seconds or an HTTP date (RFC 9110,
section 10.2.3). OpenAI and Anthropic also send `retry-after-ms`, the same
wait in milliseconds, which is the more precise of the two and wins when both
are present. Every function here is pure: the current time is an argument, so
tests pass a fixed clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait according to one `Retry-After` value, or None if it says nothing usable.

    Accepts delta-seconds (fractions too, as some servers send them) and
    HTTP dates; a wait in the past or a negative number becomes 0, and an
    empty, unparseable or non-finite value becomes None. `now` is the time the
    answer arrived; a naive `now` or date is taken to be UTC.
    """
    if value is None or not value.strip():
        return None
    seconds = _parse_seconds(value)
    if seconds is not None:
        return seconds
    return _parse_http_date(value, now=now)


def parse_retry_after_ms(value: str | None) -> float | None:
    """Seconds to wait according to one `retry-after-ms` value, or None if it is unusable."""
    if value is None:
        return None
    milliseconds = _parse_seconds(value)
    return None if milliseconds is None else milliseconds / 1000


def retry_after_from_headers(headers: Mapping[str, str], *, now: datetime) -> float | None:
    """Seconds to wait according to a response's headers (names in any case), or None.

    `retry-after-ms` is preferred when it parses; otherwise `Retry-After`.
    """
    from_ms = parse_retry_after_ms(_header(headers, "retry-after-ms"))
    if from_ms is not None:
        return from_ms
    return parse_retry_after(_header(headers, "retry-after"), now=now)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # HTTP header names are case-insensitive; a plain dict is not, so look both ways.
    value = headers.get(name)
    if value is not None:
        return value
    return next((item for key, item in headers.items() if key.lower() == name), None)


def _parse_seconds(value: str) -> float | None:
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    # float() accepts "nan" and "inf", and huge exponents overflow to inf: none is a wait.
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


def _parse_http_date(value: str, *, now: datetime) -> float | None:
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return max((_aware(when) - _aware(now)).total_seconds(), 0.0)


def _aware(moment: datetime) -> datetime:
    # HTTP dates are always GMT; "-0000" in a date yields a naive datetime.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
