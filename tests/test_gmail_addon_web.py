"""The Gmail add-on endpoints end to end: Google-signed requests (keys made here, certificates
served on 127.0.0.1), the real database, the real Gmail client library against a fake Gmail
server; every response checked against Google's card schemas and the envelope rules."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from addin_server.config import Settings
from addin_server.enums import MailboxStatus, TaskStatus
from addin_server.models import Mailbox, Rep, Task
from addin_server.runtime import Runtime
from gmail_addon.endpoints import Endpoints
from tests import gmail_schema
from tests.conftest import Actor, make_actor
from tests.gmail_addon_support import (
    CLIENT_ID,
    SERVICE_ACCOUNT,
    CertsEndpoint,
    FakeGmail,
    SigningKey,
    datetime_input,
    event,
    make_signing_key,
    serve,
    sign,
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


@pytest.fixture(scope="session")
def certs(google_key: SigningKey) -> Iterator[tuple[CertsEndpoint, str]]:
    endpoint = CertsEndpoint([google_key])
    with serve(endpoint) as url:
        yield endpoint, url + "/oauth2/v1/certs"


@pytest.fixture
def fake_gmail() -> Iterator[tuple[FakeGmail, str]]:
    fake = FakeGmail()
    with serve(fake) as url:
        yield fake, url


@pytest.fixture
def settings(settings: Settings, certs: tuple[CertsEndpoint, str],
             fake_gmail: tuple[FakeGmail, str]) -> Settings:
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


def test_a_valid_request_is_answered_and_certificates_are_cached(
    addon: Addon, certs: tuple[CertsEndpoint, str]
) -> None:
    before = certs[0].hits
    for _ in range(3):
        data = addon.post("homepage", "homepage")
        assert card_of(data)["header"]["title"] == "Your tasks"
    # three requests, two tokens each (system + user): one certificate fetch at most
    assert certs[0].hits - before <= 1


def test_unknown_google_user_gets_the_connect_card(client: FlaskClient,
                                                   google_key: SigningKey) -> None:
    stranger = Addon(client, google_key, "nobody@else.test")
    card = card_of(stranger.post("homepage", "homepage"))
    assert card["header"]["title"] == "Connect your account"
    assert "<b>nobody@else.test</b> is not a rep of ours yet." in texts(card)


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
    assert "overdue since 2026-11-24" in texts(card)


def test_done_updates_once_and_refreshes_the_card(addon: Addon, rep: Actor,
                                                  runtime: Runtime) -> None:
    launch(rep, email_task_campaign(rep), JANE)
    task = open_task(runtime)
    params = {"task_id": str(task.id), "view": "home", "page": "0"}
    first = addon.post("done", "button_click", params=params)
    assert notification(first) == "Task done."
    card = card_of(first)
    # step 2 (the reply) is a task now, due tomorrow
    assert "Send email (step 2, day 2) · due 2026-11-25" in texts(card)
    second = addon.post("done", "button_click", params=params)
    assert notification(second) == "This task is already done."
    with runtime.sessions() as s:
        done = s.get(Task, task.id)
        assert done is not None and done.status == TaskStatus.COMPLETED
        assert len(list(s.scalars(select(Task)))) == 2  # not advanced twice


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
    addon: Addon, rep: Actor, runtime: Runtime, fake_gmail: tuple[FakeGmail, str]
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
    addon: Addon, rep: Actor, runtime: Runtime, fake_gmail: tuple[FakeGmail, str],
    status: int, body: dict[str, Any], expected: str
) -> None:
    fake = fake_gmail[0]
    launch(rep, email_task_campaign(rep), JANE)
    task = open_task(runtime)
    fake.fail_with = (status, body)
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
    addon: Addon, rep: Actor, runtime: Runtime, fake_gmail: tuple[FakeGmail, str]
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


def test_write_without_an_open_message_and_no_mailbox_adapter_is_explained(
    addon: Addon, rep: Actor, runtime: Runtime
) -> None:
    launch(rep, email_task_campaign(rep), JANE)
    task = open_task(runtime)
    data = addon.post("write", "button_click", params={"task_id": str(task.id)})
    # the rep's mailbox here is the local development one, which has no adapter in this build
    assert notification(data) == "Your mailbox cannot make drafts yet."


def _unused(_: datetime = datetime(2026, 1, 1, tzinfo=UTC)) -> tuple[Any, ...]:
    return (datetime_input, string_input)
