"""The library pages in headless Chromium (issue 17 points 1, 3, 6): open, change, save, reload,
check. Templates (create, edit, preview for a chosen person, duplicate, delete, refused while a
live step uses it, inserted in a compose window), suppressions and blocked domains (pasted and
CSV, per-line errors, search, remove), the organisation's settings (which new campaigns start
from)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from addin_server.models import BlockedDomain, Organisation, Rep, Suppression, Template
from tests.support.browser import ARTIFACTS, Live

pytestmark = [pytest.mark.browser,
              pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


def api(page: Any, method: str, path: str, body: Any = None) -> Any:
    res = page.evaluate("([m, p, b]) => App.api(m, p, b ?? undefined)", [method, path, body])
    assert res["ok"], res
    return res["data"]


def make_admin(live: Live) -> None:
    """The demo rep becomes an administrator (its session stays: set_admin would end it)."""
    with live.runtime.sessions.begin() as s:
        rep = s.scalar(select(Rep).where(Rep.email == "demo@example.com"))
        assert rep is not None
        rep.is_admin = True


def test_templates_library(page: Any, live: Live) -> None:
    # A person to preview with, and a campaign whose live step will use a template.
    cid = api(page, "POST", "/api/v1/campaigns", {"name": "Founders", "steps": [
        {"day": 1, "type": "email", "send_option": "manual_task", "subject": "Hi",
         "body_html": "<p>Hello</p>"}]})["id"]
    api(page, "POST", f"/api/v1/campaigns/{cid}/launch",
        {"people": [{"email": "mia@vandelay.test", "first_name": "Mia", "company": "Vandelay"}]})

    page.goto("/templates")
    expect(page.get_by_role("heading", name="No templates yet")).to_be_visible()
    page.get_by_role("button", name="New template").click()
    page.get_by_label("Name").fill("Intro")
    page.get_by_label("Subject").fill("Idea for {{company}}")
    page.locator("[data-body]").click()
    page.keyboard.type("Hi ")
    page.get_by_role("button", name="first_name").click()
    with page.expect_navigation():
        page.get_by_role("button", name="Save template").click()
    row = page.locator("[data-template-row]", has_text="Intro")
    expect(row).to_contain_text("Idea for {{company}}")

    # Edit, save, reload: the change is the server's.
    row.get_by_role("button", name="Edit").click()
    page.get_by_label("Name").fill("Intro v2")
    with page.expect_navigation():
        page.get_by_role("button", name="Save template").click()
    page.reload()
    expect(page.locator("[data-template-row]", has_text="Intro v2")).to_be_visible()
    with live.runtime.sessions() as s:
        saved = s.scalar(select(Template).where(Template.name == "Intro v2"))
        assert saved is not None and "Hi {{first_name}}" in saved.body_html
        tid = saved.id

    # Preview for a chosen person.
    page.locator("[data-template-row]", has_text="Intro v2").get_by_role(
        "button", name="Edit").click()
    page.locator("#pv-person").fill("mia@vandelay.test")
    page.get_by_role("button", name="Preview", exact=True).click()
    expect(page.locator("[data-pv-subject]")).to_have_text("Idea for Vandelay")
    expect(page.frame_locator("iframe.pv-body").locator("body")).to_contain_text("Hi Mia")
    page.screenshot(path=str(ARTIFACTS / "webapp-templates.png"), full_page=True)

    # Duplicate, then delete the copy.
    page.locator("[data-template-row]", has_text="Intro v2").get_by_role(
        "button", name="Duplicate").click()
    copy = page.locator("[data-template-row]", has_text="Copy of Intro v2")
    expect(copy).to_be_visible()
    page.on("dialog", lambda dialog: dialog.accept())
    copy.get_by_role("button", name="Delete").click()
    expect(copy).to_have_count(0)

    # Used by a live step: the delete is refused, naming the campaign and step.
    api(page, "PATCH", f"/api/v1/campaigns/{cid}", {"steps": [
        {"day": 1, "type": "email", "send_option": "manual_task", "template_id": tid}]})
    page.reload()
    page.locator("[data-template-row]", has_text="Intro v2").get_by_role(
        "button", name="Delete").click()
    expect(page.locator(".toast")).to_contain_text("'Founders' step 1")
    page.reload()
    expect(page.locator("[data-template-row]", has_text="Intro v2")).to_be_visible()

    # Search.
    page.get_by_label("Search templates").fill("nothing like it")
    page.get_by_label("Search templates").press("Enter")
    expect(page.get_by_role("heading", name=re.compile("No template matches"))).to_be_visible()


def test_insert_a_template_in_a_compose_window(page: Any, live: Live) -> None:
    api(page, "POST", "/api/v1/templates", {"name": "Pricing", "subject": "Prices",
                                            "body_html": "<p>Our prices for {{company}}</p>"})
    cid = api(page, "POST", "/api/v1/campaigns", {"name": "Manual", "steps": [
        {"day": 1, "type": "email", "send_option": "manual_task", "subject": "Hi",
         "body_html": "<p>Hello</p>"}]})["id"]
    api(page, "POST", f"/api/v1/campaigns/{cid}/launch",
        {"people": [{"email": "noah@piedpiper.test", "company": "Pied Piper"}]})
    task = api(page, "GET", "/api/v1/tasks")["tasks"][0]
    page.goto(f"/tasks/{task['id']}")
    picker = page.get_by_label("Template")
    expect(picker.locator("option", has_text="Pricing")).to_have_count(1)
    picker.select_option(label="Pricing")
    expect(page.locator("[data-compose] [data-body]")).to_contain_text(
        "Our prices for Pied Piper")
    expect(page.locator("[data-compose] [data-body]")).to_contain_text("Hello")


def test_suppressions_page(page: Any, live: Live) -> None:
    assert page.goto("/suppressions").status == 403  # admins only
    make_admin(live)
    page.goto("/suppressions")
    page.get_by_label("Addresses, one a line").fill("a@corp.test\nnot an address\nb@corp.test")
    page.get_by_label("Why").fill("asked at the show")
    page.get_by_role("button", name="Suppress", exact=True).click()
    expect(page.locator("[data-line-errors]")).to_contain_text(
        "line 2: is not a valid email address")
    with live.runtime.sessions() as s:
        assert s.scalar(select(Suppression.id)) is None  # nothing added
    page.get_by_label("Addresses, one a line").fill("a@corp.test\n\nb@corp.test")
    with page.expect_navigation():
        page.get_by_role("button", name="Suppress", exact=True).click()
    page.reload()
    row = page.locator("[data-row='a@corp.test']")
    expect(row).to_contain_text("Added by hand: asked at the show")
    expect(row).to_contain_text("demo@example.com")
    expect(page.locator("[data-total]")).to_contain_text("2 addresses")

    # Search, then remove.
    page.get_by_label("Search").fill("b@")
    page.get_by_label("Search").press("Enter")
    expect(page.locator("[data-row]")).to_have_count(1)
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator("[data-row='b@corp.test']").get_by_role("button", name="Remove").click()
    expect(page.locator("[data-row='b@corp.test']")).to_have_count(0)

    # Blocked domains from a CSV file.
    page.goto("/suppressions?view=domains")
    page.get_by_label(re.compile("or a CSV file")).set_input_files(files=[{
        "name": "domains.csv", "mimeType": "text/csv",
        "buffer": b"Domain,Why\nrival.test,competitor\n@Customer.test,customer\n"}])
    with page.expect_navigation():
        page.get_by_role("button", name="Block", exact=True).click()
    expect(page.locator("[data-row='customer.test']")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "webapp-suppressions.png"), full_page=True)
    with live.runtime.sessions() as s:
        assert sorted(s.scalars(select(BlockedDomain.domain))) == ["customer.test", "rival.test"]


def test_organisation_settings_page(page: Any, live: Live) -> None:
    assert page.goto("/settings/organisation").status == 403  # admins only
    make_admin(live)
    page.goto("/settings/organisation")
    page.get_by_label("Default time zone").fill("America/New_York")
    page.get_by_label("Fri", exact=True).uncheck()
    page.get_by_label("No emails on the public holidays of").fill("FR, us-ca")
    page.get_by_label("Stop on reply").uncheck()
    page.get_by_label("Who may add people to a colleague's campaign").select_option("all_reps")
    page.get_by_label(re.compile("own email domains")).fill("example.com\nnot a domain")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("[data-field='domains']")).to_contain_text("is not a domain name")
    page.get_by_label(re.compile("own email domains")).fill("example.com\nexample.org")
    # The page reloads itself after a save: wait for that reload rather than race it.
    with page.expect_navigation():
        page.get_by_role("button", name="Save settings").click()
        expect(page.locator(".toast")).to_contain_text("Saved")
    expect(page.get_by_label("Default time zone")).to_have_value("America/New_York")
    expect(page.get_by_label("Fri", exact=True)).not_to_be_checked()
    expect(page.get_by_label("Thu", exact=True)).to_be_checked()
    expect(page.get_by_label("No emails on the public holidays of")).to_have_value("FR, US-CA")
    expect(page.get_by_label("Stop on reply")).not_to_be_checked()
    expect(page.get_by_label(re.compile("own email domains"))).to_have_value(
        "example.com\nexample.org")
    page.screenshot(path=str(ARTIFACTS / "webapp-organisation.png"), full_page=True)
    with live.runtime.sessions() as s:
        org = s.scalar(select(Organisation).join(Rep, Rep.org_id == Organisation.id)
                       .where(Rep.email == "demo@example.com"))
        assert org is not None and org.settings["shared_launch"] == "all_reps"

    # A new campaign in the builder starts from them.
    page.goto("/campaigns/new")
    expect(page.locator("#c-tz")).to_have_value("America/New_York")
    expect(page.locator("input[name=stop_on_reply]")).not_to_be_checked()
    expect(page.locator("#c-holidays")).to_have_value("FR, US-CA")
    expect(page.locator("input[name=window_on]")).to_be_checked()
