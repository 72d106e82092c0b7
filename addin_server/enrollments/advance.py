"""Moving a person through a campaign: the next step becomes a send or a task.

Only the step in progress is a row (a `Send` in the outbox or an open `Task`); later steps are a
forecast computed by the pure timing rules. These functions take a Session and never commit.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from addin_server import feed, tallies
from addin_server.campaigns.calendar import calendar_for, window_due
from addin_server.campaigns.timing import (
    Completion,
    Launch,
    Plan,
    StepTiming,
    plan_step,
)
from addin_server.crm import outbox as crm_outbox
from addin_server.enums import (
    EnrollmentStatus,
    MailboxStatus,
    SendOption,
    SendState,
    StepType,
    TaskStatus,
)
from addin_server.models import Enrollment, Mailbox, Person, Send, SentMessage, Step, Task
from addin_server.validation import parse_hhmm


def step_timings(steps: list[Step]) -> list[StepTiming]:
    return [
        StepTiming(
            position=s.position,
            day=s.day,
            type=StepType(s.type),
            send_option=SendOption(s.send_option) if s.send_option else None,
            send_time=parse_hhmm(s.send_time),
        )
        for s in steps
    ]


def is_automatic(step: Step) -> bool:
    return step.type == StepType.EMAIL and step.send_option != SendOption.MANUAL_TASK


def launch_of(enrollment: Enrollment) -> Launch:
    return Launch(start_date=enrollment.start_date, first_send_at=enrollment.first_send_at)


def task_title(step: Step, position: int) -> str:
    labels = {
        StepType.EMAIL: "Send email",
        StepType.CALL: "Call",
        StepType.LINKEDIN: "LinkedIn",
        StepType.CUSTOM: "Task",
    }
    return f"{labels[StepType(step.type)]} (step {position + 1}, day {step.day})"


def completions(session: Session, enrollment: Enrollment, tz: ZoneInfo) -> dict[int, Completion]:
    """What is done for this enrollment, as the timing rules need it."""
    return completions_of(session, {enrollment.id: tz})[enrollment.id]


def completions_of(session: Session, zones: dict[int, ZoneInfo]
                   ) -> dict[int, dict[int, Completion]]:
    """What is done for each enrollment id in `zones` (timed in its zone): three queries for
    all of them, so that re-planning many people does not cost three queries each."""
    done: dict[int, dict[int, Completion]] = {i: {} for i in zones}
    if not zones:
        return done
    ids = list(zones)
    # A send the provider refused for good (failed) is done too when the campaign moves on
    # (remove_on_bounce off): its completion is when it failed. So is one the rep cancelled
    # (the person moves on; an enrollment ended by a stop is never advanced).
    sent_rows = session.execute(
        select(Send.enrollment_id, Send.position, Send.sent_at, Send.planned_at, Send.task_id,
               Send.state, Send.updated_at).where(
            Send.enrollment_id.in_(ids),
            Send.state.in_((SendState.SENT, SendState.FAILED, SendState.CANCELLED)),
        )
    )
    for enrollment_id, position, sent_at_, planned_at, task_id, state, updated_at in sent_rows:
        sent_at = sent_at_ if state == SendState.SENT else updated_at
        if sent_at is None:
            continue
        # Automatic sends keep the rhythm of their planned time; a task the rep sent, its own.
        basis = planned_at if planned_at is not None and task_id is None else sent_at
        done[enrollment_id][position] = Completion(
            at=sent_at, email_time=_local_time(basis, zones[enrollment_id]))
    task_rows = session.execute(
        select(Task.enrollment_id, Task.position, Task.completed_at, Task.type).where(
            Task.enrollment_id.in_(ids),
            Task.status.in_((TaskStatus.COMPLETED, TaskStatus.SKIPPED)),
        )
    )
    sent_by_hand = {(e, p): at for e, p, at in session.execute(
        select(SentMessage.enrollment_id, SentMessage.position, SentMessage.sent_at).where(
            SentMessage.enrollment_id.in_(ids)))}
    for enrollment_id, position, completed_at, task_type in task_rows:
        if position in done[enrollment_id] or completed_at is None:
            continue
        email_time = None
        if task_type == StepType.EMAIL and (enrollment_id, position) in sent_by_hand:
            email_time = _local_time(sent_by_hand[enrollment_id, position],
                                     zones[enrollment_id])
        done[enrollment_id][position] = Completion(at=completed_at, email_time=email_time)
    return done


def _local_time(instant: datetime, tz: ZoneInfo) -> time:
    local = instant.astimezone(tz)
    return time(local.hour, local.minute)


# The reason of a send whose rep has no mailbox at all (stored on the row, and shown).
NO_MAILBOX = "no mailbox connected: connect Gmail or Outlook to send"


def rep_mailbox(session: Session, rep_id: int) -> Mailbox | None:
    """The mailbox a rep's automatic emails go out from: the newest connected one, else the
    newest of any state (its sends then wait with the reason)."""
    boxes = list(
        session.scalars(select(Mailbox).where(Mailbox.rep_id == rep_id).order_by(Mailbox.id))
    )
    connected = [b for b in boxes if b.status == MailboxStatus.CONNECTED]
    if connected:
        return connected[-1]
    return boxes[-1] if boxes else None


def materialize(
    session: Session,
    enrollment: Enrollment,
    step: Step,
    plan: Plan,
    mailbox_id: int | None,
    now: datetime,
) -> Send | Task:
    """Make the row for the step in progress and say so in the Live Feed."""
    # The two kinds of row a step makes (a send or a task), each with its feed event and CRM
    # note, side by side so that both stay in step.
    common: dict[str, Any] = {
        "org_id": enrollment.org_id,
        "enrollment_id": enrollment.id,
        "position": step.position,
        "rep_id": enrollment.rep_id,
    }
    row: Send | Task
    if is_automatic(step):
        assert plan.due_at is not None
        # Into the campaign's sending window and off its holidays (campaigns/calendar.py).

        person = session.get(Person, enrollment.person_id)
        due_at, reason = window_due(enrollment.campaign, person.timezone if person else None,
                                    plan.due_at)
        row = Send(
            **common,
            mailbox_id=mailbox_id,
            state=SendState.SCHEDULED,
            planned_at=plan.planned_at,
            due_at=due_at,
            reason=reason if mailbox_id is not None else NO_MAILBOX,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        feed.record(
            session, org_id=enrollment.org_id, type=feed.EMAIL_SCHEDULED, at=now,
            rep_id=enrollment.rep_id, campaign_id=enrollment.campaign_id,
            enrollment_id=enrollment.id, person_id=enrollment.person_id, send_id=row.id,
            position=step.position, due_at=due_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        return row
    row = Task(
        **common,
        type=StepType(step.type),
        status=TaskStatus.OPEN,
        due_date=plan.due_date,
        title=task_title(step, step.position),
        instructions=step.instructions,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    crm_outbox.note_task(session, row)
    feed.record(
        session, org_id=enrollment.org_id, type=feed.TASK_CREATED, at=now,
        rep_id=enrollment.rep_id, campaign_id=enrollment.campaign_id,
        enrollment_id=enrollment.id, person_id=enrollment.person_id, task_id=row.id,
        position=step.position, task_type=row.type.value, due_date=plan.due_date.isoformat(),
    )
    return row


def advance(session: Session, enrollment: Enrollment, now: datetime) -> Send | Task | None:
    """The step in progress is done: schedule the next one, or finish the enrollment.

    Call it once per completed step (the caller has just marked the send sent or the task done
    or skipped, in the same transaction). Does nothing for an enrollment that is not active: a
    paused one is advanced by `resume`.
    """
    if enrollment.status != EnrollmentStatus.ACTIVE or enrollment.current_position is None:
        return None
    campaign = enrollment.campaign
    steps = campaign.steps
    nxt = enrollment.current_position + 1
    if nxt >= len(steps):
        enrollment.current_position = None
        enrollment.status = EnrollmentStatus.FINISHED
        enrollment.updated_at = now
        tallies.count_ended(session, enrollment, EnrollmentStatus.FINISHED.value, now)
        feed.record(
            session, org_id=enrollment.org_id, type=feed.ENROLLMENT_FINISHED, at=now,
            rep_id=enrollment.rep_id, campaign_id=enrollment.campaign_id,
            enrollment_id=enrollment.id, person_id=enrollment.person_id,
        )
        return None
    enrollment.current_position = nxt
    enrollment.updated_at = now
    return schedule_current(session, enrollment, now)


def schedule_current(session: Session, enrollment: Enrollment, now: datetime) -> Send | Task:
    """Create the row for the step at `current_position` from what is done so far."""
    assert enrollment.current_position is not None
    campaign = enrollment.campaign
    person = session.get(Person, enrollment.person_id)
    cal = calendar_for(campaign, person.timezone if person else None)
    done = completions(session, enrollment, cal.tz)
    plan = plan_step(
        step_timings(campaign.steps), enrollment.current_position, launch_of(enrollment), done,
        cal, now,
    )
    step = campaign.steps[enrollment.current_position]
    mailbox = rep_mailbox(session, enrollment.rep_id) if is_automatic(step) else None
    return materialize(session, enrollment, step, plan, mailbox.id if mailbox else None, now)


def current_row(session: Session, enrollment: Enrollment) -> Send | Task | None:
    if enrollment.current_position is None:
        return None
    send = session.scalar(
        select(Send).where(
            Send.enrollment_id == enrollment.id, Send.position == enrollment.current_position
        )
    )
    if send is not None:
        return send
    return session.scalar(
        select(Task).where(
            Task.enrollment_id == enrollment.id, Task.position == enrollment.current_position
        )
    )


def local_date(instant: datetime, tz: str) -> date:
    return instant.astimezone(ZoneInfo(tz)).date()
