"""The builder opens and saves every kind of existing campaign, each field unchanged, and every
campaign setting has a control that saves (issue 15, points 1 and 9).

Each campaign is made through the API as a client would, opened at /campaigns/<id>, saved with
the button, and read back through the API: the JSON must be the same field for field.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.browser import ARTIFACTS, Live

pytestmark = [pytest.mark.browser,
              pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


def api(page: Any, method: str, path: str, body: Any = None) -> Any:
    res = page.evaluate("([m, p, b]) => App.api(m, p, b ?? undefined)", [method, path, body])
    assert res["ok"], res
    return res["data"]


def email(day: int, option: str, **extra: Any) -> dict[str, Any]:
    step = {"day": day, "type": "email", "send_option": option,
            "subject": f"Day {day} {{{{first_name}}}}",
            "body_html": f"<p>Hello {{{{first_name}}}}, day {day}.</p>"}
    if option == "fixed_time":
        step["send_time"] = "10:30"
    return {**step, **extra}


ALL_OFF = {"skip_weekends": False, "stop_on_reply": False, "mark_success_on_reply": False,
           "remove_on_bounce": False, "use_recipient_timezone": False,
           "reply_from_same_domain": False, "stop_other_campaigns_on_reply": False,
           "stop_company_on_colleague_reply": False, "skip_if_active_elsewhere": False,
           "sending_window": None, "holiday_countries": []}
ALL_ON = {"skip_weekends": True, "stop_on_reply": True, "mark_success_on_reply": True,
          "remove_on_bounce": True, "use_recipient_timezone": True,
          "reply_from_same_domain": True, "stop_other_campaigns_on_reply": True,
          "stop_company_on_colleague_reply": True, "skip_if_active_elsewhere": True,
          "sending_window": {"days": ["mon", "wed", "sat"], "start": "07:15", "end": "19:45"},
          "holiday_countries": ["FR", "US-CA"]}

KINDS: dict[str, dict[str, Any]] = {
    "one fixed-time email, every setting off": {
        "timezone": "Europe/Paris", "settings": ALL_OFF, "steps": [email(1, "fixed_time")]},
    "every setting on": {
        "timezone": "America/Los_Angeles", "settings": ALL_ON,
        "steps": [email(1, "choose_at_launch", cc=["boss@corp.test"]),
                  email(3, "same_time_as_previous", cc=["a@corp.test", "b@corp.test"],
                        bcc=["log@crm.test"])]},
    "chosen at launch, replies, tasks of each kind": {
        "timezone": "UTC", "settings": {**ALL_OFF, "stop_on_reply": True,
                                        "holiday_countries": ["GB"]},
        "steps": [email(1, "choose_at_launch"),
                  email(2, "same_time_as_previous", reply_to_previous=True),
                  {"day": 3, "type": "call", "instructions": "Call about the intro"},
                  {"day": 4, "type": "linkedin", "instructions": "Connect"},
                  {"day": 5, "type": "custom", "instructions": "Send a gift"},
                  email(6, "fixed_time"),
                  email(8, "manual_task", reply_to_previous=True)]},
    "manual first email": {
        "timezone": "Asia/Tokyo", "settings": {**ALL_ON, "sending_window": None},
        "steps": [email(1, "manual_task"), {"day": 2, "type": "call", "instructions": ""}]},
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_open_and_save_round_trips_every_field(page: Any, live: Live, kind: str) -> None:
    created = api(page, "POST", "/api/v1/campaigns", {"name": kind, **KINDS[kind]})
    before = api(page, "GET", f"/api/v1/campaigns/{created['id']}")
    assert before["settings"] == KINDS[kind]["settings"]  # the API kept what it was given
    page.goto(f"/campaigns/{created['id']}")
    page.get_by_role("button", name="Save campaign").click()
    expect(page.locator(".toast", has_text="Campaign saved")).to_be_visible()
    after = api(page, "GET", f"/api/v1/campaigns/{created['id']}")
    assert after == before


def test_template_campaign_round_trips(page: Any, live: Live) -> None:
    template = api(page, "POST", "/api/v1/templates",
                   {"name": "Intro", "subject": "Hi {{first_name}}", "body_html": "<p>Hello</p>"})
    created = api(page, "POST", "/api/v1/campaigns", {
        "name": "From a template", "timezone": "UTC", "settings": ALL_ON,
        "steps": [{"day": 1, "type": "email", "send_option": "fixed_time", "send_time": "08:00",
                   "template_id": template["id"]}]})
    before = api(page, "GET", f"/api/v1/campaigns/{created['id']}")
    page.goto(f"/campaigns/{created['id']}")
    page.get_by_role("button", name="Save campaign").click()
    expect(page.locator(".toast", has_text="Campaign saved")).to_be_visible()
    assert api(page, "GET", f"/api/v1/campaigns/{created['id']}") == before


def test_every_setting_has_a_control_that_saves(page: Any, live: Live) -> None:
    created = api(page, "POST", "/api/v1/campaigns", {
        "name": "Settings", "timezone": "UTC", "settings": ALL_OFF,
        "steps": [email(1, "fixed_time")]})
    page.goto(f"/campaigns/{created['id']}")
    page.get_by_label("A reply from the person's company domain counts as theirs").check()
    page.get_by_label("A reply also stops the person's other campaigns").check()
    page.get_by_label("A reply from a colleague at the same company stops everyone there").check()
    page.get_by_label("At launch, skip people already active in another campaign").check()
    page.get_by_label("Send automatic emails only within these hours").check()
    page.get_by_label("Sat", exact=True).check()
    page.get_by_label("Mon", exact=True).uncheck()
    page.get_by_label("From", exact=True).fill("09:00")
    page.get_by_label("to", exact=True).fill("17:30")
    holidays = page.get_by_label("No emails on the public holidays of")
    holidays.fill("fr, ZZ")
    page.get_by_role("button", name="Save campaign").click()
    # A country that does not exist is named beside the input, and nothing is saved.
    expect(page.locator('[data-field="settings.holiday_countries"]')).to_contain_text("'ZZ'")
    assert api(page, "GET", f"/api/v1/campaigns/{created['id']}")["settings"] == ALL_OFF
    holidays.fill("fr, us-ca")
    page.get_by_role("button", name="Save campaign").click()
    expect(page.locator(".toast", has_text="Campaign saved")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "15-builder-settings.png"), full_page=True)
    expected = {**ALL_OFF, "reply_from_same_domain": True, "stop_other_campaigns_on_reply": True,
                "stop_company_on_colleague_reply": True, "skip_if_active_elsewhere": True,
                "sending_window": {"days": ["tue", "wed", "thu", "fri", "sat"],
                                   "start": "09:00", "end": "17:30"},
                "holiday_countries": ["FR", "US-CA"]}
    assert api(page, "GET", f"/api/v1/campaigns/{created['id']}")["settings"] == expected
    # Reopened, the page shows what was saved; turning the window off clears it.
    page.reload()
    assert page.get_by_label("Sat", exact=True).is_checked()
    assert not page.get_by_label("Mon", exact=True).is_checked()
    assert holidays.input_value() == "FR, US-CA"
    page.get_by_label("Send automatic emails only within these hours").uncheck()
    expect(page.get_by_label("Sat", exact=True)).to_be_hidden()
    page.get_by_role("button", name="Save campaign").click()
    expect(page.locator(".toast", has_text="Campaign saved")).to_be_visible()
    settings = api(page, "GET", f"/api/v1/campaigns/{created['id']}")["settings"]
    assert settings == {**expected, "sending_window": None}
