"""Use cases on one enrollment: pause, resume and end (stop, unsubscribe, bounce, reply).
They take a Session and never commit. What each step waits for is in status.py.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, insert, update
from sqlalchemy.orm import Session

from addin_server import feed, tallies
from addin_server.crm import outbox as crm_outbox
from addin_server.db import rowcount
from addin_server.enums import (
    LIVE_ENROLLMENT,
    PENDING_SEND,
    EnrollmentStatus,
    SendState,
    TaskStatus,
)
from addin_server.errors import Conflict
from addin_server.models import Enrollment, Send, SendLog, Task


def cancel_pending(session: Session, where: ColumnElement[bool], reason: str,
                   now: datetime) -> list[int]:
    """Cancel the sends matching `where` that have not been claimed yet (scheduled, queued,
    held), each with `reason` and a line in its history. Returns their ids.

    One conditional UPDATE per state, so the history says where each row came from; a row a
    worker has claimed meanwhile (`sending`) is not touched: its job re-reads what it sends for.
    """
    cancelled: list[int] = []
    for origin in PENDING_SEND:
        ids = list(session.scalars(
            update(Send).where(where, Send.state == origin)
            .values(state=SendState.CANCELLED, reason=reason, updated_at=now)
            .returning(Send.id).execution_options(synchronize_session="fetch")))
        if ids:
            session.execute(insert(SendLog), [
                {"send_id": i, "at": now, "from_state": origin.value,
                 "to_state": SendState.CANCELLED.value, "note": reason} for i in ids])
        cancelled += ids
    return cancelled


def pause(session: Session, enrollment: Enrollment, now: datetime) -> None:
    """Nothing goes out while paused; the pending row stays and is re-timed on resume."""
    if enrollment.status == EnrollmentStatus.PAUSED:
        return
    if enrollment.status != EnrollmentStatus.ACTIVE:
        raise Conflict(f"the enrollment is {enrollment.status.value}, not active")
    enrollment.status = EnrollmentStatus.PAUSED
    enrollment.updated_at = now
    feed.record(
        session, org_id=enrollment.org_id, type=feed.ENROLLMENT_PAUSED, at=now,
        rep_id=enrollment.rep_id, campaign_id=enrollment.campaign_id,
        enrollment_id=enrollment.id, person_id=enrollment.person_id,
    )


def resume(session: Session, enrollment: Enrollment, now: datetime) -> None:
    """Back to active. A send that fell due while paused goes now ("past means now"), and the
    steps after it keep their spacing from when it really goes."""
    if enrollment.status == EnrollmentStatus.ACTIVE:
        return
    if enrollment.status != EnrollmentStatus.PAUSED:
        raise Conflict(f"the enrollment is {enrollment.status.value}; only a paused one resumes")
    enrollment.status = EnrollmentStatus.ACTIVE
    enrollment.paused_until = None
    enrollment.updated_at = now
    feed.record(
        session, org_id=enrollment.org_id, type=feed.ENROLLMENT_RESUMED, at=now,
        rep_id=enrollment.rep_id, campaign_id=enrollment.campaign_id,
        enrollment_id=enrollment.id, person_id=enrollment.person_id,
    )


def end(
    session: Session,
    enrollment: Enrollment,
    now: datetime,
    *,
    status: EnrollmentStatus = EnrollmentStatus.STOPPED,
    reason: str = "stopped by the rep",
    event_type: str = feed.ENROLLMENT_STOPPED,
) -> int:
    """End an enrollment: cancel its pending sends and open tasks. Returns how many were
    cancelled. A send already being sent is left to its job, which re-reads the enrollment."""
    if enrollment.status not in LIVE_ENROLLMENT:
        return 0
    enrollment.status = status
    enrollment.stop_reason = reason
    enrollment.updated_at = now
    tallies.count_ended(session, enrollment, status.value, now)
    cancelled = len(cancel_pending(session, Send.enrollment_id == enrollment.id, reason, now))
    cancelled += rowcount(session.execute(
        update(Task)
        .where(Task.enrollment_id == enrollment.id, Task.status == TaskStatus.OPEN)
        .values(status=TaskStatus.CANCELLED, updated_at=now)
        .execution_options(synchronize_session="fetch")
    ))
    crm_outbox.note_enrollment_tasks(session, enrollment.org_id, enrollment.id, now)
    feed.record(
        session, org_id=enrollment.org_id, type=event_type, at=now,
        rep_id=enrollment.rep_id, campaign_id=enrollment.campaign_id,
        enrollment_id=enrollment.id, person_id=enrollment.person_id, reason=reason,
    )
    return cancelled


# Ids per IN list of a bulk statement: far below every database's parameter limit.
CHUNK = 1000


def stop_many(session: Session, enrollments: Sequence[Enrollment], now: datetime,
              reason: str = "stopped by the rep") -> list[Enrollment]:
    """`end` (stopped by the rep) for many enrollments at once, set-based: the same rows
    change (status, pending sends cancelled with their history, open tasks cancelled, the
    CRM told, counters, one feed event each) in a few statements per thousand instead of
    several per person. Returns those that were live (the others are left as they are)."""
    live = [e for e in enrollments if e.status in LIVE_ENROLLMENT]
    if not live:
        return []
    # No autoflush: the statements below touch other rows, and flushing thousands of dirty
    # enrollments before each one made a 10,000-person stop take minutes.
    with session.no_autoflush:
        for enrollment in live:
            enrollment.status = EnrollmentStatus.STOPPED
            enrollment.stop_reason = reason
            enrollment.updated_at = now
        ended = Counter((e.campaign_id, e.rep_id) for e in live)
        campaigns = {e.campaign_id: e.campaign for e in live}
        for (campaign_id, rep_id), n in ended.items():
            tallies.bump_key(session, campaigns[campaign_id], rep_id, tallies.CAMPAIGN,
                             tallies.ENDED + EnrollmentStatus.STOPPED.value, now, n)
        ids = [e.id for e in live]
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            cancel_pending(session, Send.enrollment_id.in_(chunk), reason, now)
            session.execute(
                update(Task).where(Task.enrollment_id.in_(chunk), Task.status == TaskStatus.OPEN)
                .values(status=TaskStatus.CANCELLED, updated_at=now)
                .execution_options(synchronize_session=False))
        for org_id in {e.org_id for e in live}:
            crm_outbox.note_enrollments_tasks(
                session, org_id, [e.id for e in live if e.org_id == org_id], now)
        feed.record_many(session, [{
            "org_id": e.org_id, "type": feed.ENROLLMENT_STOPPED, "at": now, "rep_id": e.rep_id,
            "campaign_id": e.campaign_id, "enrollment_id": e.id, "person_id": e.person_id,
            "data": {"reason": reason}} for e in live])
    return live


def pause_many(session: Session, enrollments: Sequence[Enrollment], now: datetime,
               *, resume: bool = False) -> dict[int, str]:
    """`pause` (or `resume`) for many enrollments at once: the same changes, with the feed's
    events written in one statement. Returns why each refused one was left as it is (a
    stopped one neither pauses nor resumes); one already in the wanted state is unchanged."""
    wanted, origin = ((EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED) if resume
                      else (EnrollmentStatus.PAUSED, EnrollmentStatus.ACTIVE))
    refused = {e.id: (f"the enrollment is {e.status.value}; only a paused one resumes" if resume
                      else f"the enrollment is {e.status.value}, not active")
               for e in enrollments if e.status not in (wanted, origin)}
    todo = [e for e in enrollments if e.status == origin]
    with session.no_autoflush:
        for enrollment in todo:
            enrollment.status = wanted
            enrollment.updated_at = now
            if resume:
                enrollment.paused_until = None
        feed.record_many(session, [{
            "org_id": e.org_id, "rep_id": e.rep_id, "campaign_id": e.campaign_id,
            "enrollment_id": e.id, "person_id": e.person_id, "at": now, "data": {},
            "type": feed.ENROLLMENT_RESUMED if resume else feed.ENROLLMENT_PAUSED}
            for e in todo])
    return refused
