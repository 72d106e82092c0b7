"""The person page in a real headless Chromium: opened from the Command Center, a field and a
custom field edited, saved and read back after a reload; then "Try it locally": a simulated
reply goes through the real inbound path and the page says in one line why the person
stopped; the local mailbox page shows the reply."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from addin_server.accounts import demo_rep
from addin_server.campaigns.definition import parse_campaign
from addin_server.campaigns.service import create_campaign
from addin_server.enrollments.launch import LaunchOptions, launch
from addin_server.enrollments.people import PersonInput
from addin_server.models import Person
from tests.conftest import FrozenClock
from tests.support.browser import Live
from tests.support.sending import cycle

pytestmark = [pytest.mark.browser,
              pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


def seed(live: Live, clock: FrozenClock) -> int:
    """Mia in the demo rep's two-email campaign, her first email sent by the local mailbox."""
    rt = live.runtime
    with rt.sessions.begin() as s:
        rep = demo_rep(s, rt.settings, rt.now())
        spec = parse_campaign({"name": "Founders, Q1", "settings": {"stop_on_reply": True},
                               "steps": [
            {"day": 1, "type": "email", "send_option": "fixed_time", "send_time": "09:00",
             "subject": "Hi {{first_name}}", "body_html": "<p>Hello {{first_name}}</p>"},
            {"day": 3, "type": "email", "send_option": "same_time_as_previous",
             "reply_to_previous": True, "body_html": "<p>Again</p>"}]},
            default_timezone="Europe/Paris")
        campaign = create_campaign(s, rep, spec, rt.now())
        launch(s, rep, campaign, [PersonInput(email="mia@vandelay.test", first_name="Mia",
                                              company="Vandelay", fields={"plan": "gold"})],
               LaunchOptions(), rt.now())
    clock.advance(minutes=1)
    cycle(rt)
    with rt.sessions() as s:
        pid = s.scalar(select(Person.id).where(Person.email == "mia@vandelay.test"))
        assert pid is not None
        return pid


def test_edit_a_person_then_simulate_a_reply(page: Any, live: Live, clock: FrozenClock) -> None:
    pid = seed(live, clock)
    page.goto("/command?view=people")
    page.get_by_role("link", name="Mia", exact=True).click()
    page.wait_for_url(re.compile(rf"/people/{pid}$"))
    expect(page.locator("[data-standing]")).to_have_text("Active in campaign 'Founders, Q1'")

    page.get_by_label("Company").fill("Vandelay Industries")
    page.get_by_label("Title").fill("Importer")
    page.get_by_label("plan", exact=True).fill("platinum")
    page.locator("[data-cf-new-name]").fill("favourite_tool")
    page.locator("[data-cf-new-value]").fill("latex")
    page.get_by_role("button", name="Add field").click()
    # The page reloads itself after a save: wait for that reload rather than race it.
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
        expect(page.locator(".toast")).to_have_text("Saved")
    expect(page.get_by_label("Company")).to_have_value("Vandelay Industries")
    expect(page.get_by_label("Title")).to_have_value("Importer")
    expect(page.get_by_label("plan", exact=True)).to_have_value("platinum")
    expect(page.get_by_label("favourite_tool", exact=True)).to_have_value("latex")

    # A bad time zone is refused beside its field, and nothing changes.
    page.get_by_label("Time zone").fill("Mars/Base")
    page.get_by_role("button", name="Save").click()
    expect(page.locator('[data-field="timezone"]')).to_contain_text("unknown time zone")
    page.reload()
    expect(page.get_by_label("Time zone")).to_have_value("")

    thread = page.locator("[data-thread]")
    expect(thread.locator("[data-thread-item]")).to_have_count(1)
    expect(thread).to_contain_text("Hi Mia")
    page.get_by_role("button", name="Simulate a reply").click()
    expect(page.locator("[data-standing]")).to_have_text(
        re.compile(r"^Stopped: replied on Tue, 24 Nov 2026 \(in campaign 'Founders, Q1'\)$"))
    expect(page.locator("[data-enrollment-status]")).to_have_text("replied")
    expect(thread.locator('[data-thread-item="human"]')).to_contain_text("Re: Hi Mia")
    expect(page.get_by_role("button", name="Simulate a reply")).to_have_count(1)

    page.goto("/mailboxes")
    page.get_by_role("link", name="Messages").click()
    page.get_by_role("link", name="Re: Hi Mia").click()
    expect(page.locator("[data-message-text]")).to_contain_text("Could we talk on Thursday?")


def test_pause_resume_and_add_to_a_campaign_that_asks_for_a_time(
        page: Any, live: Live, clock: FrozenClock) -> None:
    pid = seed(live, clock)
    rt = live.runtime
    with rt.sessions.begin() as s:
        rep = demo_rep(s, rt.settings, rt.now())
        create_campaign(s, rep, parse_campaign({"name": "Personal", "steps": [
            {"day": 1, "type": "email", "send_option": "choose_at_launch",
             "subject": "Hi", "body_html": "<p>Hello</p>"}]},
            default_timezone="Europe/Paris"), rt.now())
    page.goto(f"/people/{pid}")
    row = page.locator("[data-enrollment-row]", has_text="Founders, Q1")
    row.get_by_role("button", name="Pause").click()
    expect(page.locator("[data-standing]")).to_have_text(
        "Held: paused by hand in campaign 'Founders, Q1'")
    page.locator("[data-enrollment-row]", has_text="Founders, Q1").get_by_role(
        "button", name="Resume").click()
    expect(page.locator("[data-standing]")).to_have_text("Active in campaign 'Founders, Q1'")

    page.get_by_label("Add to").select_option(label="Personal")
    page.get_by_role("button", name="Add to campaign").click()
    expect(page.locator('[data-field="first_send_at"]')).to_have_text(
        "Choose when the first email goes")
    page.get_by_label("First email on").fill("2026-11-25")
    page.get_by_label("at", exact=True).fill("10:15")
    page.get_by_role("button", name="Add to campaign").click()
    personal = page.locator("[data-enrollment-row]", has_text="Personal")
    expect(personal.locator("[data-enrollment-status]")).to_have_text("active")
    expect(personal).to_contain_text("scheduled for Wed, 25 Nov 2026 at 10:15 CET")
