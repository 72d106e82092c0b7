"""Sending windows, daily caps and pacing. Pure functions: `now` and zones are arguments.

A campaign may have a sending window (days of the week and hours, read in the person's zone
when the campaign uses it, else the campaign's). A mailbox may have a daily cap (counted per
day in the rep's zone), a minimum gap between two emails, and batches (after `batch_size`
emails in a row, a wait of `batch_wait`). `assign_slots` gives every waiting send the instant
it can go under all of these, in priority order (older enrolments first, then later steps),
and says why when that is later than it was due.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from addin_server.campaigns.timing import local_instant

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class SendingWindow:
    """Allowed days (0 = Monday) and hours [start, end) in local time."""

    days: frozenset[int] = frozenset(range(5))
    start: time = time(8, 0)
    end: time = time(18, 0)

    def describe(self) -> str:
        days = sorted(self.days)
        if days and days == list(range(days[0], days[-1] + 1)) and len(days) > 2:
            names = f"{DAY_NAMES[days[0]].title()}-{DAY_NAMES[days[-1]].title()}"
        else:
            names = ",".join(DAY_NAMES[d].title() for d in days)
        return f"{names} {self.start:%H:%M}-{self.end:%H:%M}"


def _allowed_day(d: date, window: SendingWindow | None, holidays: frozenset[date]) -> bool:
    if d in holidays:
        return False
    return window is None or d.weekday() in window.days


def next_allowed(
    instant: datetime,
    window: SendingWindow | None,
    tz: ZoneInfo,
    holidays: frozenset[date] = frozenset(),
) -> datetime:
    """The first instant at or after `instant` inside the window, on a day that is no holiday.

    Window edges are wall-clock times in `tz`, so they stay put across DST changes (08:00 is
    07:00 UTC in winter and 06:00 UTC in summer in Paris).
    """
    if window is None and not holidays:
        return instant
    local = instant.astimezone(tz)
    d = local.date()
    for _ in range(400):
        if _allowed_day(d, window, holidays):
            if window is None:
                return instant if d == local.date() else local_instant(d, time(0, 0), tz)
            opens = local_instant(d, window.start, tz)
            closes = local_instant(d, window.end, tz)
            if instant < closes:
                return max(instant, opens)
        d += timedelta(days=1)
    raise ValueError("the sending window allows no day within a year")


@dataclass(frozen=True)
class MailboxPace:
    """A mailbox's limits. `tz` is where its days start (the rep's zone)."""

    tz: ZoneInfo
    daily_cap: int | None = None
    min_gap: timedelta = timedelta(0)
    batch_size: int | None = None
    batch_wait: timedelta = timedelta(0)
    address: str = "this mailbox"


@dataclass(frozen=True)
class Waiting:
    """A send competing for the mailbox's slots."""

    send_id: int
    due_at: datetime
    enrolled_at: datetime  # older enrolments first
    position: int  # then later steps first
    tz: ZoneInfo  # the zone its window is read in
    window: SendingWindow | None = None
    holidays: frozenset[date] = frozenset()


@dataclass(frozen=True)
class Slot:
    send_id: int
    at: datetime
    reason: str  # "" when it goes when it was due


@dataclass
class _State:
    """What the mailbox has done so far in the simulation."""

    per_day: Counter[date] = field(default_factory=Counter)
    last: datetime | None = None
    in_batch: int = 0


def _fmt(instant: datetime, tz: ZoneInfo) -> str:
    return instant.astimezone(tz).strftime("%a %d %b %H:%M %Z")


def _mailbox_earliest(pace: MailboxPace, state: _State, t: datetime) -> tuple[datetime, str]:
    """The first instant >= t the mailbox may send, and the limit that held it (or "")."""
    why = ""
    for _ in range(400):
        before = t
        if state.last is not None:
            if pace.batch_size and state.in_batch >= pace.batch_size and pace.batch_wait:
                if t < state.last + pace.batch_wait:
                    t, why = state.last + pace.batch_wait, (
                        f"{pace.batch_size} emails sent in a row from {pace.address}: "
                        f"pausing {_duration(pace.batch_wait)} between batches")
            elif t < state.last + pace.min_gap:
                t, why = state.last + pace.min_gap, (
                    f"pacing: at least {_duration(pace.min_gap)} between emails from "
                    f"{pace.address}")
        day = t.astimezone(pace.tz).date()
        if pace.daily_cap is not None and state.per_day[day] >= pace.daily_cap:
            t = local_instant(day + timedelta(days=1), time(0, 0), pace.tz)
            why = (f"daily cap of {pace.daily_cap} emails from {pace.address} reached for "
                   f"{day:%a %d %b}")
        if t == before:
            return t, why
    raise ValueError("no day under the cap within a year")


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 3600 == 0 and seconds >= 3600:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0 and seconds >= 60:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def _record(pace: MailboxPace, state: _State, at: datetime) -> None:
    if state.last is not None and pace.batch_wait and at - state.last >= pace.batch_wait:
        state.in_batch = 0  # a natural pause as long as the batch wait starts a new batch
    state.per_day[at.astimezone(pace.tz).date()] += 1
    state.last = at
    state.in_batch += 1


def _priority(w: Waiting) -> tuple[datetime, int, datetime, int]:
    return (w.enrolled_at, -w.position, w.due_at, w.send_id)


def assign_slots(
    pace: MailboxPace,
    already: Iterable[datetime],
    waiting: Sequence[Waiting],
    now: datetime,
) -> list[Slot]:
    """The instant each waiting send can go, in the order they go.

    `already` are the instants of emails this mailbox sent (or has in flight) recently: they
    count towards today's cap, the gap and the current batch. A send first waits for its own
    due time and window; among those ready, the mailbox takes the highest priority first.
    """
    state = _State()
    for at in sorted(already):
        _record(pace, state, at)
    ready_at: list[tuple[datetime, int, Waiting, str]] = []
    for w in waiting:
        start = max(w.due_at, now)
        opens = next_allowed(start, w.window, w.tz, w.holidays)
        why = ""
        if opens > start:
            where = f"sending window {w.window.describe()} {w.tz.key}" if w.window else "holiday"
            why = f"outside the {where}" if w.window else "holiday in the person's calendar"
        heapq.heappush(ready_at, (opens, w.send_id, w, why))
    slots: list[Slot] = []
    ready: list[tuple[tuple[datetime, int, datetime, int], Waiting, str]] = []
    t = now
    while ready_at or ready:
        if not ready:
            t = max(t, ready_at[0][0])
        t, held_by = _mailbox_earliest(pace, state, t)
        while ready_at and ready_at[0][0] <= t:
            _, _, w, why = heapq.heappop(ready_at)
            heapq.heappush(ready, (_priority(w), w, why))
        if not ready:
            continue
        _, w, why = heapq.heappop(ready)
        # A send that a window would let go now, but whose window has closed by the time the
        # mailbox gets to it, waits for its next opening.
        opens = next_allowed(t, w.window, w.tz, w.holidays)
        if opens > t:
            closed = (f"outside the sending window {w.window.describe()} {w.tz.key}"
                      if w.window else "holiday in the person's calendar")
            heapq.heappush(ready_at, (opens, w.send_id, w,
                                      f"{held_by}; then {closed}" if held_by else closed))
            continue
        _record(pace, state, t)
        reason = ""
        if t > max(w.due_at, now):
            cause = held_by or why or "other emails from this mailbox go first"
            reason = f"{cause}: expected {_fmt(t, w.tz)}"
        slots.append(Slot(w.send_id, t, reason))
    return slots


def per_day(slots: Iterable[datetime], tz: ZoneInfo, start: date, days: int) -> list[int]:
    """How many of `slots` fall on each of `days` local dates from `start`."""
    counts = Counter(s.astimezone(tz).date() for s in slots)
    return [counts[start + timedelta(days=i)] for i in range(days)]


def utc(instant: datetime) -> datetime:
    return instant.astimezone(UTC)
