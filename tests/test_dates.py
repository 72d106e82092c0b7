"""The one date style (addin_server/dates.py): pure, so plain cases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from addin_server import dates

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # Sun 1 Mar 2026, 13:00 in Paris


def test_absolute_is_in_the_zone_given_in_english_24_hours() -> None:
    at = datetime(2026, 3, 3, 8, 34, tzinfo=UTC)
    assert dates.absolute(at, "Europe/Paris") == "Tue, 3 Mar 2026 at 09:34"
    assert dates.absolute(at, "Europe/Paris", named=True) == "Tue, 3 Mar 2026 at 09:34 CET"
    assert dates.absolute(at, "America/Los_Angeles") == "Tue, 3 Mar 2026 at 00:34"
    # A naive value (SQLite) is UTC; an unknown zone falls back to UTC instead of failing.
    assert dates.absolute(at.replace(tzinfo=None), "Nowhere/Land") == "Tue, 3 Mar 2026 at 08:34"


@pytest.mark.parametrize(("delta", "text"), [
    (timedelta(seconds=20), "just now"),
    (timedelta(minutes=5), "in 5 minutes"),
    (timedelta(minutes=-1), "1 minute ago"),
    (timedelta(hours=3), "in 3 hours"),
    (timedelta(hours=-3), "3 hours ago"),
    (timedelta(days=2), "in 2 days"),
    (timedelta(days=-1, hours=-2), "1 day ago"),
])
def test_relative(delta: timedelta, text: str) -> None:
    assert dates.relative(NOW + delta, NOW) == text


def test_described_drops_this_year_and_adds_relative_within_a_week() -> None:
    soon = datetime(2026, 3, 3, 8, 34, tzinfo=UTC)
    assert dates.described(soon, "Europe/Paris", NOW) == "Tue, 3 Mar at 09:34 (in 2 days)"
    later = datetime(2027, 1, 5, 9, 0, tzinfo=UTC)
    assert dates.described(later, "Europe/Paris", NOW) == "Tue, 5 Jan 2027 at 10:00"


def test_days() -> None:
    today = date(2026, 3, 1)
    assert dates.day(date(2026, 3, 3)) == "Tue, 3 Mar 2026"
    assert dates.described_day(date(2026, 3, 2), today) == "Mon, 2 Mar (tomorrow)"
    assert dates.described_day(date(2026, 2, 27), today) == "Fri, 27 Feb (2 days ago)"
    assert dates.described_day(date(2026, 1, 1), today) == "Thu, 1 Jan"


def test_quote_header() -> None:
    at = datetime(2026, 3, 3, 8, 34, tzinfo=UTC)
    assert dates.quote_header(at, "Europe/Paris", "Ann Rep", "ann@acme.test") == (
        "On Tue, 3 Mar 2026 at 09:34, Ann Rep <ann@acme.test> wrote:")
    assert dates.quote_header(at, "UTC", "", "ann@acme.test") == (
        "On Tue, 3 Mar 2026 at 08:34, ann@acme.test wrote:")


def test_iso() -> None:
    assert dates.iso(datetime(2026, 3, 3, 9, 34, 5)) == "2026-03-03T09:34:05Z"
