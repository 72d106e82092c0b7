"""Pulling Task changes from Salesforce: closed there completes the task here, deleted there
skips it here (either way the person's campaign moves on).

Polled by SystemModstamp (docs/salesforce.md, "polling, not streaming"): one queryAll per rep
and interval, which also returns deleted Tasks while they are in the Recycle Bin.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from addin_server.crm import records as rules
from addin_server.crm.connections import (
    CrmOpener,
    Reading,
    default_opener,
    note_failure,
    save_reading,
)
from addin_server.crm.port import CrmError, RemoteTask
from addin_server.db import session_scope
from addin_server.enums import CrmLinkKind, CrmLinkState, CrmStatus, TaskStatus
from addin_server.errors import Conflict
from addin_server.models import CrmConnection, CrmLink, Task
from addin_server.runtime import Runtime

PULL_OVERLAP = timedelta(minutes=5)  # SystemModstamp commits may land slightly out of order


@dataclass
class PullReport:
    seen: int = 0
    completed: int = 0
    removed: int = 0


class TaskClosing(Protocol):
    """How a task is closed here (enrollments/tasks.py: the module itself fits). Passed in, since
    the CRM adapter sits below the services that move a person through a campaign."""

    def complete_task(self, session: Session, task: Task, now: datetime) -> bool: ...

    def skip_task(self, session: Session, task: Task, now: datetime) -> bool: ...


def pull(runtime: Runtime, connection_id: int, *, tasks: TaskClosing,
         opener: CrmOpener = default_opener) -> PullReport:
    """Read the rep's Tasks changed since the cursor and apply them (one transaction)."""
    report = PullReport()
    now = runtime.now()
    with session_scope(runtime.sessions) as s:
        conn = s.get(CrmConnection, connection_id)
        if conn is None or conn.status != CrmStatus.CONNECTED:
            return report
        if conn.hold_until is not None and conn.hold_until > now:
            return report  # REQUEST_LIMIT_EXCEEDED: the org's allocation is used up
        if not rules.pull_allowed(rules.usage_ratio(conn.api_used, conn.api_limit,
                                                    conn.api_seen_at, now)):
            return report
        s.expunge(conn)
    since = (conn.pull_cursor or conn.activity_since) - PULL_OVERLAP
    reading = Reading()
    failure: CrmError | None = None
    remote: list[RemoteTask] = []
    try:
        remote = opener(runtime, conn, reading).changed_tasks(conn.sf_user_id, since)
    except CrmError as exc:
        failure = exc
    with session_scope(runtime.sessions) as s:
        conn = s.get_one(CrmConnection, connection_id)
        save_reading(s, conn, reading, now)
        conn.pulled_at = now
        if failure is not None:
            # A REQUEST_LIMIT_EXCEEDED holds the connection as a push does: Salesforce does
            # not promise the Sforce-Limit-Info header on that 403, so no reading may follow.
            note_failure(s, conn, failure, now, what="pull")
        else:
            apply_changes(s, conn.rep_id, remote, now, report, tasks)
            newest = max((r.modstamp for r in remote), default=None)
            if newest is not None and (conn.pull_cursor is None or newest > conn.pull_cursor):
                conn.pull_cursor = newest
    return report


def apply_changes(session: Session, rep_id: int, remote: list[RemoteTask], now: datetime,
                  report: PullReport, tasks: TaskClosing) -> None:
    """Closed there: complete_task here; deleted there: skip_task here. Applying a change
    twice does nothing (both are idempotent); other changes are ignored."""
    report.seen += len(remote)
    ids = [r.id for r in remote if r.closed or r.deleted]
    links: dict[str, CrmLink] = {}
    for start in range(0, len(ids), 500):
        for link in session.scalars(select(CrmLink).where(
                CrmLink.kind == CrmLinkKind.TASK, CrmLink.rep_id == rep_id,
                CrmLink.sf_id.in_(ids[start:start + 500]))):
            links[link.sf_id or ""] = link
    for change in remote:
        found = links.get(change.id)
        task = session.get(Task, found.local_id) if found is not None else None
        if found is None or task is None:
            continue
        if change.deleted:
            if task.status == TaskStatus.OPEN and _finish(tasks.skip_task, session, task, now):
                report.removed += 1
            values: dict[str, object] = {"state": CrmLinkState.REMOVED, "lease_until": None,
                                         "last_error": "deleted in Salesforce"}
        elif task.status == TaskStatus.OPEN and _finish(tasks.complete_task, session, task,
                                                        now):
            report.completed += 1
            # Salesforce has it closed already: nothing to push back.
            values = {"pushed_version": CrmLink.version, "state": CrmLinkState.SYNCED}
        else:
            continue
        session.execute(update(CrmLink).where(CrmLink.id == found.id)
                        .values(updated_at=now, **values)
                        .execution_options(synchronize_session=False))


def _finish(action: Callable[[Session, Task, datetime], bool], session: Session, task: Task,
            now: datetime) -> bool:
    """Skip or complete as Salesforce says; a task whose email we are sending right now (or
    that the rep scheduled here: Salesforce does not know it) stays open until it goes."""
    try:
        return action(session, task, now)
    except Conflict:  # enrollments.tasks.EmailStillScheduled
        return False
