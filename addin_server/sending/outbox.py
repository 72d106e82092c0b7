"""The outbox state machine: every change of a send's state is one conditional UPDATE plus a
SendLog row. Functions take a Session and `now`, and never commit.

    scheduled -> queued -> sending -> sent | failed
        ^          |          |  \\
        |          v          |   -> unknown -> (found in Sent items) sent
        +---- (not due) ------+                -> (not found)        scheduled
    held (missing field), cancelled (enrollment ended)

A row is only ever sent by whoever moves it to `sending` (the claim). The claim stores
`attempts + 1`; later updates by that attempt carry `attempts == n` in their WHERE clause (a
fencing token), so a worker whose lease was taken from it cannot overwrite a newer attempt.
In state `unknown`, `lease_until` means "reconcile not before".
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ClauseElement,
    ColumnElement,
    Table,
    and_,
    exists,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from addin_server.db import rowcount
from addin_server.enrollments.status import campaign_breaker_reason, mailbox_reason
from addin_server.enums import EnrollmentStatus, MailboxStatus, SendState
from addin_server.guard.absence import away_now
from addin_server.models import Campaign, Enrollment, Mailbox, Person, Send, SendLog, SentMessage

DUE_STATES = (SendState.SCHEDULED, SendState.QUEUED)
# The tables, for Core statements on the send path: an ORM-enabled UPDATE costs about twice
# the CPU of the same statement in Core, and these run several times per send.
SENDS = cast(Table, Send.__table__)
SENDLOG = cast(Table, SendLog.__table__)


def sendable(now: datetime) -> ColumnElement[bool]:
    """SQL: the send's enrollment is active, its person reachable, its mailbox able to send.

    The dispatcher promotes and the job claims only rows for which this holds, so a row that
    waits for a reason (paused, disconnected, unsubscribed) is not churned through Redis.
    """
    enrollment_ok = exists().where(
        Enrollment.id == Send.enrollment_id,
        Enrollment.status == EnrollmentStatus.ACTIVE,
        exists().where(Person.id == Enrollment.person_id, Person.unsubscribed_at.is_(None)),
        # A campaign whose bounce breaker tripped starts nobody new (guard/breakers.py).
        exists().where(Campaign.id == Enrollment.campaign_id, or_(
            Campaign.guard_reason == "",
            # correlated by hand: two levels down, SQLAlchemy would add its own enrollments
            select(SentMessage.id).where(SentMessage.enrollment_id == Enrollment.id)
            .correlate(Enrollment).exists())),
    )
    mailbox_ok = exists().where(
        Mailbox.id == Send.mailbox_id,
        Mailbox.status == MailboxStatus.CONNECTED,
        or_(Mailbox.paused_until.is_(None), Mailbox.paused_until <= now),
        Mailbox.guard_reason == "",
        # The rep's vacation responder is on and the organisation waits (guard/absence.py).
        ~away_now(now),
    )
    return and_(enrollment_ok, mailbox_ok)


def log(
    session: Session, send_id: int, from_state: str, to_state: str, now: datetime, note: str = ""
) -> None:
    # A Core INSERT, not session.add: no unit-of-work flush on the send path's hot loop.
    session.connection().execute(insert(SENDLOG), {
        "send_id": send_id, "at": now, "from_state": from_state, "to_state": to_state,
        "note": note})


def log_many(
    session: Session, ids: Iterable[int], from_state: str, to_state: str, now: datetime,
    note: str = "",
) -> None:
    rows = [{"send_id": i, "at": now, "from_state": from_state, "to_state": to_state,
             "note": note} for i in ids]
    if rows:
        session.execute(insert(SendLog), rows)


def move(
    session: Session,
    send_id: int,
    from_states: tuple[SendState, ...],
    to_state: SendState,
    now: datetime,
    note: str = "",
    *,
    attempt: int | None = None,
    **values: Any,
) -> bool:
    """Move a send from one of `from_states` to `to_state`, setting `values`; log it.

    With `attempt`, only the worker holding that attempt may move it. False when the row was
    not in such a state (someone else moved it first): the caller then does nothing more.
    """
    # One conditional UPDATE per possible origin, in order: the first that matches says where
    # the row came from (no read that could race with the UPDATE).
    for origin in from_states:
        conditions = [SENDS.c.id == send_id, SENDS.c.state == origin]
        if attempt is not None:
            conditions.append(SENDS.c.attempts == attempt)
        changed = rowcount(session.connection().execute(
            update(SENDS).where(*conditions).values(state=to_state, updated_at=now, **values)))
        if changed:
            log(session, send_id, origin.value, to_state.value, now, note)
            _refresh(session, send_id, {"state": to_state, "updated_at": now, **values})
            return True
    return False


def _refresh(session: Session, send_id: int, changed: dict[str, Any]) -> None:
    """A loaded Send takes the values an UPDATE just wrote (the UPDATEs bypass the ORM), so
    that the send path does not read the row back; a value computed in SQL is reloaded."""
    send = session.identity_map.get(session.identity_key(Send, (send_id,)))
    if send is None:
        return
    for key, value in changed.items():
        if isinstance(value, ClauseElement):
            session.expire(send, [key])
        else:
            set_committed_value(send, key, value)


def claim(session: Session, send: Send, now: datetime, lease_seconds: float,
          **values: Any) -> int | None:
    """Take a due send for sending: one conditional UPDATE (also storing `values`, the text
    rendered for it). Returns this attempt's number (the fencing token), or None when it is not
    ours to send (already taken, not due, or no longer sendable)."""
    before, send_id = send.state, send.id
    changed = {"state": SendState.SENDING, "reason": "", "updated_at": now,
               "lease_until": now + timedelta(seconds=lease_seconds), **values}
    attempt = session.connection().execute(
        update(SENDS)
        .where(SENDS.c.id == send_id, SENDS.c.state.in_(DUE_STATES), SENDS.c.due_at <= now,
               sendable(now))
        .values(attempts=SENDS.c.attempts + 1, **changed)
        .returning(SENDS.c.attempts)
    ).scalar_one_or_none()
    if attempt is None:
        return None
    _refresh(session, send_id, {"attempts": attempt, **changed})
    log(session, send_id, before.value, SendState.SENDING.value, now, f"attempt {attempt}")
    return int(attempt)


def waiting_reason(session: Session, send: Send, now: datetime) -> str:
    """Why a scheduled/queued send cannot be claimed now (for the row's `reason`)."""

    enrollment = session.get(Enrollment, send.enrollment_id)
    if enrollment is None or enrollment.status != EnrollmentStatus.ACTIVE:
        status = enrollment.status.value if enrollment else "gone"
        return f"enrollment is {status}"
    if enrollment.person.unsubscribed_at is not None:
        return "the person unsubscribed"
    mailbox = session.get(Mailbox, send.mailbox_id) if send.mailbox_id else None
    blocked = mailbox_reason(mailbox, now) or campaign_breaker_reason(session, enrollment)
    if blocked:
        return blocked
    if send.due_at > now:
        return send.reason or "not due yet"
    return ""


def retry_delay(
    attempts: int,
    retry_after: float | None,
    *,
    base: float,
    cap: float,
    rand: random.Random | None = None,
) -> float:
    """Seconds before the next attempt: exponential backoff with jitter, never sooner than the
    provider's Retry-After. Pure (the random source is an argument)."""
    r = rand or random.Random()
    backoff = min(cap, base * (2 ** max(0, attempts - 1)))
    # "Equal jitter": half fixed, half random, so retries of many sends spread out.
    delay = backoff / 2 + r.uniform(0, backoff / 2)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(max(delay, 0.0), max(cap, retry_after or 0.0))
