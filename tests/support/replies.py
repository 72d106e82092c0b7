"""Helpers for the reply/bounce/unsubscribe tests: campaigns launched through the API, and
emails marked sent the way the send pipeline records them (SentMessage + advance)."""

from __future__ import annotations

from datetime import datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from addin_server.enrollments.advance import advance
from addin_server.enrollments.tasks import record_sent_email
from addin_server.enums import SendState
from addin_server.models import Enrollment, Send
from tests.api.test_campaigns import create
from tests.conftest import Actor

FIXTURES = Path(__file__).parents[1] / "fixtures" / "inbound"


def campaign(actor: Actor, name: str = "Q4 outreach", **settings: Any) -> int:
    base = {"skip_weekends": True, "stop_on_reply": True, "remove_on_bounce": True}
    base.update(settings)
    response = create(actor, name=name, settings=base)
    assert response.status_code == 201, response.json
    cid: int = response.json["id"]
    return cid


def launch(actor: Actor, cid: int, *emails: str, **body: Any) -> list[int]:
    people = [{"email": e, "first_name": e.split("@")[0].title()} for e in emails]
    response = actor.post(f"/api/v1/campaigns/{cid}/launch", json={"people": people, **body})
    assert response.status_code == 201, response.json
    return [e["id"] for e in response.json["enrollments"]]


def mark_sent(session: Session, enrollment_id: int, now: datetime, *, thread: str,
              message_id: str) -> Send:
    """The current automatic send went out with these ids; the person moves on."""
    enrollment = session.get(Enrollment, enrollment_id)
    assert enrollment is not None
    send = session.scalar(select(Send).where(Send.enrollment_id == enrollment_id,
                                             Send.position == enrollment.current_position))
    assert send is not None and send.mailbox_id is not None
    send.state, send.sent_at = SendState.SENT, now
    send.thread_id, send.rfc_message_id = thread, message_id
    send.to_addr, send.subject = enrollment.person.email, "Quick question"
    record_sent_email(session, enrollment=enrollment, position=send.position,
                      mailbox_id=send.mailbox_id, to_addr=enrollment.person.email,
                      subject="Quick question", body_html="<p>Hello</p>", sent_at=now,
                      provider_message_id=f"p-{message_id}", thread_id=thread,
                      rfc_message_id=message_id, references="")
    advance(session, enrollment, now)
    session.commit()  # as the send job does; the API calls of a test use their own sessions
    return send


def reply(frm: str, to: str, *, in_reply_to: str | None = None, subject: str = "Re: Quick "
          "question", body: str = "Sounds interesting, let's talk.", **headers: str
          ) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = frm
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = "Tue, 24 Nov 2026 10:00:00 +0000"
    msg["Message-ID"] = f"<r{abs(hash((frm, subject, body))) % 10**8}@mail.test>"
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


def fixture(name: str, replace: dict[str, str] | None = None) -> EmailMessage:
    raw = (FIXTURES / name).read_bytes()
    for old, new in (replace or {}).items():
        raw = raw.replace(old.encode(), new.encode())
    msg = message_from_bytes(raw, policy=default)
    assert isinstance(msg, EmailMessage)
    return msg


def bounce_fixture(email: str, message_id: str) -> EmailMessage:
    """A Gmail bounce of our email `message_id` to `email`."""
    return fixture("gmail_bounce.eml", {"nobody@globex.test": email,
                                        "<campaign-41.1@acme.test>": message_id,
                                        "X-Campaign-Send-Id: 41": "X-Other: 1"})
