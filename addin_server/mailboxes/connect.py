"""Use cases around a mailbox's connection: attach a newly authorised mailbox to a rep,
reconnect a disconnected one, pause one that the provider throttled. They take a Session and
never commit (the request or the job does)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from addin_server import feed
from addin_server.config import Settings
from addin_server.enums import PENDING_SEND, MailboxProvider, MailboxStatus
from addin_server.models import Enrollment, Mailbox, Rep, Send

PROVIDER_LABELS = {MailboxProvider.GMAIL: "Gmail", MailboxProvider.MICROSOFT: "Microsoft"}


def pacing_defaults(settings: Settings, provider: MailboxProvider) -> tuple[int | None, int]:
    """(daily cap, minimum seconds between two sends) for a newly connected mailbox: under
    the provider's documented sending limits (see config.py)."""
    if provider == MailboxProvider.GMAIL:
        return settings.gmail_daily_cap, settings.gmail_min_gap_seconds
    if provider == MailboxProvider.MICROSOFT:
        return settings.microsoft_daily_cap, settings.microsoft_min_gap_seconds
    return None, 0


def attach_mailbox(
    session: Session, settings: Settings, rep: Rep, provider: MailboxProvider, address: str,
    now: datetime,
) -> Mailbox:
    """The rep's row for this provider and address, made if new (with pacing defaults). The
    caller then stores the grant on it and calls `mark_connected`."""
    address = address.strip().lower()
    row = session.scalar(select(Mailbox).where(
        Mailbox.rep_id == rep.id, Mailbox.provider == provider, Mailbox.address == address))
    if row is None:
        cap, gap = pacing_defaults(settings, provider)
        row = Mailbox(rep_id=rep.id, provider=provider, address=address,
                      status=MailboxStatus.CONNECTED, daily_cap=cap, min_gap_seconds=gap,
                      created_at=now, updated_at=now)
        session.add(row)
        session.flush()
        _adopt_waiting_sends(session, rep, row, now)
    return row


def _adopt_waiting_sends(session: Session, rep: Rep, row: Mailbox, now: datetime) -> None:
    """Sends planned before the rep had any mailbox wait with mailbox_id None: they go out
    from the first mailbox connected."""
    session.execute(
        update(Send)
        .where(Send.mailbox_id.is_(None), Send.state.in_(PENDING_SEND),
               Send.enrollment_id.in_(select(Enrollment.id).where(Enrollment.rep_id == rep.id)))
        .values(mailbox_id=row.id, updated_at=now)
        .execution_options(synchronize_session="fetch")
    )


def mark_connected(session: Session, rep: Rep, row: Mailbox, now: datetime) -> bool:
    """After a successful (re)authorisation. A disconnected mailbox becomes connected again
    and a MAILBOX_RECONNECTED event is written; its held sends go out again because the
    dispatcher only holds sends of disconnected mailboxes. Returns whether it was a
    reconnection."""
    was_disconnected = row.status == MailboxStatus.DISCONNECTED
    row.status = MailboxStatus.CONNECTED
    row.status_reason = ""
    row.updated_at = now
    if was_disconnected:
        feed.record(session, org_id=rep.org_id, type=feed.MAILBOX_RECONNECTED, at=now,
                    rep_id=rep.id, mailbox_id=row.id, address=row.address)
    return was_disconnected


def pause_mailbox(session: Session, row: Mailbox, until: datetime, now: datetime) -> None:
    """The provider said "not before `until`" (Gmail's sending-limit 429, a long Graph
    Retry-After): every send of this mailbox waits, and says why (enrollments.mailbox_reason)."""
    if row.paused_until is not None and row.paused_until >= until:
        return
    row.paused_until = until
    row.updated_at = now
    rep = session.get(Rep, row.rep_id)
    if rep is not None:
        feed.record(session, org_id=rep.org_id, type=feed.MAILBOX_PAUSED, at=now, rep_id=rep.id,
                    mailbox_id=row.id, address=row.address,
                    until=until.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    by=PROVIDER_LABELS.get(row.provider, row.provider.value))
