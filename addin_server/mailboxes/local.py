"""The local development mailbox: it keeps every message it "sends" as RFC 5322 bytes in the
`local_messages` table instead of mailing it, so the service runs with no Google or Microsoft
account, and the API lists what it sent.

It behaves like the real providers where the pipeline depends on it: a draft is created, then
sent by a second call that consumes it (sending it again fails), replies are threaded by
In-Reply-To / References, and Sent items can be searched by our send-id header. Every call runs
in its own short transaction, as a remote mailbox would, independent of the caller's session.

It has an inbox as well (LocalInbox, the InboxReader port): what `receive` delivers, DEV_MODE's
simulated replies, bounces and out-of-office messages (inbound/simulate.py), read by the same
poll as a Gmail or Microsoft inbox.
"""

from __future__ import annotations

import email
import email.policy
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from addin_server.db import rowcount
from addin_server.mailboxes.mime import build_mime, new_message_id
from addin_server.mailboxes.port import (
    Changes,
    CursorExpired,
    DraftRef,
    FetchedMessage,
    OutgoingMessage,
    PermanentError,
    SentRef,
    TransientError,
)
from addin_server.models import LocalMessage

if TYPE_CHECKING:
    from collections.abc import Callable
    from email.message import Message

    from addin_server.models import Mailbox as MailboxRow
    from addin_server.runtime import Runtime


class LocalMailbox:
    """A Mailbox (see base.py) backed by the `local_messages` table."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        mailbox_id: int,
        address: str,
        clock: Callable[[], datetime],
    ) -> None:
        self.sessions = sessions
        self.mailbox_id = mailbox_id
        self.address = address
        self.clock = clock

    def _thread_for(self, session: Session, message: OutgoingMessage) -> str:
        if message.thread_id:
            return message.thread_id
        refs = message.references.split() + ([message.in_reply_to] if message.in_reply_to else [])
        return self._thread_of_refs(session, refs)

    def _thread_of_refs(self, session: Session, refs: list[str]) -> str:
        """The thread of the first of these Message-IDs this mailbox holds, else a new one (as
        Gmail threads a reply by its References)."""
        if refs:
            found = session.scalar(
                select(LocalMessage.thread_id)
                .where(LocalMessage.mailbox_id == self.mailbox_id,
                       LocalMessage.rfc_message_id.in_(refs))
                .limit(1)
            )
            if found:
                return found
        return uuid.uuid4().hex

    def create_draft(self, message: OutgoingMessage) -> DraftRef:
        now = self.clock()
        rfc_id = new_message_id(message.from_addr)
        raw = build_mime(message, message_id=rfc_id, date=now).as_bytes()
        with self.sessions.begin() as session:
            row = LocalMessage(
                mailbox_id=self.mailbox_id, is_draft=True,
                thread_id=self._thread_for(session, message), rfc_message_id=rfc_id,
                send_id=message.send_id, to_addr=message.to_addr, subject=message.subject,
                raw=raw, created_at=now,
            )
            session.add(row)
            session.flush()
            return DraftRef(draft_id=str(row.id), message_id=str(row.id),
                            rfc_message_id=rfc_id, thread_id=row.thread_id)

    def send_draft(self, draft: DraftRef) -> SentRef:
        now = self.clock()
        try:
            draft_pk = int(draft.draft_id)
        except ValueError as exc:
            raise PermanentError(f"no such draft {draft.draft_id!r}") from exc
        with self.sessions.begin() as session:
            # Consuming the draft is one conditional UPDATE: a second send of it changes nothing.
            sent = rowcount(session.execute(
                update(LocalMessage)
                .where(LocalMessage.id == draft_pk, LocalMessage.mailbox_id == self.mailbox_id,
                       LocalMessage.is_draft.is_(True))
                .values(is_draft=False, sent_at=now)
            ))
            if not sent:
                # Like Gmail's 404 for a consumed draft: it was sent already, or deleted. The
                # pipeline looks it up in Sent items before anything else goes out.
                raise TransientError(f"draft {draft.draft_id} no longer exists (sent or deleted)",
                                     may_have_sent=True)
            row = session.get(LocalMessage, draft_pk)
            assert row is not None
            return SentRef(message_id=str(row.id), thread_id=row.thread_id,
                           rfc_message_id=row.rfc_message_id, sent_at=now)

    def find_sent(self, send_id: str, *, since: datetime) -> SentRef | None:
        with self.sessions() as session:
            row = session.scalar(
                select(LocalMessage)
                .where(LocalMessage.mailbox_id == self.mailbox_id,
                       LocalMessage.send_id == send_id, LocalMessage.is_draft.is_(False))
                .order_by(LocalMessage.id)
                .limit(1)
            )
            if row is None or row.sent_at is None or row.sent_at < since:
                return None
            return SentRef(message_id=str(row.id), thread_id=row.thread_id,
                           rfc_message_id=row.rfc_message_id, sent_at=row.sent_at)

    def get_headers(self, message_id: str, names: list[str]) -> dict[str, str]:
        with self.sessions() as session:
            row = session.get(LocalMessage, int(message_id))
            if row is None or row.mailbox_id != self.mailbox_id:
                raise PermanentError(f"no such message {message_id!r}")
            parsed = email.message_from_bytes(row.raw, policy=email.policy.default)
        return {name: str(parsed[name]) for name in names if parsed[name] is not None}

    def receive(self, message: Message) -> int:
        """A message arriving in this mailbox (DEV_MODE's simulated reply, bounce or out of
        office), threaded by its In-Reply-To / References. Returns its id."""
        now = self.clock()
        refs = (str(message.get("References", "")).split()
                + str(message.get("In-Reply-To", "")).split())
        with self.sessions.begin() as session:
            row = LocalMessage(
                mailbox_id=self.mailbox_id, is_draft=False, inbound=True,
                thread_id=self._thread_of_refs(session, refs),
                rfc_message_id=str(message.get("Message-ID", "")),
                send_id="", to_addr=self.address, subject=str(message.get("Subject", "")),
                raw=message.as_bytes(), created_at=now, sent_at=now)
            session.add(row)
            session.flush()
            return row.id


class LocalInbox:
    """The InboxReader of a local mailbox: the cursor is the id of the last message seen."""

    def __init__(self, mailbox: LocalMailbox) -> None:
        self.mailbox = mailbox

    def _fetched(self, row: LocalMessage) -> FetchedMessage:
        parsed = email.message_from_bytes(row.raw, policy=email.policy.default)
        return FetchedMessage(provider_id=str(row.id), thread_id=row.thread_id,
                              message=parsed, received_at=row.sent_at or row.created_at)

    def changes(self, cursor: str) -> Changes:
        if not cursor.isdigit():
            raise CursorExpired(f"not a local cursor: {cursor!r}")
        with self.mailbox.sessions() as session:
            rows = list(session.scalars(
                select(LocalMessage).where(LocalMessage.mailbox_id == self.mailbox.mailbox_id,
                                           LocalMessage.inbound.is_(True),
                                           LocalMessage.id > int(cursor))
                .order_by(LocalMessage.id)))
            last = str(rows[-1].id) if rows else cursor
            return Changes(messages=[self._fetched(r) for r in rows], cursor=last)

    def fresh_cursor(self) -> str:
        with self.mailbox.sessions() as session:
            last = session.scalar(select(func.max(LocalMessage.id)).where(
                LocalMessage.mailbox_id == self.mailbox.mailbox_id))
        return str(last or 0)

    def thread_messages(self, thread_id: str) -> list[FetchedMessage]:
        with self.mailbox.sessions() as session:
            rows = session.scalars(select(LocalMessage).where(
                LocalMessage.mailbox_id == self.mailbox.mailbox_id,
                LocalMessage.thread_id == thread_id, LocalMessage.is_draft.is_(False))
                .order_by(LocalMessage.id))
            return [self._fetched(r) for r in rows]


def open_local(runtime: Runtime, session: Session, row: MailboxRow) -> LocalMailbox:
    """The PROVIDERS factory for provider "local"."""
    return LocalMailbox(runtime.sessions, row.id, row.address, runtime.clock)
