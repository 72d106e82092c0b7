"""The one date style every place a rep reads a time uses: web pages, the Outlook pane, the Gmail
add-on's cards, compose notes, the quoted-reply header and the "why not yet" reasons.

    day        Tue, 3 Mar 2026
    absolute   Tue, 3 Mar 2026 at 09:34        (+ " CET" when the zone is named)
    relative   in 2 days · 3 hours ago · in 5 minutes · just now
    described  Tue, 3 Mar at 09:34 (in 2 days) (relative only within a week; the year only
                                                 when it is not this year)

English whatever the server's locale (strftime's %a/%b follow it). 24-hour clock, day before
month: the order most of our reps' countries read. Pure: no database, no clock (callers pass
`now`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Beyond this distance from now a relative time stops helping ("in 40 days"): the date says it.
RELATIVE_WITHIN = timedelta(days=7)


def zone(tz: str | None) -> ZoneInfo:
    """The rep's zone; UTC when unset or unknown (a bad stored name must not break a page)."""
    try:
        return ZoneInfo(tz or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def day(d: date, *, year: bool = True) -> str:
    """`Tue, 3 Mar 2026` (`Tue, 3 Mar` without the year)."""
    text = f"{DAYS[d.weekday()]}, {d.day} {MONTHS[d.month - 1]}"
    return f"{text} {d.year}" if year else text


def local(instant: datetime, tz: str | None) -> datetime:
    return aware(instant).astimezone(zone(tz))


def absolute(instant: datetime, tz: str | None, *, named: bool = False, year: bool = True
             ) -> str:
    """`Tue, 3 Mar 2026 at 09:34` in `tz` (`... 09:34 CET` when `named`)."""
    moment = local(instant, tz)
    text = f"{day(moment.date(), year=year)} at {moment:%H:%M}"
    return f"{text} {moment.tzname()}" if named else text


def _count(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def relative(instant: datetime, now: datetime) -> str:
    """`in 2 days`, `3 hours ago`, `in 5 minutes`, `just now`."""
    seconds = (aware(instant) - now).total_seconds()
    span = abs(seconds)
    if span < 60:
        return "just now"
    if span < 3600:
        amount = _count(round(span / 60), "minute")
    elif span < 86400:
        amount = _count(round(span / 3600), "hour")
    else:
        amount = _count(round(span / 86400), "day")
    return f"in {amount}" if seconds > 0 else f"{amount} ago"


def relative_day(d: date, today: date) -> str:
    """`today`, `tomorrow`, `yesterday`, `in 3 days`, `2 days ago`."""
    delta = (d - today).days
    if delta == 0:
        return "today"
    if delta == 1:
        return "tomorrow"
    if delta == -1:
        return "yesterday"
    return f"in {delta} days" if delta > 0 else f"{-delta} days ago"


def described(instant: datetime, tz: str | None, now: datetime, *, named: bool = False) -> str:
    """`Tue, 3 Mar at 09:34 (in 2 days)`: the absolute time, the year only when it is not this
    year, and how far it is when that is within a week."""
    this_year = local(instant, tz).year == local(now, tz).year
    text = absolute(instant, tz, named=named, year=not this_year)
    if abs(aware(instant) - now) <= RELATIVE_WITHIN:
        text = f"{text} ({relative(instant, now)})"
    return text


def described_day(d: date, today: date) -> str:
    """`Tue, 3 Mar (tomorrow)`, for dates without a time (a task's due day)."""
    text = day(d, year=d.year != today.year)
    if abs((d - today).days) <= RELATIVE_WITHIN.days:
        text = f"{text} ({relative_day(d, today)})"
    return text


def iso(instant: datetime) -> str:
    """The machine form for `<time datetime=...>` and the API: `2026-03-03T08:34:00Z`."""
    return aware(instant).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def quote_header(instant: datetime, tz: str | None, name: str, address: str) -> str:
    """`On Tue, 3 Mar 2026 at 09:34, Name <address> wrote:` (plain text: escape for HTML)."""
    who = f"{name} <{address}>" if name and address and name != address else (address or name)
    return f"On {absolute(instant, tz)}, {who} wrote:"


def aware(instant: datetime) -> datetime:
    """A stored instant as an aware UTC one (SQLite hands back naive UTC)."""
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)
