"""Why not yet: what each step of one enrollment is waiting for, and the reason a pending send
has not gone out (cap, window, weekend, task gate, disconnected mailbox, missing field).
Read-only: the Command Center, the API and the add-ins show it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from addin_server import dates
from addin_server.campaigns.calendar import calendar_for, window_due
from addin_server.campaigns.timing import forecast
from addin_server.enrollments.advance import (
    NO_MAILBOX,
    completions,
    is_automatic,
    launch_of,
    step_timings,
)
from addin_server.enums import (
    LIVE_ENROLLMENT,
    PENDING_SEND,
    EnrollmentStatus,
    MailboxStatus,
    SendState,
    StepType,
    TaskStatus,
)
from addin_server.guard.absence import absence_reason
from addin_server.models import Enrollment, Mailbox, Person, Send, SentMessage, Task


@dataclass(frozen=True)
class StepView:
    position: int
    day: int
    type: str
    send_option: str | None
    status: str
    due_at: datetime | None
    due_date: date | None
    reason: str
    send_id: int | None = None
    task_id: int | None = None


def _fmt(instant: datetime, tz: str) -> str:
    return dates.absolute(instant, tz, named=True)


def mailbox_reason(mailbox: Mailbox | None, now: datetime) -> str | None:
    """Why a mailbox cannot send right now, or None when it can."""
    if mailbox is None:
        return NO_MAILBOX
    if mailbox.status == MailboxStatus.DISCONNECTED:
        return f"mailbox {mailbox.address} is disconnected: reconnect it to resume sending"
    if mailbox.guard_reason and mailbox.guard_scope == "restricted":
        return f"mailbox {mailbox.address} paused: {mailbox.guard_reason}"
    if mailbox.guard_reason:
        what = "its domain's" if mailbox.guard_scope == "domain" else "its"
        return (f"mailbox {mailbox.address} paused by {what} bounce breaker: "
                f"{mailbox.guard_reason}; a person must release it on the Mailboxes page")
    if mailbox.paused_until is not None and mailbox.paused_until > now:
        by = {"gmail": "Gmail", "microsoft": "Microsoft"}.get(mailbox.provider.value, "provider")
        until = dates.absolute(mailbox.paused_until, "UTC", named=True)
        return f"mailbox paused by {by} until {until}"
    return absence_reason(mailbox, now)


def _rep_away(session: Session, rep_id: int, now: datetime) -> str | None:
    """The absence that holds the rep's due tasks, or None."""
    for box in session.scalars(select(Mailbox).where(Mailbox.rep_id == rep_id)):
        why = absence_reason(box, now)
        if why:
            return why
    return None


def campaign_breaker_reason(session: Session, enrollment: Enrollment) -> str | None:
    """Why this person's first email waits: the campaign's bounce breaker, or None."""
    if not enrollment.campaign.guard_reason:
        return None
    if session.scalar(select(SentMessage.id).where(SentMessage.enrollment_id == enrollment.id)
                      .limit(1)) is not None:
        return None  # already started: the breaker only stops new people
    return (f"campaign paused by its bounce breaker ({enrollment.campaign.guard_reason}): "
            "no new person starts until someone releases it")


def send_reason(send: Send, mailbox: Mailbox | None, tz: str, now: datetime) -> str:
    if send.state == SendState.SENT and send.sent_at:
        return f"sent {_fmt(send.sent_at, tz)}"
    if send.state in (SendState.FAILED, SendState.CANCELLED, SendState.HELD):
        return send.reason or send.state.value
    if send.state in (SendState.SENDING, SendState.UNKNOWN):
        return send.reason or "being sent"
    blocked = mailbox_reason(mailbox, now)
    if blocked:
        return blocked
    if send.reason:
        return send.reason
    if send.due_at <= now:
        return "due now: waiting for a worker"
    return f"scheduled for {_fmt(send.due_at, tz)}"


def _paused(enrollment: Enrollment, tz: str) -> str:
    if enrollment.stop_reason:  # held for review (inbound/quarantine.py)
        return f"paused, {enrollment.stop_reason}: "
    if enrollment.paused_until is not None:  # an out-of-office reply paused it
        return f"paused until {_fmt(enrollment.paused_until, tz)} (out of office): "
    return "paused: "


def view(session: Session, enrollment: Enrollment, now: datetime) -> list[StepView]:
    """Every step with its state, its time (real or forecast) and, when pending, why."""
    # One row per step, each of its states (sent, scheduled, task open, planned) read from
    # the rows loaded once above; kept together so that the states cannot disagree.
    campaign = enrollment.campaign
    person = session.get(Person, enrollment.person_id)
    cal = calendar_for(campaign, person.timezone if person else None)
    tz = cal.tz.key
    done = completions(session, enrollment, cal.tz)
    plans = forecast(step_timings(campaign.steps), launch_of(enrollment), done, cal, now)
    sends = {
        s.position: s
        for s in session.scalars(select(Send).where(Send.enrollment_id == enrollment.id))
    }
    tasks = {
        t.position: t
        for t in session.scalars(select(Task).where(Task.enrollment_id == enrollment.id))
    }
    mailboxes = {m.id: m for m in session.scalars(select(Mailbox).where(
        Mailbox.id.in_([s.mailbox_id for s in sends.values() if s.mailbox_id])))}
    current = enrollment.current_position
    gate: str | None = None
    views: list[StepView] = []
    for step, plan in zip(campaign.steps, plans, strict=True):
        pos = step.position
        option = step.send_option.value if step.send_option else None
        common: dict[str, Any] = {
            "position": pos, "day": step.day, "type": step.type.value, "send_option": option,
        }
        if pos in sends:
            send = sends[pos]
            mailbox = mailboxes.get(send.mailbox_id) if send.mailbox_id else None
            reason = send_reason(send, mailbox, tz, now)
            if send.state in PENDING_SEND and not mailbox_reason(mailbox, now):
                reason = campaign_breaker_reason(session, enrollment) or reason
            if enrollment.status == EnrollmentStatus.PAUSED and send.state in PENDING_SEND:
                reason = _paused(enrollment, tz) + reason
            views.append(StepView(**common, status=send.state.value, due_at=send.due_at,
                                  due_date=send.due_at.astimezone(cal.tz).date(),
                                  reason=reason, send_id=send.id))
            continue
        if pos in tasks:
            task = tasks[pos]
            reason = ""
            if task.status == TaskStatus.OPEN:
                reason = f"waiting for you: {task.type.value} task due {dates.day(task.due_date)}"
                away = _rep_away(session, task.rep_id, now)
                if away:
                    reason = f"{reason}; it waits: {away}"
                gate = f"waiting for the {task.type.value} task of step {pos + 1}"
            views.append(StepView(**common, status=task.status.value, due_at=None,
                                  due_date=task.due_date, reason=reason, task_id=task.id))
            continue
        if enrollment.status not in LIVE_ENROLLMENT or current is None or pos < current:
            views.append(StepView(**common, status="not_planned", due_at=None, due_date=None,
                                  reason=enrollment.stop_reason or enrollment.status.value))
            continue
        reason = gate or "planned"
        if enrollment.status == EnrollmentStatus.PAUSED:
            reason = (_paused(enrollment, tz).rstrip(": ")
                      if enrollment.paused_until or enrollment.stop_reason
                      else "paused by the rep")
        due_at = plan.due_at if is_automatic(step) else None
        if due_at is not None:
            # The sending window and holidays move it as they will when it is scheduled.

            due_at, moved = window_due(campaign, person.timezone if person else None, due_at)
            if moved and reason == "planned":
                reason = f"planned: {moved}"
        if due_at is not None and reason == "planned":
            reason = f"planned for {_fmt(due_at, tz)}"
        elif step.type != StepType.EMAIL or not is_automatic(step):
            reason = f"{reason}; becomes a task on {dates.day(plan.due_date)}"
        views.append(StepView(**common, status="planned", due_at=due_at,
                              due_date=plan.due_date, reason=reason))
    return views
