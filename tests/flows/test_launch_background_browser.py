"""A launch above the size of one request, in a real headless Chromium: the form shows a bar
with the count while a worker enrols them, then who was enrolled."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect
from rq import Queue, SimpleWorker
from sqlalchemy import func, select

from addin_server.config import Settings
from addin_server.models import Campaign, Enrollment
from addin_server.workers.runtime import install_runtime
from tests.conftest import FrozenClock
from tests.flows.test_webapp_browser import seed_work, sign_in
from tests.support.browser import Live, chromium, serve

pytestmark = [pytest.mark.browser,
              pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()


@pytest.fixture
def live(settings: Settings, clock: FrozenClock) -> Iterator[Live]:
    # Above 20 people a CSV launch goes on in the background.
    yield from serve(settings.with_(max_people_per_launch=20), clock)


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


def test_a_background_launch_shows_its_progress_then_the_outcome(page: Any, live: Live) -> None:
    queue = Queue(live.runtime.settings.queue_name, connection=live.runtime.redis())
    queue.empty()
    sign_in(page)
    seed_work(live)
    with live.runtime.sessions() as s:
        campaign_id = s.scalar(select(Campaign.id).where(Campaign.name == "Founders, Q1"))
    before = enrolled(live, campaign_id)
    page.goto(f"/campaigns/{campaign_id}/launch")
    page.get_by_role("tab", name="Upload CSV").click()
    rows = "".join(f"p{i}@bulk.test,P{i}\n" for i in range(30))
    page.set_input_files("#csv-file", files=[{"name": "big.csv", "mimeType": "text/csv",
                                              "buffer": ("email,first_name\n" + rows).encode()}])
    page.get_by_role("button", name="Launch").click()
    page.get_by_role("button", name="Confirm launch (30)").click()
    # Queued: the bar shows the count while no worker has run yet.
    expect(page.locator("[data-progress-text]")).to_have_text("Enrolling 0 of 30")
    install_runtime(live.runtime)
    SimpleWorker([queue], connection=live.runtime.redis()).work(burst=True)
    expect(page.locator("[data-results-title]")).to_have_text(
        re.compile(r"Launched: 30 enrolled, 0 skipped"))
    page.reload()
    assert enrolled(live, campaign_id) == before + 30
    queue.empty()


def enrolled(live: Live, campaign_id: int) -> int:
    with live.runtime.sessions() as s:
        return s.scalar(select(func.count()).select_from(Enrollment).where(
            Enrollment.campaign_id == campaign_id)) or 0
