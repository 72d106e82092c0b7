"""The web app's pages and their protections, through Flask's test client (both databases)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from addin_server.config import Settings
from tests.api.test_campaigns import create
from tests.conftest import Actor, make_actor


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(dev_mode=True)


def csrf_of(client: FlaskClient, path: str = "/signin") -> str:
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def sign_in_as(client: FlaskClient, actor: Actor) -> str:
    """A session cookie for the actor, of the rep's current session version."""
    from addin_server.models import Rep

    with client.application.extensions["addin"].sessions() as db:
        version = db.get(Rep, actor.rep_id).session_version
    with client.session_transaction() as s:
        s["rep_id"] = actor.rep_id
        s["session_version"] = version
    return csrf_of(client, "/campaigns")


def test_pages_need_sign_in(client: FlaskClient) -> None:
    for path in ("/", "/command", "/campaigns", "/campaigns/new", "/feed", "/mailboxes"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/signin?next="), path


def test_dev_sign_in_needs_csrf_and_signs_in_the_demo_rep(client: FlaskClient) -> None:
    assert client.post("/signin/dev").status_code == 400  # no CSRF token
    token = csrf_of(client)
    response = client.post("/signin/dev", data={"csrf_token": token, "next": "/campaigns"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/campaigns"
    me = client.get("/api/v1/me").json
    assert me["email"] == "demo@example.com"
    # The next sign-in finds the same rep rather than making another.
    client.post("/signout", data={"csrf_token": csrf_of(client, "/campaigns")})
    assert client.get("/api/v1/me").status_code == 401
    client.post("/signin/dev", data={"csrf_token": csrf_of(client)})
    assert client.get("/api/v1/me").json["id"] == me["id"]


def test_dev_sign_in_is_off_by_default(app: Any, runtime: Any) -> None:
    runtime.settings = runtime.settings.with_(dev_mode=False)
    client = app.test_client()
    token = csrf_of(client)
    assert "demo rep" not in client.get("/signin").get_data(as_text=True)
    assert client.post("/signin/dev", data={"csrf_token": token}).status_code == 404


def test_sign_in_redirect_stays_on_this_site(client: FlaskClient) -> None:
    token = csrf_of(client)
    for target in ("https://evil.example/x", "//evil.example/x", "javascript:alert(1)"):
        response = client.post("/signin/dev", data={"csrf_token": token, "next": target})
        assert response.headers["Location"] == "/"
        token = csrf_of(client, "/campaigns")
        client.post("/signout", data={"csrf_token": token})
        token = csrf_of(client)


def test_api_writes_with_the_session_need_the_csrf_header(client: FlaskClient, rep: Actor) -> None:
    token = sign_in_as(client, rep)
    body = {"name": "T", "steps": [{"day": 1, "type": "call"}]}
    missing = client.post("/api/v1/campaigns", json=body)
    assert missing.status_code == 403
    assert missing.json["errors"][0]["field"] == "X-CSRFToken"
    wrong = client.post("/api/v1/campaigns", json=body, headers={"X-CSRFToken": "nope"})
    assert wrong.status_code == 403
    ok = client.post("/api/v1/campaigns", json=body, headers={"X-CSRFToken": token})
    assert ok.status_code == 201, ok.json
    # A bearer token needs no CSRF token (no cookie is involved).
    other = FlaskClient(client.application)
    assert other.post("/api/v1/campaigns", json=body, headers=rep.headers).status_code == 201
    assert client.get("/api/v1/campaigns").json["campaigns"][0]["name"] == "T"


def test_every_page_renders_for_a_rep_with_work(client: FlaskClient, rep: Actor) -> None:
    cid = create(rep).json["id"]
    launched = rep.post(f"/api/v1/campaigns/{cid}/launch",
                        json={"people": [{"email": "jo@globex.test", "first_name": "Jo"}]})
    assert launched.status_code == 201, launched.json
    manual = create(rep, name="Manual first", steps=[
        {"day": 1, "type": "email", "send_option": "manual_task", "subject": "Hi {{first_name}}",
         "body_html": "<p>{{! why them }}</p>"}]).json["id"]
    rep.post(f"/api/v1/campaigns/{manual}/launch",
             json={"people": [{"email": "sam@initech.test", "first_name": "Sam"}]})
    task_id = rep.get("/api/v1/tasks").json["tasks"][0]["id"]
    sign_in_as(client, rep)
    pages = {
        "/command": ["Sam", "Today", 'data-action="complete"'],
        "/command?view=emails": ["jo@globex.test", "Q4 outreach"],
        "/command?view=emails&state=scheduled": ["scheduled for"],
        "/command?view=people": ["jo@globex.test", "sam@initech.test"],
        "/command?view=people&q=globex": ["jo@globex.test"],
        "/campaigns": ["Q4 outreach", "Manual first"],
        "/campaigns/new": ["New campaign"],
        f"/campaigns/{cid}": ["Edit campaign", "builder-data"],
        f"/campaigns/{cid}/launch": ["Add people to", "First email at"],
        f"/campaigns/{manual}/launch": ["The first email is a task for you"],
        f"/tasks/{task_id}": ["sam@initech.test", "why them", "Send now"],
        "/feed": ["Campaign Q4 outreach launched on 1 person", "Campaign Manual first"],
        "/mailboxes": ["ann@acme.test", "connected"],
    }
    for path, needles in pages.items():
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.get_data(as_text=True)
        for needle in needles:
            assert needle in html, (path, needle)
    searched = client.get("/command?view=people&q=globex").get_data(as_text=True)
    assert "sam@initech.test" not in searched.split('<aside class="panel"')[0]


def test_feed_poll_returns_rendered_events_after_a_cursor(client: FlaskClient, rep: Actor) -> None:
    sign_in_as(client, rep)
    first = client.get("/feed/poll?after=0").json
    assert first["items"] == []
    cid = create(rep).json["id"]
    launched = rep.post(f"/api/v1/campaigns/{cid}/launch",
                        json={"people": [{"email": "jo@globex.test", "first_name": "Jo"}]})
    rep.post(f"/api/v1/enrollments/{launched.json['enrollments'][0]['id']}/pause")
    polled = client.get(f"/feed/poll?after={first['after']}").json
    texts = [i["html"] for i in polled["items"]]
    assert len(texts) == 2, texts
    assert "Campaign Q4 outreach launched on 1 person" in texts[0]
    assert "Jo paused" in texts[1] and "jo@globex.test" in texts[1]
    # The compact panel leaves out what needs no action, but its cursor moves past it.
    compact = client.get(f"/feed/poll?after={first['after']}&compact=1").json
    assert [("launched" in i["html"]) for i in compact["items"]] == [True]
    assert compact["after"] == polled["after"]
    assert client.get(f"/feed/poll?after={polled['after']}").json["items"] == []


def test_other_organisations_pages_are_404(client: FlaskClient, runtime: Any, rep: Actor) -> None:
    cid = create(rep).json["id"]
    other = make_actor(runtime, client, "eve@umbrella.test", org="Umbrella")
    sign_in_as(client, other)
    assert client.get(f"/campaigns/{cid}").status_code == 404
    assert client.get(f"/campaigns/{cid}/launch").status_code == 404


@pytest.mark.parametrize(
    ("due", "bucket"),
    [("2026-11-23", "overdue"), ("2026-11-24", "today"), ("2026-11-25", "tomorrow"),
     ("2026-11-26", "week"), ("2026-12-01", "week"), ("2026-12-02", "later")],
)
def test_task_buckets(due: str, bucket: str) -> None:
    from datetime import date

    from addin_server.web.command_center import bucket_of

    assert bucket_of(date.fromisoformat(due), date(2026, 11, 24)) == bucket


def main_of(html: str) -> str:
    return html.split('<aside class="panel"')[0]


def test_waiting_emails_say_why(client: FlaskClient, rep: Actor, runtime: Any) -> None:
    from sqlalchemy import select

    from addin_server.enums import MailboxStatus
    from addin_server.models import Mailbox

    cid = create(rep).json["id"]
    rep.post(f"/api/v1/campaigns/{cid}/launch", json={"people": [{"email": "jo@globex.test"}]})
    sign_in_as(client, rep)
    scheduled = main_of(client.get("/command?view=emails&state=scheduled").get_data(as_text=True))
    assert "jo@globex.test" in scheduled
    assert "scheduled for Tue, 24 Nov 2026 at 09:30 CET" in scheduled
    with runtime.sessions.begin() as s:
        mailbox = s.scalar(select(Mailbox).where(Mailbox.rep_id == rep.rep_id))
        mailbox.status = MailboxStatus.DISCONNECTED
    waiting = main_of(client.get("/command?view=emails&state=waiting").get_data(as_text=True))
    assert "jo@globex.test" in waiting
    assert "mailbox ann@acme.test is disconnected: reconnect it to resume sending" in waiting
    scheduled = main_of(client.get("/command?view=emails&state=scheduled").get_data(as_text=True))
    assert "jo@globex.test" not in scheduled
    mailboxes = main_of(client.get("/mailboxes").get_data(as_text=True))
    assert "disconnected" in mailboxes and "1 email waiting to go out" in mailboxes


def test_tasks_fall_into_overdue_as_days_pass(client: FlaskClient, rep: Actor,
                                              clock: Any) -> None:
    cid = create(rep, steps=[{"day": 1, "type": "call", "instructions": "Say hi"}]).json["id"]
    rep.post(f"/api/v1/campaigns/{cid}/launch", json={"people": [{"email": "jo@globex.test"}]})
    sign_in_as(client, rep)
    html = main_of(client.get("/command").get_data(as_text=True))
    assert 'id="h-today"' in html and 'id="h-overdue"' not in html
    clock.advance(days=2)
    html = main_of(client.get("/command").get_data(as_text=True))
    assert 'id="h-overdue"' in html and "jo@globex.test" in html.split('id="h-overdue"')[1]
    assert 'class="due bad"' in html


def test_a_reply_task_composes_on_the_thread_with_the_sent_email_quoted(
    client: FlaskClient, rep: Actor, runtime: Any, clock: Any
) -> None:
    from sqlalchemy import select

    from addin_server.enrollments.advance import advance
    from addin_server.enrollments.tasks import record_sent_email
    from addin_server.enums import SendState
    from addin_server.models import Enrollment, Send

    cid = create(rep, steps=[
        {"day": 1, "type": "email", "send_option": "fixed_time", "send_time": "09:30",
         "subject": "Hi {{first_name}}", "body_html": "<p>First note to {{first_name}}</p>"},
        {"day": 3, "type": "email", "send_option": "manual_task", "reply_to_previous": True,
         "body_html": "<p>{{! a personal follow-up }}</p>"},
    ]).json["id"]
    rep.post(f"/api/v1/campaigns/{cid}/launch",
             json={"people": [{"email": "jo@globex.test", "first_name": "Jo"}]})
    clock.advance(hours=2)
    with runtime.sessions.begin() as s:  # what the pipeline does when the first email goes
        send = s.scalar(select(Send))
        enrollment = s.get(Enrollment, send.enrollment_id)
        send.state, send.sent_at = SendState.SENT, runtime.now()
        record_sent_email(s, enrollment=enrollment, position=0, mailbox_id=send.mailbox_id,
                          to_addr="jo@globex.test", subject="Hi Jo",
                          body_html="<p>First note to Jo</p>", sent_at=runtime.now(),
                          provider_message_id="m1", thread_id="t1",
                          rfc_message_id="<m1@acme.test>", references="")
        task = advance(s, enrollment, runtime.now())
        task_id = task.id
    sign_in_as(client, rep)
    html = main_of(client.get(f"/tasks/{task_id}").get_data(as_text=True))
    # The compose note in the one date style, in the rep's zone (Paris).
    assert ("Reply to “Hi Jo” sent <time datetime=\"2026-11-24T10:00:00Z\" title=\"Tue, 24 Nov "
            "2026 at 11:00 CET\">Tue, 24 Nov at 11:00 (just now)</time>") in html
    assert 'value="Re: Hi Jo" readonly' in html
    assert "<blockquote" in html and "First note to Jo" in html
    assert "a personal follow-up" in html and "data-prompts" in html


def test_mailboxes_page_states_and_connect_links(client: FlaskClient, rep: Actor,
                                                 runtime: Any) -> None:
    from datetime import timedelta

    from sqlalchemy import select

    from addin_server.enums import MailboxProvider, MailboxStatus
    from addin_server.models import Mailbox

    sign_in_as(client, rep)
    html = main_of(client.get("/mailboxes").get_data(as_text=True))
    assert "not set up on this server" in html and "/connect/" not in html
    runtime.settings = runtime.settings.with_(google_client_id="g", microsoft_client_id="m")
    now = runtime.now()
    with runtime.sessions.begin() as s:
        s.execute(select(Mailbox)).scalars().one().status = MailboxStatus.DISCONNECTED
        s.add_all([
            Mailbox(rep_id=rep.rep_id, provider=MailboxProvider.GMAIL, address="ann@gmail.test",
                    status=MailboxStatus.DISCONNECTED, status_reason="access revoked",
                    created_at=now, updated_at=now),
            Mailbox(rep_id=rep.rep_id, provider=MailboxProvider.MICROSOFT,
                    address="ann@outlook.test", status=MailboxStatus.CONNECTED,
                    paused_until=now + timedelta(hours=2), created_at=now, updated_at=now),
        ])
    html = main_of(client.get("/mailboxes").get_data(as_text=True))
    assert 'href="/connect/google"' in html and 'href="/connect/microsoft"' in html
    cards = re.findall(r'<li class="card mailbox.*?</li>', html, re.S)
    gmail, outlook = (next(c for c in cards if address in c)
                      for address in ("ann@gmail.test", "ann@outlook.test"))
    assert "disconnected" in gmail and ">Reconnect</a>" in gmail
    # The one date style (dates.py): the rep's zone, how far off, the full date in the title.
    assert ('paused until <time datetime="2026-11-24T10:00:00Z" title="Tue, 24 Nov 2026 at '
            '11:00 CET">Tue, 24 Nov at 11:00 (in 2 hours)</time>') in outlook
    assert "mailbox paused by Microsoft until Tue, 24 Nov 2026 at 10:00 UTC" in outlook
    assert "Reconnect" not in outlook


def test_seed_demo_gives_the_demo_rep_work_once(runtime: Any, settings: Settings) -> None:
    from addin_server import create_app
    from addin_server.cli import register_commands

    app = create_app(runtime=runtime)
    register_commands(app)
    first = app.test_cli_runner().invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "demo data created for demo@example.com" in first.output
    again = app.test_cli_runner().invoke(args=["seed-demo"])
    assert "already there" in again.output
    client = app.test_client()
    client.post("/signin/dev", data={"csrf_token": csrf_of(client)})
    tasks = client.get("/api/v1/tasks").json["tasks"]
    assert sorted(t["person"]["email"] for t in tasks) == [
        "ava@umbrella.example", "liam@globex.example", "zoe@initech.example"]
    names = [c["name"] for c in client.get("/api/v1/campaigns").json["campaigns"]]
    assert names == ["Outbound, VP Sales", "Hand-written intro"]
    runtime.settings = runtime.settings.with_(dev_mode=False)
    refused = app.test_cli_runner().invoke(args=["seed-demo"])
    assert refused.exit_code != 0 and "DEV_MODE=1" in refused.output


def _page_status(client: FlaskClient) -> int:
    return client.get("/campaigns").status_code


def test_sign_out_ends_the_session_even_for_a_copy_of_the_cookie(
        client: FlaskClient, app: Any, runtime: Any) -> None:
    from addin_server.accounts import set_admin
    from addin_server.models import Rep

    actor = make_actor(runtime, client, "ann@acme.test")
    token = sign_in_as(client, actor)
    copy = app.test_client()  # the same cookie in another browser (or an attacker's)
    copy.set_cookie("session", client.get_cookie("session").value, domain="localhost")
    assert _page_status(copy) == 200 and copy.get("/api/v1/me").status_code == 200
    client.post("/signout", data={"csrf_token": token})
    assert _page_status(copy) == 302 and copy.get("/api/v1/me").status_code == 401
    # A role change ends the sessions too.
    sign_in_as(client, actor)
    assert _page_status(client) == 200
    with runtime.sessions.begin() as s:
        set_admin(s.get(Rep, actor.rep_id), True)
    assert _page_status(client) == 302


def test_sign_out_everywhere_from_the_page_and_the_api(
        client: FlaskClient, app: Any, runtime: Any) -> None:
    actor = make_actor(runtime, client, "ann@acme.test")
    token = sign_in_as(client, actor)
    other = app.test_client()
    other.set_cookie("session", client.get_cookie("session").value, domain="localhost")
    assert "Sign out everywhere" in client.get("/campaigns").get_data(as_text=True)
    assert client.post("/signout/everywhere", data={"csrf_token": token}).status_code == 302
    assert _page_status(other) == 302 and _page_status(client) == 302
    # Through the API (an API token): web sessions end, the token stays.
    browser = app.test_client()
    with browser.session_transaction() as s:
        s["rep_id"], s["session_version"] = actor.rep_id, 2
    assert _page_status(browser) == 200
    assert actor.post("/api/v1/me/sessions/end").status_code == 204
    assert _page_status(browser) == 302
    assert actor.get("/api/v1/me").status_code == 200
