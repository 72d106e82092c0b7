"""The task pane in a real headless Chromium, served by Flask on 127.0.0.1, with a recording
stand-in for Office.js (tests/support/outlook_office_stub.js) served at the office.js CDN URL.

Development mode signs the pane's token (the Entra path is covered by
tests/addins/outlook/test_auth.py), so these tests drive the real page, the real API and the real
database end to end.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from playwright.sync_api import expect
from sqlalchemy import func, select

from addin_server import create_app
from addin_server.config import Settings
from addin_server.enrollments.sent_items import complete_from_sent
from addin_server.enums import TaskStatus
from addin_server.mailboxes.port import SentItem
from addin_server.models import Enrollment, Event, Mailbox, Task
from addin_server.runtime import Runtime
from tests.conftest import REDIS_URL, Actor, FrozenClock, load_rep, make_actor
from tests.fakes.microsoft import MicrosoftFake
from tests.fakes.server import serve
from tests.support.outlook import ms_settings

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
STUB = (Path(__file__).parents[1] / "support" / "outlook_office_stub.js").read_text()
OFFICE_JS = "https://appsforoffice.microsoft.com/**"
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing and REQUIRE_BROWSER=1")
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"])
        yield chromium
        chromium.close()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, redis_url=REDIS_URL,
                    instance_path=str(tmp_path / "instance"), secret_key="test-secret",
                    public_base_url="https://campaigns.example.test", dev_mode=True)


@pytest.fixture
def server(runtime: Runtime) -> Iterator[str]:
    app = create_app(runtime=runtime)
    with serve(app) as url:
        yield url


@pytest.fixture
def ann(runtime: Runtime, client: FlaskClient) -> Actor:
    return make_actor(runtime, client, "ann@acme.test")


def email_step(day: int, option: str = "manual_task", **kw: Any) -> dict[str, Any]:
    step = {"day": day, "type": "email", "send_option": option,
            "subject": "Intro for {{company}}", "body_html": "<p>Hi {{first_name}},</p>"}
    step.update(kw)
    return step


def campaign(actor: Actor, steps: list[dict[str, Any]], name: str = "Q4") -> int:
    response = actor.post("/api/v1/campaigns", json={
        "name": name, "timezone": "Europe/Paris", "steps": steps,
        "settings": {"skip_weekends": False}})
    assert response.status_code == 201, response.json
    cid: int = response.json["id"]
    return cid


BOB = {"email": "bob@client.test", "first_name": "Bob", "company": "Client Co"}
CAROL = {"email": "carol@client.test", "first_name": "Carol", "company": "Other"}


def launch(actor: Actor, cid: int, *people: dict[str, Any]) -> None:
    response = actor.post(f"/api/v1/campaigns/{cid}/launch", json={"people": list(people)})
    assert response.status_code == 201, response.json


def open_pane(browser: Any, server: str, office: dict[str, Any] | None, **setup: Any) -> Any:
    """The pane with the Office stub (or none when `office` is None). Nothing leaves
    127.0.0.1: other requests are aborted."""
    page = browser.new_page(viewport={"width": 360, "height": 720}, timezone_id="Europe/Paris")
    config = {"user": "ann@acme.test", **(office or {}), **setup}

    def route(r: Any) -> None:
        url = r.request.url
        if url.startswith(server):
            r.continue_()
        elif url.startswith("https://appsforoffice.microsoft.com/") and office is not None:
            r.fulfill(status=200, content_type="application/javascript",
                      body=f"window.__officeSetup = {json.dumps(config)};\n{STUB}")
        else:
            r.abort()

    page.route("**/*", route)
    page.goto(f"{server}/outlook/taskpane.html")
    return page


def calls(page: Any) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = page.evaluate("window.__officeCalls || []")
    return result


def task_node(page: Any, email: str) -> Any:
    return page.locator("li.task", has_text=email)


def test_write_opens_outlooks_new_message_form_once(
    browser: Any, server: str, ann: Actor
) -> None:
    launch(ann, campaign(ann, [email_step(1)]), BOB)
    page = open_pane(browser, server, {"mode": "read", "from": "dana@client.test",
                                       "fromName": "Dana Smith"})
    node = task_node(page, "bob@client.test")
    node.locator("button.write").click()
    node.locator(".task-msg", has_text="Compose window opened").wait_for()
    assert calls(page) == [{"method": "displayNewMessageForm", "args": {
        "toRecipients": ["bob@client.test"], "subject": "Intro for Client Co",
        "htmlBody": "<p>Hi Bob,</p>"}}]
    page.close()


def test_write_uses_the_async_form_where_mailbox_1_9_is_supported(
    browser: Any, server: str, ann: Actor
) -> None:
    launch(ann, campaign(ann, [email_step(1)]), BOB)
    page = open_pane(browser, server, {"mode": "read", "from": "dana@client.test",
                                       "sets": {"Mailbox": "1.13"}})
    node = task_node(page, "bob@client.test")
    node.locator("button.write").click()
    node.locator(".task-msg", has_text="Compose window opened").wait_for()
    assert [c["method"] for c in calls(page)] == ["displayNewMessageFormAsync"]
    assert calls(page)[0]["args"]["toRecipients"] == ["bob@client.test"]
    page.close()


def test_compose_mode_fills_the_current_draft(browser: Any, server: str, ann: Actor) -> None:
    launch(ann, campaign(ann, [email_step(1)]), BOB)
    page = open_pane(browser, server, {"mode": "compose"})
    node = task_node(page, "bob@client.test")
    node.locator("button.write").click()
    node.locator(".task-msg", has_text="Draft filled").wait_for()
    assert calls(page) == [
        {"method": "to.setAsync", "args": ["bob@client.test"]},
        {"method": "subject.setAsync", "args": "Intro for Client Co"},
        {"method": "body.setAsync", "args": "<p>Hi Bob,</p>",
         "options": {"coercionType": "html"}},
    ]
    assert page.locator("#sender").is_hidden()
    page.close()


def test_a_body_over_32_kb_is_refused_not_cut(browser: Any, server: str, ann: Actor) -> None:
    long_body = "<p>" + "word " * 7000 + "{{first_name}}</p>"  # ~35,000 characters
    launch(ann, campaign(ann, [email_step(1, body_html=long_body)]), BOB)
    page = open_pane(browser, server, {"mode": "read", "from": "dana@client.test"})
    node = task_node(page, "bob@client.test")
    node.locator("button.write").click()
    message = node.locator(".task-msg.error")
    message.wait_for()
    assert "32 KB" in message.inner_text() and "Nothing was cut" in message.inner_text()
    assert calls(page) == []
    page.close()


def test_done_and_skip_change_each_task_once(
    browser: Any, server: str, ann: Actor, runtime: Runtime
) -> None:
    launch(ann, campaign(ann, [email_step(1), {"day": 2, "type": "call"}]), BOB, CAROL)
    page = open_pane(browser, server, {"mode": "read", "from": "dana@client.test"})
    bob, carol = task_node(page, "bob@client.test"), task_node(page, "carol@client.test")
    bob.wait_for()
    bob.locator("button.done").dblclick()  # a double click finishes it once
    page.locator("#notice", has_text="Task done.").wait_for()
    carol.locator("button.skip").click()
    page.locator("#notice", has_text="Task skipped.").wait_for()
    bob.wait_for(state="detached")
    carol.wait_for(state="detached")
    with runtime.sessions() as s:
        rows = s.execute(select(Task.position, Task.status).order_by(Task.id)).all()
        assert [(p, st.value) for p, st in rows] == [
            (0, "completed"), (0, "skipped"), (1, "open"), (1, "open")]
        finished = s.execute(select(Event.type, func.count()).where(
            Event.type.in_(["task_completed", "task_skipped"])).group_by(Event.type)).all()
        assert sorted(finished) == [("task_completed", 1), ("task_skipped", 1)]
    assert calls(page) == []
    page.close()


def test_done_on_a_call_asks_how_it_went_and_sends_the_outcome_and_note(
    browser: Any, server: str, ann: Actor, runtime: Runtime
) -> None:
    launch(ann, campaign(ann, [{"day": 1, "type": "call", "instructions": "Ring"}]), BOB)
    page = open_pane(browser, server, {"mode": "read", "from": "dana@client.test"})
    bob = task_node(page, "bob@client.test")
    bob.locator("button.done").click()
    expect(bob.locator(".task-msg")).to_contain_text("Choose how the call went")
    bob.locator("button.done").click()  # still no outcome: nothing is sent
    expect(bob.locator(".task-msg")).to_contain_text("first")
    bob.get_by_label("How did the call go?").select_option("left_voicemail")
    bob.get_by_label("Note").fill("Back on Monday")
    bob.locator("button.done").click()
    page.locator("#notice", has_text="Task done.").wait_for()
    with runtime.sessions() as s:
        task = s.scalar(select(Task))
        assert task is not None
        assert (task.status.value, task.call_outcome, task.note) == (
            "completed", "left_voicemail", "Back on Monday")
    page.close()


def test_reply_step_opens_the_reply_form_on_the_previous_message(
    browser: Any, server: str, ann: Actor, runtime: Runtime, clock: FrozenClock
) -> None:
    follow_up = email_step(1, reply_to_previous=True, subject="",
                           body_html="<p>Following up, {{first_name}}</p>")
    launch(ann, campaign(ann, [email_step(1), follow_up]), BOB)
    with runtime.sessions.begin() as s:  # the first email went out from Outlook
        rep = load_rep(s, ann)
        box = s.scalar(select(Mailbox).where(Mailbox.rep_id == rep.id))
        assert box is not None
        complete_from_sent(s, rep, box, [SentItem(
            message_id="AAMk-1", to=("bob@client.test",), subject="Intro for Client Co",
            sent_at=clock(), thread_id="conv-1", rfc_message_id="<m1@outlook.test>")],
            clock(), base_url="https://campaigns.example.test", secret_key="test-secret")
    # Reading that very message: Write opens Outlook's reply form on it, without our quote.
    page = open_pane(browser, server, {"mode": "read", "from": "ann@acme.test",
                                       "internetMessageId": "<m1@outlook.test>",
                                       "conversationId": "conv-1"})
    node = task_node(page, "bob@client.test")
    node.locator("button.write").click()
    node.locator(".task-msg", has_text="Reply opened").wait_for()
    assert calls(page) == [{"method": "displayReplyForm",
                            "args": {"htmlBody": "<p>Following up, Bob</p>"}}]
    page.close()
    # Reading another message: a new message with the threading subject and the quote.
    page = open_pane(browser, server, {"mode": "read", "from": "dana@client.test"})
    node = task_node(page, "bob@client.test")
    node.locator("button.write").click()
    node.locator(".task-msg", has_text="Compose window opened").wait_for()
    (only,) = calls(page)
    assert only["method"] == "displayNewMessageForm"
    assert only["args"]["subject"] == "Re: Intro for Client Co"
    assert only["args"]["toRecipients"] == ["bob@client.test"]
    assert only["args"]["htmlBody"].startswith("<p>Following up, Bob</p>")
    assert "<blockquote" in only["args"]["htmlBody"]
    page.close()


def test_sender_status_and_add_to_campaign(
    browser: Any, server: str, ann: Actor, runtime: Runtime
) -> None:
    manual = campaign(ann, [email_step(1)], "Manual intro")
    chosen = campaign(ann, [email_step(1, "choose_at_launch")], "Timed intro")
    launch(ann, manual, {"email": "dana@client.test", "first_name": "Dana"})
    page = open_pane(browser, server, {"mode": "read", "from": "dana@client.test",
                                       "fromName": "Dana Smith"})
    status = page.locator("#sender-status")
    status.locator("li", has_text="Manual intro").wait_for()
    assert "waiting for you" in status.inner_text()
    # Only the campaign Dana is not in is offered; its first email time is required.
    assert page.locator("#add-campaign option").all_inner_texts() == ["Timed intro"]
    assert page.locator("#add-time").is_visible()
    page.fill("#add-time", "2026-11-25T10:00")
    page.click("#add-submit")
    page.locator("#notice", has_text="Added to Timed intro").wait_for()
    status.locator("li", has_text="Timed intro").wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "outlook-taskpane.png"), full_page=True)
    with runtime.sessions() as s:
        enrolled = s.scalar(select(Enrollment).where(Enrollment.campaign_id == chosen))
        assert enrolled is not None and enrolled.first_send_at is not None
        # 10:00 on the rep's clock (the browser runs in Europe/Paris) is 09:00 UTC.
        assert enrolled.first_send_at == datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
        assert s.scalar(select(func.count()).select_from(Task)
                        .where(Task.status == TaskStatus.OPEN)) == 1
    page.close()


def test_without_office_js_the_pane_says_so(browser: Any, server: str, ann: Actor) -> None:
    page = open_pane(browser, server, None)
    notice = page.locator("#notice")
    notice.wait_for()
    assert "Office.js could not load" in notice.inner_text()
    assert page.locator("#loading").is_hidden()
    assert page.get_attribute("body", "data-state") == "stopped"
    page.close()


def test_outside_outlook_the_pane_says_so(browser: Any, server: str, ann: Actor) -> None:
    page = open_pane(browser, server, {"mode": "none", "host": None})
    page.locator("#notice", has_text="works inside Outlook").wait_for()
    assert page.locator("#tasks").is_hidden()
    page.close()


def test_dialog_sign_in_when_nested_app_auth_is_unavailable(
    browser: Any, ann: Actor, runtime: Runtime, clock: FrozenClock
) -> None:
    # Production settings (no dev mode): the pane signs in through the Office dialog, whose
    # page posts back an Entra token; the server checks it against a JWKS on 127.0.0.1.
    launch(ann, campaign(ann, [email_step(1)]), BOB)
    fake = MicrosoftFake()
    with serve(fake.wsgi) as jwks:
        prod = Runtime(settings=ms_settings(runtime.settings.with_(dev_mode=False), jwks),
                       engine=runtime.engine, sessions=runtime.sessions, clock=runtime.clock)
        with serve(create_app(runtime=prod)) as url:
            token = fake.token(clock())
            page = open_pane(browser, url, {"mode": "read", "from": "dana@client.test",
                                            "sets": {"Mailbox": "1.13"},
                                            "dialogMessage": json.dumps({"access_token": token})})
            task_node(page, "bob@client.test").wait_for()
            assert calls(page) == [
                {"method": "displayDialogAsync",
                 "args": "https://campaigns.example.test/outlook/auth-dialog.html",
                 "options": {"height": 60, "width": 30}},
                {"method": "dialog.close", "args": None},
            ]
            page.close()
            # A dialog that reports a failure leaves the pane saying so.
            page = open_pane(browser, url, {"mode": "read", "from": "dana@client.test",
                                            "dialogMessage": json.dumps({"error": "cancelled"})})
            page.locator("#notice", has_text="Could not sign in: cancelled").wait_for()
            page.close()


def test_screenshot_for_the_docs(browser: Any, server: str, ann: Actor) -> None:
    launch(ann, campaign(ann, [email_step(1), {"day": 2, "type": "call"}], "Q4 outreach"),
           BOB, CAROL)
    launch(ann, campaign(ann, [{"day": 1, "type": "call", "instructions": "Ask about the trial"},
                               email_step(2)], "Trial follow-up"),
           {"email": "erin@client.test", "first_name": "Erin", "last_name": "Li"})
    launch(ann, campaign(ann, [email_step(1)], "Event invite"),
           {"email": "dana@client.test", "first_name": "Dana"})
    campaign(ann, [email_step(1, "choose_at_launch")], "Webinar")
    page = open_pane(browser, server, {"mode": "read", "from": "dana@client.test",
                                       "fromName": "Dana Smith"})
    page.locator("#sender-status li").first.wait_for()
    task_node(page, "erin@client.test").wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "outlook-taskpane-full.png"
    page.screenshot(path=str(shot), full_page=True)
    if os.environ.get("UPDATE_DOCS_SCREENSHOT") == "1":
        shutil.copy(shot, ROOT / "docs" / "outlook-taskpane.png")
    page.close()


def test_a_subject_over_255_characters_is_refused(browser: Any, server: str, ann: Actor) -> None:
    # A saved subject is at most 255 characters; the person's company can take it past that.
    long_company = {**BOB, "company": "C" * 40}
    launch(ann, campaign(ann, [email_step(1, subject="S" * 240 + "{{company}}")]), long_company)
    page = open_pane(browser, server, {"mode": "read", "from": "dana@client.test"})
    node = task_node(page, "bob@client.test")
    node.locator("button.write").click()
    node.locator(".task-msg.error", has_text="at most 255").wait_for()
    assert calls(page) == []
    page.close()


def test_pinned_pane_follows_the_selected_message(browser: Any, server: str, ann: Actor) -> None:
    launch(ann, campaign(ann, [email_step(1)], "Intro"), BOB)
    page = open_pane(browser, server, {"mode": "read", "from": "dana@client.test",
                                       "fromName": "Dana"})
    page.locator("#sender-status", has_text="In none of your campaigns").wait_for()
    page.evaluate("""() => {
        Office.context.mailbox.item.from = {emailAddress: "bob@client.test", displayName: "Bob"};
        window.__officeHandlers["olkItemSelectedChanged"]({});
    }""")
    page.locator("#sender-status li", has_text="Intro").wait_for()
    assert "Bob <bob@client.test>" in page.locator("#sender-status").inner_text()
    page.close()


# A stand-in for MSAL.js that records how the pane uses it (the real library needs Outlook's
# nested-app-auth bridge and Entra). Whether the vendored file really offers the function the
# pane calls is checked against the real file below.
FAKE_MSAL = """
window.__msal = {configs: [], silent: [], popup: []};
window.msal = {
  createNestablePublicClientApplication: function (config) {
    window.__msal.configs.push(config);
    return Promise.resolve({
      acquireTokenSilent: function (r) {
        window.__msal.silent.push(r);
        return Promise.reject(new Error("interaction_required"));
      },
      acquireTokenPopup: function (r) {
        window.__msal.popup.push(r);
        return Promise.resolve({accessToken: window.__msalToken});
      }
    });
  }
};
"""


def test_nested_app_auth_gets_the_api_token(
    browser: Any, ann: Actor, runtime: Runtime, clock: FrozenClock
) -> None:
    launch(ann, campaign(ann, [email_step(1)]), BOB)
    fake = MicrosoftFake()
    with serve(fake.wsgi) as jwks:
        prod = Runtime(settings=ms_settings(runtime.settings.with_(dev_mode=False), jwks),
                       engine=runtime.engine, sessions=runtime.sessions, clock=runtime.clock)
        with serve(create_app(runtime=prod)) as url:
            page = browser.new_page(viewport={"width": 360, "height": 720})
            token = fake.token(clock())
            setup = {"user": "ann@acme.test", "mode": "read", "from": "dana@client.test",
                     "sets": {"Mailbox": "1.13", "NestedAppAuth": "1.1"}}

            def route(r: Any) -> None:
                request_url = r.request.url
                if request_url.endswith("/outlook/static/vendor/msal-browser.min.js"):
                    r.fulfill(status=200, content_type="application/javascript",
                              body=f"window.__msalToken = {json.dumps(token)};\n{FAKE_MSAL}")
                elif request_url.startswith(url):
                    r.continue_()
                elif request_url.startswith("https://appsforoffice.microsoft.com/"):
                    r.fulfill(status=200, content_type="application/javascript",
                              body=f"window.__officeSetup = {json.dumps(setup)};\n{STUB}")
                else:
                    r.abort()

            page.route("**/*", route)
            page.goto(f"{url}/outlook/taskpane.html")
            task_node(page, "bob@client.test").wait_for()
            used = page.evaluate("window.__msal")
            page.close()
    scope = f"api://{prod.settings.outlook_api_audience}/access_as_user"
    assert used["configs"] == [{
        "auth": {"clientId": prod.settings.outlook_api_audience,
                 "authority": "https://login.microsoftonline.com/common"},
        "cache": {"cacheLocation": "localStorage"}}]
    assert used["silent"] == [{"scopes": [scope], "loginHint": "ann@acme.test"}]
    assert used["popup"] == used["silent"]


def test_the_vendored_msal_offers_nested_app_auth(browser: Any, server: str) -> None:
    page = browser.new_page()
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(server)
               else r.abort())
    page.goto(f"{server}/outlook/auth-dialog.html")
    # Outside Office the dialog page says so instead of signing in.
    page.locator("#status", has_text="Open this page from the Outlook add-in").wait_for()
    kinds = page.evaluate("[typeof msal.createNestablePublicClientApplication, "
                          "typeof msal.PublicClientApplication]")
    assert kinds == ["function", "function"]
    page.close()


def test_prompts_are_filled_in_the_pane_never_opened_raw(
    browser: Any, server: str, ann: Actor
) -> None:
    body = "<p>Hi {{first_name}}, {{! one line about their industry }}</p><p>{{! a question }}</p>"
    launch(ann, campaign(ann, [email_step(1, subject="Idea: {{! topic }}", body_html=body)]), BOB)
    page = open_pane(browser, server, {"mode": "read", "from": "dana@client.test"})
    node = task_node(page, "bob@client.test")
    # The due day in the product's date style (launched today, Tuesday 24 Nov in Paris).
    assert node.locator(".due").inner_text() == "due Tue, 24 Nov (today)"
    node.locator("button.write").click()
    # Refused with the reason, and a field per prompt, labelled with it.
    node.locator(".task-msg.error", has_text="3 prompts").wait_for()
    assert calls(page) == []
    labels = node.locator(".prompt-form label")
    assert labels.all_inner_texts() == ["topic", "one line about their industry", "a question"]
    node.get_by_label("topic").fill("retail & you")
    node.get_by_label("one line about their industry").fill("Retail <3 our tool.")
    node.locator("button.write").click()
    node.locator(".task-msg.error", has_text="3 prompts").wait_for()
    assert calls(page) == []  # one still empty: still refused
    node.get_by_label("a question").fill("Coffee next week?")
    node.locator("button.write").click()
    node.locator(".task-msg", has_text="Compose window opened").wait_for()
    (opened,) = calls(page)
    assert opened["args"]["subject"] == "Idea: retail & you"
    assert opened["args"]["htmlBody"] == (
        "<p>Hi Bob, Retail &lt;3 our tool.</p><p>Coffee next week?</p>")
    page.close()
