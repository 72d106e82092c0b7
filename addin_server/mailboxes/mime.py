"""RFC 5322 messages built with the stdlib `email` package, for every provider that takes MIME
(Gmail's `raw`, the local development mailbox)."""

from __future__ import annotations

import email.policy
import html
from datetime import datetime
from email import message_from_bytes
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from addin_server.mailboxes.port import SEND_ID_HEADER, OutgoingMessage

# RFC 5322 allows lines up to 998 characters and asks for 78 where possible. The stdlib folds
# a header at 78 by turning any longer word into an RFC 2047 encoded word, which is right for
# a Subject but breaks a header holding a URL: List-Unsubscribe became `=?utf-8?q?=3Chttps...`,
# which mail clients do not read as a link. Words up to 998 characters now stay as they are;
# non-ASCII text is still encoded.
POLICY = email.policy.SMTP.clone(max_line_length=998)


def _domain(addr: str) -> str:
    return addr.rpartition("@")[2] or "localhost"


def new_message_id(from_addr: str) -> str:
    return make_msgid(domain=_domain(from_addr))


def _address(addr: str) -> Address:
    user, _, domain = addr.partition("@")
    return Address(username=user, domain=domain)


def build_mime(
    message: OutgoingMessage, *, message_id: str | None = None, date: datetime | None = None,
    with_attachments: bool = True,
) -> EmailMessage:
    """multipart/alternative (text/plain then HTML), inside multipart/mixed with the
    attachments when there are any, threading headers for a reply, Cc and Bcc, and our send-id
    header. `message_id` defaults to a new one (Gmail may replace it: read it back).
    `with_attachments=False`: the attachments are added another way (Graph's attachment calls)."""
    msg = EmailMessage(policy=POLICY)
    user, _, domain = message.from_addr.partition("@")
    msg["From"] = Address(display_name=message.from_name, username=user, domain=domain)
    msg["To"] = _address(message.to_addr)
    if message.cc:
        msg["Cc"] = [_address(a) for a in message.cc]
    if message.bcc:
        msg["Bcc"] = [_address(a) for a in message.bcc]
    msg["Subject"] = message.subject
    msg["Message-ID"] = message_id or new_message_id(message.from_addr)
    if date is not None:
        msg["Date"] = format_datetime(date)
    if message.in_reply_to:
        msg["In-Reply-To"] = message.in_reply_to
        chain = message.references.split() if message.references else []
        if message.in_reply_to not in chain:
            chain.append(message.in_reply_to)
        msg["References"] = " ".join(chain)
    msg[SEND_ID_HEADER] = message.send_id
    for name, value in message.extra_headers:
        msg[name] = value
    msg.set_content(message.text or " ")
    msg.add_alternative(message.html, subtype="html")
    if with_attachments:
        for item in message.attachments:
            maintype, _, subtype = item.content_type.partition("/")
            msg.add_attachment(item.data, maintype=maintype or "application",
                               subtype=subtype or "octet-stream", filename=item.filename)
    return msg


def html_of(raw: bytes) -> str:
    """The HTML part of a message, or its text part as HTML."""
    msg = message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    part = msg.get_body(("html",))
    if part is not None:
        return str(part.get_content())
    part = msg.get_body(("plain",))
    text = str(part.get_content()) if part is not None else ""
    return "<p>" + html.escape(text).replace("\n", "<br>") + "</p>"
