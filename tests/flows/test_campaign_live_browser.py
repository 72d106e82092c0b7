"""A live campaign in the browser (issue 15, point 8): change a step's time on the campaign's
page, save, see how many people it reaches, reload, and find the scheduled emails at the new time
in the Command Center's Emails tab; pause, stop and archive from the campaign list, each asking
first with the number of people. The clock stands at Tue 24 Nov 2026 08:00 UTC (09:00 Paris).
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.axe import assert_accessible, assert_fits
from tests.support.browser import ARTIFACTS, Live

pytestmark = [pytest.mark.browser,
              pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


def api(page: Any, method: str, path: str, body: Any = None) -> Any:
    res = page.evaluate("([m, p, b]) => App.api(m, p, b ?? undefined)", [method, path, body])
    assert res["ok"], res
    return res["data"]


def live_campaign(page: Any, name: str) -> int:
    created = api(page, "POST", "/api/v1/campaigns", {
        "name": name, "timezone": "Europe/Paris", "settings": {"skip_weekends": False},
        "steps": [{"day": 1, "type": "email", "send_option": "fixed_time", "send_time": "10:00",
                   "subject": "Hi {{first_name}}", "body_html": "<p>Hello</p>"},
                  {"day": 3, "type": "email", "send_option": "same_time_as_previous",
                   "subject": "Again", "body_html": "<p>Again</p>"}]})
    api(page, "POST", f"/api/v1/campaigns/{created['id']}/launch", {"people": [
        {"email": "ann@corp.test", "first_name": "Ann"},
        {"email": "bob@corp.test", "first_name": "Bob"}]})
    return int(created["id"])


def test_a_changed_step_time_says_whom_it_reaches_and_moves_the_scheduled_emails(
    page: Any, live: Live
) -> None:
    cid = live_campaign(page, "Live edit")
    page.goto(f"/campaigns/{cid}")
    page.locator(".step").first.locator("[data-k=send_time]").fill("11:30")
    questions: list[str] = []

    def answer(dialog: Any) -> None:
        questions.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)
    page.get_by_role("button", name="Save campaign").click()
    expect(page.locator("[data-live-edit]")).to_contain_text("2 people's future steps")
    assert len(questions) == 1 and "This change affects 2 people's future steps" in questions[0]
    assert "2 scheduled emails moved to the new time" in questions[0]
    assert questions[0].count("future steps") == 1, questions[0]  # said once, not twice
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "15-live-edit-saved.png"), full_page=True)

    page.reload()
    expect(page.locator(".step").first.locator("[data-k=send_time]")).to_have_value("11:30")
    page.goto("/command?view=emails&state=scheduled")
    rows = page.locator("tr", has_text="Live edit")
    expect(rows).to_have_count(2)
    for i in range(2):
        expect(rows.nth(i)).to_contain_text("Tue, 24 Nov at 11:30")
    # Saving again without a change asks nothing.
    page.goto(f"/campaigns/{cid}")
    page.get_by_role("button", name="Save campaign").click()
    expect(page.locator(".toast", has_text="Campaign saved")).to_be_visible()
    assert len(questions) == 1


def test_pause_stop_and_archive_from_the_list_ask_with_the_count(page: Any, live: Live) -> None:
    cid = live_campaign(page, "Quarterly push")
    questions: list[str] = []

    def answer(dialog: Any) -> None:
        questions.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)
    # The menu of actions, open, on the list and the campaign's page, on a desktop and a phone.
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for path in ("/campaigns", f"/campaigns/{cid}/results"):
            page.goto(path)
            page.get_by_text("More").first.click()
            assert_accessible(page)
            assert_fits(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "15-campaign-actions-390.png"))
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/campaigns")
    row = page.locator("tr", has_text="Quarterly push")
    row.get_by_text("More").click()
    row.get_by_role("button", name="Pause").click()
    expect(page.locator(".toast", has_text="2 people paused")).to_be_visible()
    assert "2 active people will pause" in questions[-1]
    assert api(page, "GET", f"/api/v1/campaigns/{cid}/people")["paused_with_campaign"] == 2
    row = page.locator("tr", has_text="Quarterly push")
    expect(row.locator("td").nth(3)).to_have_text("2")  # the Paused column

    # Archive is refused while people are in it: the page says so and asks nothing.
    row.get_by_text("More").click()
    row.get_by_role("button", name="Archive").click()
    expect(page.locator(".toast", has_text="stop them first")).to_be_visible()
    assert len(questions) == 1

    row.get_by_role("button", name="Stop everyone").click()
    expect(page.locator(".toast", has_text="2 people stopped")).to_be_visible()
    assert "2 people will leave it" in questions[-1]
    row = page.locator("tr", has_text="Quarterly push")
    row.get_by_text("More").click()
    row.get_by_role("button", name="Archive").click()
    expect(page.locator(".toast", has_text="Campaign archived")).to_be_visible()
    expect(page.locator("tr", has_text="Quarterly push")).to_have_count(0)
    page.get_by_role("link", name="Archived").click()
    expect(page.get_by_role("heading", name="Archived campaigns")).to_be_visible()
    expect(page.locator("tr", has_text="Quarterly push")).to_have_count(1)

    # Clone from the campaign's page: a copy with nobody in it, opened in the builder.
    page.goto(f"/campaigns/{cid}/results")
    page.get_by_text("More").click()
    page.get_by_role("button", name="Clone").click()
    page.wait_for_url(f"**/campaigns/{cid + 1}?saved=1")
    expect(page.get_by_label("Campaign name")).to_have_value("Quarterly push (copy)")
