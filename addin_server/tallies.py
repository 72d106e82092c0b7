"""The campaign report's counters, kept in the transaction of the change they count.

The report (reports/) sums `ReportCount` rows by step and day; it never reads the sends. The
rules that make the numbers honest live here, where they are counted:
- a reply counts once per person and step (the first one; `SentMessage.replied_at`), and only
  a person's reply: automatic replies and out-of-office messages never reach `count_reply`;
- a bounce of an email that was replied to counts as a bounce only: the reply is taken back
  from the day it was counted;
- nothing about opens or clicks (Apple Mail Privacy Protection and link scanners make them
  noise).
Days are the campaign's local days. Functions take a Session and never commit.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from addin_server.models import Campaign, Enrollment, ReportCount, SentMessage, Task

SENT = "sent"
FAILED = "failed"
REPLIED = "replied"
BOUNCED = "bounced"
UNSUBSCRIBED = "unsubscribed"
TASKS_DONE = "tasks_done"
TASKS_SKIPPED = "tasks_skipped"
TASKS_ON_TIME = "tasks_on_time"  # done on (or before) their due day
CALL_PREFIX = "call_"  # + enums.CallOutcome value
# The funnel's counters, on position -1 (the campaign, not a step): people enrolled, emailed
# at least once, who replied (a bounce takes it back), bounced, unsubscribed, and how many
# left the campaign in each way (ENDED + the status: finished, stopped, replied, ...).
CAMPAIGN = -1
ENROLLED = "enrolled"
EMAILED = "emailed"
PEOPLE_REPLIED = "people_replied"
PEOPLE_BOUNCED = "people_bounced"
PEOPLE_UNSUBSCRIBED = "people_unsubscribed"
ENDED = "ended_"


def local_day(campaign: Campaign, at: datetime) -> date:
    return at.astimezone(ZoneInfo(campaign.timezone or "UTC")).date()


def bump(session: Session, enrollment: Enrollment, position: int, metric: str, at: datetime,
         n: int = 1) -> None:
    bump_key(session, enrollment.campaign, enrollment.rep_id, position, metric, at, n)


def bump_key(session: Session, campaign: Campaign, rep_id: int, position: int, metric: str,
             at: datetime, n: int = 1) -> None:
    """Add `n` to one counter: an upsert, so that two workers counting at once both count."""
    values = {"org_id": campaign.org_id, "campaign_id": campaign.id,
              "day": local_day(campaign, at), "rep_id": rep_id,
              "position": position, "metric": metric, "n": n}
    table = cast(Table, ReportCount.__table__)
    dialect = session.get_bind().dialect.name
    stmt = (postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table))
    keys = ["campaign_id", "day", "rep_id", "position", "metric"]
    session.execute(stmt.values(**values).on_conflict_do_update(
        index_elements=keys, set_={"n": table.c.n + n}))


def count_sent(session: Session, enrollment: Enrollment, position: int, at: datetime) -> None:
    if enrollment.emailed_at is None:
        enrollment.emailed_at = at
        bump(session, enrollment, CAMPAIGN, EMAILED, at)
    bump(session, enrollment, position, SENT, at)


def count_launch(session: Session, campaign: Campaign, rep_id: int, n: int,
                 at: datetime) -> None:
    if n:
        bump_key(session, campaign, rep_id, CAMPAIGN, ENROLLED, at, n)


def count_ended(session: Session, enrollment: Enrollment, status: str, at: datetime) -> None:
    """The enrollment left the campaign (finished, stopped, replied, bounced, unsubscribed):
    once, when it stops being live. A bounce or an unsubscribe also counts its person."""
    bump(session, enrollment, CAMPAIGN, ENDED + status, at)
    if status == "bounced":
        _mark_bounced(session, enrollment, at)
    elif status == "unsubscribed":
        _mark_unsubscribed(session, enrollment, at)


def _mark_bounced(session: Session, enrollment: Enrollment, at: datetime) -> None:
    if enrollment.bounced_at is not None:
        return
    enrollment.bounced_at = at
    bump(session, enrollment, CAMPAIGN, PEOPLE_BOUNCED, at)
    if enrollment.replied_at is not None:  # a bounce after a reply is a bounce only
        bump(session, enrollment, CAMPAIGN, PEOPLE_REPLIED, enrollment.replied_at, n=-1)


def _mark_unsubscribed(session: Session, enrollment: Enrollment, at: datetime) -> bool:
    if enrollment.unsubscribed_at is not None:
        return False
    enrollment.unsubscribed_at = at
    bump(session, enrollment, CAMPAIGN, PEOPLE_UNSUBSCRIBED, at)
    return True


def count_failed(session: Session, enrollment: Enrollment, position: int, at: datetime) -> None:
    bump(session, enrollment, position, FAILED, at)


def count_task(session: Session, enrollment: Enrollment, task: Task, done: bool,
               at: datetime) -> None:
    """A task finished: done or skipped, done on its day or late, and a call's outcome."""
    bump(session, enrollment, task.position, TASKS_DONE if done else TASKS_SKIPPED, at)
    if done and local_day(enrollment.campaign, at) <= task.due_date:
        bump(session, enrollment, task.position, TASKS_ON_TIME, at)
    if done and task.call_outcome:
        bump(session, enrollment, task.position, CALL_PREFIX + task.call_outcome, at)


def _email(session: Session, enrollment: Enrollment, *, thread_id: str | None,
           message_ids: tuple[str, ...], before: datetime | None) -> SentMessage | None:
    """The email of ours an inbound message is about: the one whose Message-ID it names, else
    the latest in its thread, else the latest sent before it arrived."""
    sent = list(session.scalars(select(SentMessage).where(
        SentMessage.enrollment_id == enrollment.id).order_by(SentMessage.position)))
    # The Message-ID it answers is exact; a thread holds every email of the campaign that
    # replied on it, so it only says "one of these", and the latest is the likeliest.
    for named in ([s for s in sent if s.rfc_message_id and s.rfc_message_id in message_ids],
                  [s for s in sent if thread_id and s.thread_id == thread_id]):
        if named:
            return named[-1]
    earlier = [s for s in sent if before is None or s.sent_at <= before]
    candidates = earlier or sent
    return candidates[-1] if candidates else None


def count_reply(session: Session, enrollment: Enrollment, at: datetime, *,
                thread_id: str | None = None, message_ids: tuple[str, ...] = (),
                received_at: datetime | None = None) -> bool:
    """A person's reply: counted for its step when it is the first to that email and the
    email did not bounce. True when it counted."""
    email = _email(session, enrollment, thread_id=thread_id, message_ids=message_ids,
                   before=received_at or at)
    if email is None or email.replied_at is not None or email.bounced_at is not None:
        return False
    email.replied_at = at
    if enrollment.replied_at is None and enrollment.bounced_at is None:
        enrollment.replied_at = at
        bump(session, enrollment, CAMPAIGN, PEOPLE_REPLIED, at)
    bump(session, enrollment, email.position, REPLIED, at)
    return True


def count_bounce(session: Session, enrollment: Enrollment, at: datetime, *,
                 message_ids: tuple[str, ...] = (), send_position: int | None = None) -> bool:
    """A bounce: counted once per email; a reply counted for that email is taken back."""
    email = None
    if send_position is not None:
        email = session.scalar(select(SentMessage).where(
            SentMessage.enrollment_id == enrollment.id, SentMessage.position == send_position))
    if email is None:
        email = _email(session, enrollment, thread_id=None, message_ids=message_ids, before=at)
    _mark_bounced(session, enrollment, at)
    if email is None or email.bounced_at is not None:
        return False
    email.bounced_at = at
    bump(session, enrollment, email.position, BOUNCED, at)
    if email.replied_at is not None:
        bump(session, enrollment, email.position, REPLIED, email.replied_at, n=-1)
    return True


def count_unsubscribe(session: Session, enrollment: Enrollment, at: datetime) -> bool:
    """An unsubscribe, on the step of the last email the person got (-1 before any)."""
    if not _mark_unsubscribed(session, enrollment, at):
        return False
    position = session.scalar(select(SentMessage.position).where(
        SentMessage.enrollment_id == enrollment.id).order_by(SentMessage.position.desc())
        .limit(1))
    bump(session, enrollment, -1 if position is None else position, UNSUBSCRIBED, at)
    return True
