"""The campaign's results page in a real headless Chromium: a campaign with three weeks of
activity (sent through the real bookkeeping, replies and bounces through the real inbound
rules), opened from the campaign list, filtered, and a call completed with its outcome from
the task page showing up in the step's row. The screenshot is docs/webapp-results.png."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from addin_server.accounts import demo_rep
from addin_server.campaigns.definition import parse_campaign
from addin_server.campaigns.service import create_campaign
from addin_server.config import Settings
from addin_server.enrollments import launch as launches
from addin_server.enrollments import lifecycle
from addin_server.enrollments.people import PersonInput
from addin_server.enrollments.tasks import complete_task, skip_task
from addin_server.enums import CallOutcome, TaskStatus
from addin_server.inbound.rules import process_inbound
from addin_server.inbound.unsubscribe import unsubscribe
from addin_server.models import Enrollment, Mailbox, Task
from addin_server.validation import Errors
from tests.api.test_campaigns import six_steps
from tests.conftest import FrozenClock
from tests.flows.test_webapp_browser import shot, sign_in
from tests.support.browser import Live, chromium, serve
from tests.support.replies import bounce_fixture, fixture, mark_sent, reply

pytestmark = [pytest.mark.browser,
              pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]
DOCS = Path(__file__).resolve().parents[2] / "docs"
NAMES = ["Ada", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lea",
         "Max", "Nia", "Oto", "Pia", "Quin", "Rae", "Sol", "Tom", "Uma", "Vic", "Wes", "Xia",
         "Yan", "Zoe", "Abe", "Bea", "Cal", "Dot", "Eve", "Finn"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()


@pytest.fixture
def live(settings: Settings, clock: FrozenClock) -> Iterator[Live]:
    yield from serve(settings, clock)


def inbound(s: Session, mailbox: Mailbox, msg: Any, pid: str, thread: str, at: Any) -> None:
    process_inbound(s, mailbox, msg, provider_message_id=pid, thread_id=thread, now=at)
    s.commit()


def seed(live: Live) -> tuple[int, int]:
    """Q4 outreach: 32 people over the last two weeks. Returns (campaign id, an open call)."""
    rt, now = live.runtime, live.runtime.now()
    with rt.sessions() as s:
        rep = demo_rep(s, rt.settings, now)
        campaign = create_campaign(s, rep, parse_campaign(
            {"name": "Q4 outreach", "timezone": "Europe/Paris", "steps": six_steps(),
             "settings": {"skip_weekends": False, "stop_on_reply": True}},
            default_timezone="Europe/Paris"), now - timedelta(days=16))
        s.commit()
        people = [PersonInput(email=f"{n.lower()}@example.test", first_name=n,
                              company="Globex") for n in NAMES]
        result = launches.launch(s, rep, campaign, people,
                                 launches.parse_options({}, Errors()), now)
        s.commit()
        mailbox = s.scalar(select(Mailbox).where(Mailbox.rep_id == rep.id))
        assert mailbox is not None
        ids = [eid for eid, _, _ in result.enrolled]
        for i, eid in enumerate(ids):
            first = now - timedelta(days=14 - (i % 13), hours=i % 5)
            mark_sent(s, eid, first, thread=f"t{eid}", message_id=f"<{eid}.1@demo.test>")
            if i % 3 != 2:
                mark_sent(s, eid, first + timedelta(days=2), thread=f"t{eid}",
                          message_id=f"<{eid}.2@demo.test>")
        for i in (0, 4, 7, 11, 15, 20, 26):  # seven people reply
            eid = ids[i]
            inbound(s, mailbox, reply(f"{NAMES[i].lower()}@example.test", rep.email,
                                      in_reply_to=f"<{eid}.1@demo.test>"),
                    f"r{eid}", f"t{eid}", now - timedelta(days=12 - (i % 12)))
        inbound(s, mailbox, bounce_fixture(f"{NAMES[1].lower()}@example.test",
                                           f"<{ids[1]}.1@demo.test>"), "b1", f"t{ids[1]}", now)
        ooo = fixture("exchange_ooo_en.eml",
                      {"<campaign-42.1@acme.test>": f"<{ids[3]}.1@demo.test>"})
        ooo.replace_header("From", f"{NAMES[3].lower()}@example.test")
        inbound(s, mailbox, ooo, "o1", f"t{ids[3]}", now)
        unsubscribe(s, rep.org_id, f"{NAMES[5].lower()}@example.test", now, source="link")
        enrollment = s.get(Enrollment, ids[6])
        assert enrollment is not None
        lifecycle.end(s, enrollment, now)
        s.commit()
        calls = list(s.scalars(select(Task).join(Enrollment).where(
            Enrollment.campaign_id == campaign.id, Task.status == TaskStatus.OPEN,
            Task.position == 2).order_by(Task.id)))
        outcomes = [CallOutcome.CONNECTED, CallOutcome.NO_ANSWER, CallOutcome.NO_ANSWER,
                    CallOutcome.BUSY]
        for task, outcome in zip(calls[1:], outcomes, strict=False):
            complete_task(s, task, now, outcome=outcome, note="")
        skip_task(s, calls[-1], now)
        s.commit()
        return campaign.id, calls[0].id


def kpi(page: Any, name: str) -> Any:
    return page.locator(f'[data-kpi="{name}"]')


def cell(page: Any, step: int, col: str) -> Any:
    return page.locator(f'tr[data-step="{step}"] [data-col="{col}"]')


def test_the_results_page(browser: Any, live: Live) -> None:
    context = browser.new_context(viewport={"width": 1360, "height": 1000}, base_url=live.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(10_000)
    sign_in(page)
    cid, call_id = seed(live)
    # A call done from the task page, with its outcome and a note.
    page.goto(f"/tasks/{call_id}")
    page.get_by_role("button", name="Done").click()
    expect(page.locator(".toast")).to_contain_text("Choose how the call went")
    page.get_by_label("Left voicemail").check()
    page.get_by_label("Note").fill("Asked her to call back on Friday")
    page.get_by_role("button", name="Done").click()
    page.wait_for_url(re.compile(r"/(command|tasks/\d+)$"))
    # The campaign list opens the results; Edit opens the editor at its own URL.
    page.goto("/campaigns")
    page.get_by_role("link", name="Q4 outreach").click()
    page.wait_for_url(re.compile(rf"/campaigns/{cid}/results$"))
    expect(kpi(page, "enrolled")).to_have_text("32")
    expect(kpi(page, "replied")).to_have_text("7")
    expect(kpi(page, "reply_rate")).to_have_text("21.9%")
    expect(kpi(page, "bounced")).to_have_text("1")
    expect(kpi(page, "unsubscribed")).to_have_text("1")
    expect(kpi(page, "out_of_office")).to_have_text("1")
    expect(kpi(page, "stopped")).to_have_text("1")
    expect(cell(page, 1, "sent")).to_have_text("32")
    expect(cell(page, 1, "replied")).to_contain_text("7")
    expect(cell(page, 3, "calls")).to_have_text(
        "1 connected · 1 left voicemail · 2 no answer · 1 busy")
    expect(cell(page, 3, "tasks_skipped")).to_have_text("1")
    assert page.locator("svg.chart rect.bar-sent").count() >= 14
    assert errors == []
    shot(page, "results")
    if os.environ.get("UPDATE_DOCS_SCREENSHOT") == "1":  # a test never writes the checkout
        page.screenshot(path=str(DOCS / "webapp-results.png"), full_page=True)
    # Filter: the last five days only; the URL keeps the filter, a reload shows the same.
    page.get_by_label("From").fill("2026-11-19")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"from=2026-11-19"))
    expect(kpi(page, "enrolled")).to_have_text("32")  # all enrolled today
    page.reload()
    expect(page.get_by_label("From")).to_have_value("2026-11-19")
    sent_recent = int(cell(page, 1, "sent").inner_text())
    assert 0 < sent_recent < 32
    page.get_by_role("link", name="Edit").click()
    page.wait_for_url(re.compile(rf"/campaigns/{cid}$"))
    expect(page.get_by_label("Campaign name")).to_have_value("Q4 outreach")
    context.close()
    assert errors == []
