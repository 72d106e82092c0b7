"""Reading each rep's vacation responder on RQ (guard/absence.py): a periodic duty
(workers/duties.py) enqueues `absence-<mailbox id>` for each connected Gmail / Microsoft
mailbox of an organisation that reads rep absence, at most every `absence_check_seconds` (a
Redis key with that expiry is the throttle); the job reads the responder and records it."""

from __future__ import annotations

import logging
from datetime import datetime

from rq import Queue
from sqlalchemy import select

from addin_server.db import session_scope
from addin_server.enums import MailboxProvider, MailboxStatus
from addin_server.guard.absence import record_error, record_vacation
from addin_server.jobs import enqueue_unique
from addin_server.mailboxes import open_mailbox
from addin_server.mailboxes.port import AuthError, MailboxError, VacationReader
from addin_server.models import Mailbox, Organisation, Rep
from addin_server.runtime import Runtime
from addin_server.workers.runtime import worker_runtime

log = logging.getLogger(__name__)
ABSENCE_JOB = "addin_server.workers.absence.read_absence"


def absence_job_id(mailbox_id: int) -> str:
    return f"absence-{mailbox_id}"


def enqueue_absence_reads(rt: Runtime, now: datetime) -> int:
    """Reads for the connected provider mailboxes of organisations that read rep absence."""
    with session_scope(rt.sessions) as session:
        ids = list(session.scalars(
            select(Mailbox.id).join(Rep, Rep.id == Mailbox.rep_id)
            .join(Organisation, Organisation.id == Rep.org_id)
            .where(Organisation.read_absence.is_(True),
                   Mailbox.provider != MailboxProvider.LOCAL,
                   Mailbox.status == MailboxStatus.CONNECTED)))
    redis = rt.redis()
    queue = Queue(rt.settings.queue_name, connection=redis)
    queued = 0
    for mailbox_id in ids:
        key = f"{rt.settings.queue_name}:absence-throttle:{mailbox_id}"
        if not redis.set(key, 1, nx=True, ex=max(1, rt.settings.absence_check_seconds)):
            continue
        queued += enqueue_unique(queue, ABSENCE_JOB, (mailbox_id,), absence_job_id(mailbox_id),
                                 rt.settings.job_lease_seconds, result_ttl=0,
                                 failure_ttl=3600,
                                 job_timeout=rt.settings.send_job_timeout_seconds)
    return queued


def read_mailbox_absence(rt: Runtime, mailbox_id: int) -> str:
    """Read one mailbox's responder and record it. Returns what happened."""
    with rt.sessions() as session:
        row = session.get(Mailbox, mailbox_id)
        if row is None:
            return "no such mailbox"
        adapter = open_mailbox(rt, session, row)
    if not isinstance(adapter, VacationReader):
        return "this mailbox has no vacation responder to read"
    try:
        vacation = adapter.vacation()
    except AuthError as exc:
        # The grant lacks the scope (or is gone): the sends are not this read's business.
        with session_scope(rt.sessions) as session:
            row = session.get(Mailbox, mailbox_id)
            assert row is not None
            record_error(session, row, "cannot read the vacation responder: reconnect the "
                         f"mailbox to allow it ({exc})", rt.now())
        return f"failed: {exc}"
    with session_scope(rt.sessions) as session:
        row = session.get(Mailbox, mailbox_id)
        assert row is not None
        rep = session.get(Rep, row.rep_id)
        org = session.get(Organisation, rep.org_id) if rep else None
        if org is None or not org.read_absence:
            return "the organisation no longer reads rep absence"
        return record_vacation(session, row, vacation, hold=org.absence_hold, now=rt.now())


def read_absence(mailbox_id: int) -> str:
    """The RQ job."""
    rt = worker_runtime()
    try:
        return read_mailbox_absence(rt, mailbox_id)
    except MailboxError as exc:
        log.warning("reading the vacation responder of mailbox %s failed: %s", mailbox_id, exc)
        return f"failed: {exc}"
