"""Use cases on the rep's tasks: complete, skip, compose, and record an email the rep sent."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, exists, select, update
from sqlalchemy.orm import Session

from addin_server import dates, feed, tallies
from addin_server.campaigns.rendering import EmailContent, build_email
from addin_server.campaigns.templates import MissingMode
from addin_server.crm import outbox as crm_outbox
from addin_server.db import rowcount
from addin_server.enrollments.advance import advance
from addin_server.enrollments.lifecycle import cancel_pending
from addin_server.enums import IN_FLIGHT_SEND, PENDING_SEND, CallOutcome, StepType, TaskStatus
from addin_server.errors import Conflict
from addin_server.guard import absence, meter
from addin_server.models import Enrollment, Mailbox, Person, Rep, Send, SentMessage, Task
from addin_server.validation import Errors

SKIPPED_REASON = "the rep skipped the task"
DONE_REASON = "the rep marked the task done without sending it"


class EmailStillScheduled(Conflict):
    """Done on a task whose email is in the outbox: the task completes when the email goes,
    unless the rep cancels the email."""

    def __init__(self, send: Send) -> None:
        when = dates.absolute(send.due_at, "UTC", named=True)  # callers with a rep say it in theirs
        super().__init__(f"its email is {send.state.value} for {when}; the task completes when "
                         "it goes")
        self.send = send


def _task_send(task: Task) -> ColumnElement[bool]:
    # The outbox row of a task's step: one per (enrollment, position), whoever made it.
    return and_(Send.enrollment_id == task.enrollment_id, Send.position == task.position)


def scheduled_email(session: Session, task: Task) -> Send | None:
    """The task's email when it is in the outbox and has not gone yet."""
    return session.scalar(select(Send).where(
        _task_send(task), Send.state.in_(PENDING_SEND + IN_FLIGHT_SEND)))


def _finish(session: Session, task: Task, status: TaskStatus, now: datetime,
            reason: str = "", **values: object) -> bool:
    # A conditional UPDATE, so that a double click or two clients at once finish it once.
    changed = rowcount(session.execute(
        update(Task)
        .where(Task.id == task.id, Task.status == TaskStatus.OPEN)
        .values(status=status, completed_at=now, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    ))
    if not changed:
        return False
    if reason:
        cancel_pending(session, _task_send(task), reason, now)
    session.refresh(task)
    crm_outbox.note_task(session, task)
    event = feed.TASK_COMPLETED if status == TaskStatus.COMPLETED else feed.TASK_SKIPPED
    enrollment = session.get(Enrollment, task.enrollment_id)
    assert enrollment is not None
    tallies.count_task(session, enrollment, task, status == TaskStatus.COMPLETED, now)
    feed.record(
        session, org_id=task.org_id, type=event, at=now, rep_id=task.rep_id,
        campaign_id=enrollment.campaign_id, enrollment_id=enrollment.id,
        person_id=enrollment.person_id, task_id=task.id, task_type=task.type.value,
    )
    if enrollment.current_position == task.position:
        advance(session, enrollment, now)
    return True


NOTE_MAX = 4000


def parse_completion(data: object, task_type: StepType, errors: Errors) -> tuple[
        CallOutcome | None, str]:
    """The body of "done": `outcome` (a call task's: connected, left_voicemail, no_answer,
    wrong_number, busy) and `note` (any task's, up to 4000 characters). Both optional."""
    if data is None:
        return None, ""
    if not isinstance(data, dict):
        errors.add("", "the body must be a JSON object")
        return None, ""
    outcome, raw = None, data.get("outcome")
    if raw not in (None, ""):
        if task_type != StepType.CALL:
            errors.add("outcome", "only a call task has an outcome")
        elif raw not in {o.value for o in CallOutcome}:
            errors.add("outcome", "must be one of " + ", ".join(o.value for o in CallOutcome))
        else:
            outcome = CallOutcome(raw)
    note = data.get("note") or ""
    if not isinstance(note, str) or len(note) > NOTE_MAX:
        errors.add("note", f"must be text of at most {NOTE_MAX} characters")
        note = ""
    return outcome, note.strip()


def complete_task(session: Session, task: Task, now: datetime, *, cancel_send: bool = False,
                  outcome: CallOutcome | None = None, note: str = "") -> bool:
    """Mark a task done and move its person on. False when it was not open (nothing changed).

    A call task takes its outcome and the rep's note (other tasks a note only). When the
    task's email is still in the outbox this raises EmailStillScheduled (the task completes
    when the email goes), unless `cancel_send`: then the email is cancelled first. An email
    already being sent cannot be cancelled: that raises too.
    """
    if outcome is not None and task.type != StepType.CALL:
        raise ValueError("only a call task has an outcome")
    pending = scheduled_email(session, task) if task.status == TaskStatus.OPEN else None
    if pending is not None and (not cancel_send or pending.state in IN_FLIGHT_SEND):
        raise EmailStillScheduled(pending)
    return _finish(session, task, TaskStatus.COMPLETED, now, DONE_REASON if pending else "",
                   call_outcome=outcome.value if outcome else None, note=note)


def skip_task(session: Session, task: Task, now: datetime) -> bool:
    """Skip a task; the person moves on to the next step and its email, if the rep scheduled
    one, is cancelled. False when it was not open; EmailStillScheduled when its email is
    already being sent (too late to cancel)."""
    pending = scheduled_email(session, task) if task.status == TaskStatus.OPEN else None
    if pending is not None and pending.state in IN_FLIGHT_SEND:
        raise EmailStillScheduled(pending)
    return _finish(session, task, TaskStatus.SKIPPED, now, SKIPPED_REASON)


def compose(
    session: Session, task: Task, rep: Rep, *, base_url: str, secret_key: str,
    missing_fields: MissingMode = "raise",
) -> EmailContent:
    """The email task as the rep's compose window opens it: prompts kept for the rep (and,
    with `missing_fields="keep"`, a field without a value kept as `{{name}}` to replace)."""
    if task.type != StepType.EMAIL:
        raise ValueError("only email tasks have an email to compose")
    enrollment = session.get(Enrollment, task.enrollment_id)
    assert enrollment is not None
    step = enrollment.campaign.steps[task.position]
    return build_email(
        session, enrollment, step, rep, base_url=base_url, secret_key=secret_key,
        keep_prompts=True, missing_fields=missing_fields,
    )


def record_sent_email(
    session: Session,
    *,
    enrollment: Enrollment,
    position: int,
    mailbox_id: int,
    to_addr: str,
    subject: str,
    body_html: str,
    sent_at: datetime,
    provider_message_id: str | None,
    thread_id: str | None,
    rfc_message_id: str | None,
    references: str,
) -> SentMessage:
    """Keep what went out, so that a later "reply to previous" threads on it and quotes it.

    Idempotent per (enrollment, position): a second report of the same email changes nothing.
    """
    existing = session.scalar(
        select(SentMessage).where(
            SentMessage.enrollment_id == enrollment.id, SentMessage.position == position
        )
    )
    if existing is not None:
        return existing
    message = SentMessage(
        org_id=enrollment.org_id,
        enrollment_id=enrollment.id,
        position=position,
        mailbox_id=mailbox_id,
        to_addr=to_addr,
        subject=subject,
        body_html=body_html,
        provider_message_id=provider_message_id,
        thread_id=thread_id,
        rfc_message_id=rfc_message_id,
        references=references,
        sent_at=sent_at,
    )
    session.add(message)
    session.flush()
    tallies.count_sent(session, enrollment, position, sent_at)
    mailbox = session.get(Mailbox, mailbox_id)
    if mailbox is not None:  # the bulk-sender meter, in the same transaction
        meter.count_message(session, org_id=enrollment.org_id, rep_id=enrollment.rep_id,
                            from_addr=mailbox.address, to_addr=to_addr, at=sent_at)
    crm_outbox.note_sent(session, message, enrollment.rep_id)
    return message


def announce_due_tasks(session: Session, now: datetime, limit: int = 500) -> int:
    """Say "task due" in the Live Feed once for each open task whose day has come in its rep's
    time zone (a periodic duty: workers/duties.py). Returns how many were announced."""
    # Candidates by the earliest zone's date (UTC+14): the exact check is per rep below.
    latest_today = (now + timedelta(hours=14)).date()
    rows = session.execute(
        select(Task, Rep.timezone, Person.email, Enrollment.campaign_id, Enrollment.person_id)
        .join(Rep, Rep.id == Task.rep_id)
        .join(Enrollment, Enrollment.id == Task.enrollment_id)
        .join(Person, Person.id == Enrollment.person_id)
        .where(Task.status == TaskStatus.OPEN, Task.due_announced_at.is_(None),
               Task.due_date <= latest_today,
               # A rep away (vacation responder on, the organisation waits): their due tasks
               # wait, and are announced when they return (guard/absence.py).
               ~exists().where(Mailbox.rep_id == Task.rep_id, absence.away_now(now)))
        .order_by(Task.due_date, Task.id)
        .limit(limit)
    ).all()
    announced = 0
    for task, rep_tz, email, campaign_id, person_id in rows:
        if task.due_date > now.astimezone(ZoneInfo(rep_tz)).date():
            continue
        claimed = rowcount(session.execute(
            update(Task).where(Task.id == task.id, Task.due_announced_at.is_(None))
            .values(due_announced_at=now).execution_options(synchronize_session=False)))
        if not claimed:  # another dispatcher announced it
            continue
        feed.record(
            session, org_id=task.org_id, type=feed.TASK_DUE, at=now, rep_id=task.rep_id,
            campaign_id=campaign_id, enrollment_id=task.enrollment_id, person_id=person_id,
            task_id=task.id, task_type=task.type.value, due_date=task.due_date.isoformat(),
            email=email,
        )
        announced += 1
    return announced
