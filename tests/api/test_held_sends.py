"""A held email has ways out (issue 15, point 6): fill the person's missing field and release
it (it goes once, through the pipeline), release it with the default text (the field blank, as
shown before), or skip the step (the person moves on). 409 once it is no longer held, 422
naming the field. The clock stands at 2026-11-24 08:00 UTC."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from rq import Queue

from addin_server.config import Settings
from addin_server.models import Send
from addin_server.runtime import Runtime
from tests.conftest import Actor, FrozenClock, make_actor
from tests.support.sending import cycle, email_step, launch, make_campaign

BODY = "<p>Hi {{first_name}}, I love {{favourite_color}} too.</p>"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(queue_name=f"t-{uuid.uuid4().hex[:8]}")


@pytest.fixture(autouse=True)
def _clean_queue(runtime: Runtime) -> Iterator[None]:
    yield
    Queue(runtime.settings.queue_name, connection=runtime.redis()).empty()


def held_send(runtime: Runtime, rep: Actor, clock: FrozenClock, *, steps: int = 2) -> int:
    """A campaign whose first email needs favourite_color, launched on Zoe who has none; the
    pipeline holds it."""
    chain = [email_step(1, subject="Colours, {{first_name}}", body_html=BODY)]
    chain += [email_step(3, body_html="<p>Following up</p>")][: steps - 1]
    cid = make_campaign(rep, chain)
    launch(rep, cid, [{"email": "zoe@corp.test", "first_name": "Zoe"}])
    clock.advance(hours=1)
    cycle(runtime, 1)
    (send,) = rep.get("/api/v1/sends?state=held").json["sends"]
    assert send["reason"] == "cannot be written: missing merge fields: favourite_color"
    return int(send["id"])


def messages(rep: Actor) -> list[dict[str, object]]:
    return rep.get("/api/v1/mailbox/messages").json["messages"]


def test_a_held_email_shows_what_it_lacks_marked_and_with_the_default_text(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    send_id = held_send(runtime, rep, clock)
    held = rep.get(f"/api/v1/sends/{send_id}").json["held"]
    assert held["missing_fields"] == ["favourite_color"]
    assert ('<mark class="missing-field" title="missing merge field">favourite_color</mark>'
            in held["body_html"])
    assert held["default_body_html"] == "<p>Hi Zoe, I love  too.</p>"
    assert held["subject"] == held["default_subject"] == "Colours, Zoe"


def test_fill_the_field_and_release_sends_it_once(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    send_id = held_send(runtime, rep, clock)
    released = rep.post(f"/api/v1/sends/{send_id}/release",
                        json={"fields": {"favourite_color": "teal"}})
    assert released.status_code == 200, released.json
    assert (released.json["state"], released.json["due_at"]) == ("scheduled",
                                                                "2026-11-24T09:00:00Z")
    again = rep.post(f"/api/v1/sends/{send_id}/release", json={})
    assert again.status_code == 409 and again.json["errors"][0]["field"] == "state"
    cycle(runtime, 3)
    (message,) = messages(rep)
    assert message["send_id"] == str(send_id) and "I love teal too." in str(message["text"])
    assert rep.get(f"/api/v1/sends/{send_id}").json["state"] == "sent"
    # The value is the person's now: a later email that needs it finds it.
    enrollment_id = released.json["enrollment_id"]
    enrollment = rep.get(f"/api/v1/enrollments/{enrollment_id}").json
    assert enrollment["person"]["fields"] == {"favourite_color": "teal"}
    assert rep.post(f"/api/v1/sends/{send_id}/skip").status_code == 409


def test_release_without_a_value_is_refused_naming_the_field_and_changes_nothing(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    send_id = held_send(runtime, rep, clock)
    for body in ({}, {"fields": {"favourite_color": "  "}},
                 {"fields": {"favourite_color": ""}, "use_defaults": False}):
        refused = rep.post(f"/api/v1/sends/{send_id}/release", json=body)
        assert refused.status_code == 422, refused.json
        assert refused.json["errors"][0]["field"] == "fields.favourite_color"
    bad = rep.post(f"/api/v1/sends/{send_id}/release", json={"fields": {"email": "x@y.test"}})
    assert bad.status_code == 422 and bad.json["errors"][0]["field"] == "fields.email"
    typed = rep.post(f"/api/v1/sends/{send_id}/release", json={"fields": {"a": 1}})
    assert typed.status_code == 422 and typed.json["errors"][0]["field"] == "fields.a"
    bare = rep.post(f"/api/v1/sends/{send_id}/release")  # no body at all: same rule
    assert bare.status_code == 422
    assert rep.get(f"/api/v1/sends/{send_id}").json["state"] == "held"
    cycle(runtime, 2)
    assert messages(rep) == []


def test_release_with_the_default_text_sends_the_field_blank(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    send_id = held_send(runtime, rep, clock)
    shown = rep.get(f"/api/v1/sends/{send_id}").json["held"]["default_body_html"]
    released = rep.post(f"/api/v1/sends/{send_id}/release", json={"use_defaults": True})
    assert released.status_code == 200, released.json
    cycle(runtime, 3)
    (message,) = messages(rep)
    assert "I love too." in " ".join(str(message["text"]).split())
    assert rep.get(f"/api/v1/sends/{send_id}").json["state"] == "sent"
    with runtime.sessions() as s:
        send = s.get(Send, send_id)
        assert send is not None and send.body_html.startswith(shown)
    history = rep.get(f"/api/v1/sends/{send_id}").json["history"]
    assert any(h["note"] == "released by the rep (blank: favourite_color)" for h in history)


def test_skip_cancels_it_and_the_person_moves_on(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    send_id = held_send(runtime, rep, clock)
    skipped = rep.post(f"/api/v1/sends/{send_id}/skip")
    assert skipped.status_code == 200, skipped.json
    assert skipped.json["state"] == "cancelled"
    assert skipped.json["reason"].startswith("step skipped by the rep")
    enrollment = rep.get(f"/api/v1/enrollments/{skipped.json['enrollment_id']}").json
    assert [s["status"] for s in enrollment["steps"]] == ["cancelled", "scheduled"]
    assert rep.post(f"/api/v1/sends/{send_id}/skip").status_code == 409
    assert rep.post(f"/api/v1/sends/{send_id}/release", json={}).status_code == 409
    cycle(runtime, 2)
    assert messages(rep) == []


def test_a_send_not_held_is_409_and_another_reps_is_404(
    runtime: Runtime, rep: Actor, clock: FrozenClock, client: FlaskClient
) -> None:
    cid = make_campaign(rep, [email_step(1, send_time="10:00")])
    launch(rep, cid, [{"email": "zoe@corp.test", "first_name": "Zoe"}])
    (send,) = rep.get("/api/v1/sends").json["sends"]
    for action in ("release", "skip"):
        refused = rep.post(f"/api/v1/sends/{send['id']}/{action}", json={})
        assert refused.status_code == 409 and refused.json["errors"][0]["field"] == "state"
    colleague = make_actor(runtime, client, "bob@acme.test")
    other = make_actor(runtime, client, "eve@other.test", org="Other")
    for actor in (colleague, other):
        assert actor.post(f"/api/v1/sends/{send['id']}/skip").status_code == 404
        assert actor.post(f"/api/v1/sends/{send['id']}/release", json={}).status_code == 404


def test_preview_marks_the_fields_the_sample_person_lacks(rep: Actor) -> None:
    """Before: the whole preview was blank when one field had no value."""
    preview = rep.post("/api/v1/preview", json={
        "subject": "For {{company}}, {{first_name}}",
        "body_html": '<p>Hi {{first_name}}, <a href="{{link}}">{{favourite_color}}</a></p>',
        "person": {"email": "zoe@corp.test", "first_name": "Zoe"}})
    assert preview.status_code == 200, preview.json
    assert preview.json["missing_fields"] == ["company", "favourite_color", "link"]
    assert preview.json["subject"] == "For [company], Zoe"
    assert preview.json["body_html"] == (
        '<p>Hi Zoe, <a href="">'
        '<mark class="missing-field" title="missing merge field">favourite_color</mark></a></p>')
