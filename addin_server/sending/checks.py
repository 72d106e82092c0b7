"""The checks the send job makes right before an automatic send, before its claim:

1. the address is not unsubscribed, suppressed, at a blocked domain or bounced (checked again
   at send time: the list may have changed since launch); if it is, the person's enrollment
   ends with that reason and its pending send is cancelled;
2. a fresh look at the person's threads in the mailbox (inbox.fresh_reply_check): a reply, a
   bounce or an out-of-office that arrived since the last poll is applied now. That one reads
   the provider, so the job makes it outside any transaction, and only when there are threads.
3. the bulk-sender meter (guard/meter.py): at the line, when the organisation holds there, an
   automatic first email to a consumer address waits until the next UTC day.
Each says why the send must not go; the job then leaves the row to its new state.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from addin_server.enrollments import lifecycle as enrollments
from addin_server.enums import EnrollmentStatus, MailboxProvider, SendState
from addin_server.guard import meter
from addin_server.models import Enrollment, Organisation, Person, Send, SentMessage
from addin_server.models import Mailbox as MailboxRow
from addin_server.sending.outbox import DUE_STATES, move
from addin_server.suppressions import BOUNCED, UNSUBSCRIBED, person_blocker

_STATUS = {UNSUBSCRIBED: EnrollmentStatus.UNSUBSCRIBED, BOUNCED: EnrollmentStatus.BOUNCED}


def blocked(session: Session, send: Send, enrollment: Enrollment, person: Person,
            now: datetime) -> str | None:
    """Check 1, in the caller's transaction: the reason the send must not go, after ending the
    enrollment with it; None when the address may be emailed. An email task the rep wrote and
    sends by hand is theirs to send."""
    if send.task_id is not None:
        return None
    why = person_blocker(session, person)
    if why is None:
        return None
    reason = f"{why}: not sent"
    enrollments.end(session, enrollment, now, status=_STATUS.get(why, EnrollmentStatus.STOPPED),
                    reason=reason)
    if send.state in DUE_STATES:  # end() cancels only pending rows: be sure
        send.state, send.reason = SendState.CANCELLED, reason
    return reason


def reply_threads(session: Session, enrollment_id: int, mailbox: MailboxRow) -> list[str]:
    """The threads check 2 must read: those of our emails to this person from this mailbox.
    None to read for the local mailbox, which receives nothing."""
    if mailbox.provider == MailboxProvider.LOCAL:
        return []
    return sorted({t for t in session.scalars(select(SentMessage.thread_id).where(
        SentMessage.enrollment_id == enrollment_id, SentMessage.mailbox_id == mailbox.id,
        SentMessage.thread_id.is_not(None))) if t})


def bulk_held(session: Session, send: Send, enrollment: Enrollment, person: Person,
              mailbox: MailboxRow, now: datetime) -> str | None:
    """Check 3, in the caller's transaction: an automatic first email (the person was never
    emailed) to a consumer address, when the organisation holds at the bulk-sender line and
    the sending domain reached it today, goes back to the outbox until the next UTC day with
    the reason. None when it may go."""
    if send.task_id is not None or enrollment.emailed_at is not None:
        return None
    org = session.get(Organisation, enrollment.org_id)
    assert org is not None
    why = meter.hold_reason(session, org, mailbox.address, send.to_addr or person.email, now)
    if why is None:
        return None
    move(session, send.id, DUE_STATES, SendState.SCHEDULED, now, why,
         due_at=meter.next_day(now), reason=why)
    return why
