"""What follows an outcome of a send: the bookkeeping after it went out, holding it, failing it.

Shared by the send job and the dispatcher's reconciliation, so that a send found in Sent items
after a crash gets exactly the same bookkeeping as one the job saw through. Each function moves
the row with a conditional UPDATE first and does the rest only if it won, so two parties that
both saw the outcome record it once. They take a Session and never commit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from addin_server import feed, tallies
from addin_server.campaigns.rendering import previous_email
from addin_server.enrollments import lifecycle as enrollments
from addin_server.enrollments.advance import advance
from addin_server.enrollments.tasks import complete_task, record_sent_email
from addin_server.enums import EnrollmentStatus, SendState
from addin_server.mailboxes.port import SentRef
from addin_server.models import Enrollment, Send, Task
from addin_server.sending.outbox import move


def _event(session: Session, send: Send, enrollment: Enrollment, type_: str, now: datetime,
           **data: object) -> None:
    # record_many: one INSERT statement, not an ORM object for the flush (the send path).
    feed.record_many(session, [{
        "org_id": send.org_id, "type": type_, "at": now, "rep_id": enrollment.rep_id,
        "campaign_id": enrollment.campaign_id, "enrollment_id": enrollment.id,
        "person_id": enrollment.person_id, "send_id": send.id, "task_id": send.task_id,
        "data": {"position": send.position, **data},
    }])


def references_for(session: Session, enrollment: Enrollment, position: int) -> str:
    """The References chain of the email at `position`: the previous email's chain plus its
    Message-ID when this one replies to it, else empty."""
    step = enrollment.campaign.steps[position]
    if not step.reply_to_previous:
        return ""
    previous = previous_email(session, enrollment, step)
    if previous is None or not previous.rfc_message_id:
        return ""
    chain = previous.references.split()
    if previous.rfc_message_id not in chain:
        chain.append(previous.rfc_message_id)
    return " ".join(chain)


def mark_sent(
    session: Session, send_id: int, ref: SentRef, now: datetime, *, attempt: int | None = None,
    note: str = "",
) -> bool:
    """It went out: record the ids and what was sent, move the person on, tell the feed.

    False (and nothing recorded) when another party recorded this outcome first.
    """
    sent_at = ref.sent_at or now
    if not move(session, send_id, (SendState.SENDING, SendState.UNKNOWN), SendState.SENT, now,
                note or f"message {ref.message_id}", attempt=attempt,
                provider_message_id=ref.message_id, thread_id=ref.thread_id,
                rfc_message_id=ref.rfc_message_id, sent_at=sent_at, lease_until=None,
                reason=""):
        return False
    send = session.get(Send, send_id)
    assert send is not None and send.mailbox_id is not None
    enrollment = session.get(Enrollment, send.enrollment_id)
    assert enrollment is not None
    record_sent_email(
        session, enrollment=enrollment, position=send.position, mailbox_id=send.mailbox_id,
        to_addr=send.to_addr, subject=send.subject, body_html=send.body_html, sent_at=sent_at,
        provider_message_id=ref.message_id, thread_id=ref.thread_id,
        rfc_message_id=ref.rfc_message_id,
        references=references_for(session, enrollment, send.position),
    )
    _event(session, send, enrollment, feed.EMAIL_SENT, now, to=send.to_addr,
           subject=send.subject)
    if send.task_id is not None:
        # An email task the rep sent through us: completing the task moves the person on.
        task = session.get(Task, send.task_id)
        assert task is not None
        complete_task(session, task, now)
    elif enrollment.current_position == send.position:
        advance(session, enrollment, now)
    return True


def hold(session: Session, send_id: int, reason: str, now: datetime, *, attempt: int) -> bool:
    """It cannot be written (a merge field has no value): wait for the rep, never send a hole."""
    if not move(session, send_id, (SendState.SENDING,), SendState.HELD, now, reason,
                attempt=attempt, reason=reason, lease_until=None):
        return False
    send = session.get(Send, send_id)
    assert send is not None
    enrollment = session.get(Enrollment, send.enrollment_id)
    assert enrollment is not None
    _event(session, send, enrollment, feed.EMAIL_HELD, now, reason=reason)
    return True


def fail(session: Session, send_id: int, reason: str, now: datetime, *,
         attempt: int | None) -> bool:
    """The provider refused it for good: fail it, tell the feed, follow the campaign's
    settings (remove on bounce ends the enrollment as bounced; else the person moves on)."""
    if not move(session, send_id, (SendState.SENDING, SendState.UNKNOWN), SendState.FAILED, now,
                reason, attempt=attempt, reason=reason, lease_until=None):
        return False
    send = session.get(Send, send_id)
    assert send is not None
    enrollment = session.get(Enrollment, send.enrollment_id)
    assert enrollment is not None
    _event(session, send, enrollment, feed.EMAIL_FAILED, now, reason=reason)
    tallies.count_failed(session, enrollment, send.position, now)
    if send.task_id is not None:
        return True  # the task stays open: the rep sees the failure and decides
    if enrollment.campaign.remove_on_bounce:
        enrollments.end(session, enrollment, now, status=EnrollmentStatus.BOUNCED,
                        reason=f"email rejected: {reason}", event_type=feed.BOUNCED)
    elif enrollment.current_position == send.position:
        advance(session, enrollment, now)
    return True
