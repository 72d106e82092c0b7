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
from addin_server.enrollments.tasks import complete_task
from addin_server.enums import SendState
from addin_server.models import Enrollment, Rep, Send, Task, Template
from addin_server.suppressions import add_blocked_domain, suppress
from tests.support.axe import assert_accessible, assert_fits
from tests.support.browser import Live

pytestmark = [pytest.mark.browser,
              pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

# Paths with {campaign}, {task}, {send}, {held} or {person} filled from the seeded work.
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
    "/salesforce",
    "/sends/{held}",
    "/feed",
    "/mailboxes",
    "/templates",
    "/suppressions",
    "/suppressions?view=domains",
    "/settings/organisation",
    "/people/{person}",
    "/mailbox",
    "/settings/me",
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
        # An automatic email too (the first campaign's are tasks): its page, and a person in
        # two campaigns.
        automatic = create_campaign(s, rep, parse_campaign({"name": "Automatic", "steps": [
            {"day": 1, "type": "email", "send_option": "fixed_time", "send_time": "18:00",
             "subject": "Hi", "body_html": "<p>Hello {{first_name}}</p>"}]},
            default_timezone="Europe/Paris"), now)
        launch(s, rep, automatic, people[:1], LaunchOptions(), now)
        s.flush()
        tasks = list(s.scalars(select(Task).join(Enrollment, Enrollment.id == Task.enrollment_id)
                               .where(Enrollment.campaign_id == campaign.id)
                               .order_by(Task.id)))
        # A first step that is a task makes no send at launch: one person's task done
        # schedules their day-2 email, so that the send page has one to show.
        complete_task(s, tasks[-1], now)
        s.flush()
        task = tasks[0].id
        send = s.scalar(select(Send.id).join(Enrollment, Enrollment.id == Send.enrollment_id)
                        .where(Enrollment.campaign_id == automatic.id))
        person = s.scalar(select(Enrollment.person_id).where(
            Enrollment.campaign_id == automatic.id))
        assert task is not None and send is not None and person is not None
        s.add(Template(org_id=rep.org_id, rep_id=rep.id, name="Intro", subject="Hi",
                       body_html="<p>Hello {{first_name}}</p>", shared=True,
                       created_at=now, updated_at=now))
        suppress(s, rep.org_id, "gone@vandelay.test", "manual", now, rep_id=rep.id, note="asked")
        add_blocked_domain(s, rep.org_id, "rival.test", now, rep_id=rep.id)
        # An administrator sees every page (suppressions, the organisation); set directly,
        # since set_admin would end the signed-in session.
        rep.is_admin = True
        # An automatic email held for a field its person lacks (its page offers the fixes).
        colours = create_campaign(s, rep, parse_campaign({"name": "Colours", "steps": [
            {"day": 1, "type": "email", "send_option": "fixed_time", "send_time": "10:00",
             "subject": "Hi {{first_name}}", "body_html": "<p>{{favourite_color}}?</p>"}]},
            default_timezone="Europe/Paris"), now)
        launch(s, rep, colours, people[1:2], LaunchOptions(), now)
        s.flush()
        held = s.scalars(select(Send).join(Enrollment, Enrollment.id == Send.enrollment_id)
                         .where(Enrollment.campaign_id == colours.id)).one()
        held.state, held.reason = SendState.HELD, "missing merge fields: favourite_color"
        return {"campaign": campaign.id, "task": task, "send": send, "person": person,
                "held": held.id}


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
