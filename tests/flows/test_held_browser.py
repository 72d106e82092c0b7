"""In a real browser (headless Chromium): a held email is fixed from its page by filling the
person's missing field, then goes out once through the pipeline; another is skipped and its
person moves on; and "select all 1,000 matching" + Pause pauses 1,000 people in one request
(issue 15, points 6 and 3). The pipeline runs in the test (dispatcher pass + RQ jobs) with the
demo rep's local development mailbox."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from addin_server.models import Enrollment, LocalMessage, Person, Send
from tests.conftest import FrozenClock
from tests.flows.test_builder_roundtrip import api
from tests.support.browser import ARTIFACTS, Live
from tests.support.sending import cycle

pytestmark = [pytest.mark.browser,
              pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


def held_emails(page: Any, live: Live, clock: FrozenClock, *names: str) -> dict[str, int]:
    """A campaign whose first email needs favourite_color, launched on people without it; the
    pipeline holds each first email. Returns the send ids by first name."""
    campaign = api(page, "POST", "/api/v1/campaigns", {
        "name": "Colours", "timezone": "Europe/Paris",
        "settings": {"skip_weekends": False},
        "steps": [{"day": 1, "type": "email", "send_option": "fixed_time", "send_time": "09:30",
                   "subject": "Colours, {{first_name}}",
                   "body_html": "<p>Hi {{first_name}}, I love {{favourite_color}} too.</p>"},
                  {"day": 3, "type": "email", "send_option": "same_time_as_previous",
                   "subject": "Again", "body_html": "<p>Following up</p>"}]})
    api(page, "POST", f"/api/v1/campaigns/{campaign['id']}/launch", {"people": [
        {"email": f"{n.lower()}@corp.test", "first_name": n} for n in names]})
    clock.advance(hours=1)
    cycle(live.runtime, 1)
    with live.runtime.sessions() as s:
        rows = s.execute(select(Send.id, Person.email, Send.state)
                         .join(Enrollment, Enrollment.id == Send.enrollment_id)
                         .join(Person, Person.id == Enrollment.person_id)).all()
    assert {state.value for _, _, state in rows} == {"held"}
    return {to.split("@")[0].title(): i for i, to, _ in rows}


def open_from_emails_tab(page: Any, who: str) -> None:
    page.goto("/command?view=emails&state=waiting")
    page.get_by_role("link", name=f"Open the email to {who}").click()
    page.wait_for_url(re.compile(r"/sends/\d+$"))


def delivered(live: Live, send_id: int) -> list[LocalMessage]:
    with live.runtime.sessions() as s:
        return list(s.scalars(select(LocalMessage).where(
            LocalMessage.send_id == str(send_id), LocalMessage.is_draft.is_(False))))


def test_fill_the_missing_field_and_the_email_goes_once(
    page: Any, live: Live, clock: FrozenClock
) -> None:
    send_id = held_emails(page, live, clock, "Zoe")["Zoe"]
    open_from_emails_tab(page, "zoe@corp.test")
    expect(page.get_by_role("heading", name="Held: no value for favourite_color")).to_be_visible()
    marked = page.frame_locator('iframe[title="The email"]').locator("mark.missing-field")
    expect(marked).to_have_text("favourite_color")
    expect(page.frame_locator('iframe[title="The email with the default text"]')
           .locator("body")).to_have_text("Hi Zoe, I love too.")
    page.get_by_role("textbox", name="favourite_color").fill("teal")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "15-held-fix.png"), full_page=True)
    releases: list[str] = []
    page.on("request", lambda r: releases.append(r.url) if r.url.endswith("/release") else None)
    page.get_by_role("button", name="Save and send").dblclick()  # a double click: one release
    page.locator(".toast", has_text="Saved: the email goes now").wait_for()
    page.wait_for_load_state("load")
    expect(page.locator("[data-send-state]")).to_have_text("scheduled")
    assert len(releases) == 1
    cycle(live.runtime, 3)
    (message,) = delivered(live, send_id)
    assert "I love teal too." in message.raw.decode()
    cycle(live.runtime, 2)  # nothing more goes
    assert len(delivered(live, send_id)) == 1
    page.reload()
    expect(page.locator("[data-send-state]")).to_have_text("sent")
    expect(page.locator("[data-held]")).to_have_count(0)


def test_skip_the_step_and_the_person_moves_on(
    page: Any, live: Live, clock: FrozenClock
) -> None:
    ids = held_emails(page, live, clock, "Ana", "Bo")
    open_from_emails_tab(page, "ana@corp.test")
    page.get_by_role("button", name="Skip this step").click()
    page.locator(".toast", has_text="Step skipped").wait_for()
    page.wait_for_load_state("load")
    expect(page.locator("[data-send-state]")).to_have_text("cancelled")
    with live.runtime.sessions() as s:
        ana = s.get(Send, ids["Ana"])
        assert ana is not None
        later = s.scalar(select(Send).where(Send.enrollment_id == ana.enrollment_id,
                                            Send.position == 1))
        assert later is not None and later.state.value == "scheduled"
        bo = s.get(Send, ids["Bo"])
        assert bo is not None and bo.state.value == "held"  # only Ana's was skipped
    cycle(live.runtime, 2)
    assert delivered(live, ids["Ana"]) == []
    # Bo's goes with the default text, as the page shows it.
    open_from_emails_tab(page, "bo@corp.test")
    page.get_by_role("button", name="Send as shown").click()
    page.locator(".toast", has_text="The email goes now, as shown").wait_for()
    cycle(live.runtime, 3)
    (message,) = delivered(live, ids["Bo"])
    assert "I love too." in " ".join(message.raw.decode().split())


def test_select_all_matching_pauses_1000_people_in_one_request(page: Any, live: Live) -> None:
    campaign = api(page, "POST", "/api/v1/campaigns", {
        "name": "Big", "timezone": "Europe/Paris",
        "steps": [{"day": 1, "type": "email", "send_option": "fixed_time", "send_time": "10:30",
                   "subject": "Hi", "body_html": "<p>Hi</p>"}]})
    api(page, "POST", f"/api/v1/campaigns/{campaign['id']}/launch", {"people": [
        {"email": f"p{i}@corp.test"} for i in range(1000)]})
    page.goto(f"/command?view=people&campaign={campaign['id']}")
    bulk: list[str] = []
    page.on("request", lambda r: bulk.append(r.post_data or "")
            if r.url.endswith("/api/v1/enrollments/bulk") else None)
    page.get_by_label("Select all on this page").check()
    bar = page.locator("[data-bulkbar]")
    expect(bar.locator("[data-bulk-count]")).to_have_text("100 people selected on this page")
    bar.get_by_role("button", name="Select all 1,000 matching").click()
    expect(bar.locator("[data-bulk-count]")).to_have_text("All 1,000 matching people selected")
    bar.get_by_role("button", name="Pause").click()
    expect(bar.locator("[data-bulk-result]")).to_have_text("Paused 1,000 of 1,000 matching.")
    assert len(bulk) == 1 and '"filter"' in bulk[0]
    with live.runtime.sessions() as s:
        counts = dict(s.execute(select(Enrollment.status, func.count())
                                .where(Enrollment.campaign_id == campaign["id"])
                                .group_by(Enrollment.status)).all())
    assert {k.value: v for k, v in counts.items()} == {"paused": 1000}
    # Unticking one row goes back to a selection of this page.
    page.locator("tbody input[data-enrollment]").first.uncheck()
    expect(bar.locator("[data-bulk-count]")).to_have_text("99 people selected")
