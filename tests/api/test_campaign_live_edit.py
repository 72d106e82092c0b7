"""Editing a campaign with people in it (issue 15, point 8): PATCH says how many people the
change reaches (`live_edit`, and `?dry_run=true` that changes nothing) and carries it to their
future steps, already scheduled sends included. One test per kind of edit: a step's time, its
text, a new step, a removed step. The clock stands at Tue 2026-11-24 08:00 UTC (09:00 Paris)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from rq import Queue
from sqlalchemy import select

from addin_server.config import Settings
from addin_server.models import Enrollment, Send, SendLog
from addin_server.runtime import Runtime
from tests.api.test_sends import compose_body, email_task
from tests.conftest import Actor, FrozenClock
from tests.support.sending import cycle, email_step, launch, make_campaign, people


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(queue_name=f"t-{uuid.uuid4().hex[:8]}")


@pytest.fixture(autouse=True)
def _clean_queue(runtime: Runtime) -> Iterator[None]:
    yield
    Queue(runtime.settings.queue_name, connection=runtime.redis()).empty()


def steps_of(rep: Actor, cid: int) -> list[dict[str, Any]]:
    """The campaign's steps as the builder sends them back."""
    keep = ("day", "type", "send_option", "send_time", "reply_to_previous", "subject",
            "body_html", "template_id", "instructions")
    return [{k: s[k] for k in keep if s[k] is not None}
            for s in rep.get(f"/api/v1/campaigns/{cid}").json["steps"]]


def sends_at(runtime: Runtime, position: int) -> list[Send]:
    with runtime.sessions() as s:
        return list(s.scalars(select(Send).where(Send.position == position).order_by(Send.id)))


def z(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def subjects(rep: Actor) -> list[str]:
    return sorted(m["subject"] for m in rep.get("/api/v1/mailbox/messages").json["messages"])


def test_a_changed_step_time_moves_the_scheduled_sends_not_one_moved_by_hand(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    cid = make_campaign(rep, [email_step(1, send_time="10:00"), email_step(
        3, send_option="same_time_as_previous", send_time=None)])
    launch(rep, cid, people(3))
    first, second, by_hand = sends_at(runtime, 0)
    assert {s.due_at for s in (first, second, by_hand)} == {z("2026-11-24T10:00:00+01:00")}
    assert rep.patch(f"/api/v1/sends/{by_hand.id}",
                     json={"send_at": "2026-11-24T16:00:00+01:00"}).status_code == 200
    steps = steps_of(rep, cid)
    steps[0]["send_time"] = "11:30"

    dry = rep.patch(f"/api/v1/campaigns/{cid}?dry_run=true", json={"steps": steps})
    assert dry.status_code == 200, dry.json
    assert dry.json["live_edit"] == {
        "people": 3, "rescheduled": 2, "due_now": 0, "kept_by_hand": 1, "tasks_moved": 0,
        "cancelled": 0, "finished": 0, "dry_run": True}
    assert [s.due_at for s in sends_at(runtime, 0)] == [
        z("2026-11-24T10:00:00+01:00"), z("2026-11-24T10:00:00+01:00"),
        z("2026-11-24T16:00:00+01:00")]
    assert rep.get(f"/api/v1/campaigns/{cid}").json["steps"][0]["send_time"] == "10:00"

    saved = rep.patch(f"/api/v1/campaigns/{cid}", json={"steps": steps})
    assert saved.status_code == 200, saved.json
    assert saved.json["live_edit"]["rescheduled"] == 2 and not saved.json["live_edit"]["dry_run"]
    assert [(s.due_at, s.planned_at) for s in sends_at(runtime, 0)[:2]] == [
        (z("2026-11-24T11:30:00+01:00"), z("2026-11-24T11:30:00+01:00"))] * 2
    assert sends_at(runtime, 0)[2].due_at == z("2026-11-24T16:00:00+01:00")
    with runtime.sessions() as s:
        notes = list(s.scalars(select(SendLog.note).where(SendLog.send_id == first.id)))
    assert notes[-1] == "its step's time changed: due Tue, 24 Nov 2026 at 10:30 UTC"

    clock.set(z("2026-11-24T10:05:00+01:00"))  # the old time: nothing goes
    cycle(runtime, 2)
    assert subjects(rep) == []
    clock.set(z("2026-11-24T11:31:00+01:00"))
    cycle(runtime, 2)
    assert len(subjects(rep)) == 2
    # The next step copies the time the first step now has, two days on.
    assert {s.due_at for s in sends_at(runtime, 1)} == {z("2026-11-26T11:30:00+01:00")}


def test_a_step_time_moved_into_the_past_sends_at_once(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    cid = make_campaign(rep, [email_step(1, send_time="10:00")])
    launch(rep, cid, people(1))
    steps = steps_of(rep, cid)
    steps[0]["send_time"] = "08:30"
    saved = rep.patch(f"/api/v1/campaigns/{cid}", json={"steps": steps})
    assert (saved.json["live_edit"]["rescheduled"], saved.json["live_edit"]["due_now"]) == (1, 1)
    (send,) = sends_at(runtime, 0)
    assert (send.planned_at, send.due_at) == (z("2026-11-24T08:30:00+01:00"), clock())


def test_changed_text_reaches_scheduled_sends_but_not_an_email_the_rep_wrote(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    cid = make_campaign(rep, [email_step(1, send_time="10:00", subject="Old {{first_name}}")])
    launch(rep, cid, [{"email": "ann@corp.test", "first_name": "Ann"}])
    # An email task the rep wrote and scheduled from compose, in another campaign.
    task_id = email_task(rep)
    task_campaign = rep.get(f"/api/v1/tasks/{task_id}").json["campaign"]["id"]
    assert rep.post(f"/api/v1/tasks/{task_id}/send", json=compose_body(
        send_at="2026-11-24T10:00:00+01:00")).status_code == 201

    steps = steps_of(rep, cid)
    steps[0]["subject"] = "New {{first_name}}"
    edited = rep.patch(f"/api/v1/campaigns/{cid}", json={"steps": steps}).json["live_edit"]
    assert (edited["people"], edited["rescheduled"]) == (1, 0)
    task_steps = steps_of(rep, task_campaign)
    task_steps[0]["subject"] = "Template changed for {{company}}"
    assert rep.patch(f"/api/v1/campaigns/{task_campaign}",
                     json={"steps": task_steps}).json["live_edit"]["people"] == 1

    clock.set(z("2026-11-24T10:01:00+01:00"))
    cycle(runtime, 2)
    assert subjects(rep) == ["Idea for Corp", "New Ann"]


def test_a_new_step_is_scheduled_for_people_who_have_not_reached_it(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    cid = make_campaign(rep, [email_step(1, send_time="10:00")])
    launch(rep, cid, [{"email": "done@corp.test", "first_name": "Di"}])
    clock.set(z("2026-11-24T10:01:00+01:00"))
    cycle(runtime, 2)  # done@ got the only step: finished
    assert [e["status"] for e in rep.get(f"/api/v1/campaigns/{cid}/enrollments").json[
        "enrollments"]] == ["finished"], [(s.state, s.reason) for s in sends_at(runtime, 0)]
    launch(rep, cid, [{"email": "new@corp.test", "first_name": "Ned"}],
           start_date="2026-11-25")
    steps = [*steps_of(rep, cid), email_step(3, send_option="same_time_as_previous",
                                             send_time=None, subject="Following up")]
    edited = rep.patch(f"/api/v1/campaigns/{cid}", json={"steps": steps})
    assert edited.status_code == 200, edited.json
    assert edited.json["live_edit"]["people"] == 1

    clock.set(z("2026-11-25T10:01:00+01:00"))
    cycle(runtime, 2)
    (follow_up,) = sends_at(runtime, 1)
    assert follow_up.due_at == z("2026-11-27T10:00:00+01:00")
    with runtime.sessions() as s:
        enrollment = s.get(Enrollment, follow_up.enrollment_id)
        assert enrollment is not None and enrollment.person.email == "new@corp.test"
        statuses = {e.person.email: e.status.value for e in s.scalars(select(Enrollment))}
    assert statuses == {"done@corp.test": "finished", "new@corp.test": "active"}


def test_a_removed_step_cancels_its_scheduled_sends_and_its_people_finish(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    cid = make_campaign(rep, [email_step(1, send_time="10:00"),
                              email_step(3, send_time="14:00"),
                              {"day": 4, "type": "call"}])
    launch(rep, cid, people(2))
    clock.set(z("2026-11-24T10:01:00+01:00"))
    cycle(runtime, 2)
    assert [s.state.value for s in sends_at(runtime, 1)] == ["scheduled", "scheduled"]

    # The call step goes: people on step 2 are not on it, nothing of theirs is cancelled.
    steps = steps_of(rep, cid)
    edited = rep.patch(f"/api/v1/campaigns/{cid}", json={"steps": steps[:2]}).json
    assert edited["live_edit"] | {"dry_run": False} == {
        "people": 2, "rescheduled": 0, "due_now": 0, "kept_by_hand": 0, "tasks_moved": 0,
        "cancelled": 0, "finished": 0, "dry_run": False}
    # Then the step they are on.
    dry = rep.patch(f"/api/v1/campaigns/{cid}?dry_run=1", json={"steps": steps[:1]}).json
    assert (dry["live_edit"]["cancelled"], dry["live_edit"]["finished"]) == (2, 2)
    assert [s.state.value for s in sends_at(runtime, 1)] == ["scheduled", "scheduled"]
    edited = rep.patch(f"/api/v1/campaigns/{cid}", json={"steps": steps[:1]}).json
    assert (edited["live_edit"]["cancelled"], edited["live_edit"]["finished"]) == (2, 2)
    assert [(s.state.value, s.reason) for s in sends_at(runtime, 1)] == [
        ("cancelled", "its step was removed from the campaign")] * 2
    assert {e["status"] for e in rep.get(f"/api/v1/campaigns/{cid}/enrollments").json[
        "enrollments"]} == {"finished"}
    clock.set(z("2026-11-26T14:01:00+01:00"))
    cycle(runtime, 2)
    assert len(subjects(rep)) == 2  # the two first emails, nothing more


def test_people_on_a_step_keep_its_kind(runtime: Runtime, rep: Actor) -> None:
    cid = make_campaign(rep, [email_step(1, send_time="10:00")])
    launch(rep, cid, people(1))
    steps = steps_of(rep, cid)
    steps[0] = {**steps[0], "send_option": "manual_task"}
    steps[0].pop("send_time")
    refused = rep.patch(f"/api/v1/campaigns/{cid}", json={"steps": steps})
    assert refused.status_code == 422
    assert refused.json["errors"][0]["field"] == "steps[0].send_option"


def test_an_open_task_takes_its_steps_new_day_and_goes_with_its_step(
    runtime: Runtime, rep: Actor
) -> None:
    cid = make_campaign(rep, [{"day": 1, "type": "call"}, {"day": 3, "type": "linkedin"}])
    launch(rep, cid, people(1))
    (first,) = rep.get("/api/v1/tasks?status=open").json["tasks"]
    assert rep.post(f"/api/v1/tasks/{first['id']}/complete", json={
        "outcome": "no_answer"}).status_code == 200
    (task,) = rep.get("/api/v1/tasks?status=open").json["tasks"]
    assert task["due_date"] == "2026-11-26"
    steps = steps_of(rep, cid)
    steps[1]["day"] = 5
    edited = rep.patch(f"/api/v1/campaigns/{cid}", json={"steps": steps}).json["live_edit"]
    assert (edited["people"], edited["tasks_moved"]) == (1, 1)
    assert rep.get(f"/api/v1/tasks/{task['id']}").json["due_date"] == "2026-11-28"
    edited = rep.patch(f"/api/v1/campaigns/{cid}", json={"steps": steps[:1]}).json["live_edit"]
    assert (edited["cancelled"], edited["finished"]) == (1, 1)
    assert rep.get(f"/api/v1/tasks/{task['id']}").json["status"] == "cancelled"


def test_with_step_ids_a_step_moved_before_where_people_are_is_refused(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    cid = make_campaign(rep, [email_step(1, send_time="10:00"), {"day": 2, "type": "call"},
                              email_step(3), {"day": 5, "type": "call"}])
    launch(rep, cid, people(1))
    clock.set(z("2026-11-24T10:01:00+01:00"))
    cycle(runtime, 2)
    (task,) = rep.get("/api/v1/tasks?status=open").json["tasks"]
    assert rep.post(f"/api/v1/tasks/{task['id']}/complete", json={
        "outcome": "no_answer"}).status_code == 200  # now on step 3 (an email)
    saved = rep.get(f"/api/v1/campaigns/{cid}").json["steps"]
    with_ids = [{k: v for k, v in s.items() if v is not None and k != "position"}
                for s in saved]
    # Without ids this would look like step 2 edited into an email and step 3 removed.
    refused = rep.patch(f"/api/v1/campaigns/{cid}",
                        json={"steps": [with_ids[0], with_ids[2], with_ids[3]]})
    assert refused.status_code == 422 and refused.json["errors"][0]["field"] == "steps[1]"
    assert "people are on step 3" in refused.json["errors"][0]["message"]
    # After where people are, steps may go: the last call is removed, nobody is touched.
    edited = rep.patch(f"/api/v1/campaigns/{cid}", json={"steps": with_ids[:3]})
    assert edited.status_code == 200, edited.json
    assert edited.json["live_edit"]["cancelled"] == 0
    assert [s["id"] for s in edited.json["steps"]] == [s["id"] for s in saved[:3]]
