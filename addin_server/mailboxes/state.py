"""A mailbox's ability to send: disconnected (the grant is gone), paused by the provider until a
time, reconnected. Sends of a mailbox that cannot send wait as `scheduled` (never failed) and go
out once it can. These functions take a Session and never commit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from addin_server import feed
from addin_server.db import rowcount
from addin_server.enums import PENDING_SEND, MailboxStatus, SendState
from addin_server.models import Enrollment, Mailbox, Rep, Send


def _event(session: Session, mailbox: Mailbox, type_: str, now: datetime, **data: Any) -> None:
    rep = session.get(Rep, mailbox.rep_id)
    assert rep is not None
    feed.record(session, org_id=rep.org_id, type=type_, at=now, rep_id=rep.id,
                mailbox_id=mailbox.id, address=mailbox.address, **data)


def disconnect_mailbox(session: Session, mailbox: Mailbox, reason: str, now: datetime) -> bool:
    """Mark the mailbox disconnected and tell the rep. False when it was disconnected already
    (the rep is told once, not once per send that noticed)."""
    changed = rowcount(session.execute(
        update(Mailbox)
        .where(Mailbox.id == mailbox.id, Mailbox.status == MailboxStatus.CONNECTED)
        .values(status=MailboxStatus.DISCONNECTED, status_reason=reason, updated_at=now,
                disconnected_at=now)
        .execution_options(synchronize_session=False)
    ))
    session.refresh(mailbox)
    if changed:
        _event(session, mailbox, feed.MAILBOX_DISCONNECTED, now, reason=reason)
    return bool(changed)


def pause_mailbox(session: Session, mailbox: Mailbox, until: datetime, reason: str,
                  now: datetime) -> None:
    """The provider stopped this mailbox's sending until `until` (e.g. Gmail's daily limit)."""
    if mailbox.paused_until is not None and mailbox.paused_until >= until:
        return
    mailbox.paused_until = until
    mailbox.status_reason = reason
    mailbox.updated_at = now
    session.flush()
    _event(session, mailbox, feed.MAILBOX_PAUSED, now, reason=reason,
           until=until.strftime("%Y-%m-%dT%H:%M:%SZ"))


def assign_mailbox(session: Session, mailbox: Mailbox, now: datetime) -> int:
    """Give the rep's pending sends that have no mailbox yet this one. Returns how many."""
    enrollment_ids = select(Enrollment.id).where(Enrollment.rep_id == mailbox.rep_id)
    return rowcount(session.execute(
        update(Send)
        .where(Send.mailbox_id.is_(None), Send.state.in_(PENDING_SEND),
               Send.enrollment_id.in_(enrollment_ids))
        .values(mailbox_id=mailbox.id, reason="", updated_at=now)
        .execution_options(synchronize_session=False)
    ))


def reconnect_mailbox(session: Session, mailbox: Mailbox, now: datetime) -> int:
    """The rep connected (or reconnected) this mailbox: it can send again, its waiting sends
    resume (a send that fell due meanwhile goes now), and sends that had no mailbox get it.

    The OAuth code calls this after storing the new grant. Returns how many sends resume.
    """
    was = mailbox.status
    mailbox.status = MailboxStatus.CONNECTED
    mailbox.status_reason = ""
    mailbox.disconnected_at = None
    mailbox.updated_at = now
    session.flush()
    if was != MailboxStatus.CONNECTED:
        _event(session, mailbox, feed.MAILBOX_RECONNECTED, now)
    resumed = rowcount(session.execute(
        update(Send)
        .where(Send.mailbox_id == mailbox.id, Send.state == SendState.SCHEDULED)
        .values(reason="", updated_at=now)
        .execution_options(synchronize_session=False)
    ))
    return resumed + assign_mailbox(session, mailbox, now)


def connected_mailbox_ids(session: Session) -> list[int]:
    return list(session.scalars(select(Mailbox.id).where(
        Mailbox.status == MailboxStatus.CONNECTED)))
