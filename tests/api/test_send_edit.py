"""A scheduled email can be opened, changed, rescheduled or cancelled until it is claimed:
PATCH /api/v1/sends/{id} and POST /api/v1/sends/{id}/cancel, 409 once it went (issue 15,
point 7). The clock stands at 2026-11-24 08:00 UTC (09:00 in Paris)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from rq import Queue

from addin_server.config import Settings
from addin_server.runtime import Runtime
from tests.api.test_sends import compose_body, email_task
from tests.conftest import Actor, FrozenClock
from tests.support.sending import cycle, email_step, launch, make_campaign


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(queue_name=f"t-{uuid.uuid4().hex[:8]}")


@pytest.fixture(autouse=True)
def _clean_queue(runtime: Runtime) -> Iterator[None]:
    yield
    Queue(runtime.settings.queue_name, connection=runtime.redis()).empty()


def task_send(rep: Actor) -> tuple[int, int]:
    task_id = email_task(rep)
    response = rep.post(f"/api/v1/tasks/{task_id}/send",
                        json=compose_body(send_at="2026-11-24T15:00:00+01:00"))
    assert response.status_code == 201, response.json
    return task_id, response.json["id"]


def test_reschedule_and_rewrite_a_task_email_then_it_goes_as_changed(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    _, send_id = task_send(rep)
    changed = rep.patch(f"/api/v1/sends/{send_id}", json={
        "send_at": "2026-11-24T10:00:00+01:00", "subject": "New idea for {{company}}"})
    assert changed.status_code == 200, changed.json
    assert changed.json["due_at"] == "2026-11-24T09:00:00Z"
    assert changed.json["subject"] == "New idea for Corp"
    assert rep.patch(f"/api/v1/sends/{send_id}", json={
        "send_at": "2026-11-24T07:00:00Z"}).json["errors"][0]["field"] == "send_at"
    clock.advance(hours=1, minutes=1)
    cycle(runtime, 1)
    (message,) = rep.get("/api/v1/mailbox/messages").json["messages"]
    assert message["subject"] == "New idea for Corp"
    late = rep.patch(f"/api/v1/sends/{send_id}", json={"subject": "Too late"})
    assert late.status_code == 409 and late.json["errors"][0]["field"] == "state"
    assert rep.post(f"/api/v1/sends/{send_id}/cancel").status_code == 409


def test_cancel_a_task_email_keeps_the_task_open_to_send_again(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    task_id, send_id = task_send(rep)
    response = rep.post(f"/api/v1/sends/{send_id}/cancel")
    assert response.status_code == 200
    assert (response.json["state"], response.json["reason"]) == (
        "cancelled", "cancelled by the rep")
    assert rep.get(f"/api/v1/tasks/{task_id}").json["status"] == "open"
    clock.advance(hours=8)
    cycle(runtime, 1)
    assert rep.get("/api/v1/mailbox/messages").json["messages"] == []
    again = rep.post(f"/api/v1/tasks/{task_id}/send", json=compose_body())
    assert again.status_code == 200 and again.json["state"] == "scheduled"


def test_an_automatic_email_is_rescheduled_or_cancelled_and_the_person_moves_on(
    runtime: Runtime, rep: Actor
) -> None:
    cid = make_campaign(rep, [email_step(1, send_time="10:00"), email_step(3)])
    launch(rep, cid, [{"email": "zoe@corp.test", "first_name": "Zoe"}])
    (send,) = rep.get("/api/v1/sends").json["sends"]
    text = rep.patch(f"/api/v1/sends/{send['id']}", json={"subject": "Hi"})
    assert text.status_code == 422 and text.json["errors"][0]["field"] == "subject"
    moved = rep.patch(f"/api/v1/sends/{send['id']}", json={"send_at": "2026-11-24T12:00:00Z"})
    assert moved.status_code == 200 and moved.json["due_at"] == "2026-11-24T12:00:00Z"
    assert rep.post(f"/api/v1/sends/{send['id']}/cancel").status_code == 200
    sends = sorted(rep.get("/api/v1/sends").json["sends"], key=lambda s: s["position"])
    assert [(s["position"], s["state"]) for s in sends] == [(0, "cancelled"), (1, "scheduled")]


def test_another_orgs_send_is_not_found(runtime: Runtime, rep: Actor, client: object) -> None:
    from tests.conftest import make_actor

    other = make_actor(runtime, client, "bob@other.test", org="Other")  # type: ignore[arg-type]
    _, send_id = task_send(rep)
    assert other.post(f"/api/v1/sends/{send_id}/cancel").status_code == 404
    assert other.patch(f"/api/v1/sends/{send_id}", json={"send_at": None}).status_code == 404
