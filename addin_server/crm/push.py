"""Pushing sync rows to Salesforce.

A push claims its rows (a lease, one conditional UPDATE), reads what to send, and talks to
Salesforce outside any transaction. Ids of created records are committed the moment the create
call returns, before anything else happens, and a row whose earlier attempt may have created its
record (attempts > 1 with no id) is looked up by our key before any re-create: a retry after a
timeout never makes a second record. With an External ID field the create is an upsert anyway.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from addin_server.crm import records as rules
from addin_server.crm.connections import (
    CrmOpener,
    Reading,
    default_opener,
    error_code,
    note_failure,
    save_reading,
)
from addin_server.crm.port import (
    Crm,
    CrmAuthError,
    CrmError,
    CrmLimitError,
    CrmNotFound,
    ItemResult,
    KeyFields,
    Record,
)
from addin_server.db import session_scope
from addin_server.enums import CrmLinkKind, CrmLinkState, CrmStatus, StepType, TaskStatus
from addin_server.models import (
    Campaign,
    CrmConnection,
    CrmLink,
    Enrollment,
    Event,
    Person,
    Rep,
    SentMessage,
    Task,
)
from addin_server.runtime import Runtime

log = logging.getLogger(__name__)

BATCH = 200  # records per push: one sObject Collections request


@dataclass
class Item:
    """One claimed row and what it should say in Salesforce (read inside the claim)."""

    link_id: int
    kind: CrmLinkKind
    version: int
    attempts: int
    created_at: datetime
    sf_id: str | None
    who_id: str | None
    email: str
    key: str
    task: rules.TaskFacts | None = None
    activity: rules.ActivityFacts | None = None
    # outcome
    done: bool = False
    skip: str = ""
    error: CrmError | None = None
    removed: bool = False

    def subject(self) -> str:
        if self.task is not None:
            return rules.task_subject(self.task)
        assert self.activity is not None
        return rules.activity_subject(self.activity)

    def record(self, keys: KeyFields, owner_id: str, *, create: bool) -> Record:
        if self.task is not None:
            return rules.task_record(self.task, key=self.key, keys=keys, owner_id=owner_id,
                                     who_id=self.who_id, create=create)
        assert self.activity is not None and (self.who_id or not create)
        return rules.activity_record(self.activity, key=self.key, keys=keys, owner_id=owner_id,
                                     who_id=self.who_id or "", create=create)


@dataclass
class PushReport:
    pushed: int = 0
    created: int = 0
    found_again: int = 0
    deferred: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: PushReport) -> None:
        for name in ("pushed", "created", "found_again", "deferred", "skipped", "failed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors += other.errors


# --- reading what to push ---------------------------------------------------------------------


def due_clause(now: datetime) -> list[ColumnElement[bool]]:
    return [
        CrmLink.state == CrmLinkState.PENDING,
        or_(CrmLink.next_attempt_at.is_(None), CrmLink.next_attempt_at <= now),
        or_(CrmLink.lease_until.is_(None), CrmLink.lease_until < now),
    ]


def _claim(session: Session, link_ids: list[int], now: datetime, lease: timedelta
           ) -> list[CrmLink]:
    """Lease the rows that are still due (one conditional UPDATE); the others are left to
    whoever has them. A job killed while it holds them leaves them for the lease
    (crm_lease_seconds): then the sweep hands them out again."""
    if not link_ids:
        return []
    claimed = list(session.scalars(
        update(CrmLink).where(CrmLink.id.in_(link_ids), *due_clause(now))
        .values(lease_until=now + lease, attempts=CrmLink.attempts + 1)
        .returning(CrmLink.id)
        .execution_options(synchronize_session=False)
    ))
    if not claimed:
        return []
    return list(session.scalars(select(CrmLink).where(CrmLink.id.in_(claimed))
                                .order_by(CrmLink.id)).all())


def _new_item(link: CrmLink, prefix: str, email: str, *,
              task: rules.TaskFacts | None = None,
              activity: rules.ActivityFacts | None = None) -> Item:
    return Item(link_id=link.id, kind=link.kind, version=link.version, attempts=link.attempts,
                created_at=link.created_at, sf_id=link.sf_id, who_id=link.who_id, email=email,
                key=rules.key_for(prefix, link.kind, link.local_id), task=task,
                activity=activity)


def _items(session: Session, links: list[CrmLink], prefix: str, rep_tz: str
           ) -> list[tuple[CrmLink, Item | str]]:
    """What each row should say now, or why it cannot be pushed (a string); one query per
    kind for the whole batch."""
    ids = {kind: [lk.local_id for lk in links if lk.kind == kind] for kind in CrmLinkKind}
    tasks = {t.id: (t, email, name) for t, email, name in session.execute(
        select(Task, Person.email, Campaign.name)
        .join(Enrollment, Enrollment.id == Task.enrollment_id)
        .join(Person, Person.id == Enrollment.person_id)
        .join(Campaign, Campaign.id == Enrollment.campaign_id)
        .where(Task.id.in_(ids[CrmLinkKind.TASK])))} if ids[CrmLinkKind.TASK] else {}
    sent = {m.id: m for m in session.scalars(
        select(SentMessage).where(SentMessage.id.in_(ids[CrmLinkKind.SENT])))
    } if ids[CrmLinkKind.SENT] else {}
    replies = {e.id: (e, email) for e, email in session.execute(
        select(Event, Person.email).join(Person, Person.id == Event.person_id)
        .where(Event.id.in_(ids[CrmLinkKind.REPLY])))} if ids[CrmLinkKind.REPLY] else {}
    zone = ZoneInfo(rep_tz)
    out: list[tuple[CrmLink, Item | str]] = []
    for link in links:
        made: Item | str
        if link.kind == CrmLinkKind.TASK:
            if link.local_id not in tasks:
                made = "the task no longer exists"
            else:
                task, email, campaign = tasks[link.local_id]
                made = _new_item(link, prefix, email, task=rules.TaskFacts(
                    title=task.title, campaign=campaign, person_email=email,
                    type=StepType(task.type), status=TaskStatus(task.status),
                    due_date=task.due_date, instructions=task.instructions,
                    call_outcome=task.call_outcome, note=task.note))
        elif link.kind == CrmLinkKind.SENT:
            message = sent.get(link.local_id)
            if message is None:
                made = "the sent email no longer exists"
            else:
                made = _new_item(link, prefix, message.to_addr, activity=rules.ActivityFacts(
                    kind=CrmLinkKind.SENT, subject=message.subject, address=message.to_addr,
                    body_html=message.body_html, on=message.sent_at.astimezone(zone).date()))
        elif link.local_id not in replies:
            made = "the reply or its person no longer exists"
        else:
            reply, email = replies[link.local_id]
            data = reply.data or {}
            body = str(data.get("body_html") or data.get("snippet") or data.get("excerpt") or "")
            made = _new_item(link, prefix, email, activity=rules.ActivityFacts(
                kind=CrmLinkKind.REPLY, subject=str(data.get("subject") or ""),
                address=str(data.get("from") or email), body_html=body,
                on=reply.at.astimezone(zone).date()))
        out.append((link, made))
    return out


# --- writing outcomes -------------------------------------------------------------------------


def _save_ids(runtime: Runtime, items: list[Item]) -> None:
    """Commit Salesforce ids (and Contact/Lead ids) the moment they are known."""
    if not items:
        return
    with session_scope(runtime.sessions) as s:
        s.execute(update(CrmLink), [{"id": i.link_id, "sf_id": i.sf_id, "who_id": i.who_id}
                                    for i in items])


def _settle(session: Session, items: list[Item], now: datetime, report: PushReport,
            failure: CrmError | None) -> None:
    done = [i for i in items if i.done]
    if done:
        # By primary key in one executemany; a row changed meanwhile (its version moved past
        # the one pushed) goes back to pending in the second statement.
        session.execute(update(CrmLink), [
            {"id": i.link_id, "sf_id": i.sf_id, "who_id": i.who_id, "lease_until": None,
             "pushed_version": i.version, "attempts": 0, "last_error": "",
             "next_attempt_at": None, "state": CrmLinkState.SYNCED, "updated_at": now}
            for i in done])
        session.execute(
            update(CrmLink)
            .where(CrmLink.id.in_([i.link_id for i in done]),
                   CrmLink.version != CrmLink.pushed_version)
            .values(state=CrmLinkState.PENDING)
            .execution_options(synchronize_session=False))
        report.pushed += len(done)
    for item in items:
        if item.done:
            continue
        values: dict[str, object] = {"lease_until": None, "sf_id": item.sf_id,
                                     "who_id": item.who_id, "updated_at": now}
        if item.removed:
            values.update(state=CrmLinkState.REMOVED, last_error="deleted in Salesforce")
        elif item.skip:
            values.update(state=CrmLinkState.SKIPPED, last_error=item.skip)
            report.skipped += 1
        elif item.error is not None:
            values.update(state=CrmLinkState.FAILED, last_error=str(item.error)[:2000])
            report.failed += 1
            report.errors.append(str(item.error))
        else:  # untouched because the whole call failed: try again later
            wait = _wait_for(failure, item.attempts, now)
            values.update(next_attempt_at=now + wait,
                          last_error=str(failure)[:2000] if failure else "")
            report.deferred += 1
        # A refusal stands only for the version refused: a newer change is pushed again.
        if "state" in values:
            values["state"] = case((CrmLink.version == item.version, values["state"]),
                                   else_=CrmLinkState.PENDING)
        session.execute(update(CrmLink).where(CrmLink.id == item.link_id).values(**values)
                        .execution_options(synchronize_session=False))


def _wait_for(failure: CrmError | None, attempts: int, now: datetime) -> timedelta:
    if isinstance(failure, CrmLimitError):
        return rules.LIMIT_EXCEEDED_WAIT
    if isinstance(failure, CrmAuthError):
        return timedelta(0)  # waits on the connection, resumes on reconnect
    return rules.retry_delay(attempts)


# --- pushing ----------------------------------------------------------------------------------


def push_links(
    runtime: Runtime, connection_id: int, link_ids: list[int], *,
    opener: CrmOpener = default_opener,
) -> PushReport:
    """Push these rows of one connection (at most BATCH). Never raises for CRM errors: the
    outcome is written on the rows."""
    report = PushReport()
    now = runtime.now()
    with session_scope(runtime.sessions) as s:
        conn = s.get(CrmConnection, connection_id)
        if conn is None or conn.status != CrmStatus.CONNECTED:
            return report
        if conn.hold_until is not None and conn.hold_until > now:
            return report
        items = _prepare(s, conn, link_ids[:BATCH], runtime.settings.salesforce_key_prefix,
                         now, report,
                         timedelta(seconds=runtime.settings.crm_lease_seconds))
        s.expunge(conn)
    if not items:
        return report
    reading = Reading()
    failure: CrmError | None = None
    try:
        crm = opener(runtime, conn, reading)
        keys = _key_fields(runtime, crm, conn)
        _push(runtime, crm, conn, keys, items, report)
    except CrmError as exc:
        failure = exc
    with session_scope(runtime.sessions) as s:
        conn = s.get_one(CrmConnection, connection_id)
        save_reading(s, conn, reading, now)
        if failure is not None:
            note_failure(s, conn, failure, now, what="push",
                         rows=[i.link_id for i in items if not i.done])
        # Rows Salesforce refused one by one (a validation rule, a missing field...): once
        # per error code, with its rows.
        refused: dict[str, tuple[CrmError, list[int]]] = {}
        for item in items:
            if item.error is not None:
                refused.setdefault(error_code(item.error), (item.error, []))[1].append(
                    item.link_id)
        for error, rows in refused.values():
            note_failure(s, conn, error, now, what="push", rows=rows)
        _settle(s, items, now, report, failure)
    return report


def _prepare(session: Session, conn: CrmConnection, link_ids: list[int], prefix: str,
             now: datetime, report: PushReport, lease: timedelta) -> list[Item]:
    """Claim the rows, let the allocation decide which may go, read what they should say."""
    rep = session.get_one(Rep, conn.rep_id)
    ratio = rules.usage_ratio(conn.api_used, conn.api_limit, conn.api_seen_at, now)
    allowed: list[CrmLink] = []
    for link in _claim(session, link_ids, now, lease):
        if link.rep_id != conn.rep_id:
            link.lease_until = None
            continue
        if not rules.push_allowed(link.kind, ratio):
            link.lease_until = None
            link.attempts -= 1  # not an attempt: nothing was sent
            link.next_attempt_at = now + rules.LIMIT_WAIT
            link.last_error = "waiting: the org's daily API allocation is nearly used"
            report.deferred += 1
            continue
        allowed.append(link)
    items: list[Item] = []
    for link, made in _items(session, allowed, prefix, rep.timezone):
        if isinstance(made, str):
            link.state, link.last_error, link.lease_until = CrmLinkState.FAILED, made, None
            report.failed += 1
        else:
            items.append(made)
    session.flush()
    return items


def _key_fields(runtime: Runtime, crm: Crm, conn: CrmConnection) -> KeyFields:
    name = runtime.settings.salesforce_key_field
    if conn.key_mode is None:
        keys = crm.key_fields(name)
        with session_scope(runtime.sessions) as s:
            s.execute(update(CrmConnection).where(CrmConnection.id == conn.id)
                      .values(key_mode=keys.mode))
        conn.key_mode = keys.mode
        return keys
    return KeyFields(conn.key_mode, "" if conn.key_mode == "description" else name)


def _push(runtime: Runtime, crm: Crm, conn: CrmConnection, keys: KeyFields, items: list[Item],
          report: PushReport) -> None:
    owner = conn.sf_user_id
    unknown = [i.email for i in items if i.sf_id is None and i.who_id is None]
    people = crm.find_people(unknown) if unknown else {}
    creates: list[Item] = []
    for item in items:
        if item.sf_id is not None:
            continue
        if item.who_id is None:
            item.who_id = people.get(item.email.lower())
        if item.activity is not None and item.who_id is None:
            item.skip = f"no Contact or Lead with the address {item.email}"
            continue
        if item.attempts > 1:
            # An earlier attempt may have created the record before failing: find it first.
            found = crm.find_task_by_key(keys, item.key, owner_id=owner, subject=item.subject(),
                                         since=rules.lookup_since(item.created_at))
            if found is not None:
                item.sf_id = found
                report.found_again += 1
                _save_ids(runtime, [item])
                continue
        creates.append(item)
    if creates:
        rows = [i.record(keys, owner, create=True) for i in creates]
        results = (crm.upsert_tasks(keys.name, rows) if keys.mode == "upsert"
                   else crm.create_tasks(rows))
        _apply(creates, results, create=True)
        report.created += sum(1 for i in creates if i.done)
        _save_ids(runtime, [i for i in creates if i.sf_id])
    updates = [i for i in items if i.sf_id is not None and not i.done]
    if updates:
        rows = [{"Id": i.sf_id, **i.record(keys, owner, create=False)} for i in updates]
        _apply(updates, crm.update_tasks(rows), create=False)


def _apply(items: list[Item], results: list[ItemResult], *, create: bool) -> None:
    for item, result in zip(items, results, strict=True):
        if result.error is None:
            item.sf_id = result.id or item.sf_id
            item.done = True
        elif isinstance(result.error, CrmNotFound) and not create:
            item.removed = True
        else:
            item.error = result.error


def due_links(session: Session, connection_id: int, now: datetime, limit: int) -> list[int]:
    conn = session.get(CrmConnection, connection_id)
    if conn is None:
        return []
    return list(session.scalars(
        select(CrmLink.id).where(CrmLink.rep_id == conn.rep_id, *due_clause(now))
        .order_by(CrmLink.id).limit(limit)
    ))


def push_due(runtime: Runtime, connection_id: int, *, rounds: int = 50,
             opener: CrmOpener = default_opener) -> PushReport:
    """Push a connection's due rows, BATCH at a time, until none is left (or `rounds`)."""
    total = PushReport()
    for _ in range(rounds):
        with session_scope(runtime.sessions) as s:
            ids = due_links(s, connection_id, runtime.now(), BATCH)
        if not ids:
            break
        report = push_links(runtime, connection_id, ids, opener=opener)
        total.add(report)
        if report.pushed + report.skipped + report.failed == 0:
            break  # all deferred: the connection is held, limited or gone
    return total


def connection_of_link(session: Session, link_id: int) -> int | None:
    return session.scalar(
        select(CrmConnection.id).join(CrmLink, CrmLink.rep_id == CrmConnection.rep_id)
        .where(CrmLink.id == link_id))
