"""Unsubscribe without a login (RFC 8058 one-click and our page), the suppression list and
blocked domains, checked at launch and before each send."""

from __future__ import annotations

from email.message import EmailMessage

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from addin_server import feed
from addin_server.config import Settings
from addin_server.enums import EnrollmentStatus
from addin_server.inbound.rules import process_inbound
from addin_server.models import Enrollment, Event, Mailbox, Person, Rep, Send
from addin_server.runtime import Runtime
from addin_server.suppressions import list_unsubscribe_headers, send_blocker, unsubscribe_token
from tests.conftest import Actor, FrozenClock, make_actor
from tests.support.replies import campaign, launch


def token_for(settings: Settings, session: Session, email: str) -> str:
    person = session.scalar(select(Person).where(Person.email == email))
    assert person is not None
    token = unsubscribe_token(settings.secret_key, person.org_id, email)
    session.rollback()  # end the read: the requests below write (SQLite: one writer)
    return token


def test_one_click_bare_post_unsubscribes_and_blocks_later_sends(
    rep: Actor, client: FlaskClient, session: Session, settings: Settings
) -> None:
    eid = launch(rep, campaign(rep), "bob@globex.test")[0]
    token = token_for(settings, session, "bob@globex.test")
    # What Gmail / Yahoo send: a form POST with only this field, no cookie, no token header.
    response = client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert b"will not receive these emails" in response.data
    session.rollback()
    person = session.scalar(select(Person).where(Person.email == "bob@globex.test"))
    assert person is not None and person.unsubscribed_at is not None
    enrollment = session.get(Enrollment, eid)
    assert enrollment is not None and enrollment.status == EnrollmentStatus.UNSUBSCRIBED
    assert [s.value for s in session.scalars(select(Send.state).where(
        Send.enrollment_id == eid))] == ["cancelled"]
    assert send_blocker(session, person.org_id, "bob@globex.test") == "unsubscribed"
    event = session.scalar(select(Event).where(Event.type == feed.UNSUBSCRIBED))
    assert event is not None and event.data["source"] == "one-click"
    # A second click changes nothing and still says so.
    session.rollback()
    again = client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200
    session.rollback()
    assert len(list(session.scalars(select(Event).where(Event.type == feed.UNSUBSCRIBED)))) == 1
    # Launching again skips them.
    session.rollback()
    other = campaign(rep, "Another")
    response = rep.post(f"/api/v1/campaigns/{other}/launch",
                        json={"people": [{"email": "bob@globex.test"}]})
    assert response.json["skipped"] == [{"email": "bob@globex.test", "reason": "unsubscribed"}]


def test_the_page_asks_first_and_bad_tokens_are_refused(
    rep: Actor, client: FlaskClient, session: Session, settings: Settings
) -> None:
    launch(rep, campaign(rep), "bob@globex.test")
    token = token_for(settings, session, "bob@globex.test")
    page = client.get(f"/u/{token}")
    assert page.status_code == 200 and b"<form method=\"post\">" in page.data
    assert b"bob@globex.test" in page.data
    # The page names who wrote: the rep of the campaign and the organisation.
    session.rollback()
    rep_row = session.get(Rep, rep.rep_id)
    assert rep_row is not None
    sender = f"{rep_row.name} ({rep_row.email}) at {rep_row.org.name}"
    assert f"Stop emails to <strong>bob@globex.test</strong> from {sender}?" in page.text
    session.rollback()
    person = session.scalar(select(Person).where(Person.email == "bob@globex.test"))
    assert person is not None and person.unsubscribed_at is None  # a GET changes nothing
    person_id, org_id = person.id, person.org_id
    session.rollback()
    assert client.post(f"/u/{token}x", data={"confirm": "1"}).status_code == 404
    forged = unsubscribe_token("another-secret", org_id, "bob@globex.test")
    assert client.get(f"/u/{forged}").status_code == 404
    done = client.post(f"/u/{token}", data={"confirm": "1"})
    assert done.status_code == 200
    assert f"will not receive these emails from {sender} any more" in done.text
    session.rollback()
    assert session.get(Person, person_id).unsubscribed_at is not None  # type: ignore[union-attr]


def test_list_unsubscribe_headers(settings: Settings) -> None:
    headers = dict(list_unsubscribe_headers(
        base_url="https://campaigns.example.test", secret_key="s", org_id=3,
        email="bob@globex.test", mailbox_address="ann@acme.test"))
    token = unsubscribe_token("s", 3, "bob@globex.test")
    assert headers == {
        "List-Unsubscribe": f"<https://campaigns.example.test/u/{token}>, "
                            f"<mailto:ann@acme.test?subject=unsubscribe%20{token}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def test_mailto_unsubscribe_arrives_in_the_reps_inbox(
    rep: Actor, session: Session, settings: Settings, clock: FrozenClock
) -> None:
    eid = launch(rep, campaign(rep), "bob@globex.test")[0]
    token = token_for(settings, session, "bob@globex.test")
    msg = EmailMessage()
    msg["From"] = "bob@globex.test"
    msg["To"] = rep.email
    msg["Subject"] = f"unsubscribe {token}"
    msg.set_content("This message was sent automatically by a mail client.")
    mailbox = session.scalar(select(Mailbox).where(Mailbox.rep_id == rep.rep_id))
    assert mailbox is not None
    out = process_inbound(session, mailbox, msg, provider_message_id="u1", thread_id=None,
                          now=clock(), secret_key=settings.secret_key)
    assert out.kind == "unsubscribe"
    assert session.get(Enrollment, eid).status == EnrollmentStatus.UNSUBSCRIBED  # type: ignore


def test_suppression_list_and_blocked_domains(
    rep: Actor, runtime: Runtime, client: FlaskClient, session: Session
) -> None:
    admin = make_actor(runtime, client, "boss@acme.test", admin=True)
    outsider = make_actor(runtime, client, "eve@evil.test", org="Evil")
    eid = launch(rep, campaign(rep), "carl@globex.test")[0]
    added = rep.post("/api/v1/suppressions", json={"email": "Carl@Globex.test", "note": "asked"})
    assert added.status_code == 201
    assert added.json["email"] == "carl@globex.test" and added.json["reason"] == "manual"
    session.rollback()
    assert session.get(Enrollment, eid).status == EnrollmentStatus.STOPPED  # type: ignore
    session.rollback()
    assert rep.post("/api/v1/suppressions", json={"email": "nope"}).status_code == 422
    assert [s["email"] for s in rep.get("/api/v1/suppressions").json["suppressions"]] == [
        "carl@globex.test"]
    assert outsider.get("/api/v1/suppressions").json["suppressions"] == []
    # Domains: admins only.
    assert rep.post("/api/v1/blocked-domains", json={"domain": "rival.test"}).status_code == 403
    assert admin.post("/api/v1/blocked-domains", json={"domain": "bad domain"}).status_code == 422
    assert admin.post("/api/v1/blocked-domains", json={"domain": "@Rival.test"}).status_code == 201
    cid = campaign(rep, "Next")
    response = rep.post(f"/api/v1/campaigns/{cid}/launch", json={"people": [
        {"email": "carl@globex.test"}, {"email": "ceo@rival.test"},
        {"email": "cto@eu.rival.test"}, {"email": "ok@globex.test"}]})
    assert response.status_code == 201
    assert response.json["skipped"] == [
        {"email": "carl@globex.test", "reason": "suppressed"},
        {"email": "ceo@rival.test", "reason": "blocked domain"},
        {"email": "cto@eu.rival.test", "reason": "blocked domain"}]
    assert [e["email"] for e in response.json["enrollments"]] == ["ok@globex.test"]
    # Lifting: admins only, and a 404 for what is not there.
    assert rep.delete("/api/v1/suppressions/carl@globex.test").status_code == 403
    assert admin.delete("/api/v1/suppressions/carl@globex.test").status_code == 200
    assert admin.delete("/api/v1/suppressions/carl@globex.test").status_code == 404
    assert admin.delete("/api/v1/blocked-domains/rival.test").status_code == 200
    assert rep.get("/api/v1/blocked-domains").json["blocked_domains"] == []
    assert outsider.delete("/api/v1/blocked-domains/rival.test").status_code == 403


def test_an_unsubscribe_cannot_be_lifted(
    rep: Actor, runtime: Runtime, client: FlaskClient, session: Session, settings: Settings
) -> None:
    admin = make_actor(runtime, client, "boss@acme.test", admin=True)
    launch(rep, campaign(rep), "bob@globex.test")
    token = token_for(settings, session, "bob@globex.test")
    client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
    response = admin.delete("/api/v1/suppressions/bob@globex.test")
    assert response.status_code == 409
