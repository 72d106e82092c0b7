"""A launch whose first-email time has already passed is refused unless the client says
"send_past_now": a typo of 08:00 for 18:00 must not email the whole list at once (issue 15,
point 5). The clock stands at 2026-11-24 08:00 UTC (09:00 in Paris)."""

from __future__ import annotations

import pytest

from tests.conftest import Actor
from tests.support.sending import email_step, make_campaign

PAST = "2026-11-24T08:00:00+01:00"  # an hour ago, in Paris
PEOPLE = [{"email": "a@corp.test"}, {"email": "b@corp.test"}]


def choose_at_launch(rep: Actor) -> int:
    return make_campaign(rep, [email_step(1, send_option="choose_at_launch", send_time=None)])


def test_a_past_first_send_is_refused_and_nothing_is_written(rep: Actor) -> None:
    cid = choose_at_launch(rep)
    refused = rep.post(f"/api/v1/campaigns/{cid}/launch",
                       json={"people": PEOPLE, "first_send_at": PAST})
    assert refused.status_code == 422
    (error,) = refused.json["errors"]
    assert error["field"] == "first_send_at"
    assert ("Tue, 24 Nov 2026 at 08:00; it is now Tue, 24 Nov 2026 at 09:00 Europe/Paris"
            in error["message"])
    assert "send_past_now" in error["message"]
    assert rep.get(f"/api/v1/campaigns/{cid}/enrollments").json["enrollments"] == []


@pytest.mark.parametrize("csv", [False, True])
def test_send_past_now_sends_them_now(rep: Actor, csv: bool) -> None:
    cid = choose_at_launch(rep)
    if csv:
        response = rep.post(
            f"/api/v1/campaigns/{cid}/launch?first_send_at={PAST.replace('+', '%2B')}"
            "&send_past_now=true", data="email\na@corp.test\nb@corp.test\n",
            content_type="text/csv")
    else:
        response = rep.post(f"/api/v1/campaigns/{cid}/launch", json={
            "people": PEOPLE, "first_send_at": PAST, "send_past_now": True})
    assert response.status_code == 201, response.json
    eid = response.json["enrollments"][0]["id"]
    # Past means now: due at the launch's instant.
    assert rep.get(f"/api/v1/enrollments/{eid}").json["steps"][0]["due_at"] == (
        "2026-11-24T08:00:00Z")


def test_a_future_time_needs_no_confirmation(rep: Actor) -> None:
    cid = choose_at_launch(rep)
    response = rep.post(f"/api/v1/campaigns/{cid}/launch",
                        json={"people": PEOPLE, "first_send_at": "2026-11-24T18:00:00+01:00"})
    assert response.status_code == 201, response.json
