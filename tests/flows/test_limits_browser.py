"""In the browser: a subject longer than every client accepts is refused next to its field and
kept whole (never cut), in the builder and in compose; the Command Center badge follows Done
without a reload."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from addin_server.enums import TaskStatus
from addin_server.models import Task
from tests.flows.test_accessibility import seed
from tests.flows.test_builder_roundtrip import api
from tests.support.browser import Live

pytestmark = [pytest.mark.browser,
              pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

LONG = "Quick question about your plans for next year " * 7  # 322 characters


def test_the_builder_refuses_a_long_subject_beside_it_and_keeps_it(page: Any,
                                                                   live: Live) -> None:
    ids = seed(live)
    page.goto(f"/campaigns/{ids['campaign']}")
    subject = page.locator("[data-steps] .step").first.locator("[data-k=subject]")
    subject.fill(LONG)
    assert subject.input_value() == LONG  # no maxlength cutting it as it is typed or pasted
    page.get_by_role("button", name="Save campaign").click()
    error = page.locator('.err[data-field="steps[0].subject"]')
    expect(error).to_have_text("must be at most 255 characters")
    assert subject.input_value() == LONG
    assert api(page, "GET", f"/api/v1/campaigns/{ids['campaign']}")["steps"][0]["subject"] == "Hi"


def test_compose_refuses_a_long_subject_and_sends_nothing(page: Any, live: Live) -> None:
    ids = seed(live)
    page.goto(f"/tasks/{ids['task']}")
    subject = page.locator("#subject")
    subject.fill(LONG)
    assert subject.input_value() == LONG
    page.get_by_role("button", name="Send now").click()
    expect(page.locator('.err[data-field="subject"]')).to_have_text(
        "must be at most 255 characters")
    assert api(page, "GET", "/api/v1/sends?state=sent")["sends"] == []


def test_the_badge_follows_done_without_a_reload(page: Any, live: Live) -> None:
    seed(live)  # email tasks due today (the seed completes one of three)
    with live.runtime.sessions() as s:
        due = s.scalar(select(func.count()).select_from(Task).where(
            Task.status == TaskStatus.OPEN, Task.due_date <= live.runtime.now().date()))
    assert due and due >= 2
    page.goto("/command")
    badge = page.locator("[data-due-count]")
    expect(badge).to_have_text(str(due))
    page.locator(".task-row").first.get_by_role("button", name="Done").click()
    expect(badge).to_have_text(str(due - 1))
