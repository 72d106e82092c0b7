"""The periodic sweep: link stray activity, hand due rows to jobs, start the pulls that are
due. Run by `addin-server crm-sync`; nothing in it talks to Salesforce."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, insert, literal, select
from sqlalchemy.orm import Session

from addin_server import feed
from addin_server.crm.push import due_clause
from addin_server.db import session_scope
from addin_server.enums import CrmLinkKind, CrmLinkState, CrmStatus
from addin_server.models import CrmConnection, CrmLink, Enrollment, Event, SentMessage
from addin_server.runtime import Runtime

BATCH_THRESHOLD = 5  # more due rows than this for a connection: one batch job, not one per row
ADOPT_WINDOW = timedelta(days=2)


class Enqueuer:
    """Where the sweep sends work: RQ by default (workers/crm.py), or run inline."""

    def push(self, link_id: int) -> None:
        raise NotImplementedError

    def batch(self, connection_id: int) -> None:
        raise NotImplementedError

    def pull(self, connection_id: int) -> None:
        raise NotImplementedError


@dataclass
class SweepReport:
    adopted: int = 0
    pushes: int = 0
    batches: int = 0
    pulls: int = 0


def adopt_activity(session: Session, conn: CrmConnection, now: datetime) -> int:
    """Link sent emails and replies that no hook linked (a writer that bypassed the hook, or
    reply detection, which records `replied` events)."""
    since = max(conn.activity_since, now - ADOPT_WINDOW)
    columns = ["org_id", "rep_id", "kind", "local_id", "state", "version", "pushed_version",
               "attempts", "last_error", "created_at", "updated_at"]
    stamp = literal(now, CrmLink.created_at.type)
    common = (literal(CrmLinkState.PENDING.value), literal(1), literal(0), literal(0),
              literal(""), stamp, literal(now, CrmLink.updated_at.type))
    sent_linked = exists().where(CrmLink.kind == CrmLinkKind.SENT,
                                 CrmLink.local_id == SentMessage.id)
    sent = select(SentMessage.org_id, Enrollment.rep_id, literal(CrmLinkKind.SENT.value),
                  SentMessage.id, *common).join(
        Enrollment, Enrollment.id == SentMessage.enrollment_id).where(
        Enrollment.rep_id == conn.rep_id, SentMessage.sent_at >= since, ~sent_linked)
    reply_linked = exists().where(CrmLink.kind == CrmLinkKind.REPLY, CrmLink.local_id == Event.id)
    replies = select(Event.org_id, Event.rep_id, literal(CrmLinkKind.REPLY.value), Event.id,
                     *common).where(
        Event.type == feed.REPLIED, Event.rep_id == conn.rep_id, Event.org_id == conn.org_id,
        Event.at >= since, ~reply_linked)
    added = 0
    for query in (sent, replies):
        # RETURNING counts the rows on every driver (rowcount of INSERT ... SELECT may not).
        added += len(session.execute(
            insert(CrmLink).from_select(columns, query).returning(CrmLink.id)).all())
    return added


def sweep(runtime: Runtime, enqueuer: Enqueuer, *, limit: int = 5000) -> SweepReport:
    """One pass: link stray activity, hand due rows to jobs, start the pulls that are due."""
    report = SweepReport()
    now = runtime.now()
    poll = timedelta(seconds=runtime.settings.salesforce_poll_seconds)
    with session_scope(runtime.sessions) as s:
        conns = list(s.scalars(select(CrmConnection).order_by(CrmConnection.id)))
        for conn in conns:
            report.adopted += adopt_activity(s, conn, now)
        connected = [c for c in conns if c.status == CrmStatus.CONNECTED
                     and (c.hold_until is None or c.hold_until <= now)]
        due = s.execute(
            select(CrmLink.rep_id, CrmLink.id).where(
                CrmLink.rep_id.in_([c.rep_id for c in connected]), *due_clause(now))
            .order_by(CrmLink.id).limit(limit)
        ).all()
        pulls = [c.id for c in connected if c.pulled_at is None or c.pulled_at <= now - poll]
    by_rep: dict[int, list[int]] = {}
    for rep_id, link_id in due:
        by_rep.setdefault(rep_id, []).append(link_id)
    for conn in connected:
        ids = by_rep.get(conn.rep_id, [])
        if len(ids) > BATCH_THRESHOLD:
            enqueuer.batch(conn.id)
            report.batches += 1
        else:
            for link_id in ids:
                enqueuer.push(link_id)
                report.pushes += 1
    for conn_id in pulls:
        enqueuer.pull(conn_id)
        report.pulls += 1
    return report
