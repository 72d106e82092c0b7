"""Every page of the web app, with work on it, passes axe-core (no critical violation) and fits
a 390 px phone window without a sideways scroll. A new page adds its path to PAGES."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from addin_server.campaigns.definition import parse_campaign
from addin_server.campaigns.service import create_campaign
from addin_server.enrollments.launch import LaunchOptions, launch
from addin_server.enrollments.people import PersonInput
from addin_server.models import Enrollment, Rep, Send, Task
from tests.support.axe import assert_accessible, assert_fits
from tests.support.browser import Live

pytestmark = [pytest.mark.browser,
              pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

# Paths with {campaign}, {task} or {send} filled from the seeded work.
PAGES = [
    "/command",
    "/campaigns",
    "/campaigns?archived=1",
    "/campaigns/new",
    "/campaigns/{campaign}",
    "/campaigns/{campaign}/launch",
    "/campaigns/{campaign}/results",
    "/tasks/{task}",
    "/sends/{send}",
    "/feed",
    "/mailboxes",
]


def seed(live: Live) -> dict[str, int]:
    now = live.runtime.now()
    with live.runtime.sessions.begin() as s:
        rep = s.scalar(select(Rep).where(Rep.email == "demo@example.com"))
        assert rep is not None
        spec = parse_campaign({"name": "Founders, Q1", "steps": [
            {"day": 1, "type": "email", "send_option": "manual_task", "subject": "Hi",
             "body_html": "<p>Hello {{first_name}}</p>"},
            {"day": 2, "type": "email", "send_option": "same_time_as_previous",
             "subject": "Again", "body_html": "<p>Hello again</p>"},
            {"day": 3, "type": "call", "instructions": "Call them"}]},
            default_timezone="Europe/Paris")
        campaign = create_campaign(s, rep, spec, now)
        people = [PersonInput(email=f"{n.lower()}@{c.lower()}.test", first_name=n, company=c)
                  for n, c in (("Mia", "Vandelay"), ("Noah", "Piedpiper"), ("Zoe", "Acme"))]
        launch(s, rep, campaign, people, LaunchOptions(), now)
        s.flush()
        task = s.scalar(select(Task.id).join(Enrollment, Enrollment.id == Task.enrollment_id)
                        .where(Enrollment.campaign_id == campaign.id))
        send = s.scalar(select(Send.id).join(Enrollment, Enrollment.id == Send.enrollment_id)
                        .where(Enrollment.campaign_id == campaign.id))
        assert task is not None and send is not None
        return {"campaign": campaign.id, "task": task, "send": send}


@pytest.mark.parametrize("width", [1280, 390])
def test_every_page_is_accessible_and_fits(page: Any, live: Live, width: int) -> None:
    ids = seed(live)
    page.set_viewport_size({"width": width, "height": 900})
    failures: list[str] = []
    for path in PAGES:
        url = path.format(**ids)
        response = page.goto(url)
        assert response is not None and response.ok, url
        page.wait_for_load_state("networkidle")
        for check in (assert_accessible, assert_fits):
            try:
                check(page)
            except AssertionError as exc:
                failures.append(str(exc))
    assert failures == []
