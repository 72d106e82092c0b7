"""Fixed-id RQ jobs (`send-<id>`, `crm-<link>`, `crm-batch-<connection>`, `crm-pull-<...>`,
`poll-<mailbox>`, `sent-items-sync`): one mechanism that frees the id of a job whose worker is
gone, so that the next enqueue succeeds instead of meeting DuplicateJobError for an hour.

Every `addin-server worker` (workers/worker.py) holds a lease: a Redis key
`worker-lease:<worker name>` that expires after JOB_LEASE_SECONDS, renewed from a thread every
third of it, set in the same pipeline in which RQ marks a job started (no round trip of its
own per job). A worker killed by SIGKILL stops renewing, and the key expires within the lease.
An enqueue that meets DuplicateJobError reads the job (one MULTI/EXEC: its hash and the queue's
lists; then, for a started job, its worker's lease) and decides:

- scheduled or deferred: live;
- queued: live while it is on the queue's list or a worker has just popped it;
- started: live while the lease of the worker named on it exists (or RQ's own job heartbeat,
  which a forking RQ worker beats, is younger than the lease);
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
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from rq import Queue
from rq.exceptions import DuplicateJobError
from rq.job import Job, JobStatus

LEASE_PREFIX = "worker-lease:"
_WAITING = {JobStatus.SCHEDULED.value, JobStatus.DEFERRED.value}


def lease_key(worker_name: str) -> str:
    return LEASE_PREFIX + worker_name


def enqueue_unique(queue: Queue, func: str, args: tuple[Any, ...], job_id: str, lease: int,
                   **options: Any) -> bool:
    """Enqueue `func(*args)` as `job_id` unless a live job holds that id. True if enqueued.
    `lease` (JOB_LEASE_SECONDS) is how old RQ's own job heartbeat may be for a started job of
    a worker without our lease (a plain `rq worker`); `options` go to RQ (result_ttl,
    failure_ttl, job_timeout)."""
    for _ in range(2):
        try:
            queue.enqueue(func, *args, job_id=job_id, unique=True, **options)
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
    pipe.hmget(Job.key_for(job_id), "status", "origin", "last_heartbeat", "worker_name")
    pipe.lpos(queue.key, job_id)
    pipe.lpos(queue.intermediate_queue_key, job_id)
    (status, origin, beat, worker), waiting, taken = pipe.execute()
    status, origin, worker = _text(status), _text(origin), _text(worker)
    if origin != queue.name:
        return False  # missing, or another queue's leftover with the same id
    if status in _WAITING:
        return True
    if status == JobStatus.QUEUED.value:
        return waiting is not None or taken is not None
    if status == JobStatus.STARTED.value:
        leased = bool(worker) and bool(redis.exists(lease_key(str(worker))))
        return leased or _younger_than(_text(beat), lease, now or datetime.now(UTC))
    return False


def drop(queue: Queue, job_id: str) -> None:
    """Delete a dead job: its hash, its places on the lists and in the started
    registry (whose later cleanup would otherwise fail the next job with the same id)."""
    redis: Redis = queue.connection
    registry = queue.started_job_registry.key
    entries = [str(_text(e)) for e in redis.zrange(registry, 0, -1)]
    stale = [e for e in entries if e == job_id or e.startswith(job_id + ":")]
    pipe = redis.pipeline(transaction=False)
    pipe.delete(Job.key_for(job_id))
    pipe.lrem(queue.key, 0, job_id)
    pipe.lrem(queue.intermediate_queue_key, 0, job_id)
    if stale:
        pipe.zrem(registry, *stale)
    pipe.execute()


class LeaseHolder:
    """A worker's lease: `renew()` sets the key (also inside a pipeline of RQ's); a daemon
    thread renews it every third of the lease until `stop()`, which deletes it."""

    def __init__(self, redis: Redis, worker_name: str, lease: float) -> None:
        self.redis, self.key = redis, lease_key(worker_name)
        self.ms = max(1000, int(lease * 1000))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def renew(self, pipeline: Any = None) -> None:
        (pipeline or self.redis).set(self.key, 1, px=self.ms)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="worker lease", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.ms / 3000):
            with contextlib.suppress(Exception):  # a Redis blip: the next beat tries again
                self.redis.set(self.key, 1, px=self.ms)

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(Exception):
            self.redis.delete(self.key)


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
