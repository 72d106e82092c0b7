"""Launching a campaign on people: one request, thousands of people, all or nothing.

Bulk statements throughout (one INSERT per table per launch, not one per person): a launch of
10,000 people is a few statements, and the timing rules run once per distinct time zone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from addin_server import dates, feed, tallies
from addin_server.campaigns.calendar import calendar_for, window_due, zone_for
from addin_server.campaigns.settings import flag
from addin_server.campaigns.timing import Launch, Plan, plan_step
from addin_server.crm import outbox as crm_outbox
from addin_server.db import allocate_ids, among, bulk_insert, chunk_size
from addin_server.enrollments import checks
from addin_server.enrollments.advance import (
    NO_MAILBOX,
    is_automatic,
    rep_mailbox,
    step_timings,
    task_title,
)
from addin_server.enrollments.people import PersonInput
from addin_server.enums import (
    LIVE_ENROLLMENT,
    EnrollmentStatus,
    SendOption,
    SendState,
    StepType,
    TaskStatus,
)
from addin_server.models import Campaign, Enrollment, Person, Rep, Send, Task
from addin_server.suppressions import blocked_reasons
from addin_server.validation import (
    Errors,
    parse_date,
    parse_instant,
)


@dataclass(frozen=True)
class LaunchOptions:
    start_date: date | None = None
    first_send_at: datetime | None = None
    check_mx: bool = False  # look up each domain's MX record (a DNS query per domain)


@dataclass
class LaunchResult:
    enrolled: list[tuple[int, str, str]] = field(default_factory=list)  # (id, email, status)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (email, reason)
    warnings: list[checks.Warning] = field(default_factory=list)


def parse_options(data: dict[str, Any], errors: Errors) -> LaunchOptions:
    start = parse_date(data["start_date"], "start_date", errors) if data.get(
        "start_date") not in (None, "") else None
    first = parse_instant(data["first_send_at"], "first_send_at", errors) if data.get(
        "first_send_at") not in (None, "") else None
    check_mx = data.get("check_mx", False)
    if check_mx in ("true", "1"):  # from a query string
        check_mx = True
    elif check_mx in ("false", "0", "", None):
        check_mx = False
    if not isinstance(check_mx, bool):
        errors.add("check_mx", "must be true or false")
        check_mx = False
    return LaunchOptions(start_date=start, first_send_at=first, check_mx=check_mx)


def _check_options(campaign: Campaign, options: LaunchOptions, now: datetime) -> date:
    """Launch options against the campaign; returns day 1 (campaign zone)."""
    from zoneinfo import ZoneInfo

    errors = Errors()
    tz = ZoneInfo(campaign.timezone)
    first_email = next((s for s in campaign.steps if s.type == StepType.EMAIL), None)
    needs_time = first_email is not None and first_email.send_option == SendOption.CHOOSE_AT_LAUNCH
    if needs_time and options.first_send_at is None:
        errors.add("first_send_at", "this campaign's first email is sent at a time you choose "
                   "at launch: give first_send_at")
    if options.first_send_at is not None and (
        first_email is None or first_email.send_option == SendOption.MANUAL_TASK
    ):
        errors.add("first_send_at", "this campaign has no automatic first email to time")
    today = now.astimezone(tz).date()
    start = options.start_date
    if start is None:
        start = options.first_send_at.astimezone(tz).date() if options.first_send_at else today
    if start < today:
        errors.add("start_date", f"must not be before today ({dates.day(today)} in "
                   f"{campaign.timezone})")
    if (options.first_send_at is not None and options.start_date is not None
            and first_email is not None and first_email.day == 1
            and options.first_send_at.astimezone(tz).date() != options.start_date):
        errors.add("first_send_at", "must fall on start_date (in the campaign's time zone)")
    errors.raise_if_any()
    return start


def _table(model: type[Any]) -> Table:
    # Core INSERTs on the table: executemany's fast path, without the ORM's per-row work.
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _first_due(plans: list[Plan]) -> str:
    instants = [p.due_at for p in plans if p.due_at is not None]
    if instants:
        return min(instants).strftime("%Y-%m-%dT%H:%M:%SZ")
    return min(p.due_date for p in plans).isoformat()


def _chunks(items: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


Known = dict[str, tuple[int, datetime | None, str | None]]  # email -> id, unsubscribed, zone
Existing = dict[str, tuple[int, datetime | None, str | None, int | None]]  # ... and owner


def _existing(session: Session, org_id: int, emails: list[str]) -> Existing:
    """The organisation's people among `emails`: id, unsubscribed_at, zone, owner."""
    found: Existing = {}
    for chunk in _chunks(emails, chunk_size(session)):
        rows = session.execute(
            select(Person.id, Person.email, Person.unsubscribed_at, Person.timezone,
                   Person.owner_rep_id).where(
                Person.org_id == org_id, among(session, Person.email, list(chunk))))
        for pid, email, unsub, tz, owner in rows:
            found[email] = (pid, unsub, tz, owner)
    return found


def _upsert_people(session: Session, rep: Rep, org_id: int, people: list[PersonInput],
                   existing: Existing, now: datetime) -> Known:
    """Person rows for the people being enrolled (who may all be changed by this rep: the
    others were skipped first); returns email -> (id, unsubscribed_at, timezone). A new
    person is the rep's; one nobody owns yet becomes the rep's."""
    # Bulk by design (one insert, one update per changed field set): a launch of 10,000
    # people is a few statements, never one per person.
    known: Known = {e: (pid, unsub, tz) for e, (pid, unsub, tz, _o) in existing.items()}
    updates = []
    for p in people:
        if p.email in existing:
            changes: dict[str, Any] = {
                k: getattr(p, k) for k in ("first_name", "last_name", "company", "title")
                if getattr(p, k)
            }
            pid, unsub, _tz, owner = existing[p.email]
            if owner is None:
                changes["owner_rep_id"] = rep.id
            if p.timezone:
                changes["timezone"] = p.timezone
                known[p.email] = (pid, unsub, p.timezone)
            if changes:
                updates.append({"id": pid, **changes})
    if updates:
        session.execute(update(Person), updates)
    new = [p for p in people if p.email not in existing]
    if not new:
        return known
    table = _table(Person)
    ids = allocate_ids(session, table, len(new))
    rows_in = [
        {"org_id": org_id, "email": p.email, "first_name": p.first_name,
         "last_name": p.last_name, "company": p.company, "title": p.title,
         "timezone": p.timezone, "fields": p.fields, "unsubscribed_at": None,
         "bounced_at": None, "owner_rep_id": rep.id, "created_at": now}
        for p in new
    ]
    if ids is not None:
        for row, pid in zip(rows_in, ids, strict=True):
            row["id"] = pid
    bulk_insert(session, table, rows_in)
    if ids is not None:
        known.update((p.email, (pid, None, p.timezone)) for p, pid in zip(new, ids, strict=True))
        return known
    zones = {p.email: p.timezone for p in new}
    for email, (pid, _u, _z, _o) in _existing(session, org_id, list(zones)).items():
        known[email] = (pid, None, zones[email])
    return known


def _who_to_enrol(
    session: Session, rep: Rep, campaign: Campaign, people: list[PersonInput], now: datetime,
    result: LaunchResult,
) -> tuple[list[PersonInput], Known]:
    """The people to enrol (the rest go to `result.skipped` with why, unchanged), and their
    (id, unsubscribed_at, timezone) after the upsert. Skips come first: a skipped person's
    fields are never touched, and another rep's person is skipped for a non-admin."""
    unique: list[PersonInput] = []
    seen: set[str] = set()
    for p in people:
        if p.email in seen:
            result.skipped.append((p.email, "listed twice in this launch"))
            continue
        seen.add(p.email)
        unique.append(p)
    existing = _existing(session, campaign.org_id, [p.email for p in unique])
    live: set[int] = set()
    for chunk in _chunks([e[0] for e in existing.values()], chunk_size(session)):
        live.update(session.scalars(select(Enrollment.person_id).where(
            Enrollment.campaign_id == campaign.id,
            among(session, Enrollment.person_id, list(chunk)),
            Enrollment.status.in_(LIVE_ENROLLMENT))))
    to_enrol: list[PersonInput] = []
    # Unsubscribed, suppressed, blocked domain or bounced: never emailed (suppressions.py).
    blocked = blocked_reasons(session, campaign.org_id, [p.email for p in unique])
    # Only people already stored can be in another campaign.
    elsewhere = checks.active_elsewhere(session, campaign, {
        p.email: existing[p.email][0] for p in unique if p.email in existing})
    skip_elsewhere = flag(campaign.extra_settings, "skip_if_active_elsewhere")
    for p in unique:
        pid, unsub, _tz, owner = existing.get(p.email, (0, None, None, None))
        if owner is not None and owner != rep.id and not rep.is_admin:
            result.skipped.append((p.email, "another rep's person"))
        elif unsub is not None:
            result.skipped.append((p.email, "unsubscribed"))
        elif p.email in blocked:
            result.skipped.append((p.email, blocked[p.email]))
        elif pid in live:
            result.skipped.append((p.email, "already active in this campaign"))
        elif p.email in elsewhere and skip_elsewhere:
            result.skipped.append((p.email, f"active in campaign {elsewhere[p.email]!r}"))
        else:
            if p.email in elsewhere:
                result.warnings.append(checks.Warning(
                    p.email, None, "active_elsewhere",
                    f"also active in campaign {elsewhere[p.email]!r}: enrolled anyway"))
            to_enrol.append(p)
    known = _upsert_people(session, rep, campaign.org_id, to_enrol, existing, now)
    return to_enrol, known


def _insert_enrollments(session: Session, rep: Rep, campaign: Campaign, person_ids: list[int],
                        start: date, first_send_at: datetime | None, now: datetime) -> list[int]:
    """One bulk insert of the enrollments; their ids, in the order of `person_ids`."""
    table = _table(Enrollment)
    enrolment_ids = allocate_ids(session, table, len(person_ids))
    rows_in = [
        {"org_id": campaign.org_id, "campaign_id": campaign.id,
         "person_id": pid, "rep_id": rep.id,
         "status": EnrollmentStatus.ACTIVE, "start_date": start,
         "first_send_at": first_send_at, "current_position": 0, "outcome": "",
         "stop_reason": "", "paused_until": None, "created_at": now, "updated_at": now}
        for pid in person_ids
    ]
    if enrolment_ids is not None:
        for row, eid in zip(rows_in, enrolment_ids, strict=True):
            row["id"] = eid
    bulk_insert(session, table, rows_in)
    if enrolment_ids is not None:
        return enrolment_ids
    # One live enrollment per person and campaign (a unique index): read ids back by it.
    by_person: dict[int, int] = {}
    for chunk in _chunks(person_ids, chunk_size(session)):
        rows = session.execute(
            select(Enrollment.person_id, Enrollment.id).where(
                Enrollment.campaign_id == campaign.id,
                among(session, Enrollment.person_id, list(chunk)),
                Enrollment.status.in_(LIVE_ENROLLMENT)))
        by_person.update((pid, eid) for pid, eid in rows)
    return [by_person[pid] for pid in person_ids]


def _warn(session: Session, campaign: Campaign, to_enrol: list[PersonInput], known: Known,
          options: LaunchOptions, has_mx: checks.MxCheck | None, result: LaunchResult) -> None:
    """The checks before anything is sent (checks.py), on the people being enrolled."""
    emails = [p.email for p in to_enrol]
    result.warnings += checks.colleagues(emails, checks.own_domains(session, campaign.org_id))
    if options.check_mx and has_mx is not None:
        result.warnings += checks.no_mx(emails, has_mx)
    given = {p.email: {"first_name": p.first_name, "last_name": p.last_name,
                       "company": p.company, "title": p.title, **p.fields} for p in to_enrol}
    result.warnings += checks.missing_fields(
        session, campaign, {p.email: known[p.email][0] for p in to_enrol}, given)


def launch(
    session: Session,
    rep: Rep,
    campaign: Campaign,
    people: list[PersonInput],
    options: LaunchOptions,
    now: datetime,
    has_mx: checks.MxCheck | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> LaunchResult:
    """Enrol people in a campaign and schedule each one's first step.

    Raises ValidationFailed (nothing written) when the options do not fit the campaign. People
    already live in the campaign, unsubscribed, listed twice, or another rep's (for a non-admin)
    are reported in `skipped`, and nothing about them changes.
    """
    # The launch's phases in order, each a helper or a bulk statement: who to enrol, the
    # enrollments, each first step (a send or a task), one feed event.
    start = _check_options(campaign, options, now)
    result = LaunchResult()
    # `progress(phase, people done)`: a background launch reports it (workers/launches.py).
    report = progress or (lambda phase, done: None)
    to_enrol, known = _who_to_enrol(session, rep, campaign, people, now, result)
    report("people", len(people))
    if not to_enrol:
        return result
    _warn(session, campaign, to_enrol, known, options, has_mx, result)
    report("checks", len(people))
    steps = campaign.steps
    first = steps[0]
    first_send_at = options.first_send_at
    enrolment_ids = _insert_enrollments(session, rep, campaign,
                                        [known[p.email][0] for p in to_enrol], start,
                                        first_send_at, now)
    tallies.count_launch(session, campaign, rep.id, len(enrolment_ids), now)
    report("enrollments", len(people))
    timings = step_timings(steps)
    plans: dict[str, Plan] = {}  # one plan per time zone: the rules are the same for everyone

    def plan_for(tz_name: str | None) -> Plan:
        key = zone_for(campaign, tz_name)
        if key not in plans:
            cal = calendar_for(campaign, tz_name)
            plans[key] = plan_step(timings, 0, Launch(start, first_send_at), {}, cal, now)
        return plans[key]

    common = {"org_id": campaign.org_id, "position": 0, "created_at": now, "updated_at": now}
    if is_automatic(first):
        mailbox = rep_mailbox(session, rep.id)
        send_rows = []
        windowed: dict[str, tuple[datetime, str]] = {}  # per zone, like the plans
        for eid, p in zip(enrolment_ids, to_enrol, strict=True):
            plan = plan_for(known[p.email][2])
            assert plan.due_at is not None
            zone = zone_for(campaign, known[p.email][2])
            if zone not in windowed:
                windowed[zone] = window_due(campaign, known[p.email][2], plan.due_at)
            due_at, reason = windowed[zone]
            send_rows.append({**common, "enrollment_id": eid, "rep_id": rep.id,
                              "mailbox_id": mailbox.id if mailbox else None,
                              "state": SendState.SCHEDULED, "planned_at": plan.planned_at,
                              "due_at": due_at,
                              "reason": reason if mailbox else NO_MAILBOX})
        bulk_insert(session, _table(Send), send_rows)
    else:
        title = task_title(first, 0)
        task_rows = []
        for eid, p in zip(enrolment_ids, to_enrol, strict=True):
            plan = plan_for(known[p.email][2])
            task_rows.append({**common, "enrollment_id": eid, "rep_id": rep.id,
                              "type": StepType(first.type), "status": TaskStatus.OPEN,
                              "due_date": plan.due_date, "title": title,
                              "instructions": first.instructions})
        bulk_insert(session, _table(Task), task_rows)
        crm_outbox.note_new_tasks(session, campaign.org_id, rep.id, enrolment_ids, now)
    # One feed event for the launch, not one per person: the feed says "launched on 10,000
    # people"; each person's later steps get their own events as they are scheduled.
    feed.record(
        session, org_id=campaign.org_id, type=feed.CAMPAIGN_LAUNCHED, at=now, rep_id=rep.id,
        campaign_id=campaign.id, enrolled=len(to_enrol), skipped=len(result.skipped),
        campaign=campaign.name, first_step=first.type.value,
        first_due=_first_due(list(plans.values())),
    )
    result.enrolled = [
        (eid, p.email, EnrollmentStatus.ACTIVE.value)
        for eid, p in zip(enrolment_ids, to_enrol, strict=True)
    ]
    return result
