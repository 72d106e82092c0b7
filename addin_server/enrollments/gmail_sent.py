"""Email tasks sent from Gmail: read the rep's Gmail Sent items and hand them to
`sent_matching.complete_from_sent` (the rule shared with Outlook: recipient, and the task's
subject or conversation, where the conversation of a task written from the add-on is its
draft's thread).

Call site: the dispatcher tick calls `schedule_sync`, which queues one RQ job (`sync_job`) at
most every SENT_SYNC_SECONDS when a rep with a connected Gmail mailbox has an open email task;
`addin-server sync-sent-tasks` runs the same pass by hand. Sent items are read with no
transaction open; matching and completing is one transaction per rep.
"""

from __future__ import annotations

import base64
import html
import logging
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from addin_server.enrollments.sent_items import SentItem
from addin_server.enums import StepType, TaskStatus
from addin_server.models import Task

if TYPE_CHECKING:
    from addin_server.runtime import Runtime

log = logging.getLogger(__name__)

HEADERS = ["To", "Cc", "Subject", "Message-ID"]
PAGE = 50
SCAN_LIMIT = 200


class GmailSentItems:
    """Sent items newest first, down to `since`. Works with the connected mailbox's
    `gmail.metadata` grant, which allows neither `q` nor reading bodies: `read_bodies` only
    for a grant that can (`gmail.readonly`); without it the task's composed body is kept."""

    def __init__(self, service: Any, *, read_bodies: bool = False) -> None:
        self.service = service
        self.read_bodies = read_bodies

    def list_sent(self, since: datetime) -> list[SentItem]:
        users = self.service.users()
        out: list[SentItem] = []
        token: str | None = None
        while len(out) < SCAN_LIMIT:
            page = users.messages().list(userId="me", labelIds=["SENT"], maxResults=PAGE,
                                         pageToken=token).execute(num_retries=2)
            for ref in page.get("messages") or []:
                msg = users.messages().get(userId="me", id=ref["id"], format="metadata",
                                           metadataHeaders=HEADERS).execute(num_retries=2)
                body = self._html(str(msg["id"])) if self.read_bodies else ""
                item = sent_item(msg, body)
                if item.sent_at < since:
                    return out  # newest first: the rest is older
                out.append(item)
            token = page.get("nextPageToken")
            if not token:
                break
        return out

    def _html(self, message_id: str) -> str:
        msg = self.service.users().messages().get(userId="me", id=message_id,
                                                  format="raw").execute(num_retries=2)
        raw = base64.urlsafe_b64decode(msg["raw"] + "=" * (-len(msg["raw"]) % 4))
        return html_of(raw)


def sent_item(msg: dict[str, Any], body_html: str = "") -> SentItem:
    """A Gmail `message` resource (format=metadata) as a SentItem."""
    headers: dict[str, str] = {}
    for h in (msg.get("payload") or {}).get("headers") or []:
        headers.setdefault(str(h.get("name", "")).lower(), str(h.get("value", "")))
    to = tuple(a.lower() for _n, a in getaddresses([headers.get("to", ""),
                                                    headers.get("cc", "")]) if "@" in a)
    ms = int(msg.get("internalDate") or 0)
    return SentItem(
        message_id=str(msg["id"]), to=to, subject=headers.get("subject", ""),
        sent_at=datetime.fromtimestamp(ms / 1000, UTC), thread_id=msg.get("threadId"),
        rfc_message_id=headers.get("message-id") or None, body_html=body_html)


def html_of(raw: bytes) -> str:
    """The HTML part of a message, or its text part as HTML."""
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    part = msg.get_body(("html",))
    if part is not None:
        return str(part.get_content())
    part = msg.get_body(("plain",))
    text = str(part.get_content()) if part is not None else ""
    return "<p>" + html.escape(text).replace("\n", "<br>") + "</p>"


def oldest_open_email_task(session: Session, rep_id: int) -> datetime | None:
    """Where a look at Sent items must start for this rep (None: nothing to look for)."""
    return session.scalar(select(func.min(Task.created_at)).where(
        Task.rep_id == rep_id, Task.status == TaskStatus.OPEN, Task.type == StepType.EMAIL))


def sync_all(runtime: Runtime, now: datetime) -> dict[int, list[int]]:
    """One pass for every rep with open email tasks and a connected Gmail mailbox: rep id ->
    tasks completed. Per rep: read what to look for, read Sent items (no transaction open
    across the network), then match and complete in one transaction. One rep's failing mailbox
    does not hold back the others."""
    from addin_server.db import session_scope
    from addin_server.enrollments.advance import rep_mailbox
    from addin_server.enrollments.sent_items import CLOCK_SKEW, complete_from_sent
    from addin_server.enums import MailboxProvider, MailboxStatus
    from addin_server.mailboxes import open_mailbox
    from addin_server.models import Mailbox, Rep

    with runtime.sessions() as session:
        rep_ids = list(session.scalars(select(Task.rep_id).where(
            Task.status == TaskStatus.OPEN, Task.type == StepType.EMAIL).distinct()))
    done: dict[int, list[int]] = {}
    s = runtime.settings
    for rep_id in rep_ids:
        try:
            with runtime.sessions() as session:
                box = rep_mailbox(session, rep_id)
                since = oldest_open_email_task(session, rep_id)
                if (box is None or since is None or box.provider != MailboxProvider.GMAIL
                        or box.status != MailboxStatus.CONNECTED):
                    continue
                mailbox_id = box.id
                # The Gmail adapter exposes its authorised `service`.
                service = getattr(open_mailbox(runtime, session, box), "service", None)
                session.commit()
            if service is None:
                continue
            sent = GmailSentItems(service).list_sent(since - CLOCK_SKEW)
            with session_scope(runtime.sessions) as session:
                rep = session.get(Rep, rep_id)
                row = session.get(Mailbox, mailbox_id)
                assert rep is not None and row is not None
                matches = complete_from_sent(session, rep, row, sent, now,
                                             base_url=s.public_base_url,
                                             secret_key=s.secret_key)
                done[rep_id] = [m.task_id for m in matches]
        except Exception:  # one rep's mailbox must not stop the others; retried next tick
            log.exception("sent-task sync failed for rep %s", rep_id)
    return done
