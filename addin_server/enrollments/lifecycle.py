"""Use cases on one enrollment: pause, resume and end (stop, unsubscribe, bounce, reply).
They take a Session and never commit. What each step waits for is in status.py.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, insert, select, update
from sqlalchemy.orm import Session

from addin_server import feed, tallies
from addin_server.crm import outbox as crm_outbox
from addin_server.db import rowcount
from addin_server.enrollments.advance import advance
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


def resume(session: Session, enrollment: Enrollment, now: datetime, *,
           step_done: bool | None = None) -> None:
    """Back to active. A send that fell due while paused goes now ("past means now"), and the
    steps after it keep their spacing from when it really goes. `step_done`: whether the
    step in progress finished meanwhile, when the caller already knows (see steps_done)."""
    if enrollment.status == EnrollmentStatus.ACTIVE:
        return
    if enrollment.status != EnrollmentStatus.PAUSED:
        raise Conflict(f"the enrollment is {enrollment.status.value}; only a paused one resumes")
    enrollment.status = EnrollmentStatus.ACTIVE
    enrollment.paused_until = None
    enrollment.stop_reason = ""  # why it was paused (a campaign pause, a bounce burst)
    enrollment.updated_at = now
    feed.record(
        session, org_id=enrollment.org_id, type=feed.ENROLLMENT_RESUMED, at=now,
        rep_id=enrollment.rep_id, campaign_id=enrollment.campaign_id,
        enrollment_id=enrollment.id, person_id=enrollment.person_id,
    )
    if step_done is None:
        step_done = enrollment.id in steps_done(session, [enrollment])
    if step_done:
        # Its step finished while it was paused (a send already claimed went out, the rep did
        # the task): advance() does nothing for a paused person, so it moves on now.
        advance(session, enrollment, now)


def steps_done(session: Session, enrollments: Sequence[Enrollment]) -> set[int]:
    """The ids of those whose step in progress is finished: its task completed or skipped, or
    (no task) its automatic send sent, failed or cancelled. Two queries for all of them."""
    at_step = {e.id: e.current_position for e in enrollments
               if e.current_position is not None}
    if not at_step:
        return set()
    tasks: dict[int, TaskStatus] = {}
    sends: dict[int, SendState] = {}
    for i in range(0, len(at_step), CHUNK):
        ids = list(at_step)[i:i + CHUNK]
        tasks.update({e: st for e, p, st in session.execute(
            select(Task.enrollment_id, Task.position, Task.status).where(
                Task.enrollment_id.in_(ids))) if at_step[e] == p})
        sends.update({e: st for e, p, st in session.execute(
            select(Send.enrollment_id, Send.position, Send.state).where(
                Send.enrollment_id.in_(ids))) if at_step[e] == p})
    done = set()
    for enrollment_id in at_step:
        if enrollment_id in tasks:  # a task (and the email it may have sent) gates the step
            if tasks[enrollment_id] in (TaskStatus.COMPLETED, TaskStatus.SKIPPED):
                done.add(enrollment_id)
        elif sends.get(enrollment_id) in (SendState.SENT, SendState.FAILED,
                                          SendState.CANCELLED):
            done.add(enrollment_id)
    return done


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
    return end_many(session, [enrollment], now, status=status, reason=reason,
                    event_type=event_type)


# Enrollments ended per round of statements (IN lists well below the databases' limits).
CHUNK = 1000


def end_many(
    session: Session,
    enrollments: Sequence[Enrollment],
    now: datetime,
    *,
    status: EnrollmentStatus = EnrollmentStatus.STOPPED,
    reason: str = "stopped by the rep",
    event_type: str = feed.ENROLLMENT_STOPPED,
) -> int:
    """`end` for many enrollments at once (a whole campaign stopped): the same changes, a few
    statements per thousand instead of several per person. Those not live are left alone."""
    live = [e for e in enrollments if e.status in LIVE_ENROLLMENT]
    for enrollment in live:
        enrollment.status = status
        enrollment.stop_reason = reason
        enrollment.updated_at = now
    tallies.count_ended_many(session, live, status.value, now)
    cancelled = 0
    for i in range(0, len(live), CHUNK):
        chunk = live[i:i + CHUNK]
        ids = [e.id for e in chunk]
        cancelled += len(cancel_pending(session, Send.enrollment_id.in_(ids), reason, now))
        cancelled += rowcount(session.execute(
            update(Task)
            .where(Task.enrollment_id.in_(ids), Task.status == TaskStatus.OPEN)
            .values(status=TaskStatus.CANCELLED, updated_at=now)
            .execution_options(synchronize_session="fetch")
        ))
        for org_id in sorted({e.org_id for e in chunk}):
            crm_outbox.note_enrollment_tasks(
                session, org_id, [e.id for e in chunk if e.org_id == org_id], now)
    for enrollment in live:
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
            crm_outbox.note_enrollment_tasks(
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
