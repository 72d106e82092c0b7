"""What every client accepts, checked when a campaign, a template or a composed email is saved:
subjects of at most 255 characters (Outlook's limit), and no two automatic emails of one campaign
in the same minute."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_campaigns import create, email_step
from tests.api.test_sends import compose_body, email_task
from tests.conftest import Actor


def errors_of(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.json
    return {e["field"]: e["message"] for e in response.json["errors"]}


def test_a_subject_over_255_characters_is_refused_not_cut(rep: Actor) -> None:
    steps = [email_step(1, "fixed_time", send_time="09:30", subject="x" * 1000)]
    errors = errors_of(create(rep, steps=steps))
    assert "steps[0].subject" in errors and "255" in errors["steps[0].subject"]
    assert rep.get("/api/v1/campaigns").json["campaigns"] == []  # nothing written
    # 255 is taken whole, and read back unchanged.
    ok = create(rep, steps=[email_step(1, "fixed_time", send_time="09:30", subject="y" * 255)])
    assert ok.status_code == 201, ok.json
    saved = rep.get(f"/api/v1/campaigns/{ok.json['id']}").json
    assert saved["steps"][0]["subject"] == "y" * 255


def test_a_template_subject_over_255_characters_is_refused(rep: Actor) -> None:
    response = rep.post("/api/v1/templates",
                        json={"name": "Long", "subject": "z" * 256, "body_html": "<p>x</p>"})
    assert "subject" in errors_of(response)


def test_a_composed_subject_over_255_characters_is_refused(rep: Actor) -> None:
    task_id = email_task(rep)
    response = rep.post(f"/api/v1/tasks/{task_id}/send", json=compose_body(subject="s" * 256))
    assert "subject" in errors_of(response)
    assert rep.get("/api/v1/sends").json["sends"] == []


@pytest.mark.parametrize(("steps", "field"), [
    # Two fixed times, same day, same minute.
    ([email_step(1, "fixed_time", send_time="09:30"),
      email_step(1, "fixed_time", send_time="09:30", subject="Second")],
     "steps[1].send_time"),
    # "Same time as the previous email" on the day of another 09:30 email copies day 1's 09:30.
    ([email_step(1, "fixed_time", send_time="09:30"),
      email_step(2, "fixed_time", send_time="09:30"),
      email_step(2, "same_time_as_previous", reply_to_previous=True, subject="")],
     "steps[2].send_option"),
])
def test_two_automatic_emails_in_the_same_minute_are_refused(
    rep: Actor, steps: list[dict[str, Any]], field: str
) -> None:
    errors = errors_of(create(rep, steps=steps))
    assert list(errors) == [field]
    assert "same minute as step" in errors[field]


def test_emails_a_minute_apart_or_on_other_days_are_fine(rep: Actor) -> None:
    steps = [email_step(1, "fixed_time", send_time="09:30"),
             email_step(1, "fixed_time", send_time="09:31", subject="Second"),
             email_step(2, "same_time_as_previous", reply_to_previous=True, subject=""),
             email_step(2, "manual_task", subject="By hand")]
    response = create(rep, steps=steps)
    assert response.status_code == 201, response.json
