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
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from addin_server import dates, feed, tallies
from addin_server.campaigns.calendar import calendar_for, window_due
from addin_server.campaigns.timing import changed_timings, plan_step, rescheduled_due
from addin_server.crm import outbox as crm_outbox
from addin_server.db import rowcount
from addin_server.enrollments.advance import completions_of, launch_of, step_timings
from addin_server.enrollments.lifecycle import cancel_pending
from addin_server.enums import LIVE_ENROLLMENT, EnrollmentStatus, SendState, TaskStatus
from addin_server.models import Campaign, Enrollment, Person, Send, SendLog, Task

STEP_REMOVED = "its step was removed from the campaign"
# People re-planned per round of queries (IN lists stay well below the databases' limits).
CHUNK = 1000
MOVABLE = (SendState.SCHEDULED, SendState.QUEUED, SendState.HELD)
SENDS = cast(Table, Send.__table__)
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
    on_steps: list[Enrollment] = []
    for enrollment in people:
        assert enrollment.current_position is not None
        if enrollment.current_position >= len(steps):
            _remove_step(session, enrollment, len(steps), now, impact)
        else:
            on_steps.append(enrollment)
    for i in range(0, len(on_steps), CHUNK):
        _retime(session, campaign, on_steps[i:i + CHUNK], by_hand, now, impact)
    session.flush()
    return impact


def _rescheduled_by_hand(session: Session, campaign_id: int) -> set[int]:
    return set(session.scalars(
        select(SendLog.send_id).join(Send, Send.id == SendLog.send_id)
        .join(Enrollment, Enrollment.id == Send.enrollment_id)
        .where(Enrollment.campaign_id == campaign_id, Send.state.in_(MOVABLE),
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
    crm_outbox.note_enrollment_tasks(session, enrollment.org_id, [enrollment.id], now)
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


def _retime(session: Session, campaign: Campaign, people: list[Enrollment],
            by_hand: set[int], now: datetime, impact: Impact) -> None:
    """Give each person's row in progress the time the rules now give its step: a handful of
    queries for the whole chunk, whatever its size."""
    ids = [e.id for e in people]
    persons = {p.id: p for p in session.scalars(
        select(Person).where(Person.id.in_({e.person_id for e in people})))}
    zones = {e.id: _zone(persons.get(e.person_id)) for e in people}
    calendars = {z: calendar_for(campaign, z) for z in set(zones.values())}
    done = completions_of(session, {e.id: calendars[zones[e.id]].tz for e in people
                                    if e.current_position})
    timings = step_timings(campaign.steps)
    at_step = (Enrollment.id == Send.enrollment_id) & (
        Enrollment.current_position == Send.position)
    sends = {s.enrollment_id: s for s in session.scalars(
        select(Send).join(Enrollment, at_step).where(
            Send.enrollment_id.in_(ids), Send.task_id.is_(None), Send.state.in_(MOVABLE)))}
    tasks = {t.enrollment_id: t for t in session.scalars(
        select(Task).join(Enrollment, (Enrollment.id == Task.enrollment_id) & (
            Enrollment.current_position == Task.position)).where(
            Task.enrollment_id.in_(ids), Task.status == TaskStatus.OPEN))}
    moves: list[dict[str, Any]] = []
    for enrollment in people:
        assert enrollment.current_position is not None
        cal = calendars[zones[enrollment.id]]
        plan = plan_step(timings, enrollment.current_position, launch_of(enrollment),
                         done.get(enrollment.id, {}), cal, now)
        task, send = tasks.get(enrollment.id), sends.get(enrollment.id)
        if task is not None:
            if task.due_date != plan.due_date:
                task.due_date, task.updated_at = plan.due_date, now
                crm_outbox.note_task(session, task)
                impact.tasks_moved += 1
            continue
        due = rescheduled_due(send.planned_at, plan) if send is not None else None
        if send is None or due is None:
            continue
        if send.id in by_hand:
            impact.kept_by_hand += 1
            continue
        due, reason = window_due(campaign, zones[enrollment.id], due)
        moves.append({"b_id": send.id, "b_origin": send.state, "b_planned": plan.planned_at,
                      "b_due": due, "b_reason": reason})
    _move_sends(session, [sends[e] for e in ids if e in sends], moves, now, impact)


def _zone(person: Person | None) -> str | None:
    return person.timezone if person else None


def _move_sends(session: Session, loaded: list[Send], moves: list[dict[str, Any]],
                now: datetime, impact: Impact) -> None:
    """Each move is a conditional UPDATE on the state the send was read in (executemany): a
    claim that wins the race sends at the old time and the row is left alone. The rows read
    back say which moved, for the history and the counts."""
    if not moves:
        return
    table = SENDS
    where = (table.c.id == bindparam("b_id")) & (table.c.state == bindparam("b_origin"))
    times = {"planned_at": bindparam("b_planned"), "due_at": bindparam("b_due"),
             "updated_at": now}
    held = [m for m in moves if m["b_origin"] == SendState.HELD]
    others = [m for m in moves if m["b_origin"] != SendState.HELD]
    if others:
        session.connection().execute(
            update(table).where(where).values(**times, reason=bindparam("b_reason")), others)
    if held:  # a held send keeps the missing field as its reason
        session.connection().execute(update(table).where(where).values(**times), held)
    wanted = {m["b_id"]: m for m in moves}
    moved = [(i, state, due) for i, state, due in session.execute(
        select(Send.id, Send.state, Send.due_at).where(Send.id.in_(list(wanted))))
        if due == wanted[i]["b_due"] and state == wanted[i]["b_origin"]]
    session.execute(insert(SendLog), [{
        "send_id": i, "at": now, "from_state": state.value, "to_state": state.value,
        "note": f"its step's time changed: due {dates.absolute(due, 'UTC', named=True)}"}
        for i, state, due in moved])
    impact.rescheduled += len(moved)
    impact.due_now += sum(1 for _, _, due in moved if due <= now)
    for send in loaded:  # the UPDATEs went round the ORM
        session.expire(send)
