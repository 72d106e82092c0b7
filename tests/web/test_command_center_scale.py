"""The Command Center's Emails and People at more than a page: each email state counted and
paged on its own (true totals, no silent cut at 200), and a bulk action on a selection in one
request (issue 15, point 3)."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import select, update

from addin_server.enums import SendState
from addin_server.models import Enrollment, Send
from addin_server.runtime import Runtime
from tests.conftest import Actor, make_actor
from tests.support.sending import email_step, launch, make_campaign, people
from tests.web.test_pages import settings, sign_in_as  # noqa: F401 (the DEV_MODE fixture)

N = 450


def launched(rep: Actor, runtime: Runtime) -> list[int]:
    """N people; every first send scheduled for 09:30 today; 57 sent and 1 held today."""
    cid = make_campaign(rep, [email_step(1, send_time="09:30")])
    ids = launch(rep, cid, people(N))
    with runtime.sessions.begin() as s:
        sends = list(s.scalars(select(Send.id).order_by(Send.id)))
        s.execute(update(Send).where(Send.id.in_(sends[:57]))
                  .values(state=SendState.SENT, sent_at=runtime.now()))
        s.execute(update(Send).where(Send.id == sends[57])
                  .values(state=SendState.HELD, reason="missing merge fields: color"))
    return ids


def tab_counts(html: str) -> dict[str, int]:
    return {name.lower(): int(n) for name, n in re.findall(
        r'state=\w+[^>]*>(Scheduled|Waiting|Sent|Failed) <span class="count">(\d+)', html)}


def test_each_email_state_has_its_true_total_and_pages(
    client: FlaskClient, rep: Actor, runtime: Runtime
) -> None:
    launched(rep, runtime)
    sign_in_as(client, rep)
    html = client.get("/command?view=emails&state=sent").get_data(as_text=True)
    assert tab_counts(html) == {"scheduled": N - 58, "waiting": 1, "sent": 57, "failed": 0}
    assert html.count('data-enrollment="') == 57
    scheduled = client.get("/command?view=emails&state=scheduled").get_data(as_text=True)
    assert "1–100 of 392" in scheduled and 'rel="next"' in scheduled
    seen = set()
    for page in range(1, 5):
        body = client.get(f"/command?view=emails&state=scheduled&page={page}").get_data(
            as_text=True)
        seen |= set(re.findall(r'data-enrollment="(\d+)"', body))
    assert len(seen) == N - 58  # every scheduled email is on some page, once
    last = client.get("/command?view=emails&state=scheduled&page=4").get_data(as_text=True)
    assert "301–392 of 392" in last and 'rel="next"' not in last


def test_people_pages_and_a_bulk_pause_is_one_request(
    client: FlaskClient, rep: Actor, runtime: Runtime
) -> None:
    ids = launched(rep, runtime)
    sign_in_as(client, rep)
    html = client.get("/command?view=people&page=5").get_data(as_text=True)
    assert "401–450 of 450" in html
    response = rep.post("/api/v1/enrollments/bulk", json={"action": "pause", "ids": ids})
    assert response.status_code == 200, response.json
    assert len(response.json["changed"]) == N and response.json["unchanged"] == []
    with runtime.sessions() as s:
        assert {e.status.value for e in s.scalars(select(Enrollment))} == {"paused"}
    again = rep.post("/api/v1/enrollments/bulk", json={"action": "stop", "ids": ids[:3]})
    assert [c["status"] for c in again.json["changed"]] == ["stopped"] * 3
    resumed = rep.post("/api/v1/enrollments/bulk", json={"action": "resume", "ids": ids[:4]})
    assert [u["id"] for u in resumed.json["unchanged"]] == ids[:3]
    assert resumed.json["changed"] == [{"id": ids[3], "status": "active"}]


def test_bulk_refuses_ids_of_another_org(rep: Actor, runtime: Runtime,
                                        client: FlaskClient) -> None:
    other_org = make_actor(runtime, client, "bob@other.test", org="Other")
    cid = make_campaign(other_org, [email_step(1)])
    theirs = launch(other_org, cid, people(2))
    response = rep.post("/api/v1/enrollments/bulk", json={"action": "stop", "ids": theirs})
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == "ids"
    assert rep.post("/api/v1/enrollments/bulk", json={"action": "nap", "ids": theirs}
                    ).json["errors"][0]["field"] == "action"
