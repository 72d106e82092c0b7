"""The Mailboxes page shows a tripped bounce breaker (a mailbox's, a campaign's) with its
reason, a domain's authentication warning and a new mailbox's ramp-up, and its Release buttons
free the breakers: open, release, reload, check. Headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from addin_server.config import Settings
from addin_server.enums import MailboxProvider
from addin_server.guard.breakers import trip_campaign, trip_mailbox
from addin_server.models import Campaign, Mailbox, Rep
from tests.conftest import FrozenClock
from tests.flows.test_webapp_browser import shot, sign_in
from tests.support.browser import Live, chromium, serve

pytestmark = [pytest.mark.browser,
              pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()


@pytest.fixture
def live(settings: Settings, clock: FrozenClock) -> Iterator[Live]:
    yield from serve(settings.with_(dns_txt_resolver="tests.fakes.dns:txt"), clock)


@pytest.fixture
def page(browser: Any, live: Live) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, base_url=live.url)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.set_default_timeout(10_000)
    yield pg
    context.close()
    assert errors == [], errors


def _trip(live: Live) -> tuple[int, int]:
    rt = live.runtime
    with rt.sessions.begin() as s:
        rep = s.scalar(select(Rep).where(Rep.email == "demo@example.com"))
        assert rep is not None
        box = s.scalar(select(Mailbox).where(Mailbox.rep_id == rep.id))
        campaign = Campaign(org_id=rep.org_id, rep_id=rep.id, name="Q3 outreach",
                            timezone="UTC")
        s.add(campaign)
        s.flush()
        assert box is not None
        trip_mailbox(s, box, "3 hard bounces in its last 20 emails", "mailbox", rt.now())
        box.guard_warning = "5.7.26: sign it with DKIM for the From domain"
        box.daily_cap, box.ramp_start, box.ramp_first, box.ramp_step = (
            450, rt.now().date(), 20, 5)
        trip_campaign(s, campaign, "5 of its 50 first emails bounced", rt.now())
        return box.id, campaign.id


def _guard(live: Live, model: type[Mailbox] | type[Campaign], row_id: int) -> str:
    with live.runtime.sessions() as s:
        row = s.get(model, row_id)
        assert row is not None
        return row.guard_reason


def test_release_a_mailbox_and_a_campaign_from_the_mailboxes_page(
    page: Any, live: Live
) -> None:
    sign_in(page)
    box_id, campaign_id = _trip(live)
    page.goto("/mailboxes")
    card = page.locator(".mailbox")
    expect(card).to_contain_text("paused by the bounce breaker")
    expect(card).to_contain_text("3 hard bounces in its last 20 emails")
    expect(card.locator(".ramp")).to_contain_text("new mailbox ramping up: 20 today, +5 a day")
    expect(card.locator(".domain-warning")).to_contain_text(
        "Sender authentication of example.com: 5.7.26: sign it with DKIM")
    notice = page.locator(".campaign-breaker")
    expect(notice).to_contain_text("5 of its 50 first emails bounced")
    shot(page, "guard-01-mailboxes-tripped")
    card.get_by_role("button", name="Release").click()
    expect(card).to_contain_text("connected")
    expect(card.get_by_role("button", name="Release")).to_have_count(0)
    assert _guard(live, Mailbox, box_id) == ""
    notice.get_by_role("button", name="Release").click()
    expect(page.locator(".campaign-breaker")).to_have_count(0)
    page.reload()
    expect(page.locator(".mailbox")).not_to_contain_text("bounce breaker")
    expect(page.locator(".campaign-breaker")).to_have_count(0)
    assert _guard(live, Campaign, campaign_id) == ""
    shot(page, "guard-02-mailboxes-released")


def test_the_mailboxes_page_shows_the_sender_authentication_check(
    page: Any, live: Live
) -> None:
    sign_in(page)
    with live.runtime.sessions.begin() as s:
        rep = s.scalar(select(Rep).where(Rep.email == "demo@example.com"))
        assert rep is not None
        s.add(Mailbox(rep_id=rep.id, provider=MailboxProvider.MICROSOFT,
                      address="demo@acme.test"))
    page.goto("/mailboxes")
    section = page.locator(".sender-auth .auth-domain[data-domain='acme.test']")
    expect(section.locator(".auth-bad")).to_have_count(3)
    expect(section).to_contain_text("does not include spf.protection.outlook.com")
    expect(section).to_contain_text("no DMARC record")
    shot(page, "guard-03-sender-authentication")
    page.reload()
    expect(page.locator(".sender-auth .auth-domain")).to_have_count(1)  # not the local box
