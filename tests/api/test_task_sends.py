"""What the rep scheduled from compose is cancelled when the task or the person is skipped,
done, stopped or unsubscribed; Done waits for the email or asks; a past time is refused
(issue 15, points 2 and 4)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from rq import Queue

from addin_server.config import Settings
from addin_server.runtime import Runtime
from tests.api.test_sends import compose_body, email_task
from tests.conftest import Actor, FrozenClock
from tests.support.sending import cycle


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(queue_name=f"t-{uuid.uuid4().hex[:8]}")


@pytest.fixture(autouse=True)
def _clean_queue(runtime: Runtime) -> Iterator[None]:
    yield
    Queue(runtime.settings.queue_name, connection=runtime.redis()).empty()


LATER = "2026-11-24T15:00:00+01:00"  # the clock is 08:00 UTC; the rep is in Europe/Paris


def scheduled(rep: Actor) -> tuple[int, int]:
    task_id = email_task(rep)
    response = rep.post(f"/api/v1/tasks/{task_id}/send", json=compose_body(send_at=LATER))
    assert response.status_code == 201, response.json
    assert response.json["state"] == "scheduled"
    return task_id, response.json["id"]


def outcome(rep: Actor, runtime: Runtime, clock: FrozenClock, send_id: int) -> dict[str, object]:
    """The send's row after its time has long passed and the pipeline has run."""
    clock.advance(hours=8)
    cycle(runtime, 2)
    assert rep.get("/api/v1/mailbox/messages").json["messages"] == []  # nothing went out
    return dict(rep.get(f"/api/v1/sends/{send_id}").json)


def test_skip_cancels_the_scheduled_email(runtime: Runtime, rep: Actor,
                                          clock: FrozenClock) -> None:
    task_id, send_id = scheduled(rep)
    response = rep.post(f"/api/v1/tasks/{task_id}/skip")
    assert response.status_code == 200 and response.json["status"] == "skipped"
    send = outcome(rep, runtime, clock, send_id)
    assert send["state"] == "cancelled"
    assert send["reason"] == "the rep skipped the task"
    assert [(h["from"], h["to"]) for h in send["history"]] == [  # type: ignore[attr-defined]
        (None, "scheduled"), ("scheduled", "cancelled")]


def test_done_waits_for_the_email_or_cancels_it_when_asked(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    task_id, send_id = scheduled(rep)
    refused = rep.post(f"/api/v1/tasks/{task_id}/complete")
    assert refused.status_code == 409
    (error,) = refused.json["errors"]
    assert error["field"] == "send"
    assert "Tue, 24 Nov 2026 at 15:00 Europe/Paris" in error["message"]
    assert rep.get(f"/api/v1/tasks/{task_id}").json["status"] == "open"
    assert rep.get(f"/api/v1/sends/{send_id}").json["state"] == "scheduled"
    done = rep.post(f"/api/v1/tasks/{task_id}/complete", json={"cancel_send": True})
    assert done.status_code == 200 and done.json["status"] == "completed"
    send = outcome(rep, runtime, clock, send_id)
    assert (send["state"], send["reason"]) == (
        "cancelled", "the rep marked the task done without sending it")


def test_done_without_asking_completes_when_the_email_goes(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    task_id, send_id = scheduled(rep)
    assert rep.post(f"/api/v1/tasks/{task_id}/complete").status_code == 409
    clock.advance(hours=8)
    cycle(runtime, 1)
    assert rep.get(f"/api/v1/sends/{send_id}").json["state"] == "sent"
    assert rep.get(f"/api/v1/tasks/{task_id}").json["status"] == "completed"


@pytest.mark.parametrize("how", ["stop", "unsubscribe"])
def test_ending_the_person_cancels_the_scheduled_email_with_its_reason(
    runtime: Runtime, rep: Actor, clock: FrozenClock, how: str
) -> None:
    task_id, send_id = scheduled(rep)
    enrollment_id = rep.get(f"/api/v1/tasks/{task_id}").json["enrollment_id"]
    if how == "stop":
        assert rep.post(f"/api/v1/enrollments/{enrollment_id}/stop").status_code == 200
        reason = "stopped by the rep"
    else:
        assert rep.post("/api/v1/suppressions", json={"email": "zoe@corp.test"}).status_code \
            == 201
        reason = "on the suppression list"
    send = outcome(rep, runtime, clock, send_id)
    assert (send["state"], send["reason"]) == ("cancelled", reason)
    # The history says so too (it did not before: the row changed without a line).
    assert send["history"][-1] == {  # type: ignore[index]
        "at": send["history"][-1]["at"], "from": "scheduled", "to": "cancelled",  # type: ignore[index]
        "note": reason}


def test_pause_holds_the_scheduled_email_until_resume(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    task_id, send_id = scheduled(rep)
    enrollment_id = rep.get(f"/api/v1/tasks/{task_id}").json["enrollment_id"]
    assert rep.post(f"/api/v1/enrollments/{enrollment_id}/pause").status_code == 200
    send = outcome(rep, runtime, clock, send_id)
    assert send["state"] == "scheduled"  # held by the pause, not sent


def test_a_time_in_the_past_is_refused_in_the_reps_zone(rep: Actor) -> None:
    task_id = email_task(rep)
    response = rep.post(f"/api/v1/tasks/{task_id}/send",
                        json=compose_body(send_at="2026-11-24T07:00:00Z"))
    assert response.status_code == 422
    (error,) = response.json["errors"]
    assert error["field"] == "send_at"
    assert "Tue, 24 Nov 2026 at 08:00" in error["message"]  # 07:00 UTC in Paris
    assert "it is now Tue, 24 Nov 2026 at 09:00 Europe/Paris" in error["message"]
    assert rep.get("/api/v1/sends").json["sends"] == []  # nothing written
    # A minute-precise "now" that is a few seconds behind is still taken (sent at once).
    ok = rep.post(f"/api/v1/tasks/{task_id}/send",
                  json=compose_body(send_at="2026-11-24T07:59:30Z"))
    assert ok.status_code == 201
