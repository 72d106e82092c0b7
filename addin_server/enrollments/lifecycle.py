"""Use cases on one enrollment: pause, resume and end (stop, unsubscribe, bounce, reply).
They take a Session and never commit. What each step waits for is in status.py.
"""

from __future__ import annotations

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
    if _current_step_done(session, enrollment):
        # Its step finished while it was paused (a send already claimed went out, the rep did
        # the task): advance() does nothing for a paused person, so it moves on now.
        advance(session, enrollment, now)


def _current_step_done(session: Session, enrollment: Enrollment) -> bool:
    position = enrollment.current_position
    if position is None:
        return False
    task_status = session.scalar(select(Task.status).where(
        Task.enrollment_id == enrollment.id, Task.position == position))
    if task_status is not None:  # a task (and the email it may have sent) gates the step
        return task_status in (TaskStatus.COMPLETED, TaskStatus.SKIPPED)
    send_state = session.scalar(select(Send.state).where(
        Send.enrollment_id == enrollment.id, Send.position == position))
    return send_state in (SendState.SENT, SendState.FAILED, SendState.CANCELLED)


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
