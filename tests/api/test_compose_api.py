"""The compose API of issue 17 point 5: snippets (private or shared, who may change them), the
rep's signature, uploaded attachments (limits, ownership, once on one email), Cc/Bcc checked on
email tasks and on email steps."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from rq import Queue
from sqlalchemy import select

from addin_server.config import Settings
from addin_server.mailboxes.port import MAX_ATTACHMENTS_BYTES
from addin_server.models import Attachment, Send
from addin_server.runtime import Runtime
from addin_server.workers.duties import drop_old_attachments
from tests.api.test_sends import compose_body, email_task
from tests.conftest import Actor, FrozenClock, make_actor
from tests.support.sending import cycle, email_step


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(queue_name=f"t-{uuid.uuid4().hex[:8]}")


@pytest.fixture(autouse=True)
def _clean_queue(runtime: Runtime) -> Iterator[None]:
    yield
    Queue(runtime.settings.queue_name, connection=runtime.redis()).empty()


def _upload(actor: Actor, data: bytes, name: str = "a.txt", ctype: str = "text/plain"
            ) -> Any:
    return actor.post("/api/v1/attachments", data={"file": (io.BytesIO(data), name, ctype)},
                      content_type="multipart/form-data")


# --- snippets -------------------------------------------------------------------------------

def test_snippets_are_private_unless_shared_and_changed_by_their_owner_or_an_admin(
    runtime: Runtime, client: FlaskClient, rep: Actor
) -> None:
    bob = make_actor(runtime, client, "bob@acme.test")
    carl = make_actor(runtime, client, "carl@acme.test", admin=True)
    other_org = make_actor(runtime, client, "eve@other.test", org="Other")
    mine = rep.post("/api/v1/snippets", json={
        "name": "Pricing",
        "body_html": "<p>Hi {{first_name}}, our price</p><img src=x onerror=alert(1)>"})
    assert mine.status_code == 201, mine.json
    assert "onerror" not in mine.json["body_html"] and "{{first_name}}" in mine.json["body_html"]
    assert mine.json["shared"] is False and mine.json["mine"] is True
    shared = rep.post("/api/v1/snippets", json={"name": "Case study", "body_html": "<p>See</p>",
                                                "shared": True}).json
    assert [s["name"] for s in bob.get("/api/v1/snippets").json["snippets"]] == ["Case study"]
    assert bob.get(f"/api/v1/snippets/{mine.json['id']}").status_code == 404
    assert other_org.get("/api/v1/snippets").json["snippets"] == []
    # Bob sees the shared one but may not change it; Carl (admin) may.
    refused = bob.patch(f"/api/v1/snippets/{shared['id']}", json={"name": "Mine now"})
    assert refused.status_code == 403
    assert bob.delete(f"/api/v1/snippets/{shared['id']}").status_code == 403
    changed = carl.patch(f"/api/v1/snippets/{shared['id']}", json={"name": "Case study (v2)"})
    assert changed.status_code == 200 and changed.json["body_html"] == "<p>See</p>"
    assert changed.json["mine"] is False
    # Made private again by its owner: gone from Bob's list.
    rep.patch(f"/api/v1/snippets/{shared['id']}", json={"shared": False})
    assert bob.get("/api/v1/snippets").json["snippets"] == []
    assert carl.patch(f"/api/v1/snippets/{mine.json['id']}", json={"name": "x"}
                      ).status_code == 404
    assert rep.delete(f"/api/v1/snippets/{mine.json['id']}").status_code == 204
    assert [s["name"] for s in rep.get("/api/v1/snippets").json["snippets"]] == [
        "Case study (v2)"]


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "", "body_html": "x"}, "name"),
    ({"name": "   ", "body_html": "x"}, "name"),
    ({"name": "n", "body_html": "{{ first_name "}, "body_html"),
    ({"name": "n", "body_html": "x", "shared": "yes"}, "shared"),
    ({"body_html": "x"}, "name"),
])
def test_a_bad_snippet_is_refused_naming_the_field(rep: Actor, body: dict[str, object],
                                                   field: str) -> None:
    response = rep.post("/api/v1/snippets", json=body)
    assert response.status_code == 422, response.json
    assert field in [e["field"] for e in response.json["errors"]]
    assert rep.get("/api/v1/snippets").json["snippets"] == []


# --- signature ------------------------------------------------------------------------------

def test_the_signature_is_sanitised_kept_and_removed(rep: Actor) -> None:
    assert rep.get("/api/v1/me/signature").json == {"signature_html": ""}
    saved = rep.patch("/api/v1/me/signature", json={
        "signature_html": '<p>Ann <a href="javascript:alert(1)">site</a></p><script>x()</script>'})
    assert saved.status_code == 200
    assert "script" not in saved.json["signature_html"]
    assert "javascript" not in saved.json["signature_html"]
    assert rep.get("/api/v1/me/signature").json == saved.json
    for bad in ("{{ oops", "<p>{{! a line about them }}</p>"):
        refused = rep.patch("/api/v1/me/signature", json={"signature_html": bad})
        assert refused.status_code == 422, bad
        assert refused.json["errors"][0]["field"] == "signature_html"
    assert rep.get("/api/v1/me/signature").json == saved.json
    assert rep.patch("/api/v1/me/signature", json={"signature_html": ""}).json == {
        "signature_html": ""}


# --- attachments and copies on an email task -----------------------------------------------

def test_attachments_are_the_uploaders_and_go_on_one_email(
    runtime: Runtime, client: FlaskClient, rep: Actor
) -> None:
    bob = make_actor(runtime, client, "bob@acme.test")
    up = _upload(rep, b"hello", "C:\\Users\\ann\\../pa\x01sswd.txt",
                 "text/plain; charset=utf-8")
    assert up.status_code == 201, up.json
    assert up.json["filename"] == "pa_sswd.txt" and up.json["content_type"] == "text/plain"
    theirs = _upload(bob, b"bob's").json["id"]
    assert rep.get(f"/api/v1/attachments/{theirs}").status_code == 404
    task_id = email_task(rep)
    refused = rep.post(f"/api/v1/tasks/{task_id}/send", json=compose_body(
        attachment_ids=[up.json["id"], theirs], cc=["boss@corp.test", "not an address"]))
    assert refused.status_code == 422
    assert {e["field"] for e in refused.json["errors"]} == {"cc[1]"}
    refused = rep.post(f"/api/v1/tasks/{task_id}/send", json=compose_body(
        attachment_ids=[up.json["id"], theirs]))
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json["errors"]] == ["attachment_ids[1]"]
    with runtime.sessions() as s:
        assert s.scalars(select(Send)).all() == []
    sent = rep.post(f"/api/v1/tasks/{task_id}/send", json=compose_body(
        attachment_ids=[up.json["id"]], cc=["Boss@Corp.test", "pa@corp.test", "boss@corp.test"],
        bcc=[]))
    assert sent.status_code == 201, sent.json
    assert sent.json["cc"] == ["boss@corp.test", "pa@corp.test"]
    with runtime.sessions() as s:
        row = s.get(Attachment, up.json["id"])
        assert row is not None and row.send_id == sent.json["id"]
    # On an email already: not removed.
    assert rep.delete(f"/api/v1/attachments/{up.json['id']}").status_code == 409


def test_the_attachment_limits(rep: Actor) -> None:
    too_big = _upload(rep, b"x" * (MAX_ATTACHMENTS_BYTES + 1), "big.bin",
                      "application/octet-stream")
    assert too_big.status_code == 413
    assert _upload(rep, b"", "empty.txt").status_code == 422
    no_file = rep.post("/api/v1/attachments", data={"other": "x"},
                       content_type="multipart/form-data")
    assert no_file.status_code == 422 and no_file.json["errors"][0]["field"] == "file"
    assert rep.post("/api/v1/attachments", json={"file": "x"}).status_code == 415
    # Two files each allowed, together over 25 MB: refused on the email.
    half = MAX_ATTACHMENTS_BYTES // 2 + 1
    ids = [_upload(rep, b"a" * half, "a.bin").json["id"],
           _upload(rep, b"b" * half, "b.bin").json["id"]]
    task_id = email_task(rep)
    refused = rep.post(f"/api/v1/tasks/{task_id}/send", json=compose_body(attachment_ids=ids))
    assert refused.status_code == 422 and refused.json["errors"][0]["field"] == "attachment_ids"
    assert rep.delete(f"/api/v1/attachments/{ids[0]}").status_code == 204
    assert rep.get(f"/api/v1/attachments/{ids[0]}").status_code == 404


def test_step_copies_are_checked_and_kept(rep: Actor) -> None:
    body = {"name": "c", "timezone": "Europe/Paris", "steps": [
        email_step(1, cc=["boss@corp.test", "bad@"], bcc=["log@x.test"])]}
    refused = rep.post("/api/v1/campaigns", json=body)
    assert refused.status_code == 422
    assert {e["field"] for e in refused.json["errors"]} == {"steps[0].cc[1]"}
    body["steps"] = [email_step(1), {"day": 2, "type": "call", "bcc": ["a@b.test"]}]
    refused = rep.post("/api/v1/campaigns", json=body)
    assert refused.status_code == 422
    assert {e["field"] for e in refused.json["errors"]} == {"steps[1].bcc"}
    body["steps"] = [email_step(1, cc=["Boss@corp.test"], bcc=["log@x.test"])]
    created = rep.post("/api/v1/campaigns", json=body)
    assert created.status_code == 201, created.json
    step = created.json["steps"][0]
    assert step["cc"] == ["boss@corp.test"] and step["bcc"] == ["log@x.test"]
    changed = rep.patch(f"/api/v1/campaigns/{created.json['id']}", json={
        "steps": [email_step(1, bcc=[])]})
    assert changed.status_code == 200, changed.json
    assert changed.json["steps"][0]["cc"] == [] and changed.json["steps"][0]["bcc"] == []


def test_attachments_no_email_needs_are_dropped(runtime: Runtime, rep: Actor,
                                                clock: FrozenClock) -> None:
    unused = _upload(rep, b"never sent").json["id"]
    went_out = _upload(rep, b"went out").json["id"]
    waiting = _upload(rep, b"on a scheduled email").json["id"]
    sent = rep.post(f"/api/v1/tasks/{email_task(rep)}/send", json=compose_body(
        attachment_ids=[went_out])).json
    cycle(runtime, 1)
    assert rep.get(f"/api/v1/sends/{sent['id']}").json["state"] == "sent"
    scheduled = rep.post(f"/api/v1/tasks/{email_task(rep)}/send", json=compose_body(
        attachment_ids=[waiting], send_at="2026-12-24T09:00:00Z")).json
    assert scheduled["state"] == "scheduled"
    clock.advance(seconds=6 * 86400)
    assert drop_old_attachments(runtime, runtime.now()) == 0
    clock.advance(seconds=2 * 86400)
    assert drop_old_attachments(runtime, runtime.now()) == 2
    assert rep.get(f"/api/v1/attachments/{unused}").status_code == 404
    assert rep.get(f"/api/v1/attachments/{went_out}").status_code == 404
    assert rep.get(f"/api/v1/attachments/{waiting}").json["send_id"] == scheduled["id"]


def test_sent_again_after_a_cancel_the_email_carries_the_files_chosen_now(
    runtime: Runtime, rep: Actor
) -> None:
    first = _upload(rep, b"first draft of the deck", "deck-v1.pdf", "application/pdf").json
    second = _upload(rep, b"second draft", "deck-v2.pdf", "application/pdf").json
    task_id = email_task(rep)
    send = rep.post(f"/api/v1/tasks/{task_id}/send", json=compose_body(
        attachment_ids=[first["id"]], send_at="2026-12-24T09:00:00Z", cc=["a@corp.test"])).json
    assert rep.post(f"/api/v1/sends/{send['id']}/cancel").status_code == 200
    again = rep.post(f"/api/v1/tasks/{task_id}/send", json=compose_body(
        attachment_ids=[second["id"]]))
    assert again.status_code == 200 and again.json["id"] == send["id"], again.json
    assert again.json["state"] == "scheduled" and again.json["cc"] == []
    assert rep.get(f"/api/v1/attachments/{first['id']}").json["send_id"] is None
    assert rep.get(f"/api/v1/attachments/{second['id']}").json["send_id"] == send["id"]
