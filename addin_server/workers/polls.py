"""Reply polls on RQ: a periodic duty (workers/duties.py) enqueues `poll-<mailbox id>` for each
connected Gmail / Microsoft mailbox at most every `reply_poll_seconds` (a Redis key with that
expiry is the throttle, so a failing mailbox is not retried every pass); push endpoints
(web/webhooks.py) enqueue one at once. The job reads the inbox (inbound/poll.py), applies what
it finds, then renews the mailbox's push (inbound/push.py): watch renewals have no job of their
own, so a dead poll's recovery is theirs too."""

from __future__ import annotations

import logging
from datetime import datetime

from rq import Queue
from sqlalchemy import select

from addin_server.db import session_scope
from addin_server.enums import MailboxProvider, MailboxStatus
from addin_server.inbound.poll import poll
from addin_server.inbound.push import renew
from addin_server.jobs import enqueue_unique
from addin_server.mailboxes.port import MailboxError
from addin_server.models import Mailbox
from addin_server.runtime import Runtime
from addin_server.workers.runtime import worker_runtime

log = logging.getLogger(__name__)
POLL_JOB = "addin_server.workers.polls.poll_mailbox"


def poll_job_id(mailbox_id: int) -> str:
    return f"poll-{mailbox_id}"


def enqueue_poll(rt: Runtime, mailbox_id: int, *, throttle: bool = True) -> bool:
    redis = rt.redis()
    key = f"{rt.settings.queue_name}:poll-throttle:{mailbox_id}"
    if throttle and not redis.set(key, 1, nx=True,
                                  ex=max(1, rt.settings.reply_poll_seconds)):
        return False
    # A poll whose worker died frees its id within the job lease (addin_server/jobs.py).
    return enqueue_unique(
        Queue(rt.settings.queue_name, connection=redis), POLL_JOB, (mailbox_id,),
        poll_job_id(mailbox_id), rt.settings.job_lease_seconds, result_ttl=0,
        failure_ttl=3600, job_timeout=rt.settings.send_job_timeout_seconds)


def enqueue_polls(rt: Runtime, now: datetime) -> int:
    """Polls for the connected provider mailboxes whose throttle has run out."""
    with session_scope(rt.sessions) as session:
        ids = list(session.scalars(select(Mailbox.id).where(
            Mailbox.provider != MailboxProvider.LOCAL,
            Mailbox.status == MailboxStatus.CONNECTED)))
    return sum(enqueue_poll(rt, i) for i in ids)


def poll_mailbox(mailbox_id: int) -> str:
    """The RQ job."""
    rt = worker_runtime()
    try:
        result = poll(rt, mailbox_id)
    except MailboxError as exc:
        log.warning("reply poll of mailbox %s failed: %s", mailbox_id, exc)
        return f"failed: {exc}"
    try:
        renew(rt, mailbox_id)  # the push (watch / subscription), when configured and due
    except MailboxError as exc:
        log.warning("push renewal of mailbox %s failed: %s", mailbox_id, exc)
    return f"seen {result.seen}" + (" (rescanned)" if result.rescanned else "")
