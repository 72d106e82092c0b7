"""RQ entry points of the Salesforce sync, and the hand-off of the rows a commit wrote (the CRM
outbox, crm/outbox.py) to RQ. Jobs carry ids only; the rows are the truth.

Job ids are deterministic (`crm-<link id>`, `crm-batch-<connection id>`, `crm-pull-<connection
id>`) and enqueued with unique=True, so a second enqueue while one waits or runs is dropped.
Finished jobs keep no result (result_ttl=0), so that the id is free for the row's next change at
once; a job whose worker died frees its id within the job lease (addin_server/jobs.py), and the
sweep's next pass hands the work out again (the rows it had claimed come back when their
lease, crm_lease_seconds, runs out).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from flask import current_app, has_app_context
from rq import Queue, get_current_job

from addin_server.crm import outbox, push
from addin_server.crm import pull as pulling
from addin_server.crm.sweep import Enqueuer
from addin_server.db import session_scope
from addin_server.enrollments import tasks
from addin_server.jobs import enqueue_unique
from addin_server.runtime import Runtime
from addin_server.workers.runtime import worker_runtime

log = logging.getLogger(__name__)

JOB_TIMEOUT = 600  # well above the HTTP timeouts: a batch makes a handful of calls
FAILURE_TTL = 3600  # kept for `rq` inspection; a failed job does not block its id (jobs.py)


def _enqueue(redis: Any, queue: str, func: str, arg: int, job_id: str, lease: int) -> bool:
    return enqueue_unique(Queue(queue, connection=redis), func, (arg,), job_id, lease,
                          result_ttl=0, failure_ttl=FAILURE_TTL, job_timeout=JOB_TIMEOUT)


def enqueue_push(redis: Any, queue: str, link_id: int, lease: int) -> bool:
    return _enqueue(redis, queue, "addin_server.workers.crm.push_link", link_id,
                    f"crm-{link_id}", lease)


def enqueue_batch(redis: Any, queue: str, connection_id: int, lease: int) -> bool:
    return _enqueue(redis, queue, "addin_server.workers.crm.push_batch", connection_id,
                    f"crm-batch-{connection_id}", lease)


def enqueue_pull(redis: Any, queue: str, connection_id: int, lease: int) -> bool:
    return _enqueue(redis, queue, "addin_server.workers.crm.pull", connection_id,
                    f"crm-pull-{connection_id}", lease)


def run_push_link(runtime: Runtime, link_id: int) -> push.PushReport:
    """Push one row; again if it changed while it was being pushed (a few times at most)."""
    with session_scope(runtime.sessions) as s:
        connection_id = push.connection_of_link(s, link_id)
    total = push.PushReport()
    if connection_id is None:
        return total  # the rep has not connected yet: the row waits
    for _ in range(3):
        report = push.push_links(runtime, connection_id, [link_id])
        total.add(report)
        if not report.pushed:
            break
    return total


def push_link(link_id: int) -> None:
    run_push_link(worker_runtime(), link_id)


def push_batch(connection_id: int) -> None:
    push.push_due(worker_runtime(), connection_id)


def pull(connection_id: int) -> None:
    pulling.pull(worker_runtime(), connection_id, tasks=tasks)


def _queue_target() -> tuple[Any, str, int] | None:
    """(Redis, queue name, job lease) of the running app or RQ job, if any."""
    if has_app_context():
        runtime = current_app.extensions.get("addin")
        if runtime is not None:
            settings = runtime.settings
            return (runtime.redis(), settings.crm_queue_name or settings.queue_name,
                    settings.job_lease_seconds)
    job = get_current_job()
    if job is not None:
        return job.connection, job.origin, worker_runtime().settings.job_lease_seconds
    return None


def hand_off(batches: Sequence[int], links: Sequence[int]) -> None:
    """After a commit: enqueue the pushes of the sync rows it wrote, on the queue of the running
    app or RQ job. Elsewhere (a script, a shell) nothing is enqueued: the sweep pushes them."""
    target = _queue_target()
    if target is None:
        return
    redis, queue, lease = target
    for connection_id in batches:
        enqueue_batch(redis, queue, connection_id, lease)
    for link_id in links:
        enqueue_push(redis, queue, link_id, lease)


def install_crm_listener() -> None:
    """Hand the CRM outbox's rows to RQ after each commit, in this process (create_app, the
    worker and the dispatcher call it; calling it again changes nothing)."""
    outbox.install(hand_off)


class RqEnqueuer(Enqueuer):
    """The sweep's work goes to RQ."""

    def __init__(self, runtime: Runtime) -> None:
        self.redis = runtime.redis()
        self.queue = runtime.settings.crm_queue_name or runtime.settings.queue_name
        self.lease = runtime.settings.job_lease_seconds

    def push(self, link_id: int) -> None:
        enqueue_push(self.redis, self.queue, link_id, self.lease)

    def batch(self, connection_id: int) -> None:
        enqueue_batch(self.redis, self.queue, connection_id, self.lease)

    def pull(self, connection_id: int) -> None:
        enqueue_pull(self.redis, self.queue, connection_id, self.lease)


class InlineEnqueuer(Enqueuer):
    """The sweep's work done in this process (`crm-sync --inline`: no worker needed)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def push(self, link_id: int) -> None:
        run_push_link(self.runtime, link_id)

    def batch(self, connection_id: int) -> None:
        push.push_due(self.runtime, connection_id)

    def pull(self, connection_id: int) -> None:
        pulling.pull(self.runtime, connection_id, tasks=tasks)
