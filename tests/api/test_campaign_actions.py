"""Campaign-level actions (issue 15, point 8): pause, resume, stop, clone, archive, through
POST /api/v1/campaigns/{id}/<action>, with the counts a confirm shows first. The clock stands
at Tue 2026-11-24 08:00 UTC (09:00 Paris); the first emails are due at 10:00 Paris."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient
from rq import Queue
from sqlalchemy import select

from addin_server.config import Settings
from addin_server.models import Send
from addin_server.runtime import Runtime
from tests.conftest import Actor, FrozenClock, make_actor
from tests.support.sending import cycle, email_step, launch, make_campaign, people


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(queue_name=f"t-{uuid.uuid4().hex[:8]}")


@pytest.fixture(autouse=True)
def _clean_queue(runtime: Runtime) -> Iterator[None]:
    yield
    Queue(runtime.settings.queue_name, connection=runtime.redis()).empty()


TEN = datetime(2026, 11, 24, 9, 1, tzinfo=UTC)  # 10:01 Paris: the first emails are due


def sent(rep: Actor) -> list[str]:
    return sorted(m["to"] for m in rep.get("/api/v1/mailbox/messages").json["messages"])


def statuses(rep: Actor, cid: int) -> dict[str, str]:
    return {e["email"]: e["status"] for e in rep.get(
        f"/api/v1/campaigns/{cid}/enrollments").json["enrollments"]}


def send_rows(runtime: Runtime) -> list[tuple[str, str]]:
    with runtime.sessions() as s:
        return [(r.state.value, r.reason) for r in s.scalars(select(Send).order_by(Send.id))]


def test_pause_holds_everyone_then_resume_sends_and_one_paused_alone_stays_paused(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    cid = make_campaign(rep, [email_step(1, send_time="10:00"), email_step(3)])
    ids = launch(rep, cid, people(3))
    assert rep.post(f"/api/v1/enrollments/{ids[2]}/pause").status_code == 200
    assert rep.get(f"/api/v1/campaigns/{cid}/people").json == {
        "active": 2, "paused": 1, "paused_with_campaign": 0}

    paused = rep.post(f"/api/v1/campaigns/{cid}/pause")
    assert paused.status_code == 200, paused.json
    assert (paused.json["affected"], paused.json["people"]) == (
        2, {"active": 0, "paused": 3, "paused_with_campaign": 2})
    clock.set(TEN)
    cycle(runtime, 2)
    assert sent(rep) == []
    # The sends wait in the outbox, as for a person paused alone: nothing lost.
    assert [state for state, _ in send_rows(runtime)] == ["scheduled"] * 3

    # One of them resumed alone: no longer "paused with the campaign".
    alone = rep.post(f"/api/v1/enrollments/{ids[1]}/resume").json
    assert (alone["status"], alone["stop_reason"]) == ("active", "")
    rep.post(f"/api/v1/enrollments/{ids[1]}/pause")
    resumed = rep.post(f"/api/v1/campaigns/{cid}/resume").json
    assert resumed["affected"] == 1
    assert statuses(rep, cid) == {"p0@corp.test": "active", "p1@corp.test": "paused",
                                  "p2@corp.test": "paused"}
    cycle(runtime, 2)
    assert sent(rep) == ["p0@corp.test"]
    assert rep.post(f"/api/v1/campaigns/{cid}/resume").json["affected"] == 0


def test_a_step_done_while_paused_moves_the_person_on_at_resume(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    cid = make_campaign(rep, [{"day": 1, "type": "call"}, email_step(2, send_time="10:00")])
    launch(rep, cid, people(1))
    (task,) = rep.get("/api/v1/tasks?status=open").json["tasks"]
    assert rep.post(f"/api/v1/campaigns/{cid}/pause").json["affected"] == 1
    assert rep.post(f"/api/v1/tasks/{task['id']}/complete", json={}).status_code == 200
    assert send_rows(runtime) == []  # paused: the next step waits
    rep.post(f"/api/v1/campaigns/{cid}/resume")
    (send,) = rep.get("/api/v1/sends").json["sends"]
    assert (send["position"], send["due_at"]) == (1, "2026-11-25T09:00:00Z")


def test_stop_ends_everyone_and_cancels_what_is_scheduled(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    cid = make_campaign(rep, [email_step(1, send_time="10:00")])
    ids = launch(rep, cid, people(2))
    rep.post(f"/api/v1/enrollments/{ids[1]}/pause")
    stopped = rep.post(f"/api/v1/campaigns/{cid}/stop").json
    assert (stopped["affected"], stopped["people"]["active"], stopped["people"]["paused"]) == (
        2, 0, 0)
    assert set(statuses(rep, cid).values()) == {"stopped"}
    assert send_rows(runtime) == [("cancelled", "the campaign was stopped")] * 2
    clock.set(TEN)
    cycle(runtime, 2)
    assert sent(rep) == []


def test_archive_is_refused_while_people_are_in_it_and_hides_it_from_the_list(
    runtime: Runtime, rep: Actor
) -> None:
    cid = make_campaign(rep, [email_step(1, send_time="10:00")])
    other = make_campaign(rep, [email_step(1, send_time="10:00")])
    launch(rep, cid, people(1))
    refused = rep.post(f"/api/v1/campaigns/{cid}/archive")
    assert refused.status_code == 409
    assert "1 people are still in this campaign" in refused.json["errors"][0]["message"]
    rep.post(f"/api/v1/campaigns/{cid}/stop")
    archived = rep.post(f"/api/v1/campaigns/{cid}/archive")
    assert archived.status_code == 200 and archived.json["archived"] is True
    assert [c["id"] for c in rep.get("/api/v1/campaigns").json["campaigns"]] == [other]
    assert [c["id"] for c in rep.get("/api/v1/campaigns?archived=true").json[
        "campaigns"]] == [cid]
    assert rep.get("/api/v1/campaigns?archived=maybe").status_code == 422
    late = rep.post(f"/api/v1/campaigns/{cid}/launch", json={"people": people(1, "x")})
    assert late.status_code == 409 and late.json["errors"][0]["field"] == "campaign_id"
    assert rep.post(f"/api/v1/campaigns/{cid}/unarchive").json["archived"] is False
    assert len(rep.get("/api/v1/campaigns").json["campaigns"]) == 2


def test_clone_copies_steps_and_settings_with_nobody_in_it(
    runtime: Runtime, rep: Actor, client: FlaskClient
) -> None:
    cid = make_campaign(rep, [email_step(1, send_time="10:00"),
                              {"day": 2, "type": "call", "instructions": "Ring them"}],
                        sending_window={"days": ["mon", "tue"], "start": "08:00",
                                        "end": "17:00"})
    launch(rep, cid, people(1))
    original = rep.get(f"/api/v1/campaigns/{cid}").json
    cloned = rep.post(f"/api/v1/campaigns/{cid}/clone")
    assert cloned.status_code == 201, cloned.json
    copy = cloned.json
    assert copy["id"] != cid and copy["name"] == original["name"] + " (copy)"
    assert cloned.headers["Location"] == f"/api/v1/campaigns/{copy['id']}"
    for key in ("timezone", "settings", "owner_id"):
        assert copy[key] == original[key], key
    # The same steps, saved anew (their own ids).
    assert [s.pop("id") for s in copy["steps"]] != [s.pop("id") for s in original["steps"]]
    assert copy["steps"] == original["steps"]
    assert rep.get(f"/api/v1/campaigns/{copy['id']}/enrollments").json["enrollments"] == []


def test_actions_keep_to_the_owner_and_the_organisation(
    runtime: Runtime, rep: Actor, client: FlaskClient
) -> None:
    cid = make_campaign(rep, [email_step(1, send_time="10:00")])
    launch(rep, cid, people(1))
    colleague = make_actor(runtime, client, "bob@acme.test")
    stranger = make_actor(runtime, client, "eve@else.test", org="Else", admin=True)
    for actor in (colleague, stranger):
        for action in ("pause", "resume", "stop", "clone", "archive", "unarchive"):
            assert actor.post(f"/api/v1/campaigns/{cid}/{action}").status_code == 404
        assert actor.get(f"/api/v1/campaigns/{cid}/people").status_code == 404
    admin = make_actor(runtime, client, "boss@acme.test", admin=True)
    assert admin.post(f"/api/v1/campaigns/{cid}/pause").json["affected"] == 1
    copy = admin.post(f"/api/v1/campaigns/{cid}/clone").json
    assert copy["owner_id"] == admin.rep_id
