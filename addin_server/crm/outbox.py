"""Sync rows written in the transaction that makes the change (a transactional outbox).

The use cases (progress, launches, tasks, enrollments) call these small functions; they never
talk to Salesforce. A row is written only when the organisation has a Salesforce connection
(a rep who has not connected yet gets rows that wait for them). Once the transaction commits,
the rows are given to the hand-off that `install` was called with (the workers' one enqueues
`crm-<link id>` jobs when a queue is at hand: a request, or an RQ job); the periodic sweep
(sweep.py) pushes anything else, so nothing depends on that hand-off.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import event, exists, func, insert, literal, select, update
from sqlalchemy.orm import Session

from addin_server.enums import CrmLinkKind, CrmLinkState, CrmStatus
from addin_server.models import CrmConnection, CrmLink, Event, SentMessage, Task

log = logging.getLogger(__name__)

_CONNECTIONS = "crm.connections"  # org_id -> {rep_id: (connection id, connected?)}
_PUSH = "crm.push"  # link ids to enqueue after commit
_BATCH = "crm.batch"  # connection ids whose due links to push after commit
CHUNK = 500


def _connections(session: Session, org_id: int) -> dict[int, tuple[int, bool]]:
    cache: dict[int, dict[int, tuple[int, bool]]] = session.info.setdefault(_CONNECTIONS, {})
    if org_id not in cache:
        rows = session.execute(
            select(CrmConnection.rep_id, CrmConnection.id, CrmConnection.status).where(
                CrmConnection.org_id == org_id)
        )
        cache[org_id] = {rep: (cid, status == CrmStatus.CONNECTED) for rep, cid, status in rows}
    return cache[org_id]


def _push_later(session: Session, org_id: int, rep_id: int, link_id: int) -> None:
    conn = _connections(session, org_id).get(rep_id)
    if conn is not None and conn[1]:
        session.info.setdefault(_PUSH, set()).add(link_id)


def _note(session: Session, kind: CrmLinkKind, local_id: int, org_id: int, rep_id: int,
          at: datetime) -> None:
    if not _connections(session, org_id):
        return
    link_id = session.scalar(
        select(CrmLink.id).where(CrmLink.kind == kind, CrmLink.local_id == local_id))
    if link_id is None:
        link = CrmLink(org_id=org_id, rep_id=rep_id, kind=kind, local_id=local_id,
                       state=CrmLinkState.PENDING, version=1, pushed_version=0,
                       created_at=at, updated_at=at)
        session.add(link)
        session.flush()
        link_id = link.id
    else:
        session.execute(
            update(CrmLink)
            .where(CrmLink.id == link_id, CrmLink.state != CrmLinkState.REMOVED)
            .values(version=CrmLink.version + 1, state=CrmLinkState.PENDING,
                    next_attempt_at=None, updated_at=at)
            .execution_options(synchronize_session=False)
        )
    _push_later(session, org_id, rep_id, link_id)


def note_task(session: Session, task: Task) -> None:
    """A task was created or finished: mirror it (its row carries the time of the change)."""
    _note(session, CrmLinkKind.TASK, task.id, task.org_id, task.rep_id, task.updated_at)


def note_sent(session: Session, message: SentMessage, rep_id: int) -> None:
    """An email went out: log it on the Contact or Lead."""
    _note(session, CrmLinkKind.SENT, message.id, message.org_id, rep_id, message.sent_at)


def note_reply(session: Session, reply: Event) -> None:
    """A reply was detected (a `replied` event): log it on the Contact or Lead."""
    if reply.rep_id is not None:
        _note(session, CrmLinkKind.REPLY, reply.id, reply.org_id, reply.rep_id, reply.at)


def note_new_tasks(
    session: Session, org_id: int, rep_id: int, enrollment_ids: Sequence[int], at: datetime
) -> None:
    """Bulk form for launches: link every not yet linked task of these enrollments."""
    conns = _connections(session, org_id)
    if not conns:
        return
    for start in range(0, len(enrollment_ids), CHUNK):
        chunk = list(enrollment_ids[start:start + CHUNK])
        linked = exists().where(CrmLink.kind == CrmLinkKind.TASK, CrmLink.local_id == Task.id)
        session.execute(insert(CrmLink).from_select(
            ["org_id", "rep_id", "kind", "local_id", "state", "version", "pushed_version",
             "attempts", "last_error", "created_at", "updated_at"],
            select(Task.org_id, Task.rep_id, literal(CrmLinkKind.TASK.value),
                   Task.id, literal(CrmLinkState.PENDING.value), literal(1), literal(0),
                   literal(0), literal(""), literal(at, CrmLink.created_at.type),
                   literal(at, CrmLink.updated_at.type))
            .where(Task.enrollment_id.in_(chunk), ~linked),
        ))
    if rep_id in conns and conns[rep_id][1]:
        session.info.setdefault(_BATCH, set()).add(conns[rep_id][0])


def note_enrollment_tasks(session: Session, org_id: int, enrollment_ids: Sequence[int],
                          at: datetime) -> None:
    """The enrollments ended and cancelled their open tasks: close them there too."""
    if not _connections(session, org_id) or not enrollment_ids:
        return
    links = session.execute(
        select(CrmLink.id, CrmLink.rep_id).join(Task, Task.id == CrmLink.local_id).where(
            CrmLink.kind == CrmLinkKind.TASK, Task.enrollment_id.in_(list(enrollment_ids)),
            CrmLink.state != CrmLinkState.REMOVED)
    ).all()
    if not links:
        return
    session.execute(
        update(CrmLink).where(CrmLink.id.in_([i for i, _ in links]))
        .values(version=CrmLink.version + 1, state=CrmLinkState.PENDING, next_attempt_at=None,
                updated_at=at)
        .execution_options(synchronize_session=False)
    )
    for link_id, rep_id in links:
        _push_later(session, org_id, rep_id or 0, link_id)


def request_batch(session: Session, connection_id: int) -> None:
    """Push this connection's due links once the transaction commits (after a reconnect)."""
    session.info.setdefault(_BATCH, set()).add(connection_id)


def counts(session: Session, rep_id: int) -> dict[str, int]:
    """Sync rows of a rep by state (for the status endpoint)."""
    rows = session.execute(select(CrmLink.state, func.count()).where(CrmLink.rep_id == rep_id)
                           .group_by(CrmLink.state))
    return {CrmLinkState(state).value: int(n) for state, n in rows}


# --- after commit: hand the rows over --------------------------------------------------------

# Called after a commit with (connection ids whose due links to push, link ids to push).
HandOff = Callable[[Sequence[int], Sequence[int]], None]
_hand_off: HandOff | None = None


def install(hand_off: HandOff) -> None:
    """Listen to every Session of the process: after a commit, the sync rows it wrote go to
    `hand_off`; after a rollback they are forgotten. Called when a process starts (create_app,
    the worker and dispatcher commands), never at import; calling it again only replaces
    `hand_off`."""
    global _hand_off
    _hand_off = hand_off
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)


def _after_commit(session: Session) -> None:
    session.info.pop(_CONNECTIONS, None)
    links: set[int] = session.info.pop(_PUSH, set())
    batches: set[int] = session.info.pop(_BATCH, set())
    if (not links and not batches) or _hand_off is None:
        return
    try:
        _hand_off(sorted(batches), sorted(links))
    except Exception:  # the rows are committed; the sweep will push them
        log.warning("could not enqueue CRM pushes; the sweep will", exc_info=True)


def _after_rollback(session: Session) -> None:
    for key in (_CONNECTIONS, _PUSH, _BATCH):
        session.info.pop(key, None)
