"""The dispatcher: moves due sends from the SQL outbox onto RQ, and repairs what RQ loses.

One `tick(runtime, now)`:
1. `sending` rows whose lease expired (their worker died) -> `unknown`, never back to sending;
2. `unknown` rows past their grace period are looked up in the mailbox's Sent items by our
   send-id header: found -> sent (with all the bookkeeping), not found -> scheduled (retry);
3. `queued` rows handed to RQ a while ago whose job is gone (Redis flushed, job lost) are
   enqueued again;
4. each mailbox keeps only what its cap, pacing and the sending windows allow now (the rest is
   rescheduled with the reason: sending/pacing.py);
5. due `scheduled` rows are claimed in small batches (PostgreSQL: FOR UPDATE SKIP LOCKED;
   SQLite: the database lock) -> `queued`, committed, then enqueued as `send-<id>` with
   unique=True; a job that holds the id but will not run (its worker is gone) is dropped
   first (addin_server/jobs.py, the one mechanism of every fixed-id job).
Redis only ever holds sends that are due now. Two dispatchers at once are safe: every step is a
conditional UPDATE, and the job's own claim is the last word.

This is the send pipeline's own work only. The other periodic work of the dispatcher process
(out-of-office resumes, due tasks, reply polls, ...) is listed in workers/duties.py, and
workers/dispatch.py runs both.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from addin_server.db import session_scope
from addin_server.enums import LIVE_ENROLLMENT, MailboxStatus, SendState
from addin_server.jobs import enqueue_unique, is_live
from addin_server.mailboxes import open_mailbox
from addin_server.mailboxes.port import AuthError, MailboxError
from addin_server.mailboxes.state import disconnect_mailbox
from addin_server.models import Enrollment, Mailbox, Send
from addin_server.runtime import Runtime
from addin_server.sending.delivery import mark_sent
from addin_server.sending.outbox import log_many, move, sendable
from addin_server.sending.pacing import pace_due

log = logging.getLogger(__name__)

# The send job, named by its dotted path as RQ stores it (a name, not an import: the job lives
# with the other RQ entry points in workers/).
SEND_JOB = "addin_server.workers.send.send_email"
# A finished send job stays this long (for `why`), then expires. Not 0: with result_ttl=0 RQ
# deletes each finished job at once, with several unpipelined reads (its status, its
# executions), a third of RQ's own cost per job as measured on no-op jobs. A finished job
# that blocks a later unique enqueue of the same send is dropped (addin_server/jobs.py).
SEND_RESULT_TTL = 30
HOUSEKEEPING_EVERY = 1.0  # seconds between the dispatcher's full passes (see Dispatcher)
# How far back a Sent-items lookup reaches before the row was created (clock skew).
LOOKUP_MARGIN = timedelta(minutes=10)


def job_id(send_id: int) -> str:
    return f"send-{send_id}"


@dataclass
class TickResult:
    expired: int = 0
    reconciled_sent: int = 0
    reconciled_retry: int = 0
    requeued: int = 0
    promoted: int = 0
    enqueued: list[int] = field(default_factory=list)
    paced: int = 0

    def __str__(self) -> str:
        return (f"promoted {self.promoted}, requeued {self.requeued}, leases expired "
                f"{self.expired}, reconciled {self.reconciled_sent} sent / "
                f"{self.reconciled_retry} retry")


def tick(rt: Runtime, now: datetime | None = None, *, housekeeping: bool = True) -> TickResult:
    """One pass of the dispatcher (see the module docstring). Without `housekeeping`, only
    pacing and promotion: what a short `--interval` needs between full passes."""
    now = now or rt.now()
    result = TickResult()
    if housekeeping:
        result.expired = expire_leases(rt, now)
        result.reconciled_sent, result.reconciled_retry = reconcile(rt, now)
        result.requeued = requeue_lost(rt, now)
    # Each mailbox keeps only what its cap, pacing and the sending windows allow now (the rest
    # is rescheduled with the reason), before anything is promoted.
    with session_scope(rt.sessions) as session:
        result.paced = pace_due(session, now)
    batch = rt.settings.dispatch_batch_size
    while True:
        with session_scope(rt.sessions) as session:
            ids = promote(session, now, batch)
        enqueue(rt, ids)
        result.promoted += len(ids)
        result.enqueued.extend(ids)
        if len(ids) < batch:
            return result


@dataclass
class Dispatcher:
    """The send pipeline's passes: every pass paces and promotes what is due; the repairs
    (expired leases, reconciliation, lost jobs) run at most once every `housekeeping_every`
    seconds. A short interval then cuts lateness without repeating a dozen queries that have
    nothing to do five times a second."""

    rt: Runtime
    housekeeping_every: float = HOUSEKEEPING_EVERY
    _last_full: float = field(default=float("-inf"), repr=False)

    def run_pass(self, now: datetime | None = None) -> TickResult:
        clock = time.monotonic()
        full = clock - self._last_full >= self.housekeeping_every
        if full:
            self._last_full = clock
        return tick(self.rt, now, housekeeping=full)


def promote(session: Session, now: datetime, limit: int) -> list[int]:
    """Claim up to `limit` due sendable `scheduled` rows as `queued`. The caller commits, then
    enqueues (a crash in between leaves `queued` rows that `requeue_lost` picks up)."""
    due = (
        select(Send.id)
        .where(Send.state == SendState.SCHEDULED, Send.due_at <= now, sendable(now))
        .order_by(Send.due_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        # Two dispatchers take disjoint batches instead of waiting on each other's rows.
        due = due.with_for_update(skip_locked=True, of=Send)
    ids = list(session.scalars(
        update(Send)
        .where(Send.id.in_(due.scalar_subquery()), Send.state == SendState.SCHEDULED)
        .values(state=SendState.QUEUED, enqueued_at=now, updated_at=now)
        .returning(Send.id)
        .execution_options(synchronize_session=False)
    ))
    log_many(session, ids, SendState.SCHEDULED.value, SendState.QUEUED.value, now)
    return ids


def enqueue(rt: Runtime, ids: list[int]) -> int:
    """Put `send-<id>` jobs on the queue; a live job with that id already is fine, a dead one
    (finished, failed, or its worker gone: addin_server/jobs.py) is dropped first."""
    if not ids:
        return 0
    queue = Queue(rt.settings.queue_name, connection=rt.redis())
    return sum(enqueue_unique(
        queue, SEND_JOB, (send_id,), job_id(send_id), rt.settings.job_lease_seconds,
        result_ttl=SEND_RESULT_TTL, failure_ttl=24 * 3600,
        job_timeout=rt.settings.send_job_timeout_seconds) for send_id in ids)


@dataclass
class QueueSnapshot:
    """Job states and the queue's lists, read in one MULTI/EXEC so that a job a worker is
    taking (queue list -> intermediate list -> started) is seen in one place or the other."""

    states: list[tuple[str | None, str | None]]  # (status, origin) per job id, read raw
    waiting: set[str] | None  # ids on the queue list (None: not read, too long)
    taken: set[str]  # ids a worker has popped (RQ's intermediate list) but not yet started


def queue_snapshot(redis: Redis, queue: Queue, ids: list[str], *,
                   with_lists: bool = True, limit: int = 50_000) -> QueueSnapshot:
    """Raw reads: after a FLUSHDB a finishing worker can leave a partial hash (only its
    heartbeat) that RQ's Job.fetch refuses to load."""
    with_lists = with_lists and queue.count <= limit
    pipe = redis.pipeline(transaction=True)
    for jid in ids:
        pipe.hmget(Job.key_for(jid), "status", "origin")
    if with_lists:
        pipe.lrange(queue.key, 0, -1)
        pipe.lrange(queue.intermediate_queue_key, 0, -1)
    out = pipe.execute()
    states = [(s.decode() if s else None, o.decode() if o else None) for s, o in out[:len(ids)]]
    if not with_lists:
        return QueueSnapshot(states, None, set())
    return QueueSnapshot(states, {i.decode() for i in out[-2]}, {i.decode() for i in out[-1]})


def job_states(redis: Redis, ids: list[str]) -> list[tuple[str | None, str | None]]:
    pipe = redis.pipeline(transaction=False)
    for jid in ids:
        pipe.hmget(Job.key_for(jid), "status", "origin")
    return [(s.decode() if s else None, o.decode() if o else None) for s, o in pipe.execute()]


def _delete_job(redis: Redis, queue: Queue, jid: str) -> None:
    pipe = redis.pipeline(transaction=False)
    pipe.delete(Job.key_for(jid))
    pipe.lrem(queue.key, 0, jid)
    pipe.lrem(queue.intermediate_queue_key, 0, jid)
    pipe.execute()


def _job_is_live(jid: str, status: str | None, origin: str | None, snapshot: QueueSnapshot,
                 recent: bool, queue: Queue) -> bool:
    """Will this job still run? Waiting on our queue list: yes. Taken by a worker (popped or
    started): yes while the row is recent; after the job timeout its worker is gone."""
    if origin != queue.name:
        return False  # missing, or another queue's leftover with the same id
    if status in (JobStatus.SCHEDULED, JobStatus.DEFERRED):
        return True
    if status == JobStatus.QUEUED and (snapshot.waiting is None or jid in snapshot.waiting):
        return True
    if status in (JobStatus.QUEUED, JobStatus.STARTED) and recent:
        return jid in snapshot.taken or status == JobStatus.STARTED
    return False


def requeue_lost(rt: Runtime, now: datetime) -> int:
    """`queued` rows whose RQ job is gone (FLUSHALL, eviction, a lost job) go back on RQ. A job
    still `started` long after the row was queued belonged to a worker that died before it
    claimed the row, as is one whose lease (addin_server/jobs.py) has lapsed."""
    settings = rt.settings
    stale_before = now - timedelta(seconds=settings.requeue_after_seconds)
    dead_start = now - timedelta(seconds=settings.requeue_after_seconds
                                 + settings.send_job_timeout_seconds)
    with session_scope(rt.sessions) as session:
        rows = session.execute(
            select(Send.id, Send.enqueued_at)
            .where(Send.state == SendState.QUEUED, Send.enqueued_at < stale_before)
            .order_by(Send.enqueued_at)
            .limit(settings.dispatch_batch_size * 5)
        ).all()
    if not rows:
        return 0
    redis = rt.redis()
    queue = Queue(settings.queue_name, connection=redis)
    ids = [job_id(i) for i, _ in rows]
    snapshot = queue_snapshot(redis, queue, ids)
    lost: list[int] = []
    waiting: list[int] = []
    for (send_id, enqueued_at), jid, (status, origin) in zip(rows, ids, snapshot.states,
                                                             strict=True):
        recent = enqueued_at is not None and enqueued_at > dead_start
        if _job_is_live(jid, status, origin, snapshot, recent, queue) and (
                status != JobStatus.STARTED
                or is_live(queue, jid, settings.job_lease_seconds, now)):
            if snapshot.waiting is not None and jid in snapshot.waiting:
                waiting.append(send_id)
            continue
        _delete_job(redis, queue, jid)
        lost.append(send_id)
    if waiting:
        # Seen waiting on the queue now: not looked at again for another threshold, so a long
        # backlog costs one check per row per threshold, not one per pass. (Rows a worker has
        # taken keep their time: the dead-worker rule above counts from it.)
        with session_scope(rt.sessions) as session:
            session.execute(
                update(Send).where(Send.id.in_(waiting), Send.state == SendState.QUEUED)
                .values(enqueued_at=now).execution_options(synchronize_session=False))
    if lost:
        with session_scope(rt.sessions) as session:
            session.execute(
                update(Send).where(Send.id.in_(lost), Send.state == SendState.QUEUED)
                .values(enqueued_at=now, updated_at=now)
                .execution_options(synchronize_session=False))
            log_many(session, lost, SendState.QUEUED.value, SendState.QUEUED.value, now,
                     "its RQ job was gone: enqueued again")
        enqueue(rt, lost)
    return len(lost)


def expire_leases(rt: Runtime, now: datetime) -> int:
    """`sending` rows whose worker stopped renewing its lease: outcome unknown."""
    grace = timedelta(seconds=rt.settings.reconcile_grace_seconds)
    with session_scope(rt.sessions) as session:
        ids = list(session.scalars(
            select(Send.id).where(Send.state == SendState.SENDING, Send.lease_until < now)
            .limit(rt.settings.dispatch_batch_size)))
        moved = 0
        for send_id in ids:
            # Conditional on `sending`: a worker that finished meanwhile keeps its outcome.
            moved += move(session, send_id, (SendState.SENDING,), SendState.UNKNOWN, now,
                          "lease expired (its worker is gone)", lease_until=now + grace,
                          reason="its worker stopped during the send; checking Sent items")
        return moved


def reconcile(rt: Runtime, now: datetime) -> tuple[int, int]:
    """Look `unknown` rows up in Sent items (after the grace period). Returns (sent, retry)."""
    with session_scope(rt.sessions) as session:
        rows = session.execute(
            select(Send.id, Send.created_at, Mailbox)
            .join(Mailbox, Mailbox.id == Send.mailbox_id)
            .where(Send.state == SendState.UNKNOWN, Send.lease_until <= now,
                   Mailbox.status == MailboxStatus.CONNECTED)
            .order_by(Send.lease_until)
            .limit(rt.settings.dispatch_batch_size)
        ).all()
    found = retried = 0
    grace = timedelta(seconds=rt.settings.reconcile_grace_seconds)
    for send_id, created_at, mailbox_row in rows:
        with session_scope(rt.sessions) as session:
            try:
                ref = open_mailbox(rt, session, mailbox_row).find_sent(
                    str(send_id), since=created_at - LOOKUP_MARGIN)
            except AuthError as exc:
                box = session.get(Mailbox, mailbox_row.id)
                assert box is not None
                disconnect_mailbox(session, box, str(exc), now)
                continue
            except MailboxError as exc:
                move(session, send_id, (SendState.UNKNOWN,), SendState.UNKNOWN, now,
                     f"Sent items lookup failed ({exc}); trying again later",
                     lease_until=now + grace)
                continue
            if ref is not None:
                found += mark_sent(session, send_id, ref, now, note="found in Sent items")
            elif not _enrollment_live(session, send_id):
                # It did not go out, and the person left the campaign meanwhile.
                move(session, send_id, (SendState.UNKNOWN,), SendState.CANCELLED, now,
                     "not found in Sent items; the enrollment has ended", lease_until=None,
                     reason="the enrollment ended before it could be sent")
            else:
                # Not in Sent items after the grace period: it did not go out. The recorded
                # draft (if any) is kept: sending that same draft cannot make a second copy.
                retried += move(session, send_id, (SendState.UNKNOWN,), SendState.SCHEDULED,
                                now, "not found in Sent items: will send again",
                                lease_until=None, reason="")
    return found, retried


def _enrollment_live(session: Session, send_id: int) -> bool:
    status = session.scalar(select(Enrollment.status).join(
        Send, Send.enrollment_id == Enrollment.id).where(Send.id == send_id))
    return status in LIVE_ENROLLMENT
