"""Daily caps and pacing of a mailbox's automatic emails.

A mailbox may have a daily cap (counted per day in the rep's zone), a minimum gap between two
emails, and batches (after `batch_size` emails in a row, a wait of `batch_wait`).

- `assign_slots` (pure: `now` and zones are arguments) gives every waiting send the instant it
  can go under all of these and the campaigns' sending windows, in priority order (older
  enrolments first, then later steps), and says why when that is later than it was due.
- `pace_due`: before the dispatcher promotes due sends, each mailbox keeps only what its cap,
  gap, batches and the windows allow now; the rest is rescheduled to its slot with the reason.
- `forecast`: sends due and expected per day for the next days of a mailbox.

Functions that take a Session never commit. Windows and holidays are in campaigns/calendar.py.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from addin_server import dates
from addin_server.campaigns.calendar import SendingWindow, calendar_for, next_allowed, window_of
from addin_server.campaigns.timing import local_instant
from addin_server.enrollments.status import mailbox_reason
from addin_server.enums import EnrollmentStatus, SendState
from addin_server.models import Campaign, Enrollment, Mailbox, Person, Rep, Send


@dataclass(frozen=True)
class MailboxPace:
    """A mailbox's limits. `tz` is where its days start (the rep's zone)."""

    tz: ZoneInfo
    daily_cap: int | None = None
    min_gap: timedelta = timedelta(0)
    batch_size: int | None = None
    batch_wait: timedelta = timedelta(0)
    address: str = "this mailbox"
    # Ramp-up (a new mailbox): on day n from ramp_start the cap is ramp_first + n * ramp_step,
    # never above daily_cap.
    ramp_start: date | None = None
    ramp_first: int = 0
    ramp_step: int = 0

    def cap_on(self, day: date) -> int | None:
        """The cap of a local day. Pure."""
        if self.ramp_start is None:
            return self.daily_cap
        ramp = self.ramp_first + max(0, (day - self.ramp_start).days) * self.ramp_step
        return ramp if self.daily_cap is None else min(self.daily_cap, ramp)


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
    return dates.absolute(instant, tz.key, named=True)


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
        cap = pace.cap_on(day)
        if cap is not None and state.per_day[day] >= cap:
            t = local_instant(day + timedelta(days=1), time(0, 0), pace.tz)
            ramping = " (a new mailbox ramping up)" if cap != pace.daily_cap else ""
            why = (f"daily cap of {cap} emails from {pace.address}{ramping} reached for "
                   f"{dates.day(day)}")
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
    # A single scheduling loop (a heap in priority order) with each limit as one step of
    # it: cap, gap, batch, window. Splitting the loop would split the state it carries.
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
    last_held = "other emails from this mailbox go first"
    while ready_at or ready:
        if not ready:
            t = max(t, ready_at[0][0])
        t, held_by = _mailbox_earliest(pace, state, t)
        last_held = held_by or last_held
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
            # It was ready inside its window: what kept it back is the mailbox (the limit that
            # last held it, or the others ahead of it), then the window closed.
            first = held_by or why or (last_held if t > max(w.due_at, now) else "")
            heapq.heappush(ready_at, (opens, w.send_id, w,
                                      f"{first}; then {closed}" if first else closed))
            continue
        _record(pace, state, t)
        reason = ""
        if t > max(w.due_at, now):
            cause = held_by or why or "other emails from this mailbox go first"
            reason = f"{cause}: expected {_fmt(t, w.tz)}"
        slots.append(Slot(w.send_id, t, reason))
    return slots


# The rule behind each reason `assign_slots` and calendar.window_due give, first match wins:
# a reason starts with the limit that held the send first.
_RULES = (("daily cap", "cap"), ("pacing:", "gap"), ("in a row", "batch"),
          ("outside the sending window", "window"), ("holiday", "holiday"),
          ("other emails from this mailbox", "queue"))


def rule_of(reason: str) -> str:
    """'cap', 'gap', 'batch', 'window', 'holiday' or 'queue' for a slot's reason ('' if none)."""
    first = reason.split(";")[0]
    return next((rule for needle, rule in _RULES if needle in first), "")


def per_day(slots: Iterable[datetime], tz: ZoneInfo, start: date, days: int) -> list[int]:
    """How many of `slots` fall on each of `days` local dates from `start`."""
    counts = Counter(s.astimezone(tz).date() for s in slots)
    return [counts[start + timedelta(days=i)] for i in range(days)]


def utc(instant: datetime) -> datetime:
    return instant.astimezone(UTC)


IN_FLIGHT = (SendState.QUEUED, SendState.SENDING, SendState.UNKNOWN)


def pace_of(session: Session, mailbox: Mailbox) -> MailboxPace:
    rep = session.get(Rep, mailbox.rep_id)
    return MailboxPace(
        tz=ZoneInfo(rep.timezone if rep else "UTC"), daily_cap=mailbox.daily_cap,
        min_gap=timedelta(seconds=mailbox.min_gap_seconds or 0),
        batch_size=mailbox.batch_size,
        batch_wait=timedelta(seconds=mailbox.batch_wait_seconds or 0),
        address=mailbox.address,
        ramp_start=mailbox.ramp_start if mailbox.ramp_step else None,
        ramp_first=mailbox.ramp_first, ramp_step=mailbox.ramp_step,
    )


def history(session: Session, mailbox: Mailbox, pace: MailboxPace, now: datetime
            ) -> list[datetime]:
    """What counts against the cap, the gap and the batch: emails sent since yesterday's local
    midnight, and those in flight (counted as going now)."""
    since = local_instant(now.astimezone(pace.tz).date() - timedelta(days=1), time(0), pace.tz)
    sent = session.scalars(select(Send.sent_at).where(
        Send.mailbox_id == mailbox.id, Send.state == SendState.SENT, Send.sent_at >= since))
    flying = session.scalar(select(func.count()).select_from(Send).where(
        Send.mailbox_id == mailbox.id, Send.state.in_(IN_FLIGHT))) or 0
    return [s for s in sent if s is not None] + [now] * flying


def waiting(session: Session, mailbox: Mailbox, until: datetime) -> list[Waiting]:
    """The mailbox's scheduled automatic sends of active enrollments due by `until`. An email
    the rep wrote and sent from a task goes when they said: it counts, it is not held."""
    rows = session.execute(
        select(Send.id, Send.due_at, Send.position, Enrollment.created_at, Campaign,
               Person.timezone)
        .join(Enrollment, Enrollment.id == Send.enrollment_id)
        .join(Campaign, Campaign.id == Enrollment.campaign_id)
        .join(Person, Person.id == Enrollment.person_id)
        .where(Send.mailbox_id == mailbox.id, Send.state == SendState.SCHEDULED,
               Send.task_id.is_(None),
               Send.due_at <= until, Enrollment.status == EnrollmentStatus.ACTIVE,
               Person.unsubscribed_at.is_(None))
    ).all()
    calendars: dict[tuple[int, str | None], Waiting] = {}
    out = []
    for send_id, due_at, position, enrolled_at, campaign, person_tz in rows:
        key = (campaign.id, person_tz)
        if key not in calendars:
            cal = calendar_for(campaign, person_tz)
            calendars[key] = Waiting(0, due_at, enrolled_at, 0, cal.tz,
                                     window_of(campaign.extra_settings), cal.holidays)
        proto = calendars[key]
        out.append(Waiting(send_id, due_at, enrolled_at, position, proto.tz, proto.window,
                           proto.holidays))
    return out


def pace_due(session: Session, now: datetime) -> int:
    """Reschedule due sends that their mailbox's cap, gap, batches or window hold back, to
    the slot they will get, with the reason. Returns how many moved."""
    mailbox_ids = set(session.scalars(
        select(Send.mailbox_id).where(Send.state == SendState.SCHEDULED, Send.due_at <= now,
                                      Send.mailbox_id.is_not(None)).distinct()))
    moved = 0
    for mailbox_id in sorted(i for i in mailbox_ids if i is not None):
        mailbox = session.get(Mailbox, mailbox_id)
        assert mailbox is not None
        if mailbox_reason(mailbox, now) is not None:
            continue  # disconnected or paused: that, not pacing, is what holds its sends
        moved += _pace_mailbox(session, mailbox, now)
    return moved


def _pace_mailbox(session: Session, mailbox: Mailbox, now: datetime) -> int:
    pace = pace_of(session, mailbox)
    slots = assign_slots(pace, history(session, mailbox, pace, now),
                         waiting(session, mailbox, now), now)
    moved = 0
    for slot in slots:
        if slot.at > now:
            send = session.get(Send, slot.send_id)
            assert send is not None
            if send.state == SendState.SCHEDULED:
                send.due_at, send.reason, send.updated_at = slot.at, slot.reason, now
                moved += 1
    return moved


@dataclass(frozen=True)
class DayForecast:
    day: date
    due: int  # sends whose due time falls on the day
    expected: int  # sends expected to go that day under the cap, pacing and windows
    cap: int | None = None  # the day's cap (a new mailbox's grows day by day)


def forecast(session: Session, mailbox: Mailbox, now: datetime, days: int = 7
             ) -> list[DayForecast]:
    """Per local day (the rep's zone), from today: sends due and sends expected to go.

    Counts the outbox rows (each person's step in progress); later steps, not yet rows, are
    not in it. Sends that overflow the last day show in no day's `expected`.
    """
    pace = pace_of(session, mailbox)
    today = now.astimezone(pace.tz).date()
    end = local_instant(today + timedelta(days=days), time(0), pace.tz)
    items = waiting(session, mailbox, end)
    slots: list[Slot] = assign_slots(pace, history(session, mailbox, pace, now), items, now)
    due_days = [max(w.due_at, now).astimezone(pace.tz).date() for w in items]
    out_days = [s.at.astimezone(pace.tz).date() for s in slots]
    return [DayForecast(today + timedelta(days=i), due_days.count(today + timedelta(days=i)),
                        out_days.count(today + timedelta(days=i)),
                        pace.cap_on(today + timedelta(days=i))) for i in range(days)]
