"""The Command Center badge in the navigation: tasks due today or earlier in the rep's zone,
and the endpoint the pages re-read it from after an action (both databases)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from addin_server.config import Settings
from tests.api.test_campaigns import create
from tests.conftest import Actor
from tests.web.test_pages import sign_in_as


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(dev_mode=True)


def badge(client: FlaskClient) -> str:
    html = client.get("/campaigns").get_data(as_text=True)
    match = re.search(r'<span class="count" data-due-count[^>]*>(\d+)</span>', html)
    assert match, "no badge in the navigation"
    return match.group(1) + (" hidden" if " hidden>" in match.group(0) else "")


def test_the_badge_counts_tasks_due_today_or_earlier_and_follows_actions(
    client: FlaskClient, rep: Actor, clock: Any
) -> None:
    # Two people on a campaign whose call is on day 1 (today) and two whose call is on day 2.
    today = create(rep, steps=[{"day": 1, "type": "call", "instructions": "Say hi"}]).json["id"]
    later = create(rep, name="Later", steps=[
        {"day": 1, "type": "call", "instructions": "a"},
        {"day": 2, "type": "call", "instructions": "b"}]).json["id"]
    rep.post(f"/api/v1/campaigns/{today}/launch",
             json={"people": [{"email": "jo@globex.test"}, {"email": "al@globex.test"}]})
    rep.post(f"/api/v1/campaigns/{later}/launch",
             json={"people": [{"email": "mo@globex.test"}], "start_date": "2026-11-25"})
    sign_in_as(client, rep)
    # Tomorrow's task (mo's, launched to start on the 25th) is not today's work.
    assert badge(client) == "2"
    assert client.get("/nav/counts").json == {"due_tasks": 2}
    tasks = rep.get("/api/v1/tasks").json["tasks"]
    jo = next(t for t in tasks if t["person"]["email"] == "jo@globex.test")
    assert rep.post(f"/api/v1/tasks/{jo['id']}/complete").status_code == 200
    assert client.get("/nav/counts").json == {"due_tasks": 1}
    # A day later tomorrow's task is due, and today's left-over one is overdue: both count.
    clock.advance(days=1)
    assert client.get("/nav/counts").json == {"due_tasks": 2}
    al = next(t for t in tasks if t["person"]["email"] == "al@globex.test")
    rep.post(f"/api/v1/tasks/{al['id']}/skip")
    mo = next(t for t in rep.get("/api/v1/tasks").json["tasks"]
              if t["person"]["email"] == "mo@globex.test")
    rep.post(f"/api/v1/tasks/{mo['id']}/skip")
    # None left: the badge is there (so a script can fill it) but hidden.
    assert badge(client) == "0 hidden"
