"""Shared setup for the reply tests against the fake Gmail and Graph: a rep whose campaigns go
out through the real adapter, and emails arriving in the rep's fake inbox."""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from typing import Any

from cryptography.fernet import Fernet
from flask.testing import FlaskClient
from sqlalchemy import select

from addin_server.config import Settings
from addin_server.enums import EnrollmentStatus
from addin_server.models import Enrollment, Mailbox, SentMessage
from addin_server.runtime import Runtime
from tests.conftest import Actor, make_actor

REP = "ann@acme.test"


def provider_settings(settings: Settings) -> Settings:
    return settings.with_(queue_name=f"t-{uuid.uuid4().hex[:8]}",
                          encryption_keys=(Fernet.generate_key().decode(),))


def rep_with(runtime: Runtime, client: FlaskClient, row: Mailbox) -> tuple[Actor, int]:
    """The rep, sending from `row` (a connected provider mailbox)."""
    actor = make_actor(runtime, client, REP, local_mailbox=False)
    with runtime.sessions.begin() as s:
        row.rep_id = actor.rep_id
        row.created_at = row.updated_at = runtime.now()
        s.add(row)
        s.flush()
        mailbox_id = row.id
    return actor, mailbox_id


def sent_to(runtime: Runtime, enrollment_id: int) -> SentMessage:
    with runtime.sessions() as s:
        found = s.scalars(select(SentMessage).where(
            SentMessage.enrollment_id == enrollment_id).order_by(SentMessage.position)).all()
        assert found, "nothing was sent"
        return found[-1]


def status(runtime: Runtime, enrollment_id: int) -> EnrollmentStatus:
    with runtime.sessions() as s:
        e = s.get(Enrollment, enrollment_id)
        assert e is not None
        return e.status


def enrollment(runtime: Runtime, enrollment_id: int) -> Enrollment:
    with runtime.sessions() as s:
        e = s.get(Enrollment, enrollment_id)
        assert e is not None
        s.expunge(e)
        return e


def reply_to(sent: SentMessage, *, frm: str, body: str = "Yes, let's talk on Thursday.",
             subject: str | None = None, **headers: Any) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = frm
    msg["To"] = REP
    msg["Subject"] = subject if subject is not None else f"Re: {sent.subject}"
    msg["Date"] = "Tue, 24 Nov 2026 10:00:00 +0000"
    msg["In-Reply-To"] = sent.rfc_message_id or ""
    msg["References"] = (sent.references + " " + (sent.rfc_message_id or "")).strip()
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


def bounce_of(sent: SentMessage, *, to: str) -> EmailMessage:
    """Gmail's DSN for our email (the fixture, pointed at this email and address)."""
    from tests.support.replies import fixture

    return fixture("gmail_bounce.eml", {"nobody@globex.test": to,
                                        "<campaign-41.1@acme.test>": sent.rfc_message_id or ""})


def out_of_office(sent: SentMessage, *, frm: str, back: str) -> EmailMessage:
    return reply_to(sent, frm=frm, subject=f"Automatic reply: {sent.subject}",
                    body=f"I am out of the office and will be back on {back}.",
                    Auto_Submitted="auto-generated")
