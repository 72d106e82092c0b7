"""The web app in a real headless Chromium: build a campaign with every send option, launch it
on a CSV, work tasks from the Command Center through the compose window, watch the Live Feed.

Runs on SQLite only (the pages are the subject here; the API and engine tests cover both
databases). Screenshots of each page go to test-artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from addin_server.config import Settings
from addin_server.enums import TaskStatus
from addin_server.models import Campaign, Rep, Task
from tests.conftest import FrozenClock
from tests.support.browser import ARTIFACTS, Live, chromium, serve

pytestmark = [pytest.mark.browser,
              pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()


@pytest.fixture
def live(settings: Settings, clock: FrozenClock) -> Iterator[Live]:
    yield from serve(settings, clock)


@pytest.fixture
def page(browser: Any, live: Live) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, base_url=live.url)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    # Chromium logs every Content-Security-Policy violation (an inline script or handler, a
    # script or fetch from elsewhere) to the console: none may happen on any page walked.
    violations: list[str] = []
    pg.on("console", lambda msg: violations.append(msg.text)
          if "Content Security Policy" in msg.text else None)
    pg.set_default_timeout(10_000)
    yield pg
    context.close()
    assert errors == [], errors  # no JavaScript error on any page
    assert violations == [], violations


UNLABELLED = """() => [...document.querySelectorAll(
    'input:not([type=hidden]), select, textarea, [contenteditable="true"], button')]
  .filter((el) => el.offsetParent !== null)
  .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                  && !el.getAttribute('aria-labelledby') && !(el.textContent || '').trim())
  .map((el) => el.outerHTML.slice(0, 120))"""


def shot(page: Any, name: str, full: bool = True) -> None:
    # Every visible control has an accessible name (label, aria-label(ledby) or text).
    assert page.evaluate(UNLABELLED) == [], name
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full)


def sign_in(page: Any) -> None:
    response = page.goto("/signin")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    shot(page, "01-signin")
    page.get_by_role("button", name="Sign in as the demo rep").click()
    page.wait_for_url(re.compile(r"/command$"))


def step(page: Any, i: int) -> Any:
    return page.locator(f'.step[data-index="{i}"]')


def options_of(page: Any, i: int) -> list[str]:
    return step(page, i).locator("input[data-k=send_option]").evaluate_all(
        "els => els.map(e => e.value)")


def campaign_rows(live: Live, name: str) -> Campaign:
    with live.runtime.sessions() as s:
        campaign = s.scalar(select(Campaign).where(Campaign.name == name))
        assert campaign is not None
        campaign.steps  # noqa: B018 (load before the session closes)
        s.expunge_all()
        return campaign


def build_every_option(page: Any, live: Live) -> int:
    page.goto("/campaigns/new")
    page.get_by_label("Campaign name").fill("Every option")
    # Step 1 (day 1, email): the first email's options only.
    assert options_of(page, 0) == ["choose_at_launch", "fixed_time", "manual_task"]
    assert step(page, 0).locator("[data-reply-row]").is_hidden()
    step(page, 0).get_by_text("I'll choose when I launch").click()
    assert step(page, 0).locator("[data-time-row]").is_hidden()
    step(page, 0).locator("[data-k=subject]").fill("Quick question, {{first_name}}")
    step(page, 0).locator(".editor").fill("Hi {{first_name | default: \"there\"}}, are you the "
                                          "right person for outbound at {{company}}?")
    step(page, 0).get_by_role("button", name="Preview").click()
    frame = step(page, 0).frame_locator("iframe")
    # The preview arrives by a request: wait for it (auto-retrying expect), never read at once.
    expect(frame.locator("body")).to_contain_text(
        "Hi Alex, are you the right person for outbound at Northwind?")
    step(page, 0).locator("[data-k=subject]").focus()
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "02-builder-preview", full=False)
    # Step 2 (day 3): a later email, replying on the thread at the same time as the first.
    page.get_by_role("button", name="+ Email").click()
    assert options_of(page, 1) == ["same_time_as_previous", "fixed_time", "manual_task"]
    assert step(page, 1).locator("[data-k=day]").input_value() == "3"
    step(page, 1).get_by_label("Reply to the previous email").check()
    assert step(page, 1).locator("[data-k=subject]").is_hidden()
    step(page, 1).locator(".editor").fill("Bumping this up, {{first_name}}.")
    # Step 3 (day 4): a call.
    page.get_by_role("button", name="+ Call").click()
    step(page, 2).get_by_label("Instructions").fill("Call about the intro email")
    # Step 4 (day 6): an email I send myself, with a prompt; no reply after a call.
    page.get_by_role("button", name="+ Email").click()
    step(page, 3).get_by_text("Create a task: I'll send it myself").click()
    assert step(page, 3).locator("[data-reply-row]").is_hidden()
    step(page, 3).locator("[data-k=subject]").fill("An idea for {{company}}")
    step(page, 3).locator(".editor").fill("{{! one line about their team }} Worth a chat?")
    # Step 5 (day 8): a fixed time, replying to step 4; saved first without a body: the
    # API's error shows next to that step's body.
    page.get_by_role("button", name="+ Email").click()
    step(page, 4).get_by_text("At a fixed time").click()
    step(page, 4).locator("[data-k=send_time]").fill("14:00")
    step(page, 4).get_by_label("Reply to the previous email").check()
    page.get_by_role("button", name="+ LinkedIn").click()
    page.get_by_role("button", name="Save campaign").click()
    body_error = step(page, 4).locator('.err[data-field="steps[4].body_html"]')
    body_error.wait_for()
    assert "required" in body_error.inner_text()
    assert page.locator("[data-error-summary]").is_visible()
    shot(page, "02-builder-error-full")
    step(page, 4).locator(".editor").fill("Last note from me, {{first_name}}.")
    page.get_by_role("button", name="Save campaign").click()
    page.wait_for_url(re.compile(r"/campaigns/\d+\?saved=1$"))
    page.locator(".toast").wait_for()
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "03-builder", full=False)
    shot(page, "03-builder-full")
    campaign = campaign_rows(live, "Every option")
    got = [(s.day, s.type.value, s.send_option.value if s.send_option else None, s.send_time,
            s.reply_to_previous) for s in campaign.steps]
    assert got == [
        (1, "email", "choose_at_launch", None, False),
        (3, "email", "same_time_as_previous", None, True),
        (4, "call", None, None, False),
        (6, "email", "manual_task", None, False),
        (8, "email", "fixed_time", "14:00", True),
        (9, "linkedin", None, None, False),
    ]
    assert campaign.steps[3].body_html.startswith("{{! one line about their team }}")
    return campaign.id


def launch_csv(page: Any, campaign_id: int) -> None:
    page.goto(f"/campaigns/{campaign_id}/launch")
    page.get_by_role("tab", name="Upload CSV").click()
    csv = ("email,first_name,last_name,company,plan\n"
           "jo@globex.test,Jo,Lee,Globex,pro\n"
           "sam@initech.test,Sam,Roe,Initech,free\n"
           "kim@hooli.test,Kim,,Hooli,\n"
           "JO@globex.test,Jo,,Globex,\n")
    page.set_input_files("#csv-file", files=[{"name": "people.csv", "mimeType": "text/csv",
                                              "buffer": csv.encode()}])
    page.get_by_text("people.csv: 4 people").wait_for()
    page.get_by_role("button", name="Launch").click()
    error = page.locator('.err[data-field="first_send_at"]')
    error.wait_for()  # this campaign's first email needs a time chosen at launch
    page.get_by_label("First email at").fill("10:00")
    page.get_by_role("button", name="Launch").click()
    # The first screen is the dry run: nothing written until the rep confirms.
    expect(page.locator("[data-preview-title]")).to_have_text(
        "Preview: 3 to enrol, 1 skipped, 0 rows left out")
    page.get_by_role("button", name="Confirm launch (3)").click()
    title = page.locator("[data-results-title]")
    title.wait_for()
    expect(title).to_have_text("Launched: 3 enrolled, 1 skipped")
    assert page.locator("[data-skipped] tr").inner_text().split("\t") == [
        "jo@globex.test", "listed twice in this launch"]
    shot(page, "04-launch")


def build_manual_first(page: Any) -> int:
    page.goto("/campaigns/new")
    page.get_by_label("Campaign name").fill("Hand-written intro")
    step(page, 0).get_by_text("Create a task: I'll send it myself").click()
    step(page, 0).locator("[data-k=subject]").fill("Quick question, {{first_name}}")
    step(page, 0).locator(".editor").fill("Hi {{first_name}}, {{! one line about their team }}")
    page.get_by_role("button", name="+ Call").click()
    step(page, 1).get_by_label("Instructions").fill("Follow up by phone")
    page.get_by_role("button", name="Save campaign").click()
    page.wait_for_url(re.compile(r"/campaigns/\d+\?saved=1$"))
    campaign_id = int(page.url.split("/campaigns/")[1].split("?")[0])
    page.get_by_role("link", name="Add people →").click()
    page.get_by_label(re.compile("One person per line")).fill(
        "ana@umbrella.test, Ana, Diaz, Umbrella\nbo@stark.test, Bo, Chen, Stark\n"
        "cy@wayne.test, Cy, Park, Wayne")
    assert page.locator("#first-time").count() == 0  # a manual first email needs no time
    page.get_by_role("button", name="Launch").click()
    page.get_by_role("button", name="Confirm launch (3)").click()
    expect(page.locator("[data-results-title]")).to_have_text("Launched: 3 enrolled, 0 skipped")
    return campaign_id


def task_status(live: Live, email: str) -> TaskStatus:
    from addin_server.models import Enrollment, Person

    with live.runtime.sessions() as s:
        status = s.scalar(select(Task.status).join(Enrollment, Enrollment.id == Task.enrollment_id)
                          .join(Person, Person.id == Enrollment.person_id)
                          .where(Person.email == email))
        assert status is not None
        return status


def task_statuses(live: Live, email: str) -> list[str]:
    from addin_server.models import Enrollment, Person

    with live.runtime.sessions() as s:
        return [status.value for status in s.scalars(
            select(Task.status).join(Enrollment, Enrollment.id == Task.enrollment_id)
            .join(Person, Person.id == Enrollment.person_id).where(Person.email == email)
            .order_by(Task.position))]


def test_build_launch_and_work_tasks(page: Any, live: Live) -> None:
    live.runtime.redis().flushdb()  # this run's Redis db (TEST_REDIS_URL): an empty queue
    sign_in(page)
    campaign_id = build_every_option(page, live)
    launch_csv(page, campaign_id)
    build_manual_first(page)

    # Command Center: both email tasks are due today; keyboard j/k, s skips, Enter opens.
    page.goto("/command")
    rows = page.locator(".task-row")
    assert rows.count() == 3
    assert page.locator(".bucket-today .task-row").count() == 3
    shot(page, "05-command-center")
    ana, bo, cy = (page.locator(".task-row", has_text=f"{who}@") for who in ("ana", "bo", "cy"))

    def selected(row: Any) -> bool:
        # Auto-retrying: the keyboard handlers and the row refresh after a skip are async.
        expect(row).to_have_class(re.compile(r"\bselected\b"))
        return True

    assert selected(ana)
    page.keyboard.press("j")
    assert selected(bo)
    page.keyboard.press("s")
    page.locator(".toast", has_text="Skipped").wait_for()
    assert task_status(live, "bo@stark.test") == TaskStatus.SKIPPED
    assert selected(cy)  # the flow moves on to the next task
    page.keyboard.press("k")
    assert selected(ana)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/tasks/\d+$"))

    # Compose: recipient, rendered subject and body; the prompt must be replaced first.
    assert page.locator("#subject").input_value().startswith("Quick question, ")
    assert page.locator("[data-prompts]").is_visible()
    page.get_by_role("button", name="Send now").click()
    expect(page.locator('.err[data-field="body_html"]')).to_contain_text(
        "Replace the prompt first")
    page.keyboard.type("I saw your team is hiring SDRs.")  # the prompt is selected: typed over
    expect(page.locator("[data-prompts]")).to_be_hidden()
    expect(page.locator('.err[data-field="body_html"]')).to_be_hidden()  # the error went too
    body = page.locator("[data-body]").inner_text()
    assert "I saw your team is hiring SDRs." in body and "{{" not in body
    shot(page, "06-compose")
    compose_url = page.url

    if not any(r.rule == "/api/v1/tasks/<int:task_id>/send" for r in live.app.url_map.iter_rules()):
        page.goto("/feed")
        shot(page, "07-feed")
        page.goto("/mailboxes")
        shot(page, "08-mailboxes")
        pytest.skip("the send endpoint (pipeline branch) is not merged: compose stops before "
                    "sending; " + compose_url)
    send_and_schedule(page, live)


def cycle(live: Live) -> None:
    """The pipeline, in this process: dispatcher ticks and a burst SimpleWorker."""
    from rq import Queue, SimpleWorker

    from addin_server.workers import dispatch
    from addin_server.workers.runtime import install_runtime

    install_runtime(live.runtime)
    queue = Queue(live.runtime.settings.queue_name, connection=live.runtime.redis())
    for _ in range(3):
        dispatch.tick(live.runtime)
        SimpleWorker([queue], connection=live.runtime.redis()).work(burst=True)


def sends_of(live: Live) -> list[tuple[str, str, str]]:
    from addin_server.models import Send

    with live.runtime.sessions() as s:
        return [(send.to_addr, send.state.value, send.due_at.strftime("%Y-%m-%dT%H:%M:%SZ"))
                for send in s.scalars(select(Send).where(Send.task_id.is_not(None))
                                      .order_by(Send.id))]


def send_and_schedule(page: Any, live: Live) -> None:
    # Send now, with a double click: one send, one message in the local mailbox.
    send_button = page.get_by_role("button", name="Send now")
    send_button.dblclick()
    page.locator("[data-sent-note]").wait_for()
    assert send_button.is_disabled()
    cycle(live)
    messages = page.request.get("/api/v1/mailbox/messages").json()["messages"]
    assert [(m["to"], m["subject"]) for m in messages] == [
        ("ana@umbrella.test", "Quick question, Ana")]
    assert "I saw your team is hiring SDRs." in str(messages[0])
    assert [(to, state) for to, state, _ in sends_of(live)] == [("ana@umbrella.test", "sent")]
    # The next task: scheduled for tomorrow 09:00 in the rep's zone (Europe/Paris = UTC+1).
    page.get_by_role("link", name="Next task →").first.click()
    page.wait_for_url(re.compile(r"/tasks/\d+$"))
    page.keyboard.type("Congrats on the launch.")
    page.get_by_role("button", name="Schedule…").click()
    page.locator("[data-send-date]").fill("2026-11-25")
    page.locator("[data-send-time]").fill("09:00")
    page.get_by_role("button", name="Schedule send").click()
    page.locator("[data-sent-note]", has_text=re.compile(
        r"Scheduled for Wed, 25 Nov( 2026)? at 09:00")).wait_for()
    assert sends_of(live)[1] == ("cy@wayne.test", "scheduled", "2026-11-25T08:00:00Z")
    cycle(live)  # not due yet: nothing more goes out
    assert len(page.request.get("/api/v1/mailbox/messages").json()["messages"]) == 1
    # The Command Center's emails and the Live Feed show the send.
    page.goto("/command?view=emails&state=sent")
    assert page.locator("table.grid tbody tr", has_text="ana@umbrella.test").count() == 1
    shot(page, "07-command-emails")
    page.goto("/command?view=emails&state=scheduled")
    assert page.locator("tbody tr", has_text="cy@wayne.test").count() == 1
    page.goto("/feed")
    page.locator(".feed-item", has_text="Email sent to Ana Diaz").wait_for()
    shot(page, "08-feed")
    page.get_by_role("button", name="Sent").click()
    assert page.locator(".feed-item:visible").count() == 1
    page.goto("/mailboxes")
    shot(page, "09-mailboxes")
    page.goto("/campaigns")
    assert page.locator("tbody tr").count() == 2
    shot(page, "13-campaigns")
    # A call task (Ana's step 2, due tomorrow): its page shows the instructions; Done.
    page.goto("/command")
    call = page.locator(".bucket-tomorrow .task-row", has_text="ana@umbrella.test")
    call.get_by_role("link", name="Open").click()
    page.get_by_text("Follow up by phone").wait_for()
    shot(page, "14-call-task")
    # A call is done with how it went (the results and Salesforce get it).
    page.get_by_label("Connected").check()
    page.get_by_role("button", name="Done").click()
    expect(page.locator(".toast")).to_have_text("Done")
    assert task_statuses(live, "ana@umbrella.test") == ["completed", "completed"]


def test_feed_updates_without_reload(page: Any, live: Live) -> None:
    from addin_server import feed

    sign_in(page)
    page.goto("/feed")
    page.get_by_text("Nothing has happened yet").wait_for()
    with live.runtime.sessions.begin() as s:
        rep = s.scalar(select(Rep).where(Rep.email == "demo@example.com"))
        assert rep is not None
        feed.record(s, org_id=rep.org_id, rep_id=rep.id, type=feed.MAILBOX_DISCONNECTED,
                    at=live.runtime.now(), address="demo@example.com")
    item = page.locator(".feed.full .feed-item", has_text="Mailbox demo@example.com disconnected")
    item.wait_for(timeout=15_000)  # the page polls every few seconds
    panel_page = page.context.new_page()
    panel_page.goto("/command")
    assert panel_page.locator(".panel .feed-item", has_text="disconnected").count() == 1
    page.get_by_role("button", name="Replied").click()
    assert item.is_hidden()


def seed_work(live: Live) -> None:
    """A campaign whose first step is an email task, launched on a few people, for the demo
    rep (made by the sign-in), through the domain functions."""
    from addin_server.campaigns.definition import parse_campaign
    from addin_server.campaigns.service import create_campaign
    from addin_server.enrollments.launch import LaunchOptions, launch
    from addin_server.enrollments.people import PersonInput

    now = live.runtime.now()
    with live.runtime.sessions.begin() as s:
        rep = s.scalar(select(Rep).where(Rep.email == "demo@example.com"))
        assert rep is not None
        spec = parse_campaign({"name": "Founders, Q1", "steps": [
            {"day": 1, "type": "email", "send_option": "manual_task", "subject": "Hi",
             "body_html": "<p>Hello {{first_name}}</p>"},
            {"day": 2, "type": "call", "instructions": "Call them"}]},
            default_timezone="Europe/Paris")
        campaign = create_campaign(s, rep, spec, now)
        people = [PersonInput(email=f"{n.lower()}@{c.lower()}.test", first_name=n, company=c)
                  for n, c in (("Mia", "Vandelay"), ("Noah", "Piedpiper"), ("Zoe", "Acme"))]
        launch(s, rep, campaign, people, LaunchOptions(), now)


def test_narrow_window(page: Any, live: Live) -> None:
    sign_in(page)
    seed_work(live)
    page.set_viewport_size({"width": 420, "height": 900})
    page.goto("/command")
    shot(page, "10-command-narrow")
    page.goto("/campaigns/new")
    shot(page, "11-builder-narrow")
    # Nothing wider than the window: no sideways scrolling.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 420, width


def test_bulk_pause_resume_stop_and_why(page: Any, live: Live) -> None:
    from addin_server.models import Enrollment, Person

    def statuses() -> dict[str, str]:
        with live.runtime.sessions() as s:
            return {email: status.value for email, status in s.execute(
                select(Person.email, Enrollment.status)
                .join(Enrollment, Enrollment.person_id == Person.id))}

    sign_in(page)
    seed_work(live)
    page.goto("/command?view=people")
    bar = page.locator("[data-bulkbar]")
    assert bar.is_hidden()
    page.get_by_label("Select mia@vandelay.test").check()
    page.get_by_label("Select noah@piedpiper.test").check()
    expect(bar.locator("[data-bulk-count]")).to_have_text("2 people selected")
    bar.get_by_role("button", name="Pause").click()
    bar.locator("[data-bulk-result]", has_text="Paused 2.").wait_for()
    assert statuses() == {"mia@vandelay.test": "paused", "noah@piedpiper.test": "paused",
                          "zoe@acme.test": "active"}
    row = page.locator("tr", has_text="mia@vandelay.test")
    expect(row.locator("[data-status]")).to_have_text("paused")
    shot(page, "12-people-bulk")
    bar.get_by_role("button", name="Resume").click()
    bar.locator("[data-bulk-result]", has_text="Resumed 2.").wait_for()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_label("Select noah@piedpiper.test").uncheck()
    bar.get_by_role("button", name="Stop").click()
    bar.locator("[data-bulk-result]", has_text="Stopped 1.").wait_for()
    assert statuses() == {"mia@vandelay.test": "stopped", "noah@piedpiper.test": "active",
                          "zoe@acme.test": "active"}
    # Why: each step of a person with its state and reason.
    page.locator("tr", has_text="zoe@acme.test").get_by_role("button", name="Why?").click()
    why = page.locator(".why-list")
    why.wait_for()
    assert why.locator("li").nth(0).inner_text().split("\n")[:3] == [
        "Step 1", "Day 1 · email", "open"]
    assert "waiting for you: email task due Tue, 24 Nov 2026" in why.inner_text()
    assert "becomes a task on Wed, 25 Nov 2026" in why.locator("li").nth(1).inner_text()


def test_builder_uses_a_saved_template(page: Any, live: Live) -> None:
    from addin_server.models import Template

    sign_in(page)
    with live.runtime.sessions.begin() as s:
        rep = s.scalar(select(Rep).where(Rep.email == "demo@example.com"))
        assert rep is not None
        s.add(Template(org_id=rep.org_id, rep_id=rep.id, name="Intro (short)",
                       subject="{{company}} and us", body_html="<p>Hello {{first_name}}!</p>",
                       created_at=live.runtime.now(), updated_at=live.runtime.now()))
    page.goto("/campaigns/new")
    page.get_by_label("Campaign name").fill("From a template")
    step(page, 0).get_by_label("Content").select_option(label="Intro (short)")
    subject = step(page, 0).locator("[data-k=subject]")
    assert subject.input_value() == "{{company}} and us"
    assert subject.get_attribute("readonly") is not None
    assert step(page, 0).locator(".editor").get_attribute("contenteditable") == "false"
    step(page, 0).get_by_role("button", name="Preview").click()
    step(page, 0).locator(".pv-subject", has_text="Northwind and us").wait_for()
    expect(step(page, 0).frame_locator("iframe").locator("body")).to_have_text("Hello Alex!")
    page.get_by_role("button", name="Save campaign").click()
    page.wait_for_url(re.compile(r"/campaigns/\d+\?saved=1$"))
    campaign = campaign_rows(live, "From a template")
    assert campaign.steps[0].template_id is not None
    assert (campaign.steps[0].subject, campaign.steps[0].body_html) == ("", "")
    # Reopened, the builder shows the template chosen.
    page.reload()
    assert step(page, 0).get_by_label("Content").input_value() == str(campaign.steps[0].template_id)


def test_large_csv_launch(page: Any, live: Live) -> None:
    sign_in(page)
    seed_work(live)
    with live.runtime.sessions() as s:
        campaign_id = s.scalar(select(Campaign.id).where(Campaign.name == "Founders, Q1"))
    rows = "".join(f"p{i}@bulk.test,P{i},Company {i % 50}\n" for i in range(3000))
    page.goto(f"/campaigns/{campaign_id}/launch")
    page.get_by_role("tab", name="Upload CSV").click()
    page.set_input_files("#csv-file", files=[{
        "name": "big.csv", "mimeType": "text/csv",
        "buffer": ("email,first_name,company\n" + rows + "mia@vandelay.test,Mia,Vandelay\n"
                   ).encode()}])
    page.get_by_text(re.compile(r"big\.csv: 3,001 people")).wait_for()
    page.get_by_role("button", name="Launch").click()
    page.get_by_role("button", name="Confirm launch (3000)").click(timeout=60_000)
    title = page.locator("[data-results-title]")
    title.wait_for(timeout=60_000)
    expect(title).to_have_text("Launched: 3000 enrolled, 1 skipped")
    assert page.locator("[data-enrolled] tr").count() == 501  # 500 shown and "and 2500 more"
    assert page.locator("[data-enrolled] tr").last.inner_text() == "and 2500 more"
    assert page.locator("[data-skipped] tr").inner_text().split("\t") == [
        "mia@vandelay.test", "already active in this campaign"]


def test_builder_options_follow_the_step_position(page: Any, live: Live) -> None:
    sign_in(page)
    page.goto("/campaigns/new")
    page.get_by_role("button", name="+ Call").click()  # step 2, day 2
    page.get_by_role("button", name="+ Email").click()  # step 3, day 4
    step(page, 2).get_by_label("Reply to the previous email").wait_for(state="hidden")
    # Step 1 becomes a call: step 3 is now the first email, with the first email's options
    # (without "choose at launch", which is for an email on day 1 only).
    step(page, 0).get_by_label("Step type").select_option("call")
    assert options_of(page, 2) == ["fixed_time", "manual_task"]
    # Moved to the top (day 1), it may be chosen at launch again.
    step(page, 2).get_by_role("button", name="Move step up").click()
    step(page, 1).get_by_role("button", name="Move step up").click()
    assert options_of(page, 0) == ["choose_at_launch", "fixed_time", "manual_task"]
    assert step(page, 0).locator("[data-k=day]").input_value() == "1"
    # An email after it: a later email's options, and it may reply.
    page.get_by_role("button", name="+ Email").click()
    assert options_of(page, 3) == ["same_time_as_previous", "fixed_time", "manual_task"]
    assert step(page, 3).locator("[data-reply-row]").is_hidden()  # a call is right before
    step(page, 2).get_by_role("button", name="Remove step").click()
    step(page, 1).get_by_role("button", name="Remove step").click()
    assert step(page, 1).get_by_label("Reply to the previous email").is_visible()


def test_launch_preview_maps_columns_warns_and_then_launches(page: Any, live: Live) -> None:
    """The launch form's first screen: the file's columns (guessed, changed by the rep), when
    each step goes, warnings and rows left out; nothing written until confirmed."""
    from addin_server.models import Person

    sign_in(page)
    page.goto("/campaigns/new")
    page.get_by_label("Campaign name").fill("Preview")
    step(page, 0).get_by_text("Create a task: I'll send it myself").click()
    step(page, 0).locator("[data-k=subject]").fill("About {{tool}}")
    step(page, 0).locator(".editor").fill("Hi {{first_name}}")
    page.get_by_role("button", name="Save campaign").click()
    page.wait_for_url(re.compile(r"/campaigns/\d+\?saved=1$"))
    campaign_id = int(page.url.split("/campaigns/")[1].split("?")[0])
    page.goto(f"/campaigns/{campaign_id}/launch")
    page.get_by_role("tab", name="Upload CSV").click()
    csv = ("Email Address;Given Name;Tool\n"
           "jo@globex.test;Jo;Excel\n"
           "not-an-email;Sam;Vim\n"
           "kim@hooli.test;Kim;\n")
    page.set_input_files("#csv-file", files=[{"name": "people.csv", "mimeType": "text/csv",
                                              "buffer": csv.encode("utf-16")}])
    page.get_by_role("button", name="Launch").click()
    expect(page.locator("[data-preview-title]")).to_have_text(
        "Preview: 2 to enrol, 0 skipped, 1 rows left out")
    expect(page.get_by_label("Read column Email Address as")).to_have_value("email")
    expect(page.get_by_label("Read column Given Name as")).to_have_value("first_name")
    expect(page.locator("[data-invalid] tr")).to_have_text(re.compile("3.*Email Address"))
    # Kim has no {{tool}}: step 1 warns; the task falls today.
    expect(page.locator("[data-warnings] tr")).to_have_text(re.compile("kim@hooli.test.*1.*tool"))
    expect(page.locator("[data-forecast] tr")).to_have_text(re.compile("1 \\(task\\).*: 2"))
    with live.runtime.sessions() as s:
        assert s.scalar(select(Person).limit(1)) is None  # the preview wrote nothing
    # The rep reads Tool as nothing: the preview runs again, and now both lack {{tool}}.
    page.get_by_label("Read column Tool as").select_option("ignore")
    expect(page.locator("[data-warnings-count]")).to_have_text("2")
    page.get_by_role("button", name="Confirm launch (2)").click()
    expect(page.locator("[data-results-title]")).to_have_text("Launched: 2 enrolled, 0 skipped")
    page.reload()
    with live.runtime.sessions() as s:
        people = s.execute(select(Person.email, Person.first_name, Person.fields)
                           .order_by(Person.email)).all()
    assert [tuple(p) for p in people] == [("jo@globex.test", "Jo", {}),
                                          ("kim@hooli.test", "Kim", {})]
