"""Try it locally (DEV_MODE): make a person reply to, bounce or be out of office for one of our
sent emails, without a real mailbox.

The answer is a real RFC 5322 message, built as the person's mail client (a reply, an RFC 3834
automatic reply) or their mail server (an RFC 3464 delivery status notification) would write
it, delivered into the local development mailbox that sent the email, and then read by the
ordinary poll (inbound/poll.py): classification, matching and the stop rules are the ones a
Gmail or Microsoft inbox goes through, so stop-on-reply is seen as it would be.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email import message_from_string
from email.message import EmailMessage, Message
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

from sqlalchemy import func, select

from addin_server import dates
from addin_server.db import session_scope
from addin_server.enums import MailboxProvider, SendState
from addin_server.inbound.classify import SEND_ID_HEADER
from addin_server.inbound.poll import poll
from addin_server.inbound.rules import InboundOutcome
from addin_server.mailboxes.local import LocalMailbox
from addin_server.models import Enrollment, LocalMessage, Mailbox, Person, Send, SentMessage
from addin_server.runtime import Runtime

KINDS = ("reply", "bounce", "ooo")
OOO_DAYS = 7  # the simulated out-of-office says the person is back a week later


class CannotSimulate(Exception):
    """The send cannot be answered locally (not sent, not from a local mailbox, ...)."""


@dataclass(frozen=True)
class Original:
    """What the answer needs of the email it answers."""

    send_id: int
    mailbox_address: str
    person_email: str
    person_name: str
    subject: str
    message_id: str
    references: str
    sent_at: datetime


def _domain(address: str) -> str:
    return address.rpartition("@")[2] or "localhost"


def _threading(msg: Message, original: Original) -> None:
    msg["In-Reply-To"] = original.message_id
    chain = [*original.references.split(), original.message_id]
    msg["References"] = " ".join(dict.fromkeys(chain))


def _subject(prefix: str, subject: str) -> str:
    return subject if subject.lower().startswith(prefix.lower()) else f"{prefix}{subject}"


def build_reply(original: Original, now: datetime) -> EmailMessage:
    """The person's human reply, in the thread, quoting our email's subject."""
    msg = EmailMessage(policy=SMTP)
    msg["From"] = f"{original.person_name} <{original.person_email}>"
    msg["To"] = original.mailbox_address
    msg["Subject"] = _subject("Re: ", original.subject)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain=_domain(original.person_email))
    _threading(msg, original)
    # The person's zone is unknown: the quote header says UTC, in the one date style.
    sent = dates.absolute(original.sent_at, "UTC", named=True)
    msg.set_content(f"Thanks, this is interesting. Could we talk on Thursday?\n\n"
                    f"On {sent}, {original.mailbox_address} wrote:\n> {original.subject}\n")
    return msg


def build_out_of_office(original: Original, now: datetime, back: date) -> EmailMessage:
    """An RFC 3834 automatic reply saying the person is away until `back`."""
    msg = EmailMessage(policy=SMTP)
    msg["From"] = f"{original.person_name} <{original.person_email}>"
    msg["To"] = original.mailbox_address
    msg["Subject"] = _subject("Automatic reply: ", original.subject)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain=_domain(original.person_email))
    msg["Auto-Submitted"] = "auto-replied"
    _threading(msg, original)
    # "4 Dec 2026": English whatever the locale, and a form return_dates.py reads back.
    back_text = f"{back.day} {dates.MONTHS[back.month - 1]} {back.year}"
    msg.set_content(f"I am out of the office and back on {back_text}, "
                    "with limited access to email. I will answer when I am back.\n")
    return msg


def build_bounce(original: Original, now: datetime) -> Message:
    """The recipient's server's RFC 3464 delivery status notification: 5.1.1, no such user,
    with our email's headers returned (its Message-ID and send-id header)."""
    boundary = make_msgid(domain="dsn.local").strip("<>").replace("@", "=_")
    daemon = f"mailer-daemon@{_domain(original.person_email)}"
    text = "\r\n".join([
        f"From: Mail Delivery Subsystem <{daemon}>",
        f"To: {original.mailbox_address}",
        "Subject: Delivery Status Notification (Failure)",
        f"Date: {format_datetime(now)}",
        f"Message-ID: {make_msgid(domain=_domain(original.person_email))}",
        f"In-Reply-To: {original.message_id}",
        f"References: {original.message_id}",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
        "",
        f"--{boundary}",
        "Content-Type: text/plain; charset=utf-8",
        "",
        f"Your message wasn't delivered to {original.person_email} because the address "
        "couldn't be found.",
        "",
        f"--{boundary}",
        "Content-Type: message/delivery-status",
        "",
        f"Reporting-MTA: dns; mx.{_domain(original.person_email)}",
        "",
        f"Final-Recipient: rfc822; {original.person_email}",
        "Action: failed",
        "Status: 5.1.1",
        "Diagnostic-Code: smtp; 550 5.1.1 The email account that you tried to reach does not "
        "exist",
        "",
        f"--{boundary}",
        "Content-Type: text/rfc822-headers",
        "",
        f"From: {original.mailbox_address}",
        f"To: {original.person_email}",
        f"Subject: {original.subject}",
        f"Message-ID: {original.message_id}",
        f"{SEND_ID_HEADER}: {original.send_id}",
        "",
        f"--{boundary}--",
        "",
    ])
    return message_from_string(text)


def build(kind: str, original: Original, now: datetime) -> Message:
    if kind == "reply":
        return build_reply(original, now)
    if kind == "ooo":
        return build_out_of_office(original, now, now.date() + timedelta(days=OOO_DAYS))
    if kind == "bounce":
        return build_bounce(original, now)
    raise CannotSimulate(f"kind must be one of {', '.join(KINDS)}")


def _original(rt: Runtime, send_id: int) -> tuple[Original, int]:
    with session_scope(rt.sessions) as session:
        send = session.get(Send, send_id)
        if send is None:
            raise CannotSimulate(f"no send {send_id}")
        mailbox = session.get(Mailbox, send.mailbox_id) if send.mailbox_id else None
        if send.state != SendState.SENT or not send.rfc_message_id or mailbox is None:
            raise CannotSimulate(f"send {send_id} has not been sent (it is {send.state.value})")
        if mailbox.provider != MailboxProvider.LOCAL:
            raise CannotSimulate(f"send {send_id} went from {mailbox.address}, not the local "
                                 "development mailbox: a real person must answer it")
        enrollment = session.get(Enrollment, send.enrollment_id)
        assert enrollment is not None
        person = session.get(Person, enrollment.person_id)
        assert person is not None
        references = session.scalar(select(SentMessage.references).where(
            SentMessage.enrollment_id == enrollment.id, SentMessage.position == send.position))
        original = Original(
            send_id=send.id, mailbox_address=mailbox.address,
            person_email=send.to_addr or person.email,
            person_name=f"{person.first_name} {person.last_name}".strip() or person.email,
            subject=send.subject, message_id=send.rfc_message_id,
            references=references or "", sent_at=send.sent_at or rt.now())
        if mailbox.sync_cursor is None:
            # A local mailbox is read from now on: the answer below is the first news.
            mailbox.sync_cursor = str(session.scalar(select(func.max(LocalMessage.id)).where(
                LocalMessage.mailbox_id == mailbox.id)) or 0)
        return original, mailbox.id


def simulate_inbound(rt: Runtime, kind: str, send_id: int) -> InboundOutcome:
    """Deliver the person's answer to send `send_id` into its local mailbox, then poll it.
    Raises CannotSimulate when the send cannot be answered locally. Commits (its own
    transactions, as a real mailbox and the poll job do)."""
    if kind not in KINDS:
        raise CannotSimulate(f"kind must be one of {', '.join(KINDS)}")
    original, mailbox_id = _original(rt, send_id)
    local = LocalMailbox(rt.sessions, mailbox_id, original.mailbox_address, rt.clock)
    message_id = local.receive(build(kind, original, rt.now()))
    result = poll(rt, mailbox_id)
    for outcome in result.outcomes:
        if outcome.kind not in ("own", "duplicate"):
            return outcome
    return InboundOutcome("ignored", None, f"message {message_id} was not read by the poll")
