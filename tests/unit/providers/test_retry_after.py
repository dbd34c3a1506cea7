"""`Retry-After` and `retry-after-ms` parsing, against a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from merkle.providers.retry_after import (
    parse_retry_after,
    parse_retry_after_ms,
    retry_after_from_headers,
)

NOW = datetime(2030, 6, 15, 12, 0, 0, tzinfo=UTC)


def http_date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        (" 30 ", 30.0),
        ("1.5", 1.5),
        ("-5", 0.0),
    ],
)
def test_delta_seconds(value: str, seconds: float) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


def test_http_date_in_the_future_is_the_seconds_until_it() -> None:
    assert parse_retry_after(http_date(NOW + timedelta(seconds=90)), now=NOW) == 90.0


def test_http_date_in_the_past_is_no_wait() -> None:
    assert parse_retry_after(http_date(NOW - timedelta(hours=1)), now=NOW) == 0.0


def test_http_date_with_unknown_zone_is_taken_as_utc() -> None:
    # "-0000" means "UTC, origin unknown"; parsedate_to_datetime makes it naive.
    assert parse_retry_after("Sat, 15 Jun 2030 12:00:45 -0000", now=NOW) == 45.0


def test_naive_now_is_taken_as_utc() -> None:
    naive_now = NOW.replace(tzinfo=None)
    assert parse_retry_after(http_date(NOW + timedelta(seconds=10)), now=naive_now) == 10.0


@pytest.mark.parametrize(
    "value",
    [None, "", "   ", "soon", "nan", "inf", "-inf", "1e999", "Mon, 99 Foo 2030", "12 seconds"],
)
def test_unusable_values_say_nothing(value: str | None) -> None:
    assert parse_retry_after(value, now=NOW) is None


def test_milliseconds() -> None:
    assert parse_retry_after_ms("1500") == 1.5
    assert parse_retry_after_ms("-20") == 0.0
    assert parse_retry_after_ms("later") is None
    assert parse_retry_after_ms(None) is None


def test_headers_prefer_milliseconds() -> None:
    headers = {"retry-after-ms": "250", "retry-after": "9"}
    assert retry_after_from_headers(headers, now=NOW) == 0.25


def test_headers_fall_back_to_seconds_when_milliseconds_are_unusable() -> None:
    headers = {"retry-after-ms": "garbage", "retry-after": "9"}
    assert retry_after_from_headers(headers, now=NOW) == 9.0


def test_header_names_match_in_any_case() -> None:
    assert retry_after_from_headers({"Retry-After": "5"}, now=NOW) == 5.0
    assert retry_after_from_headers({"Retry-After-Ms": "5"}, now=NOW) == 0.005


def test_headers_without_either_say_nothing() -> None:
    assert retry_after_from_headers({"content-type": "application/json"}, now=NOW) is None


@given(st.integers(min_value=0, max_value=10**9))
def test_any_whole_number_of_seconds_is_itself(seconds: int) -> None:
    assert parse_retry_after(str(seconds), now=NOW) == seconds


@given(st.integers(min_value=-(10**8), max_value=10**8))
def test_any_http_date_is_the_non_negative_distance_from_now(offset_s: int) -> None:
    assert parse_retry_after(http_date(NOW + timedelta(seconds=offset_s)), now=NOW) == max(
        offset_s, 0
    )


@given(st.text())
def test_any_text_gives_none_or_a_finite_non_negative_wait(value: str) -> None:
    seconds = parse_retry_after(value, now=NOW)
    assert seconds is None or 0.0 <= seconds < float("inf")
