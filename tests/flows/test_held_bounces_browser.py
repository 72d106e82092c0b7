"""The Mailboxes page's "Held bounces" section: a burst of bounces from one provider, held for
review through the real inbound path (as tests/guard/test_quarantine.py makes one), is shown to
an admin with its count, start and examples; "Release N" resumes the people it paused. Open,
release, reload, check. Headless Chromium."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from addin_server.accounts import issue_token
from addin_server.enums import EnrollmentStatus
from addin_server.guard.rules import Thresholds
from addin_server.inbound.rules import process_inbound
from addin_server.models import Enrollment, Mailbox, Rep
from tests.conftest import Actor
from tests.flows.test_webapp_browser import shot
from tests.support.axe import assert_accessible, assert_fits
from tests.support.browser import Live
from tests.support.replies import campaign, fixture, launch, mark_sent

pytestmark = [pytest.mark.browser,
              pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

BURST = Thresholds(burst_count=3, burst_minutes=10)


def _storm(live: Live, *, admin: bool) -> list[int]:
    """Four people bounced from googlemail.com within minutes: the last two are held."""
    rt = live.runtime
    with rt.sessions.begin() as s:
        rep = s.scalar(select(Rep).where(Rep.email == "demo@example.com"))
        assert rep is not None
        rep.is_admin = admin
        actor = Actor(rep_id=rep.id, email=rep.email, token=issue_token(s, rep, rt.now()),
                      client=live.app.test_client())
    addresses = [f"p{i}@globex.test" for i in range(4)]
    eids = launch(actor, campaign(actor, "Storm"), *addresses)
    with rt.sessions() as s:  # process_inbound commits as it goes
        box = s.scalar(select(Mailbox).where(Mailbox.rep_id == actor.rep_id))
        assert box is not None
        for n, (eid, address) in enumerate(zip(eids, addresses, strict=True)):
            mark_sent(s, eid, rt.now(), thread=f"t{n}", message_id=f"<m{n}@acme.test>")
            msg = fixture("gmail_bounce.eml", {"nobody@globex.test": address,
                                               "<campaign-41.1@acme.test>": f"<m{n}@acme.test>"})
            process_inbound(s, box, msg, provider_message_id=f"dsn{n}", thread_id=f"t{n}",
                            now=rt.now(), guard=BURST)
        s.commit()
    return eids


def _statuses(live: Live, eids: list[int]) -> list[EnrollmentStatus]:
    with live.runtime.sessions.begin() as s:
        return [s.get_one(Enrollment, e).status for e in eids]


def test_an_admin_releases_a_held_burst_from_the_mailboxes_page(page: Any, live: Live) -> None:
    eids = _storm(live, admin=True)
    assert _statuses(live, eids[2:]) == [EnrollmentStatus.PAUSED] * 2
    page.goto("/mailboxes")
    section = page.get_by_role("region", name="Held bounces")
    burst = section.locator("[data-held-provider='googlemail.com']")
    expect(burst).to_contain_text("2 bounced addresses held since")
    expect(burst).to_contain_text("p2@globex.test")
    expect(burst).to_contain_text("5.1.1")
    expect(burst.locator("time")).to_have_count(1)
    shot(page, "held-bounces")
    assert_accessible(page)
    page.set_viewport_size({"width": 390, "height": 844})
    assert_fits(page)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.once("dialog", lambda d: d.accept())
    burst.get_by_role("button", name="Release 2").click()
    expect(burst.locator("[data-release-result]")).to_have_text(
        re.compile(r"2 people resumed"))
    page.reload()
    expect(page.get_by_role("region", name="Deliverability settings")).to_be_visible()
    expect(page.get_by_role("region", name="Held bounces")).to_have_count(0)
    assert _statuses(live, eids[2:]) == [EnrollmentStatus.ACTIVE] * 2


def test_a_rep_who_is_not_an_admin_does_not_see_held_bounces(page: Any, live: Live) -> None:
    _storm(live, admin=False)
    page.goto("/mailboxes")
    expect(page.get_by_role("region", name="Deliverability settings")).to_be_visible()
    expect(page.get_by_role("region", name="Held bounces")).to_have_count(0)
