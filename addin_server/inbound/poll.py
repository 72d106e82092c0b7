"""Reading a rep's inbox for replies: the poll and the pre-send check (the InboxReader port is in
mailboxes/port.py).

The poll reads what arrived since the stored cursor (Mailbox.sync_cursor: a Gmail history id or
a Graph delta link). When the provider no longer knows the cursor (Gmail 404, Graph 410), the
threads of the mailbox's live enrollments are read again instead, and a fresh cursor is taken
first, so that nothing arriving meanwhile is missed. Each message goes through
replies.process_inbound, which acts on it once.

Network calls happen outside database transactions; each batch of findings is applied in one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from addin_server.db import session_scope
from addin_server.enums import LIVE_ENROLLMENT, EnrollmentStatus
from addin_server.guard.rules import Thresholds
from addin_server.inbound.rules import InboundOutcome, process_inbound
from addin_server.mailboxes import open_inbox
from addin_server.mailboxes.port import CursorExpired, FetchedMessage, InboxReader, MailboxError
from addin_server.models import Enrollment, InboundMessage, SentMessage
from addin_server.models import Mailbox as MailboxRow
from addin_server.runtime import Runtime

log = logging.getLogger(__name__)

def live_threads(session: Session, mailbox_id: int) -> list[str]:
    """Threads of our emails from this mailbox to people still in a campaign."""
    rows = session.scalars(
        select(SentMessage.thread_id)
        .join(Enrollment, Enrollment.id == SentMessage.enrollment_id)
        .where(SentMessage.mailbox_id == mailbox_id, SentMessage.thread_id.is_not(None),
               Enrollment.status.in_(LIVE_ENROLLMENT))
        .distinct())
    return sorted(t for t in rows if t)


@dataclass
class PollResult:
    seen: int = 0
    outcomes: list[InboundOutcome] = field(default_factory=list)
    rescanned: bool = False


def apply_messages(session: Session, row: MailboxRow, messages: Iterable[FetchedMessage],
                   now: datetime, secret_key: str, guard: Thresholds | None = None
                   ) -> list[InboundOutcome]:
    return [process_inbound(session, row, m.message, provider_message_id=m.provider_id,
                            thread_id=m.thread_id, now=now, received_at=m.received_at,
                            secret_key=secret_key, guard=guard) for m in messages]


def poll(rt: Runtime, mailbox_id: int, reader: InboxReader | None = None) -> PollResult:
    """One poll of a mailbox (the periodic job and the push endpoints call it)."""
    result = PollResult()
    with session_scope(rt.sessions) as session:
        row = session.get(MailboxRow, mailbox_id)
        if row is None:
            return result
        reader = reader or open_inbox(rt, session, row)
        cursor, threads = row.sync_cursor, live_threads(session, mailbox_id)
    if reader is None:
        return result
    messages: list[FetchedMessage] = []
    try:
        if cursor is None:
            raise CursorExpired("no cursor yet")
        changes = reader.changes(cursor)
        messages, cursor = changes.messages, changes.cursor
    except CursorExpired:
        result.rescanned = True
        cursor = reader.fresh_cursor()  # before the rescan: what arrives meanwhile is next
        for thread in threads:
            messages.extend(reader.thread_messages(thread))
    with session_scope(rt.sessions) as session:
        row = session.get(MailboxRow, mailbox_id)
        assert row is not None
        result.outcomes = apply_messages(session, row, messages, rt.now(),
                                         rt.settings.secret_key,
                       Thresholds.from_settings(rt.settings))
        row.sync_cursor = cursor
        row.synced_at = rt.now()
    result.seen = len(messages)
    return result


def fresh_reply_check(rt: Runtime, enrollment_id: int, mailbox_id: int, threads: list[str],
                      reader: InboxReader | None = None) -> str | None:
    """Right before an automatic send: read the person's threads now (presend.reply_threads),
    apply what is there, and say why the send must not go (the enrollment is no longer
    active), or None. Called outside any transaction: it makes network calls.

    A failed read does not hold the send: the poll remains the safety net.
    """
    if not threads:
        return None
    with session_scope(rt.sessions) as session:
        row = session.get(MailboxRow, mailbox_id)
        if row is None:
            return None
        try:
            reader = reader or open_inbox(rt, session, row)
        except MailboxError as exc:
            log.warning("reply check skipped for enrollment %s: %s", enrollment_id, exc)
            return None
    if reader is None:
        return None
    messages: list[FetchedMessage] = []
    try:
        for thread in threads:
            messages.extend(reader.thread_messages(thread))
    except MailboxError as exc:
        log.warning("reply check failed for enrollment %s: %s", enrollment_id, exc)
        return None
    with session_scope(rt.sessions) as session:
        row = session.get(MailboxRow, mailbox_id)
        assert row is not None
        apply_messages(session, row, messages, rt.now(), rt.settings.secret_key,
                       Thresholds.from_settings(rt.settings))
        enrollment = session.get(Enrollment, enrollment_id)
        if enrollment is not None and enrollment.status != EnrollmentStatus.ACTIVE:
            return f"enrollment is {enrollment.status.value}"
    return None


def reply_seen_since(session: Session, enrollment_id: int, since: datetime) -> bool:
    """Whether a reply (or bounce) of this enrollment was recorded at or after `since`."""

    return session.scalar(select(InboundMessage.id).where(
        InboundMessage.enrollment_id == enrollment_id, InboundMessage.kind.in_(
            ("human", "bounce")), InboundMessage.processed_at >= since).limit(1)) is not None
