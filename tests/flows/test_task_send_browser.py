"""A rep schedules an email task's send from compose, then Skips or marks Done the task in the
Command Center: the scheduled email is cancelled (Done asks first); a past time is refused
beside the time field (issue 15, points 2 and 4). Headless Chromium."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from addin_server.models import Send
from tests.flows.test_builder_roundtrip import api
from tests.support.browser import ARTIFACTS, Live

pytestmark = [pytest.mark.browser,
              pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


def sends(live: Live) -> dict[str, tuple[str, str]]:
    with live.runtime.sessions() as s:
        return {x.to_addr: (x.state.value, x.reason) for x in s.scalars(select(Send))}


def schedule_from_compose(page: Any, who: str) -> None:
    page.goto("/command")
    page.locator(".task-row", has_text=who).get_by_role("link", name="Open").click()
    page.wait_for_url(re.compile(r"/tasks/\d+$"))
    page.get_by_role("button", name="Schedule…").click()
    page.locator("[data-send-date]").fill("2026-11-24")
    page.locator("[data-send-time]").fill("08:30")  # the clock says 09:00 in Paris
    page.get_by_role("button", name="Schedule send").click()
    expect(page.locator('.err[data-field="send_at"]')).to_contain_text(
        "is in the past (Tue, 24 Nov 2026 at 08:30; it is now Tue, 24 Nov 2026 at 09:00 "
        "Europe/Paris)")
    page.locator("[data-send-time]").fill("15:00")
    page.get_by_role("button", name="Schedule send").click()
    page.locator("[data-sent-note]", has_text=re.compile(
        r"Scheduled for Tue, 24 Nov( 2026)? at 15:00")).wait_for()


def test_skip_and_done_cancel_what_compose_scheduled(page: Any, live: Live) -> None:
    campaign = api(page, "POST", "/api/v1/campaigns", {
        "name": "Manual", "timezone": "Europe/Paris",
        "steps": [{"day": 1, "type": "email", "send_option": "manual_task",
                   "subject": "Idea for {{company}}", "body_html": "<p>Hi {{first_name}}</p>"}]})
    api(page, "POST", f"/api/v1/campaigns/{campaign['id']}/launch", {"people": [
        {"email": "ana@umbrella.test", "first_name": "Ana", "company": "Umbrella"},
        {"email": "bo@stark.test", "first_name": "Bo", "company": "Stark"}]})

    schedule_from_compose(page, "ana@umbrella.test")
    assert sends(live) == {"ana@umbrella.test": ("scheduled", "")}
    page.goto("/command")
    page.locator(".task-row", has_text="ana@umbrella.test").get_by_role(
        "button", name="Skip").click()
    page.locator(".toast", has_text="Skipped").wait_for()
    assert sends(live)["ana@umbrella.test"] == ("cancelled", "the rep skipped the task")

    schedule_from_compose(page, "bo@stark.test")
    page.goto("/command")
    row = page.locator(".task-row", has_text="bo@stark.test")
    asked: list[str] = []

    def answer(dialog: Any, accept: bool) -> None:
        asked.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda d: answer(d, False))
    row.get_by_role("button", name="Done").click()
    page.locator(".toast", has_text="Not done: the email is still scheduled").wait_for()
    assert "Tue, 24 Nov 2026 at 15:00 Europe/Paris" in asked[0]
    assert sends(live)["bo@stark.test"] == ("scheduled", "")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "15-done-asks.png"))
    page.once("dialog", lambda d: answer(d, True))
    row.get_by_role("button", name="Done").click()
    page.locator(".toast", has_text="Done. Next task selected.").wait_for()
    assert sends(live)["bo@stark.test"] == (
        "cancelled", "the rep marked the task done without sending it")


def test_launch_form_asks_before_sending_a_past_first_email_now(page: Any, live: Live) -> None:
    campaign = api(page, "POST", "/api/v1/campaigns", {
        "name": "Chosen", "timezone": "Europe/Paris",
        "steps": [{"day": 1, "type": "email", "send_option": "choose_at_launch",
                   "subject": "Hi", "body_html": "<p>Hi {{first_name}}</p>"}]})
    page.goto(f"/campaigns/{campaign['id']}/launch")
    page.locator("#people-text").fill("ana@umbrella.test\nbo@stark.test")
    page.get_by_label("First email at").fill("08:00")  # meant 18:00; it is 09:00 in Paris
    asked: list[str] = []

    def answer(dialog: Any, accept: bool) -> None:
        asked.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    # The preview (a dry run) comes first; confirming is when the past time is refused.
    page.get_by_role("button", name="Launch").click()
    page.once("dialog", lambda d: answer(d, False))
    page.get_by_role("button", name="Confirm launch (2)").click()
    expect(page.locator('.err[data-field="first_send_at"]')).to_contain_text("is in the past")
    assert "every first email would go at once" in asked[0]
    assert "Send the first emails now?" in asked[0]
    assert api(page, "GET", f"/api/v1/campaigns/{campaign['id']}/enrollments")[
        "enrollments"] == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "15-launch-past-refused.png"))
    page.once("dialog", lambda d: answer(d, True))
    page.get_by_role("button", name="Confirm launch (2)").click()
    expect(page.locator("[data-results-title]")).to_have_text("Launched: 2 enrolled, 0 skipped")


def test_open_an_email_from_the_emails_tab_reschedule_and_cancel(page: Any, live: Live) -> None:
    campaign = api(page, "POST", "/api/v1/campaigns", {
        "name": "Auto", "timezone": "Europe/Paris",
        "steps": [{"day": 1, "type": "email", "send_option": "fixed_time", "send_time": "10:00",
                   "subject": "Hello {{first_name}}", "body_html": "<p>Hi {{first_name}}!</p>"},
                  {"day": 3, "type": "call", "instructions": "Call"}]})
    api(page, "POST", f"/api/v1/campaigns/{campaign['id']}/launch",
        {"people": [{"email": "ana@umbrella.test", "first_name": "Ana"}]})
    page.goto("/command?view=emails&state=scheduled")
    page.get_by_role("link", name="Open the email to ana@umbrella.test").click()
    page.wait_for_url(re.compile(r"/sends/\d+$"))
    # Not claimed yet: shown as it will be sent, rendered for Ana.
    expect(page.locator("[data-subject]")).to_have_text("Hello Ana")
    expect(page.frame_locator("iframe").locator("body")).to_contain_text("Hi Ana!")
    page.locator("[data-send-date]").fill("2026-11-24")
    page.locator("[data-send-time]").fill("08:00")
    page.get_by_role("button", name="Reschedule").click()
    expect(page.locator('.err[data-field="send_at"]')).to_contain_text("is in the past")
    page.locator("[data-send-time]").fill("16:30")
    page.get_by_role("button", name="Reschedule").click()
    expect(page.locator("[data-send-due]")).to_contain_text("Tue, 24 Nov at 16:30")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "15-send-page.png"), full_page=True)
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Cancel this email").click()
    expect(page.locator("[data-send-state]")).to_have_text("cancelled")
    assert list(sends(live).values()) == [("cancelled", "cancelled by the rep")]
    expect(page.get_by_role("button", name="Reschedule")).to_have_count(0)


def test_done_on_a_call_in_the_command_center_asks_how_it_went(page: Any, live: Live) -> None:
    campaign = api(page, "POST", "/api/v1/campaigns", {
        "name": "Calls", "timezone": "Europe/Paris",
        "steps": [{"day": 1, "type": "call", "instructions": "Call about the intro"}]})
    api(page, "POST", f"/api/v1/campaigns/{campaign['id']}/launch",
        {"people": [{"email": "ana@umbrella.test", "first_name": "Ana"}]})
    page.goto("/command")
    row = page.locator(".task-row", has_text="ana@umbrella.test")
    row.get_by_role("button", name="Done").click()
    # Not completed blind: the task's page asks for the outcome (issue 16, point 3).
    page.wait_for_url(re.compile(r"/tasks/\d+$"))
    expect(page.get_by_text("How did the call go?")).to_be_visible()
    (task,) = api(page, "GET", "/api/v1/tasks")["tasks"]
    assert task["status"] == "open"

