"""The mailbox use cases the connect flow relies on: a provider's pause shows on every waiting
send, connecting a first mailbox picks up the sends that waited for one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from addin_server import feed
from addin_server.enums import MailboxProvider, MailboxStatus
from addin_server.mailboxes.connect import attach_mailbox
from addin_server.mailboxes.state import pause_mailbox, reconnect_mailbox
from addin_server.models import Event, Mailbox, Rep, Send
from addin_server.runtime import Runtime
from tests.api.test_campaigns import create
from tests.conftest import make_actor


def test_a_provider_pause_shows_on_every_waiting_send(
    runtime: Runtime, client: FlaskClient
) -> None:
    rep = make_actor(runtime, client, "ann@acme.test", local_mailbox=False)
    with runtime.sessions.begin() as s:
        s.add(Mailbox(rep_id=rep.rep_id, provider=MailboxProvider.GMAIL,
                      address="ann@acme.test", status=MailboxStatus.CONNECTED,
                      created_at=runtime.now(), updated_at=runtime.now()))
    cid = create(rep).json["id"]
    launched = rep.post(f"/api/v1/campaigns/{cid}/launch",
                        json={"people": [{"email": "a@corp.test"}, {"email": "b@corp.test"}]})
    assert launched.status_code == 201, launched.json
    until = datetime(2026, 11, 24, 14, 5, tzinfo=UTC)
    with runtime.sessions.begin() as s:
        row = s.scalar(select(Mailbox).where(Mailbox.provider == MailboxProvider.GMAIL))
        assert row is not None
        pause_mailbox(s, row, until, "429 Retry after", runtime.now())
        pause_mailbox(s, row, datetime(2026, 11, 24, 10, 0, tzinfo=UTC), "429", runtime.now())
    for enrolled in launched.json["enrollments"]:
        view = rep.get(f"/api/v1/enrollments/{enrolled['id']}").json
        assert view["steps"][0]["reason"] == ("mailbox paused by Gmail until "
                                               "Tue, 24 Nov 2026 at 14:05 UTC")
    with runtime.sessions() as s:
        events = list(s.scalars(select(Event).where(Event.type == feed.MAILBOX_PAUSED)))
    # An earlier "until" does not shorten the pause, nor write a second event.
    assert [e.data["until"] for e in events] == ["2026-11-24T14:05:00Z"]


def test_connecting_a_first_mailbox_adopts_the_sends_that_waited(
    runtime: Runtime, client: FlaskClient
) -> None:
    rep = make_actor(runtime, client, "ann@acme.test", local_mailbox=False)
    cid = create(rep).json["id"]
    eid = rep.post(f"/api/v1/campaigns/{cid}/launch",
                   json={"people": [{"email": "a@corp.test"}]}).json["enrollments"][0]["id"]
    step = rep.get(f"/api/v1/enrollments/{eid}").json["steps"][0]
    assert step["reason"].startswith("no mailbox connected")
    with runtime.sessions.begin() as s:
        rep_row = s.get(Rep, rep.rep_id)
        assert rep_row is not None
        row = attach_mailbox(s, runtime.settings, rep_row, MailboxProvider.MICROSOFT,
                             "Ann@Acme.test", runtime.now())
        again = attach_mailbox(s, runtime.settings, rep_row, MailboxProvider.MICROSOFT,
                               "ann@acme.test", runtime.now())
        assert again.id == row.id
        reconnect_mailbox(s, row, runtime.now())
        mailbox_id = row.id
    with runtime.sessions() as s:
        assert [x.mailbox_id for x in s.scalars(select(Send))] == [mailbox_id]
    step = rep.get(f"/api/v1/enrollments/{eid}").json["steps"][0]
    assert "scheduled for" in step["reason"]


def test_the_rep_is_emailed_once_per_disconnection_and_again_after_a_relay_failure(
    runtime: Runtime, client: FlaskClient, smtp_fake: Any
) -> None:
    from addin_server.mailboxes.notify import notify_disconnected

    rt = runtime
    rt.settings = rt.settings.with_(smtp_url=smtp_fake.url, mail_from="ops@acme.test")
    rep = make_actor(rt, client, "ann@acme.test", local_mailbox=False)
    with rt.sessions.begin() as s:
        s.add(Mailbox(rep_id=rep.rep_id, provider=MailboxProvider.MICROSOFT,
                      address="ann@contoso.test", status=MailboxStatus.DISCONNECTED,
                      status_reason="invalid_grant", created_at=rt.now(), updated_at=rt.now()))
    smtp_fake.refuse = True  # the relay is down: nobody is marked as told
    assert notify_disconnected(rt, rt.now()) == 0
    smtp_fake.refuse = False
    assert notify_disconnected(rt, rt.now()) == 1
    assert notify_disconnected(rt, rt.now()) == 0  # once per disconnection
    (msg,) = smtp_fake.messages
    assert (msg["From"], msg["To"]) == ("ops@acme.test", "ann@acme.test")
    assert "invalid_grant" in msg.get_content()
    assert "https://campaigns.example.test/connect/microsoft" in msg.get_content()
