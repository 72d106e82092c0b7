"""Sending windows and mailbox caps applied to the outbox (pacing.py holds the pure rules).

- `window_due`: when a new send is created, its due time moves into the campaign's window
  (and off holidays), with the reason.
- `pace_due`: before the dispatcher promotes due sends, each mailbox keeps only what its cap,
  gap, batches and the windows allow now; the rest is rescheduled to its slot with the reason
  (the dispatcher's tick calls it, then promotes).
- `forecast`: sends due and expected per day for the next days of a mailbox.
Functions take a Session and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from addin_server.campaigns.settings import window_of
from addin_server.campaigns.timing import local_instant
from addin_server.enrollments.advance import calendar_for
from addin_server.enums import EnrollmentStatus, SendState
from addin_server.models import Campaign, Enrollment, Mailbox, Person, Rep, Send
from addin_server.sending.pacing import MailboxPace, Slot, Waiting, assign_slots, next_allowed

IN_FLIGHT = (SendState.QUEUED, SendState.SENDING, SendState.UNKNOWN)


def window_due(campaign: Campaign, person_timezone: str | None, due_at: datetime
               ) -> tuple[datetime, str]:
    """`due_at` moved into the campaign's sending window (in the zone the person's steps are
    timed in) and off its holidays; the reason when it moved."""
    window = window_of(campaign.extra_settings)
    cal = calendar_for(campaign, person_timezone)
    moved = next_allowed(due_at, window, cal.tz, cal.holidays)
    if moved == due_at:
        return due_at, ""
    local = moved.astimezone(cal.tz).strftime("%a %d %b %H:%M %Z")
    if window is not None:
        return moved, f"outside the sending window {window.describe()} {cal.tz.key}: " \
                      f"expected {local}"
    return moved, f"holiday: expected {local}"


def pace_of(session: Session, mailbox: Mailbox) -> MailboxPace:
    rep = session.get(Rep, mailbox.rep_id)
    return MailboxPace(
        tz=ZoneInfo(rep.timezone if rep else "UTC"), daily_cap=mailbox.daily_cap,
        min_gap=timedelta(seconds=mailbox.min_gap_seconds or 0),
        batch_size=mailbox.batch_size,
        batch_wait=timedelta(seconds=mailbox.batch_wait_seconds or 0),
        address=mailbox.address,
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
                        out_days.count(today + timedelta(days=i))) for i in range(days)]
