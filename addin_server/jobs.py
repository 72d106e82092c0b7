"""Fixed-id RQ jobs (`send-<id>`, `crm-<link>`, `crm-batch-<connection>`, `crm-pull-<...>`,
`poll-<mailbox>`, `sent-items-sync`): one mechanism that frees the id of a job whose worker is
gone, so that the next enqueue succeeds instead of meeting DuplicateJobError for an hour.

A job is enqueued with a lease (seconds, in its meta). The worker that runs it (workers/
worker.py) holds a Redis key `job-lease:<id>` with that expiry and renews it from a thread
every third of the lease while the job runs; a worker killed by SIGKILL stops renewing, and the
key expires within the lease. An enqueue that meets DuplicateJobError reads the job (one
MULTI/EXEC: its hash, its lease key, the queue's lists) and decides:

- scheduled or deferred: live;
- queued: live while it is on the queue's list or a worker has just popped it;
- started: live while its lease key exists (or RQ's own job heartbeat, which a forking RQ
  worker beats, is younger than the lease);
- anything else (finished and kept for its result TTL, failed, missing, another queue's): dead.

A dead job is deleted with its list and started-registry entries, and the enqueue is tried once
more. The deletion is safe because every job re-checks its rows (a send's claim, a sync row's
lease) before acting: a job that was not dead after all finds its work taken.

This module is in the core (it imports no package of ours) because the send pipeline
(sending/dispatcher.py) enqueues `send-<id>` and sits below workers/ in the import contract;
workers/ uses it for every other fixed-id job, and its worker class holds the leases.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from rq import Queue
from rq.exceptions import DuplicateJobError
from rq.job import Job, JobStatus

LEASE_PREFIX = "job-lease:"
_WAITING = {JobStatus.SCHEDULED.value, JobStatus.DEFERRED.value}


def lease_key(job_id: str) -> str:
    return LEASE_PREFIX + job_id


def enqueue_unique(queue: Queue, func: str, args: tuple[Any, ...], job_id: str, lease: int,
                   **options: Any) -> bool:
    """Enqueue `func(*args)` as `job_id` unless a live job holds that id. True if enqueued.
    `options` go to RQ (result_ttl, failure_ttl, job_timeout)."""
    for _ in range(2):
        try:
            queue.enqueue(func, *args, job_id=job_id, unique=True,
                          meta={"lease": max(1, int(lease))}, **options)
            return True
        except DuplicateJobError:
            if is_live(queue, job_id, lease):
                return False
            drop(queue, job_id)
    return False


def is_live(queue: Queue, job_id: str, lease: float, now: datetime | None = None) -> bool:
    """Will the job that holds this id still run (see the module docstring)?"""
    redis: Redis = queue.connection
    pipe = redis.pipeline(transaction=True)
    pipe.hmget(Job.key_for(job_id), "status", "origin", "last_heartbeat")
    pipe.exists(lease_key(job_id))
    pipe.lpos(queue.key, job_id)
    pipe.lpos(queue.intermediate_queue_key, job_id)
    (status, origin, beat), leased, waiting, taken = pipe.execute()
    status, origin = _text(status), _text(origin)
    if origin != queue.name:
        return False  # missing, or another queue's leftover with the same id
    if status in _WAITING:
        return True
    if status == JobStatus.QUEUED.value:
        return waiting is not None or taken is not None
    if status == JobStatus.STARTED.value:
        return bool(leased) or _younger_than(_text(beat), lease, now or datetime.now(UTC))
    return False


def drop(queue: Queue, job_id: str) -> None:
    """Delete a dead job: its hash, its lease, its places on the lists and in the started
    registry (whose later cleanup would otherwise fail the next job with the same id)."""
    redis: Redis = queue.connection
    registry = queue.started_job_registry.key
    entries = [str(_text(e)) for e in redis.zrange(registry, 0, -1)]
    stale = [e for e in entries if e == job_id or e.startswith(job_id + ":")]
    pipe = redis.pipeline(transaction=False)
    pipe.delete(Job.key_for(job_id), lease_key(job_id))
    pipe.lrem(queue.key, 0, job_id)
    pipe.lrem(queue.intermediate_queue_key, 0, job_id)
    if stale:
        pipe.zrem(registry, *stale)
    pipe.execute()


@contextlib.contextmanager
def holding_lease(redis: Redis, job_id: str, lease: float, worker: str) -> Iterator[None]:
    """Hold the job's lease key while the block runs: set now, renewed from a daemon thread
    every third of the lease, deleted at the end. A killed process stops renewing, and the key
    expires within the lease."""
    ms = max(1000, int(lease * 1000))
    key = lease_key(job_id)
    redis.set(key, worker, px=ms)
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(ms / 3000):
            with contextlib.suppress(Exception):  # a Redis blip: the next beat tries again
                redis.set(key, worker, px=ms)

    thread = threading.Thread(target=renew, name=f"lease {job_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)
        with contextlib.suppress(Exception):
            redis.delete(key)


def _text(value: Any) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _younger_than(stamp: str | None, seconds: float, now: datetime) -> bool:
    if not stamp:
        return False
    try:
        at = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return False
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return (now - at).total_seconds() < seconds
