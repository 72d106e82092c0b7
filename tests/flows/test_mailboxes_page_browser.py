"""The Mailboxes page: each mailbox's limits edited and saved (open, change the cap, save,
reload, check), its 7-day forecast drawn, the rep's vacation, the bulk-sender meter of the
sending domain, the organisation's settings (an admin saves one); the Salesforce page.
Headless Chromium."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from addin_server.campaigns.definition import parse_campaign
from addin_server.campaigns.service import create_campaign
from addin_server.models import BulkCount, CrmConnection, Mailbox, Organisation, Rep
from tests.flows.test_webapp_browser import shot
from tests.support.browser import Live

pytestmark = [pytest.mark.browser,
              pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


def _demo(live: Live) -> tuple[int, int]:
    """The demo rep made an administrator, away on vacation, with a busy sending domain."""
    rt = live.runtime
    now = rt.now()
    with rt.sessions.begin() as s:
        rep = s.scalar(select(Rep).where(Rep.email == "demo@example.com"))
        assert rep is not None
        rep.is_admin = True
        box = s.scalar(select(Mailbox).where(Mailbox.rep_id == rep.id))
        assert box is not None
        box.away_on, box.away_hold, box.away_end = True, True, now.replace(day=now.day + 3)
        s.add(BulkCount(org_id=rep.org_id, domain="example.com", day=now.date(),
                        provider="gmail", n=3600))
        return box.id, rep.org_id


def test_change_a_cap_save_reload(page: Any, live: Live) -> None:
    box_id, org_id = _demo(live)
    page.goto("/mailboxes")
    card = page.locator(f"[data-mailbox='{box_id}']")
    expect(card.locator(".forecast-chart")).to_be_visible()
    expect(card.locator(".state")).to_have_text("rep away")
    expect(card.locator("[data-problem]")).to_contain_text(
        "the vacation responder of demo@example.com is on; automatic emails and due tasks wait"
        " (they return Fri, 27 Nov 2026 at 08:00 UTC)")
    shot(page, "mailboxes-page")  # every visible control has an accessible name
    meter = page.locator("[data-meter='example.com']")
    expect(meter).to_have_attribute("data-level", "warn")
    expect(meter.locator("[data-provider='gmail']")).to_have_text("3,600 / 5,000")

    form = card.locator("[data-limits]")
    form.get_by_label("Daily cap").fill("35")
    form.get_by_label("Gap between emails (s)").fill("90")
    # A save reloads the page itself (the forecast comes from the server again): wait for
    # that reload, rather than race it with one of ours.
    with page.expect_navigation():
        form.get_by_role("button", name="Save limits").click()
    form = page.locator(f"[data-mailbox='{box_id}'] [data-limits]")
    expect(form.get_by_label("Daily cap")).to_have_value("35")
    expect(form.get_by_label("Gap between emails (s)")).to_have_value("90")
    expect(page.locator(f"[data-mailbox='{box_id}']")).to_contain_text("cap 35/day")
    with live.runtime.sessions() as s:
        box = s.get(Mailbox, box_id)
        assert box is not None and box.daily_cap == 35 and box.min_gap_seconds == 90

    # A bad value is refused with its field named, nothing changed.
    form.get_by_label("Daily cap").fill("0")
    form.get_by_role("button", name="Save limits").click()
    expect(form.locator("[data-errors]")).to_contain_text("daily_cap")
    with live.runtime.sessions() as s:
        box = s.get(Mailbox, box_id)
        assert box is not None and box.daily_cap == 35

    settings = page.locator("[data-org-settings]")
    settings.get_by_label("At the bulk-sender line", exact=False).check()
    with page.expect_navigation():
        settings.get_by_role("button", name="Save settings").click()
    expect(page.locator("[data-org-settings] input[name=bulk_hold]")).to_be_checked()
    with live.runtime.sessions() as s:
        org = s.get(Organisation, org_id)
        assert org is not None and org.bulk_hold


def test_the_salesforce_page_shows_the_connection(page: Any, live: Live) -> None:
    object.__setattr__(live.runtime, "settings",
                       live.runtime.settings.with_(salesforce_client_id="sf-client"))
    page.goto("/mailboxes")
    page.get_by_role("link", name="Salesforce").first.click()
    expect(page.get_by_role("heading", name="Salesforce", exact=True)).to_be_visible()
    expect(page.locator("[data-sf-status]")).to_have_attribute("data-sf-status",
                                                               "not_connected")
    connect = page.locator("[data-sf-connect]")
    expect(connect).to_have_text("Connect Salesforce")
    expect(connect).to_have_attribute("href", "/crm/salesforce/connect")
    now = live.runtime.now()
    with live.runtime.sessions.begin() as s:
        rep = s.scalar(select(Rep).where(Rep.email == "demo@example.com"))
        assert rep is not None
        s.add(CrmConnection(org_id=rep.org_id, rep_id=rep.id, login_url="https://login.test",
                            instance_url="https://acme.my.salesforce.test", api_used=1200,
                            api_limit=15000, api_seen_at=now, last_error_code="INVALID_FIELD",
                            last_error="No such column 'Foo__c'", last_error_at=now,
                            activity_since=now))
    page.reload()
    expect(page.locator("[data-sf-api]")).to_have_text("1,200 of 15,000 used (rolling 24 h)")
    expect(page.locator("[data-sf-error]")).to_contain_text("INVALID_FIELD")
    expect(page.locator("[data-sf-backlog]")).to_have_text("nothing to sync")
    expect(page.locator("[data-sf-connect]")).to_have_text("Reconnect")
    page.get_by_role("button", name="Disconnect").click()
    expect(page.locator("[data-sf-status]")).to_have_attribute("data-sf-status", "disconnected")


def test_the_launch_preview_shows_the_bulk_sender_meter(page: Any, live: Live) -> None:
    rt = live.runtime
    with rt.sessions.begin() as s:
        rep = s.scalar(select(Rep).where(Rep.email == "demo@example.com"))
        assert rep is not None
        org = s.get(Organisation, rep.org_id)
        assert org is not None
        org.bulk_hold = True
        s.add(BulkCount(org_id=rep.org_id, domain="example.com", day=rt.now().date(),
                        provider="gmail", n=4999))
        campaign = create_campaign(s, rep, parse_campaign({"name": "Gmail push", "steps": [
            {"day": 1, "type": "email", "send_option": "fixed_time", "send_time": "09:30",
             "subject": "Hi", "body_html": "<p>Hello {{first_name}}</p>"}]},
            default_timezone="Europe/Paris"), rt.now())
        campaign_id = campaign.id
    page.goto(f"/campaigns/{campaign_id}/launch")
    page.get_by_role("tab", name="Upload CSV").click()
    csv = "email,first_name\nmia@gmail.com,Mia\nnoah@gmail.com,Noah\nzoe@corp.test,Zoe\n"
    page.set_input_files("#csv-file", files=[{"name": "people.csv", "mimeType": "text/csv",
                                              "buffer": csv.encode()}])
    page.get_by_role("button", name="Launch").click()
    line = page.locator("[data-bulk] p[data-level=line]")
    expect(line).to_contain_text("2 to Gmail users from example.com (4,999 already today)")
    # The day in the one date style ("Tue, 24 Nov"), not the browser's locale.
    expect(line).to_have_text(re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} [A-Z][a-z]{2}"
                                         r"( \d{4})?: 2 to Gmail"))
    expect(line).to_contain_text("1 first emails would wait for the next day")
