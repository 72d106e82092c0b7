"""The task pane's API and pages through Flask, with real Entra-shaped tokens checked against a
JWKS on 127.0.0.1, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from addin_server.config import Settings
from addin_server.enums import TaskStatus
from addin_server.models import Event, Task
from addin_server.runtime import Runtime
from tests.conftest import Actor, FrozenClock, make_actor
from tests.fakes.microsoft import MicrosoftFake
from tests.support.outlook import entra_server, ms_db_settings


@pytest.fixture(scope="module")
def entra() -> Iterator[tuple[MicrosoftFake, str]]:
    yield from entra_server()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, entra: tuple[MicrosoftFake, str]) -> Settings:
    return ms_db_settings(database_url, tmp_path, entra[1])


class Pane:
    """The pane's calls, with a fresh Microsoft token for one rep (as MSAL.js would get)."""

    def __init__(self, client: FlaskClient, fake: MicrosoftFake, clock: FrozenClock) -> None:
        self.client, self.fake, self.clock = client, fake, clock

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.fake.token(self.clock())}"}

    def get(self, path: str) -> Any:
        return self.client.get("/outlook/api" + path, headers=self.headers)

    def post(self, path: str, **kw: Any) -> Any:
        return self.client.post("/outlook/api" + path, headers=self.headers, **kw)


def email_step(day: int, option: str = "manual_task", **kw: Any) -> dict[str, Any]:
    step = {"day": day, "type": "email", "send_option": option,
            "subject": "Intro for {{company}}", "body_html": "<p>Hi {{first_name}},</p>"}
    step.update(kw)
    return step


def campaign(actor: Actor, steps: list[dict[str, Any]], name: str = "Q4") -> int:
    body = {"name": name, "timezone": "Europe/Paris", "steps": steps,
            "settings": {"skip_weekends": False}}
    response = actor.post("/api/v1/campaigns", json=body)
    assert response.status_code == 201, response.json
    cid: int = response.json["id"]
    return cid


def launch(actor: Actor, cid: int, *people: dict[str, Any], **options: Any) -> Any:
    return actor.post(f"/api/v1/campaigns/{cid}/launch",
                      json={"people": list(people), **options})


BOB = {"email": "bob@client.test", "first_name": "Bob", "company": "Client Co"}
CAROL = {"email": "carol@client.test", "first_name": "Carol", "company": "Other"}


@pytest.fixture
def ann(runtime: Runtime, client: FlaskClient) -> Actor:
    return make_actor(runtime, client, "ann@acme.test")


@pytest.fixture
def pane(ann: Actor, client: FlaskClient, entra: tuple[MicrosoftFake, str],
         clock: FrozenClock) -> Pane:
    return Pane(client, entra[0], clock)


def test_tasks_email_first_and_compose(ann: Actor, pane: Pane) -> None:
    calls = campaign(ann, [{"day": 1, "type": "call", "instructions": "Ring them"}], "Calls")
    emails = campaign(ann, [email_step(1)], "Emails")
    assert launch(ann, calls, CAROL).status_code == 201
    assert launch(ann, emails, BOB).status_code == 201
    tasks = pane.get("/tasks?mine=1").json["tasks"]
    assert [(t["type"], t["person"]["email"]) for t in tasks] == [
        ("email", "bob@client.test"), ("call", "carol@client.test")]
    composed = pane.get(f"/tasks/{tasks[0]['id']}/compose").json
    assert composed["to"] == "bob@client.test"
    assert composed["subject"] == "Intro for Client Co"
    assert composed["body_html"] == "<p>Hi Bob,</p>"
    assert composed["reply_to"] is None and composed["reply_body_html"] is None
    assert composed["limits"] == {"subject": 255, "form_body": 32768}
    assert pane.get(f"/tasks/{tasks[1]['id']}/compose").status_code == 409


def test_done_and_skip_change_the_task_once(
    ann: Actor, pane: Pane, runtime: Runtime
) -> None:
    cid = campaign(ann, [email_step(1), {"day": 2, "type": "call"}])
    launch(ann, cid, BOB, CAROL)
    first, second = pane.get("/tasks?mine=1").json["tasks"]
    done = pane.post(f"/tasks/{first['id']}/complete")
    assert (done.status_code, done.json["status"], done.json["changed"]) == \
        (200, "completed", True)
    again = pane.post(f"/tasks/{first['id']}/complete")
    assert (again.json["status"], again.json["changed"]) == ("completed", False)
    skipped = pane.post(f"/tasks/{second['id']}/skip")
    assert (skipped.json["status"], skipped.json["changed"]) == ("skipped", True)
    assert pane.post(f"/tasks/{second['id']}/complete").json["changed"] is False
    with runtime.sessions() as s:
        statuses = dict(s.execute(select(Task.id, Task.status)
                                  .where(Task.id.in_([first["id"], second["id"]]))).all())
        assert statuses == {first["id"]: TaskStatus.COMPLETED,
                            second["id"]: TaskStatus.SKIPPED}
        done_events = s.scalars(select(Event.type).where(
            Event.task_id.in_([first["id"], second["id"]]),
            Event.type.in_(["task_completed", "task_skipped"]))).all()
        assert sorted(done_events) == ["task_completed", "task_skipped"]
    # Each person moved on to the call task of day 2.
    assert [t["type"] for t in pane.get("/tasks?mine=1").json["tasks"]] == ["call", "call"]


def test_foreign_tasks_are_404(
    ann: Actor, pane: Pane, runtime: Runtime, client: FlaskClient
) -> None:
    zed = make_actor(runtime, client, "zed@other.test", org="Other")
    cid = campaign(zed, [email_step(1)])
    launch(zed, cid, BOB)
    task_id = zed.get("/api/v1/tasks").json["tasks"][0]["id"]
    assert pane.get("/tasks?mine=1").json["tasks"] == []
    assert pane.get(f"/tasks/{task_id}/compose").status_code == 404
    assert pane.post(f"/tasks/{task_id}/complete").status_code == 404
    assert zed.get(f"/api/v1/tasks/{task_id}").json["status"] == "open"
    # Zed's person is invisible too.
    assert pane.get("/contacts?email=bob@client.test").json["person"] is None


def test_reply_task_gives_the_body_without_the_quote(
    ann: Actor, pane: Pane, clock: FrozenClock
) -> None:
    follow_up = email_step(2, reply_to_previous=True, subject="",
                           body_html="<p>Following up, {{first_name}}</p>")
    cid = campaign(ann, [email_step(1), follow_up])
    launch(ann, cid, BOB)
    first = pane.get("/tasks?mine=1").json["tasks"][0]
    # The rep sent the first one from Outlook; the Sent Items matcher records it.
    from addin_server.enrollments.sent_items import complete_from_sent
    from addin_server.mailboxes.port import SentItem
    from addin_server.models import Mailbox
    from tests.conftest import load_rep

    runtime: Runtime = pane.client.application.extensions["addin"]
    with runtime.sessions.begin() as s:
        rep = load_rep(s, ann)
        box = s.scalar(select(Mailbox).where(Mailbox.rep_id == rep.id))
        assert box is not None
        sent = SentItem(message_id="AAMk-1", to=("bob@client.test",),
                        subject="Intro for Client Co", sent_at=clock(),
                        thread_id="conv-1", rfc_message_id="<m1@outlook.test>",
                        body_html="<p>Hi Bob,</p>")
        matches = complete_from_sent(s, rep, box, [sent], clock(),
                                     base_url="https://campaigns.example.test",
                                     secret_key="test-secret")
        assert [m.task_id for m in matches] == [first["id"]]
    clock.advance(days=1)
    second = pane.get("/tasks?mine=1").json["tasks"][0]
    assert second["position"] == 1
    composed = pane.get(f"/tasks/{second['id']}/compose").json
    assert composed["subject"] == "Re: Intro for Client Co"
    assert composed["reply_to"]["message_id"] == "<m1@outlook.test>"
    assert composed["reply_to"]["thread_id"] == "conv-1"
    assert composed["reply_body_html"] == "<p>Following up, Bob</p>"
    assert composed["body_html"].startswith("<p>Following up, Bob</p>")
    assert "<blockquote" in composed["body_html"]


def test_sender_status_campaigns_and_add_to_campaign(ann: Actor, pane: Pane) -> None:
    manual = campaign(ann, [email_step(1)], "Manual")
    chosen = campaign(ann, [email_step(1, "choose_at_launch")], "Chosen time")
    timed = campaign(ann, [email_step(1, "fixed_time", send_time="09:30")], "Fixed")
    launch(ann, manual, BOB)
    offered = pane.get("/campaigns").json["campaigns"]
    assert [(c["name"], c["first_send_at"]) for c in offered] == [
        ("Manual", "none"), ("Chosen time", "required"), ("Fixed", "optional")]
    status = pane.get("/contacts?email=BOB@client.test").json
    assert status["person"]["first_name"] == "Bob"
    assert [(e["campaign_name"], e["status"]) for e in status["enrollments"]] == [
        ("Manual", "active")]
    assert status["enrollments"][0]["steps"][0]["reason"].startswith("waiting for you")
    # A campaign whose first email is timed at launch refuses a launch without the time.
    refused = pane.post(f"/campaigns/{chosen}/launch", json={"people": [BOB]})
    assert refused.status_code == 422
    assert refused.json["errors"][0]["field"] == "first_send_at"
    added = pane.post(f"/campaigns/{chosen}/launch",
                      json={"people": [BOB], "first_send_at": "2026-11-25T09:00:00Z"})
    assert added.status_code == 201, added.json
    assert [e["email"] for e in added.json["enrollments"]] == ["bob@client.test"]
    twice = pane.post(f"/campaigns/{manual}/launch", json={"people": [BOB]}).json
    assert twice["skipped"] == [{"email": "bob@client.test",
                                 "reason": "already active in this campaign"}]
    names = [e["campaign_name"] for e in pane.get("/contacts?email=bob@client.test")
             .json["enrollments"]]
    assert names == ["Chosen time", "Manual"]
    assert pane.post(f"/campaigns/{timed}/launch", json={"people": [CAROL]}).status_code == 201


def test_sync_sent_without_a_microsoft_mailbox_completes_nothing(ann: Actor, pane: Pane) -> None:
    launch(ann, campaign(ann, [email_step(1)]), BOB)
    assert pane.post("/sync-sent").json == {"completed": []}
    assert [t["status"] for t in pane.get("/tasks?mine=1").json["tasks"]] == ["open"]


def test_contact_status_needs_a_valid_address(pane: Pane) -> None:
    response = pane.get("/contacts?email=not-an-address")
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == "email"
    unknown = pane.get("/contacts?email=new@client.test").json
    assert unknown == {"email": "new@client.test", "person": None, "enrollments": []}


def test_pages_can_be_framed_by_outlook(client: FlaskClient) -> None:
    page = client.get("/outlook/taskpane.html")
    assert page.status_code == 200
    assert b"office.js" in page.data
    assert "X-Frame-Options" not in page.headers
    csp = page.headers["Content-Security-Policy"]
    assert "; frame-ancestors 'self' https://outlook.office.com" in csp
    assert "script-src 'self' https://appsforoffice.microsoft.com;" in csp
    assert "unsafe-inline" not in csp
    for origin in ("https://outlook.office.com", "https://outlook.office365.com",
                   "https://outlook.cloud.microsoft"):
        assert origin in csp
    icon = client.get("/outlook/static/icons/icon-80.png")
    assert icon.status_code == 200 and icon.mimetype == "image/png"
    assert "max-age=86400" in icon.headers["Cache-Control"]
    assert "no-store" not in icon.headers["Cache-Control"]
    assert client.get("/outlook/static/vendor/msal-browser.min.js").status_code == 200
    assert client.get("/outlook/static/../addin_server/config.py").status_code == 404
    assert client.get("/outlook/auth-dialog.html").status_code == 200


def test_config_is_public_and_dev_tokens_are_off(client: FlaskClient) -> None:
    config = client.get("/outlook/api/config").json
    assert config["scopes"] == ["api://6e1f4a52-93c3-4c7d-9d0a-3b3f2f1e0c11/access_as_user"]
    assert config["dev_mode"] is False
    assert config["dialog_url"] == "https://campaigns.example.test/outlook/auth-dialog.html"
    response = client.post("/outlook/api/dev/token", json={"email": "ann@acme.test"})
    assert response.status_code == 404


def test_the_pane_links_a_rep_only_by_a_verified_address(
    ann: Actor, client: FlaskClient, entra: tuple[MicrosoftFake, str], clock: FrozenClock,
    runtime: Runtime
) -> None:
    from addin_server.models import Rep

    fake = entra[0]

    def me(**claims: Any) -> int:
        headers = {"Authorization": f"Bearer {fake.token(clock(), **claims)}"}
        return int(client.get("/outlook/api/tasks?mine=1", headers=headers).status_code)

    assert me(xms_edov=None) == 403  # no verified email domain: not linked
    assert me(xms_edov=False) == 403
    with runtime.sessions() as s:
        assert s.get(Rep, ann.rep_id).ms_oid is None
    assert me() == 200  # xms_edov true: linked by oid + tid
    # Another account of the tenant naming ann's address cannot take over the link.
    assert me(oid="00000000-0000-0000-0000-0000000000b2") == 403
    with runtime.sessions() as s:
        assert s.get(Rep, ann.rep_id).ms_oid == "00000000-0000-0000-0000-0000000000a1"


def test_another_reps_person_is_invisible_in_the_pane(
    ann: Actor, pane: Pane, runtime: Runtime, client: FlaskClient
) -> None:
    bob = make_actor(runtime, client, "bob@acme.test")  # same organisation, another rep
    launch(bob, campaign(bob, [email_step(1)]), BOB)
    assert pane.get("/contacts?email=bob@client.test").json["person"] is None
