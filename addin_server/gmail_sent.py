"""The rep's Gmail Sent items through the Gmail API (the `SentItems` port of sent_tasks.py).

Takes a built `gmail` v1 service (the mailbox adapter's authorised one, or any other)."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

from addin_server.mailboxes.base import SEND_ID_HEADER
from addin_server.sent_tasks import SentSummary

HEADERS = ["To", "Cc", "Subject", "Message-ID", "References", SEND_ID_HEADER]
MAX_MESSAGES = 100


class GmailSentItems:
    def __init__(self, service: Any) -> None:
        self.service = service

    def list_sent(self, since: datetime) -> list[SentSummary]:
        # Gmail's `after:` takes epoch seconds; the newest 100 are plenty for one tick.
        listing = self.service.users().messages().list(
            userId="me", labelIds="SENT", q=f"after:{int(since.timestamp())}",
            maxResults=MAX_MESSAGES).execute(num_retries=2)
        out = []
        for ref in listing.get("messages") or []:
            msg = self.service.users().messages().get(
                userId="me", id=ref["id"], format="metadata",
                metadataHeaders=HEADERS).execute(num_retries=2)
            out.append(summary(msg))
        return out

    def html_body(self, message_id: str) -> str:
        import base64

        msg = self.service.users().messages().get(userId="me", id=message_id,
                                                  format="raw").execute(num_retries=2)
        raw = base64.urlsafe_b64decode(msg["raw"] + "=" * (-len(msg["raw"]) % 4))
        return html_of(raw)


def summary(msg: dict[str, Any]) -> SentSummary:
    headers: dict[str, str] = {}
    for h in (msg.get("payload") or {}).get("headers") or []:
        headers.setdefault(str(h.get("name", "")).lower(), str(h.get("value", "")))
    to = tuple(a.lower() for _n, a in getaddresses([headers.get("to", ""),
                                                    headers.get("cc", "")]) if "@" in a)
    ms = int(msg.get("internalDate") or 0)
    return SentSummary(
        message_id=str(msg["id"]), thread_id=str(msg.get("threadId", "")), to=to,
        subject=headers.get("subject", ""), sent_at=datetime.fromtimestamp(ms / 1000, UTC),
        send_id_header=headers.get(SEND_ID_HEADER.lower(), ""),
        rfc_message_id=headers.get("message-id", ""), references=headers.get("references", ""))


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
