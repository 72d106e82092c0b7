"""The Gmail add-on endpoints end to end: Google-signed requests (keys made here, certificates
served on 127.0.0.1), the real database, the real Gmail client library against a fake Gmail
server; every response checked against Google's card schemas and the envelope rules."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from addin_server.config import Settings
from addin_server.enrollments.sent_items import (
    complete_from_sent,
    oldest_open_email_task,
    sync_all,
)
from addin_server.enums import MailboxProvider, MailboxStatus, TaskStatus
from addin_server.mailboxes.gmail import GmailMailbox, gmail_service
from addin_server.models import Mailbox, Rep, SentMessage, Task
from addin_server.runtime import Runtime
from gmail_addon.endpoints import Endpoints
from tests.api.test_task_sends import scheduled
from tests.conftest import Actor, make_actor
from tests.fakes.google import GoogleFake, SigningKey, make_signing_key, sign
from tests.support import gmail_schema
from tests.support.gmail_addon import (
    CLIENT_ID,
    SERVICE_ACCOUNT,
    GmailView,
    datetime_input,
    event,
    string_input,
    system_claims,
    user_claims,
)

BASE = "https://campaigns.example.test"
E = Endpoints(BASE)
TRIGGERS = {"homepage", "contextual", "compose"}


@pytest.fixture(scope="session")
def google_key() -> SigningKey:
    return make_signing_key("k1")


@pytest.fixture(scope="session")
def stranger_key() -> SigningKey:
    return make_signing_key("k1")  # same key id, not Google's key: a forged signature


@pytest.fixture
def certs(google_fake: GoogleFake, google_key: SigningKey) -> tuple[GoogleFake, str]:
    """Google's certificate endpoint (the Google fake's), publishing `google_key`."""
    google_fake.signing_keys = [google_key]
    return google_fake, google_fake.certs_url


@pytest.fixture
def fake_gmail(google_fake: GoogleFake) -> tuple[GmailView, str]:
    """The rep's Gmail (in the same Google fake) and the Gmail API endpoint."""
    return GmailView(google_fake, "ann@acme.test"), google_fake.api_endpoint


@pytest.fixture
def settings(settings: Settings, certs: tuple[GoogleFake, str],
             fake_gmail: tuple[GmailView, str]) -> Settings:
    return settings.with_(gmail_addon_service_account=SERVICE_ACCOUNT,
                          gmail_addon_oauth_client_id=CLIENT_ID, google_certs_url=certs[1],
                          gmail_api_endpoint=fake_gmail[1])


class Addon:
    """Posts events the way Google does, and validates every answer."""

    def __init__(self, client: FlaskClient, key: SigningKey, email: str) -> None:
        self.client = client
        self.key = key
        self.email = email

    def user_token(self, **overrides: Any) -> str:
        return sign(self.key, user_claims(self.email, **overrides))

    def raw(self, name: str, body: dict[str, Any], token: str | None = "default") -> Any:
        url = E.url(name)
        if token == "default":
            token = sign(self.key, system_claims(url))
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return self.client.post(url.removeprefix(BASE), json=body, headers=headers)

    def post(self, name: str, sample: str, **changes: Any) -> dict[str, Any]:
        changes.setdefault("user_token", self.user_token())
        body = event(sample, **changes)
        gmail_schema.validate_event(body)
        response = self.raw(name, body)
        assert response.status_code == 200, response.data
        data: dict[str, Any] = response.json
        if "requesting_google_scopes" in data:
            kind = "ScopeRequest"
        else:
            kind = "TriggerResponse" if name in TRIGGERS else "CallbackResponse"
        gmail_schema.validate(data, kind, E.all())
        return data


@pytest.fixture
def addon(client: FlaskClient, google_key: SigningKey, rep: Actor) -> Addon:
    return Addon(client, google_key, rep.email)


def card_of(response: dict[str, Any]) -> dict[str, Any]:
    nav = (response.get("renderActions") or response)["action"]["navigations"][0]
    card: dict[str, Any] = nav.get("pushCard") or nav["updateCard"]
    return card


def texts(card: dict[str, Any]) -> str:
    """Everything a rep can read on the card, in order."""
    out = []
    for section in card["sections"]:
        out.append(section.get("header", ""))
        for w in section["widgets"]:
            d = w.get("decoratedText") or {}
            out += [d.get("topLabel", ""), d.get("text", ""), d.get("bottomLabel", "")]
            out.append((w.get("textParagraph") or {}).get("text", ""))
            for b in (w.get("buttonList") or {}).get("buttons", []):
                out.append(f"[{b['text']}]")
            if "button" in d:
                out.append(f"[{d['button']['text']}]")
    return "\n".join(t for t in out if t)


def buttons_for(card: dict[str, Any], label: str) -> list[dict[str, str]]:
    """The parameters of every button with this label."""
    found = []
    for section in card["sections"]:
        for w in section["widgets"]:
            candidates = list((w.get("buttonList") or {}).get("buttons", []))
            if "button" in (w.get("decoratedText") or {}):
                candidates.append(w["decoratedText"]["button"])
            for b in candidates:
                if b["text"] == label:
                    act = b["onClick"]["action"]
                    found.append({p["key"]: p["value"] for p in act["parameters"]})
    return found


def notification(response: dict[str, Any]) -> str:
    text: str = response["renderActions"]["action"]["notification"]["text"]
    return text


# --- data -----------------------------------------------------------------------------------


def email_task_campaign(rep: Actor, name: str = "Q4 outreach") -> int:
    steps = [
        {"day": 1, "type": "email", "send_option": "manual_task",
         "subject": "Hello {{first_name}}", "body_html": "<p>Hi {{first_name}}, about {{company}}"
                                                          ".</p>"},
        {"day": 2, "type": "email", "send_option": "manual_task", "reply_to_previous": True,
         "subject": "", "body_html": "<p>Following up, {{first_name}}.</p>"},
        {"day": 3, "type": "call", "instructions": "Call them"},
    ]
    r = rep.post("/api/v1/campaigns", json={"name": name, "timezone": "Europe/Paris",
                                             "steps": steps})
    assert r.status_code == 201, r.json
    return int(r.json["id"])


def launch(rep: Actor, campaign_id: int, *people: dict[str, Any], **options: Any) -> Any:
    r = rep.post(f"/api/v1/campaigns/{campaign_id}/launch",
                 json={"people": list(people), **options})
    assert r.status_code == 201, r.json
    return r.json


JANE = {"email": "jane@client.test", "first_name": "Jane", "last_name": "Doe",
        "company": "Client Co"}


def open_task(runtime: Runtime, email: str = "jane@client.test") -> Task:
    from addin_server.models import Enrollment, Person

    with runtime.sessions() as s:
        task = s.scalar(select(Task).join(Enrollment, Enrollment.id == Task.enrollment_id)
                        .join(Person, Person.id == Enrollment.person_id)
                        .where(Person.email == email, Task.status == TaskStatus.OPEN))
        assert task is not None
        return task


# --- verification -----------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["wrong_audience", "expired", "wrong_issuer",
                                  "wrong_service_account", "unverified_email", "tampered",
                                  "forged_key", "missing", "not_bearer", "query_not_in_aud"])
def test_requests_not_signed_for_us_are_refused(
    addon: Addon, stranger_key: SigningKey, google_key: SigningKey, case: str
) -> None:
    url = E.url("homepage")
    claims = {
        "wrong_audience": system_claims(BASE + "/gmail/contextual"),
        "expired": system_claims(url, iat=1_700_000_000, exp=1_700_003_600),
        "wrong_issuer": system_claims(url, iss="https://evil.example"),
        "wrong_service_account": system_claims(
            url, email="service-999@gcp-sa-gsuiteaddons.iam.gserviceaccount.com"),
        "unverified_email": system_claims(url, email_verified=False),
    }.get(case, system_claims(url))
    token: str | None = sign(google_key, claims)
    path = "/gmail/homepage"
    headers: dict[str, str] = {}
    if case == "tampered":
        assert token is not None
        head, body, sig = token.split(".")
        payload = base64.urlsafe_b64decode(body + "==").replace(
            SERVICE_ACCOUNT.encode(), SERVICE_ACCOUNT.replace("1", "2").encode())
        token = ".".join([head, base64.urlsafe_b64encode(payload).decode().rstrip("="), sig])
    if case == "forged_key":
        token = sign(stranger_key, claims)
    if case == "missing":
        token = None
    if case == "query_not_in_aud":
        path += "?x=1"  # the audience is the whole URL Google called, query included
    if token is not None:
        headers["Authorization"] = ("Basic " if case == "not_bearer" else "Bearer ") + token
    body = event("homepage", user_token=addon.user_token())
    response = addon.client.post(path, json=body, headers=headers)
    assert response.status_code == 401
    assert response.json["errors"][0]["field"] == "Authorization"


def test_the_audience_is_the_configured_addon_base(
    settings: Settings, clock: Any, google_key: SigningKey
) -> None:
    from addin_server import create_app

    rt = Runtime.from_settings(settings.with_(gmail_addon_audience="https://addon.example.test/"),
                               clock=clock)
    try:
        client = create_app(runtime=rt).test_client()
        body = event("homepage", user_token=sign(google_key, user_claims("x@y.test")))
        for aud, status in (("https://addon.example.test/gmail/homepage", 200),
                            (BASE + "/gmail/homepage", 401),  # the public base: not this add-on
                            ("http://addon.example.test/gmail/homepage", 401)):
            token = sign(google_key, system_claims(aud))
            response = client.post("/gmail/homepage", json=body,
                                   headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == status, aud
    finally:
        rt.engine.dispose()


def test_a_valid_request_is_answered_and_certificates_are_cached(
    addon: Addon, certs: tuple[GoogleFake, str]
) -> None:
    before = certs[0].calls.count("certs")
    for _ in range(3):
        data = addon.post("homepage", "homepage")
        assert card_of(data)["header"]["title"] == "Your tasks"
    # three requests, two tokens each (system + user): one certificate fetch at most
    assert certs[0].calls.count("certs") - before <= 1


def test_unknown_google_user_gets_the_connect_card(client: FlaskClient,
                                                   google_key: SigningKey) -> None:
    stranger = Addon(client, google_key, "nobody@else.test")
    card = card_of(stranger.post("homepage", "homepage"))
    assert card["header"]["title"] == "Connect your account"
    assert "<b>nobody@else.test</b> is not a rep of ours yet." in texts(card)
    # The web app has no "Settings" menu: the card names its Mailboxes page and opens it.
    assert "Settings" not in texts(card) and "<b>Mailboxes</b> page" in texts(card)
    (link,) = [b for sec in card["sections"] for wd in sec["widgets"]
               for b in wd.get("buttonList", {}).get("buttons", [])]
    assert link["text"] == "Open Mailboxes"
    assert link["onClick"]["openLink"]["url"].endswith("/mailboxes")


def test_user_token_for_another_client_is_not_a_rep(addon: Addon) -> None:
    token = addon.user_token(aud="someone-elses-client.apps.googleusercontent.com")
    card = card_of(addon.post("homepage", "homepage", user_token=token))
    assert card["header"]["title"] == "Connect your account"


def test_rep_with_disconnected_mailbox_is_told_to_reconnect(addon: Addon,
                                                            runtime: Runtime) -> None:
    with runtime.sessions.begin() as s:
        for box in s.scalars(select(Mailbox)):
            box.status = MailboxStatus.DISCONNECTED
    card = card_of(addon.post("homepage", "homepage"))
    assert card["header"]["title"] == "Connect your account"
    assert "the mailbox ann@acme.test is disconnected" in texts(card)


def test_google_subject_is_bound_and_a_different_account_with_that_address_is_refused(
    addon: Addon, runtime: Runtime
) -> None:
    addon.post("homepage", "homepage")
    with runtime.sessions() as s:
        rep = s.scalar(select(Rep).where(Rep.email == "ann@acme.test"))
        assert rep is not None and rep.google_sub == "user-sub-1"
    other = addon.user_token(sub="user-sub-2")
    card = card_of(addon.post("homepage", "homepage", user_token=other))
    assert card["header"]["title"] == "Connect your account"


def test_a_rep_outside_the_organisations_domains_is_not_linked(
    client: FlaskClient, google_key: SigningKey, rep: Actor, runtime: Runtime
) -> None:
    from tests.conftest import make_actor

    make_actor(runtime, client, "cat@gmail.test")  # in Acme, whose domain is acme.test
    cat = Addon(client, google_key, "cat@gmail.test")
    card = card_of(cat.post("homepage", "homepage", user_token=cat.user_token(sub="g-cat")))
    assert card["header"]["title"] == "Connect your account"
    with runtime.sessions() as s:
        assert s.scalar(select(Rep.google_sub).where(Rep.email == "cat@gmail.test")) is None


# --- homepage, done, skip ----------------------------------------------------------------------


def test_homepage_lists_email_tasks_first_with_write_done_skip(
    addon: Addon, rep: Actor, runtime: Runtime, clock: Any
) -> None:
    cid = email_task_campaign(rep)
    calls = rep.post("/api/v1/campaigns", json={
        "name": "Calls", "timezone": "Europe/Paris",
        "steps": [{"day": 1, "type": "call", "instructions": "Ring"}]}).json["id"]
    launch(rep, calls, {"email": "bob@client.test", "first_name": "Bob"})
    launch(rep, cid, JANE)
    card = card_of(addon.post("homepage", "homepage"))
    assert card["header"]["subtitle"] == "2 open tasks"
    assert [s["header"] for s in card["sections"]] == ["Email tasks · today",
                                                        "Other tasks · today"]
    assert texts(card) == "\n".join([
        "Email tasks · today",
        "Send email (step 1, day 1) · due today",
        "Jane Doe &lt;jane@client.test&gt;",
        "Q4 outreach · Client Co",
        "[Write]", "[Done]", "[Skip]",
        "Other tasks · today",
        "Call (step 1, day 1) · due today",
        "Bob &lt;bob@client.test&gt;",
        "Calls",
        "[Done]", "[Skip]",
    ])
    # a day later Jane's task is overdue
    clock.advance(days=1)
    card = card_of(addon.post("homepage", "homepage"))
    assert card["sections"][0]["header"] == "Email tasks · overdue"
    assert "overdue since Tue, 24 Nov" in texts(card)


def test_done_updates_once_and_refreshes_the_card(addon: Addon, rep: Actor,
                                                  runtime: Runtime) -> None:
    launch(rep, email_task_campaign(rep), JANE)
    task = open_task(runtime)
    params = {"task_id": str(task.id), "view": "home", "page": "0"}
    first = addon.post("done", "button_click", params=params)
    assert notification(first) == "Task done."
    card = card_of(first)
    # step 2 (the reply) is a task now, due tomorrow
    assert "Send email (step 2, day 2) · due tomorrow (Wed, 25 Nov)" in texts(card)
    second = addon.post("done", "button_click", params=params)
    assert notification(second) == "This task is already done."
    with runtime.sessions() as s:
        done = s.get(Task, task.id)
        assert done is not None and done.status == TaskStatus.COMPLETED
        assert len(list(s.scalars(select(Task)))) == 2  # not advanced twice


def test_done_on_a_call_asks_how_it_went_and_keeps_the_outcome_and_note(
        addon: Addon, rep: Actor, runtime: Runtime) -> None:
    calls = rep.post("/api/v1/campaigns", json={
        "name": "Calls", "timezone": "Europe/Paris",
        "steps": [{"day": 1, "type": "call", "instructions": "Ring"}]}).json["id"]
    launch(rep, calls, {"email": "bob@client.test", "first_name": "Bob"})
    task = open_task(runtime, "bob@client.test")
    params = {"task_id": str(task.id), "view": "home", "page": "0"}
    asked = card_of(addon.post("done", "button_click", params=params))
    assert asked["header"]["title"] == "How did the call go?"
    [outcome] = [w["selectionInput"] for s in asked["sections"] for w in s["widgets"]
                 if "selectionInput" in w]
    assert [i["value"] for i in outcome["items"]] == [
        "connected", "left_voicemail", "no_answer", "wrong_number", "busy"]
    with runtime.sessions() as s:
        still = s.get(Task, task.id)
        assert still is not None and still.status == TaskStatus.OPEN
    saved = addon.post("done", "button_click", params=params, form={
        "outcome": string_input("no_answer"), "note": string_input("Try after 4pm")})
    assert notification(saved) == "Task done."
    with runtime.sessions() as s:
        done = s.get(Task, task.id)
        assert done is not None and done.status == TaskStatus.COMPLETED
        assert (done.call_outcome, done.note) == ("no_answer", "Try after 4pm")


def test_skip_and_a_cancelled_task_are_explained(addon: Addon, rep: Actor,
                                                 runtime: Runtime) -> None:
    launch(rep, email_task_campaign(rep), JANE)
    task = open_task(runtime)
    params = {"task_id": str(task.id), "view": "home", "page": "0"}
    assert notification(addon.post("skip", "button_click", params=params)) == "Task skipped."
    nxt = open_task(runtime)
    enrollment_id = nxt.enrollment_id
    rep.post(f"/api/v1/enrollments/{enrollment_id}/stop")
    gone = addon.post("skip", "button_click", params={**params, "task_id": str(nxt.id)})
    assert notification(gone) == "This task no longer exists: the person left the campaign."
    assert "No open tasks" in texts(card_of(gone))


def test_another_reps_task_is_not_found(addon: Addon, rep: Actor, runtime: Runtime,
                                        client: FlaskClient) -> None:
    other = make_actor(runtime, client, "zed@other.test", org="Other")
    launch(other, email_task_campaign(other), JANE)
    task = open_task(runtime)
    for name in ("done", "skip", "write"):
        data = addon.post(name, "button_click",
                          params={"task_id": str(task.id), "view": "home", "page": "0"})
        assert "not found" in notification(data)
    with runtime.sessions() as s:
        still = s.get(Task, task.id)
        assert still is not None and still.status == TaskStatus.OPEN and still.draft_id is None


def test_homepage_paginates_200_tasks_under_the_widget_limit(
    addon: Addon, rep: Actor, runtime: Runtime
) -> None:
    cid = email_task_campaign(rep)
    launch(rep, cid, *[{"email": f"p{i:03d}@client.test", "first_name": f"P{i:03d}"}
                       for i in range(200)])
    data = addon.post("homepage", "homepage")
    card = card_of(data)
    assert card["header"]["subtitle"] == "200 open tasks · page 1 of 10"
    seen = []
    page = 0
    while True:
        seen += [p["task_id"] for p in buttons_for(card, "Done")]
        nxt = buttons_for(card, "Next")
        if not nxt:
            break
        page += 1
        assert nxt == [{"page": str(page)}]
        card = card_of(addon.post("page", "button_click", params=nxt[0]))
    assert page == 9
    assert len(seen) == len(set(seen)) == 200
    assert buttons_for(card, "Previous") == [{"page": "8"}]


# --- Write ------------------------------------------------------------------------------------


def test_write_creates_the_draft_in_gmail_and_opens_it(
    addon: Addon, rep: Actor, runtime: Runtime, fake_gmail: tuple[GmailView, str]
) -> None:
    fake = fake_gmail[0]
    launch(rep, email_task_campaign(rep), JANE)
    task = open_task(runtime)
    data = addon.post("write", "button_click",
                      params={"task_id": str(task.id), "view": "home", "page": "0"},
                      gmail={"accessToken": "per-message-token",
                             "messageId": "msg-f:1787654321012345678"})
    markup = data["renderActions"]["hostAppAction"]["gmailAction"][
        "openCreatedDraftActionMarkup"]
    (draft_id,) = fake.drafts
    assert markup == {"draftId": draft_id, "draftThreadId": fake.drafts[draft_id]["threadId"]}
    call = fake.requests[-1]
    assert (call["method"], call["path"]) == ("POST", "/gmail/v1/users/me/drafts")
    assert call["headers"]["Authorization"] == "Bearer ya29.sample-user-token"
    assert call["headers"]["X-Goog-Gmail-Access-Token"] == "per-message-token"
    mime = fake.draft_mime(draft_id)
    assert mime["To"] == "jane@client.test"
    assert mime["From"] == "Ann <ann@acme.test>"
    assert mime["Subject"] == "Hello Jane"
    assert mime["X-Campaign-Send-Id"] == f"task-{task.id}"
    assert mime["In-Reply-To"] is None
    html = mime.get_body(("html",))
    plain = mime.get_body(("plain",))
    assert html is not None and plain is not None
    assert html.get_content().strip() == "<p>Hi Jane, about Client Co.</p>"
    assert plain.get_content().strip() == "Hi Jane, about Client Co."
    with runtime.sessions() as s:
        stored = s.get(Task, task.id)
        assert stored is not None
        assert stored.draft_id == draft_id
        assert stored.draft_thread_id == fake.drafts[draft_id]["threadId"]
        assert stored.status == TaskStatus.OPEN  # done only when the rep sends it
    card = card_of(addon.post("homepage", "homepage"))
    assert buttons_for(card, "Write again") == [
        {"task_id": str(task.id), "view": "home", "page": "0"}]


@pytest.mark.parametrize(("status", "body", "expected"), [
    (403, {"error": {"code": 403, "message": "Request had insufficient authentication scopes.",
                     "errors": [{"reason": "insufficientPermissions"}],
                     "status": "PERMISSION_DENIED"}}, "scopes"),
    (500, {"error": {"code": 500, "message": "backend error"}},
     "Gmail is busy right now. Please try again in a minute."),
    (401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}},
     "Your Gmail session expired. Close and reopen the add-on."),
])
def test_a_failed_gmail_call_is_explained(
    addon: Addon, rep: Actor, runtime: Runtime, fake_gmail: tuple[GmailView, str],
    status: int, body: dict[str, Any], expected: str
) -> None:
    fake = fake_gmail[0]
    launch(rep, email_task_campaign(rep), JANE)
    task = open_task(runtime)
    fake.fail_next(status, body)
    data = addon.post("write", "button_click", params={"task_id": str(task.id)},
                      gmail={"accessToken": "per-message-token"})
    if expected == "scopes":
        assert data == {"requesting_google_scopes": {"scopes": [
            "https://www.googleapis.com/auth/gmail.addons.current.action.compose"]}}
    else:
        assert notification(data) == expected
    assert not fake.drafts
    with runtime.sessions() as s:
        stored = s.get(Task, task.id)
        assert stored is not None and stored.draft_id is None


def test_write_asks_for_the_compose_scope_when_not_granted(
    addon: Addon, rep: Actor, runtime: Runtime, fake_gmail: tuple[GmailView, str]
) -> None:
    launch(rep, email_task_campaign(rep), JANE)
    task = open_task(runtime)
    data = addon.post("write", "button_click", params={"task_id": str(task.id)},
                      gmail={"accessToken": "per-message-token"},
                      scopes=["https://www.googleapis.com/auth/gmail.addons.execute"])
    assert data["requesting_google_scopes"]["scopes"] == [
        "https://www.googleapis.com/auth/gmail.addons.current.action.compose"]
    assert fake_gmail[0].requests == []


def test_write_on_a_closed_task_says_so(addon: Addon, rep: Actor, runtime: Runtime) -> None:
    launch(rep, email_task_campaign(rep), JANE)
    task = open_task(runtime)
    addon.post("skip", "button_click", params={"task_id": str(task.id)})
    data = addon.post("write", "button_click", params={"task_id": str(task.id)},
                      gmail={"accessToken": "per-message-token"})
    assert notification(data) == "This task was skipped already."


def test_write_without_a_message_token_uses_the_reps_connected_mailbox(
    addon: Addon, rep: Actor, runtime: Runtime, fake_gmail: tuple[GmailView, str]
) -> None:
    from email import message_from_bytes, policy

    from addin_server.models import LocalMessage

    launch(rep, email_task_campaign(rep), JANE)
    task = open_task(runtime)
    # a homepage click: no gmail.accessToken. The rep's mailbox here is the local one.
    data = addon.post("write", "button_click", params={"task_id": str(task.id)})
    markup = data["renderActions"]["hostAppAction"]["gmailAction"][
        "openCreatedDraftActionMarkup"]
    assert fake_gmail[0].requests == []  # not the event's tokens
    with runtime.sessions() as s:
        (draft,) = s.scalars(select(LocalMessage)).all()
        assert draft.is_draft
        assert markup == {"draftId": str(draft.id), "draftThreadId": draft.thread_id}
        mime = message_from_bytes(draft.raw, policy=policy.default)
        assert (mime["To"], mime["Subject"]) == ("jane@client.test", "Hello Jane")
        stored = s.get(Task, task.id)
        assert stored is not None and stored.draft_id == str(draft.id)


def test_write_without_a_message_token_or_a_connected_mailbox_is_explained(
    addon: Addon, rep: Actor, runtime: Runtime
) -> None:
    launch(rep, email_task_campaign(rep), JANE)
    task = open_task(runtime)
    with runtime.sessions.begin() as s:
        s.add(Mailbox(rep_id=rep.rep_id, provider=MailboxProvider.GMAIL,
                      address="ann@acme.test", status=MailboxStatus.CONNECTED,
                      created_at=runtime.now(), updated_at=runtime.now()))
    # a Gmail mailbox row whose grant is missing: the adapter refuses, the rep reads why
    data = addon.post("write", "button_click", params={"task_id": str(task.id)})
    assert notification(data) == (
        "Your mailbox connection has expired: reconnect it in the web app.")


def _gmail_mailbox(runtime: Runtime) -> int:
    """The rep's mailbox is their Gmail one (threads in it mean something)."""
    with runtime.sessions.begin() as s:
        box = s.scalar(select(Mailbox))
        assert box is not None
        box.provider = MailboxProvider.GMAIL
        return box.id


def _sync(runtime: Runtime, fake_url: str, mailbox_id: int, read_bodies: bool = False
          ) -> list[int]:
    """What the sync job does for one rep, with a Gmail service on the fake."""
    mailbox = GmailMailbox(gmail_service(fake_url, "mailbox-token"), "ann@acme.test")
    with runtime.sessions() as s:
        rep_id = s.scalar(select(Rep.id).where(Rep.email == "ann@acme.test"))
        assert rep_id is not None
        since = oldest_open_email_task(s, rep_id)
    if since is None:
        return []
    sent = mailbox.sent_items(since, with_bodies=read_bodies)
    with runtime.sessions.begin() as s:
        rep = s.get(Rep, rep_id)
        box = s.get(Mailbox, mailbox_id)
        assert rep is not None and box is not None
        matches = complete_from_sent(s, rep, box, sent, runtime.now(), base_url=BASE,
                                     secret_key="test-secret")
        return [m.task_id for m in matches]


@pytest.mark.parametrize("read_bodies", [False, True])
def test_sending_the_draft_completes_the_task_and_the_reply_step_threads_on_it(
    addon: Addon, rep: Actor, runtime: Runtime, fake_gmail: tuple[GmailView, str], clock: Any,
    read_bodies: bool
) -> None:
    fake, url = fake_gmail
    mailbox_id = _gmail_mailbox(runtime)
    launch(rep, email_task_campaign(rep), JANE)
    first = open_task(runtime)
    addon.post("write", "button_click", params={"task_id": str(first.id)},
               gmail={"accessToken": "per-message-token"})
    (draft_id,) = fake.drafts
    thread = fake.drafts[draft_id]["threadId"]
    assert _sync(runtime, url, mailbox_id) == []  # not sent yet
    # The rep sends the draft from Gmail: it shows in Sent, in the draft's thread, with the
    # Message-ID Gmail gave it (Gmail's UI does not keep our X- header).
    # The rep also edited the subject and the body before sending: the draft's thread says it
    # is the task's email.
    clock.advance(minutes=20)
    draft = fake.draft_mime(draft_id)
    mime = EmailMessage()
    for name in ("From", "To"):
        mime[name] = draft[name]
    mime["Subject"] = "Hello Jane, a question"
    mime["Message-ID"] = "<CAGmail-sent-1@mail.gmail.com>"
    mime.set_content("Hi Jane, edited.")
    mime.add_alternative("<p>Hi Jane, edited.</p>", subtype="html")
    sent_id = fake.add_message(mime.as_bytes(), thread_id=thread, labels=("SENT",),
                               internal_ms=int(clock.at.timestamp() * 1000))
    clock.advance(minutes=5)
    assert _sync(runtime, url, mailbox_id, read_bodies) == [first.id]
    assert _sync(runtime, url, mailbox_id, read_bodies) == []  # once
    # with the connected grant (gmail.metadata) bodies cannot be read: the composed one is kept
    quoted = "<p>Hi Jane, edited.</p>" if read_bodies else "<p>Hi Jane, about Client Co.</p>"
    with runtime.sessions() as s:
        done = s.get(Task, first.id)
        assert done is not None and done.status == TaskStatus.COMPLETED
        recorded = s.scalar(select(SentMessage))
        assert recorded is not None
        assert (recorded.provider_message_id, recorded.thread_id, recorded.rfc_message_id,
                recorded.to_addr, recorded.subject) == (
            sent_id, thread, "<CAGmail-sent-1@mail.gmail.com>", "jane@client.test",
            "Hello Jane, a question")
        assert recorded.body_html.strip() == quoted
    # Step 2 is a reply: its draft goes into the same thread with the threading headers.
    second = open_task(runtime)
    assert second.position == 1
    data = addon.post("write", "button_click", params={"task_id": str(second.id)},
                      gmail={"accessToken": "per-message-token"})
    reply_id = data["renderActions"]["hostAppAction"]["gmailAction"][
        "openCreatedDraftActionMarkup"]["draftId"]
    assert fake.drafts[reply_id]["threadId"] == thread
    assert json.loads(fake.requests[-1]["body"])["message"]["threadId"] == thread
    reply = fake.draft_mime(reply_id)
    assert reply["Subject"] == "Re: Hello Jane, a question"  # what Jane received
    assert reply["In-Reply-To"] == "<CAGmail-sent-1@mail.gmail.com>"
    assert reply["References"] == "<CAGmail-sent-1@mail.gmail.com>"
    html = reply.get_body(("html",))
    assert html is not None
    body = html.get_content()
    assert body.startswith("<p>Following up, Jane.</p>")
    assert quoted in body  # the sent email, quoted


# --- the open message -------------------------------------------------------------------------


def _incoming(fake: GmailView, sender: str, to: str = "Ann <ann@acme.test>",
              cc: str = "") -> str:
    raw = (f"From: {sender}\r\nTo: {to}\r\n" + (f"Cc: {cc}\r\n" if cc else "")
           + "Subject: question\r\nMessage-ID: <in-1@client.test>\r\n\r\nHello\r\n")
    return fake.add_message(raw.encode())


def _as_event_id(hex_id: str) -> str:
    return f"msg-f:{int(hex_id, 16)}"


def test_contextual_card_shows_our_people_their_steps_and_why(
    addon: Addon, rep: Actor, runtime: Runtime, fake_gmail: tuple[GmailView, str]
) -> None:
    fake = fake_gmail[0]
    launch(rep, email_task_campaign(rep), JANE)
    mid = _incoming(fake, "Jane Doe <Jane@Client.test>", cc="Stranger <s@nowhere.test>")
    data = addon.post("contextual", "contextual",
                      gmail={"messageId": _as_event_id(mid), "threadId": _as_event_id(mid)})
    call = fake.requests[-1]
    assert call["path"] == f"/gmail/v1/users/me/messages/{mid}"  # msg-f: decimal -> hex
    assert call["args"]["format"] == ["metadata"]
    assert call["headers"]["X-Goog-Gmail-Access-Token"] == "sample-per-message-token"
    card = card_of(data)
    text = texts(card)
    assert "Jane Doe &lt;jane@client.test&gt;" in text
    assert ("<b>Q4 outreach</b> · active<br>"
            "○ 1. Day 1 email · open: waiting for you: email task due Tue, 24 Nov 2026<br>"
            "○ 2. Day 2 email · planned: waiting for the email task of step 1; becomes a task "
            "on Wed, 25 Nov 2026<br>"
            "○ 3. Day 3 call · planned: waiting for the email task of step 1; becomes a task "
            "on Thu, 26 Nov 2026") in text
    assert "Send email (step 1, day 1) · due today" in text
    assert "s@nowhere.test" not in text.split("Add to a campaign")[0]  # not ours
    # Jane is live in the rep's only campaign: nothing to offer her (adding would be refused).
    assert "Add <b>Jane Doe</b>" not in text
    assert "Jane Doe is already in every campaign of yours" in text
    pause = buttons_for(card, "Pause")
    assert pause and pause[0]["people"] == "jane@client.test,s@nowhere.test"
    assert pause[0]["cand"] == "jane@client.test"
    # Done on Jane's task from this card redraws this card, without reading the message again
    calls = len(fake.requests)
    (done,) = buttons_for(card, "Done")
    after = addon.post("done", "button_click", params=done)
    assert notification(after) == "Task done."
    text = texts(card_of(after))
    assert "✓ 1. Day 1 email · completed" in text
    assert "Send email (step 2, day 2) · due tomorrow (Wed, 25 Nov)" in text
    assert len(fake.requests) == calls


def test_contextual_pause_resume_stop_from_the_card(
    addon: Addon, rep: Actor, runtime: Runtime, fake_gmail: tuple[GmailView, str]
) -> None:
    launch(rep, email_task_campaign(rep), JANE)
    mid = _incoming(fake_gmail[0], "Jane Doe <jane@client.test>")
    card = card_of(addon.post("contextual", "contextual",
                              gmail={"messageId": _as_event_id(mid)}))
    calls_before = len(fake_gmail[0].requests)
    paused = addon.post("pause", "button_click", params=buttons_for(card, "Pause")[0])
    assert notification(paused) == "Paused Q4 outreach."
    card = card_of(paused)
    assert "<b>Q4 outreach</b> · paused" in texts(card)
    again = addon.post("pause", "button_click", params=buttons_for(card, "Resume")[0])
    assert "<b>Q4 outreach</b> · paused" in texts(card_of(again))  # pausing twice: no change
    resumed = addon.post("resume", "button_click", params=buttons_for(card, "Resume")[0])
    assert notification(resumed) == "Resumed Q4 outreach."
    stopped = addon.post("stop", "button_click",
                         params=buttons_for(card_of(resumed), "Stop")[0])
    assert notification(stopped) == "Stopped Q4 outreach."
    text = texts(card_of(stopped))
    assert "<b>Q4 outreach</b> · stopped" in text
    assert "[Stop]" not in text and "[Write]" not in text
    assert len(fake_gmail[0].requests) == calls_before  # redrawn from the card's parameters


def test_add_the_sender_to_a_campaign_with_the_send_time_it_needs(
    addon: Addon, rep: Actor, runtime: Runtime, fake_gmail: tuple[GmailView, str]
) -> None:
    email_task_campaign(rep)
    timed = rep.post("/api/v1/campaigns", json={
        "name": "Timed", "timezone": "Europe/Paris",
        "steps": [{"day": 1, "type": "email", "send_option": "choose_at_launch",
                   "subject": "Hi {{first_name}}", "body_html": "<p>Hi</p>"}]}).json["id"]
    mid = _incoming(fake_gmail[0], "Carl New <carl@prospect.test>")
    card = card_of(addon.post("contextual", "contextual", gmail={"messageId": _as_event_id(mid)}))
    assert "Nobody in this conversation is in your campaigns." in texts(card)
    params = buttons_for(card, "Add to campaign")[0]
    # choosing the campaign that needs a send time redraws the form with a date-time picker
    form = card_of(addon.post("campaign_form", "button_click", params=params,
                              form={"campaign_id": string_input(str(timed))}))
    pickers = [w["dateTimePicker"] for sec in form["sections"] for w in sec["widgets"]
               if "dateTimePicker" in w]
    assert [p["label"] for p in pickers] == ["Send the first email at (required)"]
    refused = addon.post("add_person", "button_click", params=params,
                         form={"campaign_id": string_input(str(timed))})
    assert notification(refused).startswith("Not added: this campaign's first email is sent "
                                            "at a time you choose at launch")
    when = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
    added = addon.post("add_person", "button_click", params=params,
                       form={"campaign_id": string_input(str(timed)),
                             "send_at": datetime_input(when)})
    assert notification(added) == "Added carl@prospect.test to Timed."
    assert "<b>Timed</b> · active<br>○ 1. Day 1 email · scheduled" in texts(card_of(added))
    # Carl is in Timed now: the form offers only the campaign he is not in.
    (dropdown,) = [wd["selectionInput"] for sec in card_of(added)["sections"]
                   for wd in sec["widgets"] if "selectionInput" in wd]
    assert [i["text"] for i in dropdown["items"]] == ["Q4 outreach"]
    enrollments = rep.get(f"/api/v1/campaigns/{timed}/enrollments").json["enrollments"]
    assert [e["email"] for e in enrollments] == ["carl@prospect.test"]
    detail = rep.get(f"/api/v1/enrollments/{enrollments[0]['id']}").json
    assert detail["person"]["first_name"] == "Carl" and detail["person"]["last_name"] == "New"
    assert detail["steps"][0]["due_at"] == "2026-11-24T15:30:00Z"
    twice = addon.post("add_person", "button_click", params=params,
                       form={"campaign_id": string_input(str(timed)),
                             "send_at": datetime_input(when)})
    assert notification(twice) == "Not added to Timed: already active in this campaign."


def test_contextual_without_an_open_message_says_so(addon: Addon, rep: Actor) -> None:
    card = card_of(addon.post("contextual", "contextual",
                              gmail={"messageId": None, "accessToken": None}))
    assert card["header"]["title"] == "No message"
    # a message Gmail cannot find (and no per-message token): the rep reads why
    card = card_of(addon.post("contextual", "contextual", gmail={"accessToken": None}))
    assert card["header"]["title"] == "Gmail error"
    assert "Gmail refused the request (404)." in texts(card)


def test_contextual_without_metadata_scope_asks_for_it(
    addon: Addon, rep: Actor, fake_gmail: tuple[GmailView, str]
) -> None:
    mid = _incoming(fake_gmail[0], "Jane <jane@client.test>")
    fake_gmail[0].fail_next(403, {"error": {"code": 403, "status": "PERMISSION_DENIED",
                                            "errors": [{"reason": "insufficientPermissions"}]}})
    data = addon.post("contextual", "contextual", gmail={"messageId": _as_event_id(mid)})
    assert data == {"requesting_google_scopes": {"scopes": [
        "https://www.googleapis.com/auth/gmail.addons.current.message.metadata"]}}


def test_a_campaign_of_another_organisation_cannot_be_used(
    addon: Addon, rep: Actor, runtime: Runtime, client: FlaskClient,
    fake_gmail: tuple[GmailView, str]
) -> None:
    other = make_actor(runtime, client, "zed@other.test", org="Other")
    foreign = email_task_campaign(other, "Theirs")
    email_task_campaign(rep)
    data = addon.post("add_person", "button_click",
                      params={"view": "message", "people": "carl@prospect.test",
                              "cand": "carl@prospect.test", "cand_name": "Carl"},
                      form={"campaign_id": string_input(str(foreign))})
    assert notification(data) == "Choose one of your campaigns first."
    assert other.get(f"/api/v1/campaigns/{foreign}/enrollments").json["enrollments"] == []


# --- compose ----------------------------------------------------------------------------------


def test_compose_inserts_a_template_rendered_for_the_recipient(
    addon: Addon, rep: Actor
) -> None:
    tid = rep.post("/api/v1/templates", json={
        "name": "Intro", "subject": "Hello {{first_name | default: \"there\"}}",
        "body_html": "<p>Hi {{first_name | default: \"there\"}} at {{company | default: "
                     "\"your company\"}}</p>"}).json["id"]
    launch(rep, email_task_campaign(rep), JANE)
    card = card_of(addon.post("compose", "compose", gmail={"toRecipients": None}))
    assert "Insert one of your templates (add a recipient to fill names in)." in texts(card)
    card = card_of(addon.post("compose", "compose"))
    assert "Insert one of your templates for <b>jane@client.test</b>." in texts(card)
    (params,) = buttons_for(card, "Insert")
    assert params == {"template_id": str(tid), "to": "jane@client.test"}
    data = addon.post("insert_template", "compose", params=params)
    markup = data["renderActions"]["hostAppAction"]["gmailAction"]["updateDraftActionMarkup"]
    assert markup == {
        "updateBody": {"insertContents": [{"content": "<p>Hi Jane at Client Co</p>",
                                           "contentType": "MUTABLE_HTML"}],
                       "type": "IN_PLACE_INSERT"},
        "updateSubject": {"subject": "Hello Jane"},
    }
    # someone we do not know yet: the defaults fill in
    data = addon.post("insert_template", "compose", params=params,
                      gmail={"toRecipients": ["new@prospect.test"]})
    markup = data["renderActions"]["hostAppAction"]["gmailAction"]["updateDraftActionMarkup"]
    assert markup["updateBody"]["insertContents"][0]["content"] == (
        "<p>Hi there at your company</p>")


def test_unknown_template_and_an_unexpected_failure_are_readable_messages(
    addon: Addon, rep: Actor, runtime: Runtime
) -> None:
    data = addon.post("insert_template", "compose", params={"template_id": "99999999"})
    assert notification(data) == "That template was not found."
    # A template stored broken (bypassing the API's checks) makes rendering fail unexpectedly:
    # the rep reads a sentence, Google gets valid JSON, nothing is written.
    from addin_server.models import Template

    with runtime.sessions.begin() as s:
        rep_row = s.scalar(select(Rep).where(Rep.email == "ann@acme.test"))
        assert rep_row is not None
        broken = Template(org_id=rep_row.org_id, rep_id=rep_row.id, name="Broken",
                          subject="Hi {{ first_name", body_html="")
        s.add(broken)
        s.flush()
        broken_id = broken.id
    data = addon.post("insert_template", "compose", params={"template_id": str(broken_id)})
    assert notification(data) == "Something went wrong on our side. Please try again."
    card = card_of(addon.post("compose", "compose"))  # the trigger still works
    assert "[Insert]" in texts(card)


def test_the_logo_is_served_without_a_token(client: FlaskClient) -> None:
    response = client.get("/gmail/logo.png")
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert client.get("/gmail/homepage").status_code == 405  # endpoints only take Google's POST


class GmailServiceOnly(GmailMailbox):
    """The Gmail mailbox adapter on a service with a fixed token instead of a stored grant
    (the Sent items pass); the real client library against the fake server."""

    def __init__(self, runtime: Runtime, session: Any, row: Mailbox) -> None:
        super().__init__(gmail_service(runtime.settings.gmail_api_endpoint, "mailbox-token"),
                         row.address)


def test_the_sync_command_completes_sent_tasks_for_every_rep(
    addon: Addon, rep: Actor, runtime: Runtime, fake_gmail: tuple[GmailView, str], clock: Any,
    settings: Settings
) -> None:
    from addin_server import create_app
    from addin_server.cli import register_commands

    fake = fake_gmail[0]
    _gmail_mailbox(runtime)
    launch(rep, email_task_campaign(rep), JANE, {"email": "bob@client.test",
                                                  "first_name": "Bob"})
    jane = open_task(runtime)
    clock.advance(minutes=30)
    # Jane's email was written in Gmail by hand (no draft of ours): recipient + subject match
    mime = EmailMessage()
    mime["From"], mime["To"], mime["Subject"] = "ann@acme.test", "jane@client.test", "Hello Jane"
    mime["Message-ID"] = "<by-hand@mail.gmail.com>"
    mime.set_content("Hi")
    fake.add_message(mime.as_bytes(), labels=("SENT",),
                     internal_ms=int(clock.at.timestamp() * 1000))
    with_factory = Runtime.from_settings(settings.with_(
        mailbox_factory="tests.addins.gmail.test_routes:GmailServiceOnly"), clock=clock)
    app = create_app(runtime=with_factory)
    register_commands(app)
    result = app.test_cli_runner().invoke(args=["sync-sent-tasks"])
    with_factory.engine.dispose()
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "1 task(s) completed for 1 rep(s) checked"
    with runtime.sessions() as s:
        done = s.get(Task, jane.id)
        assert done is not None and done.status == TaskStatus.COMPLETED
    bob = open_task(runtime, "bob@client.test")
    assert bob.position == 0  # Bob's email was not sent: still open


# --- through the rep's connected Gmail mailbox (the real adapter, the shared Google fake) -----


def test_homepage_write_send_in_gmail_sync_and_reply_through_the_connected_gmail_mailbox(
    settings: Settings, clock: Any, google_key: SigningKey, google_fake: GoogleFake
) -> None:
    from cryptography.fernet import Fernet
    from rq import Queue, SimpleWorker

    from addin_server import create_app
    from addin_server.mailboxes import open_mailbox
    from addin_server.mailboxes.port import DraftRef
    from addin_server.workers import dispatch
    from addin_server.workers.runtime import install_runtime
    from addin_server.workers.sent_items import SYNC_JOB_ID, THROTTLE_KEY
    from tests.fakes.fixtures import connected_gmail_row, fake_settings

    google_fake.clock = clock
    s = fake_settings(settings, google=google_fake).with_(
        encryption_keys=(Fernet.generate_key().decode(),))
    rt = Runtime.from_settings(s, clock=clock)
    try:
        client = create_app(runtime=rt).test_client()
        ann = make_actor(rt, client, "ann@acme.test", local_mailbox=False)
        with rt.sessions.begin() as session:
            row = connected_gmail_row(s, google_fake, "ann@acme.test", rep_id=ann.rep_id)
            row.created_at = row.updated_at = rt.now()
            session.add(row)
        addon = Addon(client, google_key, "ann@acme.test")
        launch(ann, email_task_campaign(ann), JANE)

        def write(task: Task) -> str:
            # a click on the homepage card: no per-message token, so the connected mailbox
            data = addon.post("write", "button_click", params={"task_id": str(task.id)})
            markup = data["renderActions"]["hostAppAction"]["gmailAction"][
                "openCreatedDraftActionMarkup"]
            box = google_fake.mailbox("ann@acme.test")
            message = box.messages[box.drafts[markup["draftId"]]]
            assert markup["draftThreadId"] == message.thread_id
            return str(markup["draftId"])

        def send_from_gmail(draft_id: str) -> None:
            with rt.sessions() as session:
                box_row = session.get(Mailbox, row.id)
                assert box_row is not None
                open_mailbox(rt, session, box_row).send_draft(DraftRef(draft_id))

        first = open_task(rt)
        send_from_gmail(write(first))
        clock.advance(minutes=10)
        # The dispatcher tick queues one sync job (throttled), a worker runs it.
        queue = Queue(s.queue_name, connection=rt.redis())
        queue.empty()
        rt.redis().delete(THROTTLE_KEY)
        dispatch.tick(rt)
        dispatch.tick(rt)
        assert queue.job_ids.count(SYNC_JOB_ID) == 1  # once (beside the reply poll's job)
        install_runtime(rt)
        SimpleWorker([queue], connection=rt.redis()).work(burst=True)
        with rt.sessions() as session:
            done = session.get(Task, first.id)
            assert done is not None and done.status == TaskStatus.COMPLETED
        assert sync_all(rt, rt.now()) == {ann.rep_id: []}  # once
        second = open_task(rt)
        assert second.position == 1
        send_from_gmail(write(second))
        assert sync_all(rt, rt.now()) == {ann.rep_id: [second.id]}
        # Jane sees one conversation: the reply threads on the message Gmail really sent
        (thread,) = google_fake.recipient_view("jane@client.test").threads()
        assert [m.subject for m in thread] == ["Hello Jane", "Re: Hello Jane"]
        assert thread[1].in_reply_to == thread[0].message_id
        sent = google_fake.mailbox("ann@acme.test").sent()
        assert len({m.thread_id for m in sent}) == 1  # and so does Ann
        with rt.sessions() as session:
            recorded = session.scalars(select(SentMessage).order_by(SentMessage.position)).all()
            assert [r.rfc_message_id for r in recorded] == [m.message_id for m in thread]
    finally:
        rt.engine.dispose()


def test_done_on_a_task_whose_email_is_scheduled_says_when_in_the_reps_zone(
        addon: Addon, rep: Actor) -> None:
    task_id, _ = scheduled(rep)  # 15:00 in Europe/Paris, the rep's zone; now is 09:00 there
    response = addon.post("done", "button_click",
                          params={"task_id": str(task_id), "view": "home", "page": "0"})
    assert notification(response) == (
        "Not changed: its email is scheduled for Tue, 24 Nov at 15:00 (in 6 hours); the task "
        "completes when it goes.")
