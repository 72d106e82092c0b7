"""Every list pages past 200 rows with its true total and no silent cut: the Command Center's
Emails tabs and People, and the list APIs (the campaign's enrollments, the outbox). The lists
read each state's rows on its own index range and merge them (addin_server/paging.py), so the
pages are checked against the whole list ordered in Python from the database's rows."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from addin_server import row_counts
from addin_server.enums import EnrollmentStatus, MailboxStatus, SendState
from addin_server.models import Enrollment, Mailbox, Send
from addin_server.runtime import Runtime
from tests.conftest import Actor, make_actor
from tests.support.sending import email_step, launch, make_campaign, people
from tests.web.test_command_center_scale import tab_counts
from tests.web.test_pages import settings, sign_in_as  # noqa: F401 (the DEV_MODE fixture)

N = 450


@pytest.fixture
def mixed(rep: Actor, runtime: Runtime) -> int:
    """N people in one campaign, their sends spread over due times (ties included) and every
    state, one in nine paused, people changed at different times; returns the campaign."""
    cid = make_campaign(rep, [email_step(1, send_time="09:30")])
    ids = launch(rep, cid, people(N))
    assert rep.post("/api/v1/enrollments/bulk", json={
        "action": "pause", "ids": ids[::9]}).status_code == 200
    states = [SendState.SENT, SendState.HELD, SendState.FAILED, SendState.QUEUED,
              SendState.SENDING, SendState.CANCELLED]
    now = runtime.now()
    with runtime.sessions.begin() as s:
        for i, send in enumerate(s.scalars(select(Send).order_by(Send.id))):
            send.due_at = now + timedelta(minutes=(i * 37) % 101)  # repeats: ties by id
            if i % 3 == 0:
                send.state = states[(i // 3) % len(states)]
        for i, enrollment in enumerate(s.scalars(select(Enrollment).order_by(Enrollment.id))):
            # (no two alike: SQLite compares the stored text, and launch's rows are written
            # in another text form of the same instant than the ORM's)
            enrollment.updated_at = now - timedelta(minutes=(i * 53) % 451 + 1)
        s.execute(update(Enrollment).where(Enrollment.id.in_(ids[1::17]))
                  .values(status=EnrollmentStatus.STOPPED))
    return cid


def enrollment_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-enrollment="(\d+)"', html)]


def expected_tabs(runtime: Runtime, rep: Actor) -> dict[str, list[int]]:
    """Each Emails tab's enrollments in the tab's order, from the rows themselves."""
    tabs: dict[str, list[tuple[object, int, int]]] = {
        "scheduled": [], "waiting": [], "sent": [], "failed": []}
    with runtime.sessions() as s:
        blocked = {m.id for m in s.scalars(select(Mailbox))
                   if m.status == MailboxStatus.DISCONNECTED}
        for send, enrollment in s.execute(select(Send, Enrollment).join(
                Enrollment, Enrollment.id == Send.enrollment_id)
                .where(Enrollment.rep_id == rep.rep_id)):
            held_up = (enrollment.status == EnrollmentStatus.PAUSED
                       or send.mailbox_id is None or send.mailbox_id in blocked)
            to_go = send.state in (SendState.SCHEDULED, SendState.QUEUED)
            tab = {SendState.SENT: "sent", SendState.FAILED: "failed",
                   SendState.HELD: "waiting"}.get(send.state)
            if tab is None and to_go:
                tab = "waiting" if held_up else "scheduled"
            if tab is None and send.state in (SendState.SENDING, SendState.UNKNOWN):
                tab = "scheduled"
            if tab is not None:
                tabs[tab].append((send.due_at, send.id, enrollment.id))
    out = {}
    for tab, rows in tabs.items():
        rows.sort(key=lambda r: (r[0], r[1]), reverse=tab in ("sent", "failed"))
        out[tab] = [r[2] for r in rows]
    return out


def test_emails_tabs_count_and_page_every_email_once(
    client: FlaskClient, rep: Actor, runtime: Runtime, mixed: int
) -> None:
    sign_in_as(client, rep)
    expected = expected_tabs(runtime, rep)
    assert len(expected["scheduled"]) > 200
    first = client.get("/command?view=emails").get_data(as_text=True)
    assert tab_counts(first) == {tab: len(rows) for tab, rows in expected.items()}
    for tab, rows in expected.items():
        seen: list[int] = []
        for page in range(1, len(rows) // 100 + 3):
            html = client.get(f"/command?view=emails&state={tab}&page={page}").get_data(
                as_text=True)
            seen += enrollment_ids(html)
            if len(rows) > 100 and page <= (len(rows) - 1) // 100 + 1:
                assert f"of {len(rows)}" in html
        assert seen == rows, tab


def test_people_pages_are_the_whole_list_in_order(
    client: FlaskClient, rep: Actor, runtime: Runtime, mixed: int
) -> None:
    sign_in_as(client, rep)
    with runtime.sessions() as s:
        rows = sorted(s.scalars(select(Enrollment)), key=lambda e: (e.updated_at, e.id),
                      reverse=True)
        everyone = [e.id for e in rows]
        live = [e.id for e in rows if e.status in (EnrollmentStatus.ACTIVE,
                                                   EnrollmentStatus.PAUSED)]
    assert len(live) < len(everyone) == N
    for status, wanted in (("live", live), ("all", everyone)):
        seen: list[int] = []
        for page in range(1, 7):
            html = client.get(f"/command?view=people&status={status}&page={page}").get_data(
                as_text=True)
            seen += enrollment_ids(html)
            if len(wanted) > 100 and page <= (len(wanted) - 1) // 100 + 1:
                assert f"of {len(wanted)}" in html
        assert seen == wanted, status


def test_campaign_enrollments_api_pages_with_its_total(rep: Actor, mixed: int) -> None:
    seen: list[int] = []
    for offset in (0, 200, 400, 600):
        body = rep.get(f"/api/v1/campaigns/{mixed}/enrollments?limit=200&offset={offset}").json
        assert body["total"] == N
        assert len(body["enrollments"]) == max(0, min(200, N - offset))
        seen += [e["id"] for e in body["enrollments"]]
    assert seen == sorted(seen) and len(set(seen)) == N
    first = rep.get(f"/api/v1/campaigns/{mixed}/enrollments").json  # 200 by default
    assert first["total"] == N and [e["id"] for e in first["enrollments"]] == seen[:200]


@pytest.mark.parametrize("state", ["", "scheduled,held,sent", "sent"])
def test_sends_api_pages_across_states_in_due_order(
    rep: Actor, runtime: Runtime, mixed: int, state: str
) -> None:
    wanted_states = {SendState(s) for s in state.split(",")} if state else set(SendState)
    with runtime.sessions() as s:
        rows = sorted((send.due_at, send.id) for send in s.scalars(select(Send))
                      if send.state in wanted_states)
    wanted = [i for _, i in rows]
    seen: list[int] = []
    for offset in range(0, N + 200, 200):
        body = rep.get(f"/api/v1/sends?state={state}&limit=200&offset={offset}").json
        assert body["total"] == len(wanted)
        seen += [s["id"] for s in body["sends"]]
    assert seen == wanted


def test_sends_api_of_another_rep_and_an_admin(
    rep: Actor, runtime: Runtime, client: FlaskClient, mixed: int
) -> None:
    other = make_actor(runtime, client, "bo@acme.test")
    assert other.get("/api/v1/sends").json == {"sends": [], "total": 0}
    boss = make_actor(runtime, client, "boss@acme.test", admin=True)
    assert boss.get("/api/v1/sends?limit=1").json["total"] == N
    assert boss.get("/api/v1/sends?mine=1").json["total"] == 0


def test_tasks_page_past_a_hundred_with_the_true_total(
    client: FlaskClient, rep: Actor, runtime: Runtime
) -> None:
    cid = make_campaign(rep, [{"day": 1, "type": "call"}])
    launch(rep, cid, people(250))
    sign_in_as(client, rep)
    seen: list[str] = []
    for page in (1, 2, 3, 4):
        html = client.get(f"/command?view=tasks&page={page}").get_data(as_text=True)
        rows = re.findall(r'data-task-id="(\d+)"', html)
        assert len(rows) == [100, 100, 50, 0][page - 1]
        seen += rows
        if page < 4:
            assert "of 250" in html and 'Tasks <span class="count">250<' in html
    assert len(set(seen)) == 250
    api = rep.get("/api/v1/tasks?limit=200&offset=200").json
    assert len(api["tasks"]) == 50


def test_row_counts_follow_every_change(rep: Actor, runtime: Runtime, mixed: int) -> None:
    """The totals PostgreSQL keeps with triggers (row_counts.py) equal a count of the rows
    after launches, pauses, resumes, stops (which cancel sends) and bulk UPDATEs."""
    ids = rep.get(f"/api/v1/campaigns/{mixed}/enrollments?limit=1000").json["enrollments"]
    live = [e["id"] for e in ids if e["status"] in ("active", "paused")]
    rep.post("/api/v1/enrollments/bulk", json={"action": "resume", "ids": live[:40]})
    rep.post("/api/v1/enrollments/bulk", json={"action": "pause", "ids": live[40:90]})
    rep.post("/api/v1/enrollments/bulk", json={"action": "stop", "ids": live[90:120]})
    with runtime.sessions.begin() as s:
        s.execute(update(Send).where(Send.id % 7 == 0).values(state=SendState.FAILED))
    with runtime.sessions() as s:
        rows = s.execute(select(Send.state, Enrollment.status, Send.mailbox_id)
                         .join(Enrollment, Enrollment.id == Send.enrollment_id)).all()
        counted = row_counts.sends_by_state(s, [rep.rep_id], [])
    expected: dict[SendState, list[int]] = {}
    for state, status, mailbox in rows:
        n, held = expected.setdefault(state, [0, 0])
        held_up = state in row_counts.TO_GO and (status == EnrollmentStatus.PAUSED
                                                  or mailbox is None)
        expected[state] = [n + 1, held + held_up]
    assert counted == {k: tuple(v) for k, v in expected.items()}
    with runtime.sessions() as s:
        people = Counter((e.campaign_id, e.status) for e in s.scalars(select(Enrollment)))
        assert row_counts.enrollments_by_status(s, rep_ids=[rep.rep_id]) == dict(people)
        assert row_counts.enrollments_by_status(s, campaign_ids=[mixed]) == dict(people)


def test_small_lists_page_with_their_totals(rep: Actor, runtime: Runtime,
                                            client: FlaskClient) -> None:
    """Campaigns, templates and suppressions: a page at a time, and how many in all."""
    for i in range(3):
        make_campaign(rep)
        assert rep.post("/api/v1/templates", json={"name": f"T{i}", "subject": "Hi",
                                                   "body_html": "<p>Hi</p>"}).status_code == 201
        assert rep.post("/api/v1/suppressions", json={"email": f"s{i}@x.test"}).status_code == 201
    for path, key in (("campaigns", "campaigns"), ("templates", "templates"),
                      ("suppressions", "suppressions")):
        first = rep.get(f"/api/v1/{path}?limit=2").json
        rest = rep.get(f"/api/v1/{path}?limit=2&offset=2").json
        assert first["total"] == rest["total"] == 3, path
        assert len(first[key]) == 2 and len(rest[key]) == 1, path
    tasks = rep.get("/api/v1/tasks").json
    assert tasks == {"tasks": [], "total": 0}
