"""A campaign with people in it was changed: carry the change to their future steps.

Only the step in progress is a row (advance.py), so most of a change needs nothing here: a new
or changed later step is read from the campaign when the person reaches it, and an automatic
email is rendered from its step when it goes (sending/job.render), so a changed subject or text
reaches every scheduled send that was rendered from the step. An email the rep wrote (an email
task's, sent or scheduled from compose) keeps the rep's text.

What does need a change is the row in progress: a scheduled send whose step now falls at
another time moves (not one a worker has claimed, nor one the rep rescheduled by hand), an open
task takes its new due date, and a person on a step that was removed has that step's send or
task cancelled and finishes the campaign. These functions take a Session and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from addin_server import feed, tallies
from addin_server.campaigns.calendar import calendar_for, window_due
from addin_server.campaigns.timing import changed_timings, plan_step, rescheduled_due
from addin_server.crm import outbox as crm_outbox
from addin_server.db import rowcount
from addin_server.enrollments.advance import completions, launch_of, step_timings
from addin_server.enrollments.lifecycle import cancel_pending
from addin_server.enums import LIVE_ENROLLMENT, EnrollmentStatus, SendState, TaskStatus
from addin_server.models import Campaign, Enrollment, Person, Send, SendLog, Task

STEP_REMOVED = "its step was removed from the campaign"
# sending/compose.edit_send writes this note when the rep reschedules a send by hand.
BY_HAND = "changed by the rep: due_at%"
STEP_FIELDS = ("day", "type", "send_option", "send_time", "reply_to_previous", "subject",
               "body_html", "template_id", "instructions")
# The settings that move when steps fall: the zone, weekends, and (in extra_settings) the
# sending window and the holiday calendars.
TIMING_SETTINGS = ("timezone", "skip_weekends", "use_recipient_timezone")
TIMING_EXTRAS = ("sending_window", "holiday_countries")


@dataclass(frozen=True)
class Before:
    """What a campaign was before the change, to compare with what it is after."""

    steps: tuple[tuple[Any, ...], ...]
    timings: tuple[Any, ...]
    settings: tuple[Any, ...]


@dataclass
class Impact:
    """What a change did (or, in a dry run, would do) to the people in the campaign."""

    people: int = 0  # live people on or before a changed step: their future steps change
    rescheduled: int = 0  # scheduled sends moved to their step's new time
    due_now: int = 0  # of those, how many now fall in the past and go at once
    kept_by_hand: int = 0  # scheduled sends the rep rescheduled by hand: left at their time
    tasks_moved: int = 0  # open tasks given their step's new due date
    cancelled: int = 0  # sends and tasks of removed steps, cancelled
    finished: int = 0  # people whose remaining steps were all removed

    def json(self) -> dict[str, int]:
        return dict(vars(self))


def snapshot(campaign: Campaign) -> Before:
    return Before(
        steps=tuple(tuple(getattr(s, f) for f in STEP_FIELDS) for s in campaign.steps),
        timings=tuple(step_timings(campaign.steps)),
        settings=(*(getattr(campaign, f) for f in TIMING_SETTINGS),
                  *(repr((campaign.extra_settings or {}).get(k)) for k in TIMING_EXTRAS)))


def _last_changed(before: Before, campaign: Campaign) -> int:
    """The furthest position whose step changed (any field, added or removed); past the end
    when a timing setting changed (every step may move); -1 when nothing changed."""
    if snapshot(campaign).settings != before.settings:
        return max(len(before.steps), len(campaign.steps))
    after = snapshot(campaign).steps
    longest = max(len(before.steps), len(after))
    changed = [i for i in range(longest)
               if i >= len(before.steps) or i >= len(after) or before.steps[i] != after[i]]
    return max(changed, default=-1)


def apply_change(session: Session, campaign: Campaign, before: Before,
                 now: datetime) -> Impact:
    """Carry a saved change to the people in the campaign (see the module's docstring)."""
    impact = Impact()
    last = _last_changed(before, campaign)
    if last < 0:
        return impact
    steps = campaign.steps
    live = (Enrollment.campaign_id == campaign.id) & Enrollment.status.in_(LIVE_ENROLLMENT)
    impact.people = int(session.scalar(select(func.count()).select_from(Enrollment).where(
        live, Enrollment.current_position <= last)) or 0)
    # A step's time depends on the steps up to it (day gaps, the email whose time it copies):
    # only people on or after the first step whose timing changed can have a new time.
    timing = changed_timings(before.timings, step_timings(steps))
    retime_from = 0 if snapshot(campaign).settings != before.settings else min(
        timing, default=None)
    touched = Enrollment.current_position >= len(steps)
    if retime_from is not None:
        touched = touched | (Enrollment.current_position >= retime_from)
    people = list(session.scalars(select(Enrollment).where(live, touched)
                                  .order_by(Enrollment.id)))
    by_hand = _rescheduled_by_hand(session, campaign.id) if retime_from is not None else set()
    for enrollment in people:
        assert enrollment.current_position is not None
        if enrollment.current_position >= len(steps):
            _remove_step(session, enrollment, len(steps), now, impact)
        else:
            _retime(session, campaign, enrollment, by_hand, now, impact)
    session.flush()
    return impact


def _rescheduled_by_hand(session: Session, campaign_id: int) -> set[int]:
    return set(session.scalars(
        select(SendLog.send_id).join(Send, Send.id == SendLog.send_id)
        .join(Enrollment, Enrollment.id == Send.enrollment_id)
        .where(Enrollment.campaign_id == campaign_id, Send.state.in_(
            (SendState.SCHEDULED, SendState.QUEUED, SendState.HELD)),
            SendLog.note.like(BY_HAND))))


def _remove_step(session: Session, enrollment: Enrollment, steps: int, now: datetime,
                 impact: Impact) -> None:
    """The person's step (and every one after it) is gone: cancel what was pending for it
    (not a send already claimed: it finishes) and end their campaign as finished."""
    impact.cancelled += len(cancel_pending(
        session, (Send.enrollment_id == enrollment.id) & (Send.position >= steps),
        STEP_REMOVED, now))
    impact.cancelled += rowcount(session.execute(
        update(Task).where(Task.enrollment_id == enrollment.id, Task.position >= steps,
                           Task.status == TaskStatus.OPEN)
        .values(status=TaskStatus.CANCELLED, updated_at=now)
        .execution_options(synchronize_session="fetch")))
    crm_outbox.note_enrollment_tasks(session, enrollment.org_id, enrollment.id, now)
    enrollment.current_position = None
    enrollment.status = EnrollmentStatus.FINISHED
    enrollment.stop_reason = ""
    enrollment.updated_at = now
    tallies.count_ended(session, enrollment, EnrollmentStatus.FINISHED.value, now)
    feed.record(session, org_id=enrollment.org_id, type=feed.ENROLLMENT_FINISHED, at=now,
                rep_id=enrollment.rep_id, campaign_id=enrollment.campaign_id,
                enrollment_id=enrollment.id, person_id=enrollment.person_id,
                reason=STEP_REMOVED)
    impact.finished += 1


def _retime(session: Session, campaign: Campaign, enrollment: Enrollment, by_hand: set[int],
            now: datetime, impact: Impact) -> None:
    """Give the row in progress the time the rules now give its step."""
    position = enrollment.current_position
    assert position is not None
    person = session.get(Person, enrollment.person_id)
    cal = calendar_for(campaign, person.timezone if person else None)
    plan = plan_step(step_timings(campaign.steps), position, launch_of(enrollment),
                     completions(session, enrollment, cal.tz), cal, now)
    task = session.scalar(select(Task).where(
        Task.enrollment_id == enrollment.id, Task.position == position,
        Task.status == TaskStatus.OPEN))
    if task is not None:
        if task.due_date != plan.due_date:
            task.due_date, task.updated_at = plan.due_date, now
            crm_outbox.note_task(session, task)
            impact.tasks_moved += 1
        return
    send = session.scalar(select(Send).where(
        Send.enrollment_id == enrollment.id, Send.position == position, Send.task_id.is_(None)))
    if send is None or send.state not in (SendState.SCHEDULED, SendState.QUEUED,
                                          SendState.HELD):
        return
    due = rescheduled_due(send.planned_at, plan)
    if due is None:
        return
    if send.id in by_hand:
        impact.kept_by_hand += 1
        return
    due, reason = window_due(campaign, person.timezone if person else None, due)
    if _move_send(session, send, plan.planned_at, due, reason, now):
        impact.rescheduled += 1
        impact.due_now += due <= now


def _move_send(session: Session, send: Send, planned_at: datetime | None, due: datetime,
               reason: str, now: datetime) -> bool:
    """One conditional UPDATE per state a worker does not hold: a claim that wins the race
    sends at the old time, and this leaves the row alone."""
    origin = send.state
    values: dict[str, Any] = {"planned_at": planned_at, "due_at": due, "updated_at": now}
    if origin != SendState.HELD:  # a held send keeps the missing field as its reason
        values["reason"] = reason
    changed = rowcount(session.execute(
        update(Send).where(Send.id == send.id, Send.state == origin).values(**values)
        .execution_options(synchronize_session=False)))
    if changed:
        session.execute(insert(SendLog), [{
            "send_id": send.id, "at": now, "from_state": origin.value,
            "to_state": origin.value,
            "note": f"its step's time changed: due {due.strftime('%Y-%m-%dT%H:%M:%SZ')}"}])
        session.refresh(send)
    return bool(changed)
