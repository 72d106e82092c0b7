"""The periodic duties of the dispatcher process, listed in one place.

`addin-server dispatch` runs each duty at most every `every_seconds` (workers/dispatch.py),
before the send pipeline's own pass (sending/dispatcher.py: leases, reconciliation, lost jobs,
pacing, promotion), so that what a duty releases (a resumed enrollment's send) is promoted in
the same pass. A duty that calls a provider does not do it here: it queues an RQ job, and the
dispatcher's pass stays fast. Duties that two dispatchers could both do claim their work with a
conditional UPDATE or share a Redis throttle key, so running two dispatchers stays safe.

To add one: write `function(runtime, now)` where its capability lives, and list it below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from addin_server.db import session_scope
from addin_server.enrollments.tasks import announce_due_tasks
from addin_server.guard.breakers import cool_off, evaluate_pending
from addin_server.guard.meter import notify_warnings
from addin_server.guard.notify import notify_breakers
from addin_server.guard.rules import Thresholds
from addin_server.inbound.rules import resume_due
from addin_server.mailboxes.notify import notify_disconnected
from addin_server.runtime import Runtime
from addin_server.sending.compose import forget_attachments
from addin_server.workers.absence import enqueue_absence_reads
from addin_server.workers.polls import enqueue_polls
from addin_server.workers.sent_items import schedule_sync


@dataclass(frozen=True)
class Duty:
    name: str
    every_seconds: float
    run: Callable[[Runtime, datetime], object]


def resume_out_of_office(rt: Runtime, now: datetime) -> int:
    """Enrollments whose out-of-office pause ran out carry on (inbound/rules.py)."""
    with session_scope(rt.sessions) as session:
        return resume_due(session, now)


def announce_tasks(rt: Runtime, now: datetime) -> int:
    """"Task due" in the Live Feed, once per task, when its day comes (enrollments/tasks.py)."""
    with session_scope(rt.sessions) as session:
        return announce_due_tasks(session, now)


def drop_old_attachments(rt: Runtime, now: datetime) -> int:
    """Uploaded files no email needs any more (sending/compose.py)."""
    with session_scope(rt.sessions) as session:
        return forget_attachments(session, now)


def guard_breakers(rt: Runtime, now: datetime) -> int:
    """Bounces that came as DSNs trip the breakers; cooled-off mailboxes resume
    (guard/breakers.py)."""
    t = Thresholds.from_settings(rt.settings)
    with session_scope(rt.sessions) as session:
        return evaluate_pending(session, t, now) + cool_off(session, t, now)


DUTIES: tuple[Duty, ...] = (
    Duty("evaluate the bounce breakers", 1.0, guard_breakers),
    Duty("resume out-of-office pauses", 1.0, resume_out_of_office),
    Duty("announce due tasks", 1.0, announce_tasks),
    # each mailbox at most every REPLY_POLL_SECONDS (a Redis key per mailbox)
    Duty("queue reply polls", 1.0, enqueue_polls),
    # once per disconnection, through SMTP_URL (off without it)
    Duty("email reps whose mailbox was disconnected", 1.0, notify_disconnected),
    # once per trip, through SMTP_URL (off without it)
    Duty("email about tripped bounce breakers", 1.0, notify_breakers),
    # once per warning of the bulk-sender meter, to the admins, through SMTP_URL
    Duty("email the admins about the bulk-sender meter", 1.0, notify_warnings),
    # each mailbox at most every ABSENCE_CHECK_SECONDS, when its organisation reads absence
    Duty("queue reads of the reps' vacation responders", 1.0, enqueue_absence_reads),
    # at most every SENT_SYNC_SECONDS (a Redis key)
    Duty("queue the Sent-items pass", 1.0, schedule_sync),
    Duty("drop attachments no email needs", 3600.0, drop_old_attachments),
)


def run_all(rt: Runtime, now: datetime, duties: tuple[Duty, ...] = DUTIES) -> None:
    """Every duty once, in order (a one-off pass: `dispatch --once`, tests)."""
    for duty in duties:
        duty.run(rt, now)
