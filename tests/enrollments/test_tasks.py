"""Tasks: manual steps gate the campaign; completing or skipping moves the person on."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from addin_server.enrollments.advance import advance
from addin_server.enrollments.tasks import record_sent_email
from addin_server.enums import SendState
from addin_server.models import Enrollment, Send
from tests.api.test_campaigns import create, email_step
from tests.conftest import Actor, FrozenClock, make_actor

MANUAL_FIRST = [
    email_step(1, "manual_task", subject="Idea for {{company}}",
               body_html="<p>Hi {{first_name}}, {{! one line about their industry }}</p>"),
    {"day": 2, "type": "call", "instructions": "Ask about Q1"},
    email_step(4, "fixed_time", send_time="10:00", reply_to_previous=False,
               subject="Following up"),
]


def start(actor: Actor, steps: list[dict[str, Any]], **launch: Any) -> int:
    cid = create(actor, steps=steps).json["id"]
    body = {"people": [{"email": "zoe@corp.test", "first_name": "Zoé", "company": "Corp"}]}
    body.update(launch)
    response = actor.post(f"/api/v1/campaigns/{cid}/launch", json=body)
    assert response.status_code == 201, response.json
    return int(response.json["enrollments"][0]["id"])


def open_tasks(actor: Actor) -> list[dict[str, Any]]:
    return actor.get("/api/v1/tasks?status=open").json["tasks"]


def test_manual_email_becomes_a_task_with_a_compose_view(rep: Actor) -> None:
    eid = start(rep, MANUAL_FIRST)
    (task,) = open_tasks(rep)
    assert (task["type"], task["due_date"], task["enrollment_id"]) == ("email", "2026-11-24", eid)
    assert task["person"]["email"] == "zoe@corp.test"
    compose = rep.get(f"/api/v1/tasks/{task['id']}/compose").json
    assert compose["to"] == "zoe@corp.test"
    assert compose["subject"] == "Idea for Corp"
    assert compose["body_html"] == (
        "<p>Hi Zoé, {{! one line about their industry }}</p>")
    assert compose["prompts"] == ["one line about their industry"]
    assert compose["reply_to"] is None
    steps = rep.get(f"/api/v1/enrollments/{eid}").json["steps"]
    assert steps[0]["status"] == "open"
    assert steps[1]["reason"].startswith("waiting for the email task of step 1")


def test_completing_moves_on_and_a_second_click_changes_nothing(
    rep: Actor, clock: FrozenClock
) -> None:
    eid = start(rep, MANUAL_FIRST)
    (task,) = open_tasks(rep)
    first = rep.post(f"/api/v1/tasks/{task['id']}/complete")
    assert first.json == {"id": task["id"], "status": "completed", "changed": True}
    again = rep.post(f"/api/v1/tasks/{task['id']}/complete")
    assert again.json == {"id": task["id"], "status": "completed", "changed": False}
    skip_after = rep.post(f"/api/v1/tasks/{task['id']}/skip")
    assert skip_after.json["status"] == "completed"
    (call,) = open_tasks(rep)
    assert (call["type"], call["due_date"], call["instructions"]) == (
        "call", "2026-11-25", "Ask about Q1")
    types = [e["type"] for e in rep.get("/api/v1/feed").json["events"]]
    assert types.count("task_completed") == 1
    assert types[-1] == "task_created"
    steps = rep.get(f"/api/v1/enrollments/{eid}").json["steps"]
    assert [s["status"] for s in steps] == ["completed", "open", "planned"]


def test_late_completion_keeps_the_spacing(rep: Actor, clock: FrozenClock,
                                           session: Session) -> None:
    eid = start(rep, MANUAL_FIRST)
    rep.post(f"/api/v1/tasks/{open_tasks(rep)[0]['id']}/complete")
    # The call was due Wed 25 Nov; it is done on Mon 30 Nov.
    clock.set(datetime(2026, 11, 30, 15, 0, tzinfo=UTC))
    (call,) = open_tasks(rep)
    rep.post(f"/api/v1/tasks/{call['id']}/skip")
    send = session.scalar(select(Send).where(Send.enrollment_id == eid))
    assert send is not None
    # Day 4 is two campaign days after day 2: Wed 2 Dec at 10:00 Paris, not "now".
    assert send.due_at == datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    assert send.state == SendState.SCHEDULED


def test_the_last_step_finishes_the_enrollment(rep: Actor) -> None:
    eid = start(rep, [{"day": 1, "type": "linkedin"}])
    (task,) = open_tasks(rep)
    rep.post(f"/api/v1/tasks/{task['id']}/complete")
    view = rep.get(f"/api/v1/enrollments/{eid}").json
    assert view["status"] == "finished"
    assert open_tasks(rep) == []


def test_stop_cancels_open_tasks_and_pending_sends(rep: Actor, session: Session) -> None:
    eid = start(rep, MANUAL_FIRST)
    (task,) = open_tasks(rep)
    stopped = rep.post(f"/api/v1/enrollments/{eid}/stop").json
    assert stopped["status"] == "stopped"
    assert open_tasks(rep) == []
    late = rep.post(f"/api/v1/tasks/{task['id']}/complete")
    assert late.status_code == 409
    assert rep.post(f"/api/v1/enrollments/{eid}/resume").status_code == 409
    assert [s["status"] for s in stopped["steps"]] == ["cancelled", "not_planned",
                                                       "not_planned"]


def test_pause_and_resume(rep: Actor, session: Session) -> None:
    eid = start(rep, [email_step(1, "fixed_time", send_time="09:30")])
    paused = rep.post(f"/api/v1/enrollments/{eid}/pause").json
    assert paused["status"] == "paused"
    assert paused["steps"][0]["reason"].startswith("paused: ")
    assert rep.post(f"/api/v1/enrollments/{eid}/pause").status_code == 200
    resumed = rep.post(f"/api/v1/enrollments/{eid}/resume").json
    assert resumed["status"] == "active"
    assert resumed["steps"][0]["status"] == "scheduled"


def test_reply_task_composes_on_the_email_actually_sent(
    rep: Actor, session: Session, clock: FrozenClock
) -> None:
    steps = [
        email_step(1, "fixed_time", send_time="09:30", subject="Hello {{first_name}}"),
        email_step(3, "manual_task", reply_to_previous=True, subject="",
                   body_html="<p>Bumping this, {{first_name}}</p>"),
    ]
    eid = start(rep, steps)
    # What the pipeline does when the first email goes out.
    enrollment = session.get(Enrollment, eid)
    assert enrollment is not None
    send = session.scalar(select(Send).where(Send.enrollment_id == eid))
    assert send is not None
    sent_at = datetime(2026, 11, 24, 8, 30, 5, tzinfo=UTC)
    send.state, send.sent_at = SendState.SENT, sent_at
    record_sent_email(session, enrollment=enrollment, position=0, mailbox_id=send.mailbox_id or 0,
                      to_addr="zoe@corp.test", subject="Hello Zoé (edited)",
                      body_html="<p>The body that went out</p>", sent_at=sent_at,
                      provider_message_id="m1", thread_id="t1",
                      rfc_message_id="<m1@acme.test>", references="")
    advance(session, enrollment, sent_at)
    session.commit()
    (task,) = open_tasks(rep)
    assert task["due_date"] == "2026-11-26"
    compose = rep.get(f"/api/v1/tasks/{task['id']}/compose").json
    assert compose["subject"] == "Re: Hello Zoé (edited)"
    assert compose["reply_to"] == {"message_id": "<m1@acme.test>", "references": "",
                                   "thread_id": "t1", "provider_message_id": "m1",
                                   "subject": "Hello Zoé (edited)"}
    assert compose["body_html"].startswith("<p>Bumping this, Zoé</p>")
    assert "<p>The body that went out</p>" in compose["body_html"]
    assert 'class="gmail_quote"' in compose["body_html"]


def test_missing_field_in_compose_is_a_clear_conflict(rep: Actor) -> None:
    steps = [email_step(1, "manual_task", body_html="<p>{{title}}</p>")]
    start(rep, steps)
    (task,) = open_tasks(rep)
    response = rep.get(f"/api/v1/tasks/{task['id']}/compose")
    assert response.status_code == 409
    assert "title" in response.json["errors"][0]["message"]


def test_tasks_are_private_to_their_rep_and_org(rep: Actor, runtime: Any, client: Any) -> None:
    start(rep, MANUAL_FIRST)
    (task,) = open_tasks(rep)
    colleague = make_actor(runtime, client, "bob@acme.test")
    outsider = make_actor(runtime, client, "eve@evil.test", org="Evil", admin=True)
    admin = make_actor(runtime, client, "boss@acme.test", admin=True)
    assert open_tasks(colleague) == []
    assert open_tasks(outsider) == []
    assert [t["id"] for t in open_tasks(admin)] == [task["id"]]
    for actor in (colleague, outsider):
        assert actor.post(f"/api/v1/tasks/{task['id']}/complete").status_code == 404
        assert actor.get(f"/api/v1/tasks/{task['id']}/compose").status_code == 404
    assert open_tasks(rep)[0]["status"] == "open"


def test_task_list_rejects_bad_filters(rep: Actor) -> None:
    assert rep.get("/api/v1/tasks?status=weird").status_code == 422
    assert rep.get("/api/v1/tasks?limit=many").status_code == 422
    assert rep.get("/api/v1/feed?after=x").status_code == 422


def test_the_feed_says_once_when_a_task_is_due(rep: Actor, runtime: Any,
                                               clock: FrozenClock) -> None:
    from addin_server.db import session_scope
    from addin_server.enrollments.tasks import announce_due_tasks

    start(rep, [{"day": 1, "type": "linkedin"}], start_date="2026-11-25")
    (task,) = open_tasks(rep)
    assert task["due_date"] == "2026-11-25"
    # Tuesday 24 Nov, 22:30 UTC: still Tuesday nowhere near the rep (Paris is 23:30).
    clock.set(datetime(2026, 11, 24, 22, 30, tzinfo=UTC))
    with session_scope(runtime.sessions) as s:
        assert announce_due_tasks(s, clock()) == 0
    # 23:30 UTC is 00:30 Wednesday in Paris: the task's day has come.
    clock.set(datetime(2026, 11, 24, 23, 30, tzinfo=UTC))
    with session_scope(runtime.sessions) as s:
        assert announce_due_tasks(s, clock()) == 1
    with session_scope(runtime.sessions) as s:
        assert announce_due_tasks(s, clock()) == 0  # once
    due = [e for e in rep.get("/api/v1/feed").json["events"] if e["type"] == "task_due"]
    assert [(e["task_id"], e["due_date"], e["email"]) for e in due] == [
        (task["id"], "2026-11-25", "zoe@corp.test")]
