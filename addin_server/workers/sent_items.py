"""The Sent-items completion pass on RQ (enrollments/sent_items.py), for Gmail and Microsoft
mailboxes alike: a periodic duty (workers/duties.py) queues one `sync_sent_items` job at most
every SENT_SYNC_SECONDS, when some rep with a connected Gmail or Microsoft mailbox has an open
email task; a worker runs the pass, so that the provider calls stay off the dispatcher."""

from __future__ import annotations

import logging
from datetime import datetime

from rq import Queue
from sqlalchemy import select

from addin_server.enrollments.sent_items import READABLE, sync_all
from addin_server.enums import MailboxStatus, StepType, TaskStatus
from addin_server.jobs import enqueue_unique
from addin_server.models import Mailbox, Task
from addin_server.runtime import Runtime
from addin_server.workers.runtime import worker_runtime

log = logging.getLogger(__name__)

SYNC_JOB = "addin_server.workers.sent_items.sync_sent_items"
SYNC_JOB_ID = "sent-items-sync"
THROTTLE_KEY = "sent-items-sync:recent"


def schedule_sync(runtime: Runtime, now: datetime) -> bool:
    """Queue one `sync_sent_items` job at most every `sent_sync_seconds` (a Redis key, so that
    two dispatchers share it), and only when some rep with a connected Gmail or Microsoft
    mailbox has an open email task. Never fails the dispatcher's pass."""
    try:
        with runtime.sessions() as session:
            candidate = session.scalar(
                select(Task.id).join(Mailbox, Mailbox.rep_id == Task.rep_id).where(
                    Task.status == TaskStatus.OPEN, Task.type == StepType.EMAIL,
                    Mailbox.provider.in_(READABLE),
                    Mailbox.status == MailboxStatus.CONNECTED).limit(1))
        if candidate is None:
            return False
        redis = runtime.redis()
        if not redis.set(THROTTLE_KEY, now.isoformat(), nx=True,
                         ex=max(1, runtime.settings.sent_sync_seconds)):
            return False
        # False: one is queued or running already (a dead one is dropped: addin_server/jobs.py)
        return enqueue_unique(
            Queue(runtime.settings.queue_name, connection=redis), SYNC_JOB, (), SYNC_JOB_ID,
            runtime.settings.job_lease_seconds, result_ttl=0, failure_ttl=600,
            job_timeout=max(60, runtime.settings.sent_sync_seconds))
    except Exception:
        log.exception("could not queue the Sent-items pass")
        return False


def sync_sent_items() -> int:
    """The RQ job: one pass; returns how many tasks it completed."""
    rt = worker_runtime()
    return sum(len(v) for v in sync_all(rt, rt.now()).values())
