"""The send API: an email task sent from the compose window (once, however often clicked), the
outbox for the Command Center, and the local development mailbox's messages."""

from __future__ import annotations

import email
import email.policy
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from rq import Queue
from sqlalchemy import func, select

from addin_server.config import Settings
from addin_server.enums import SendState, TaskStatus
from addin_server.models import LocalMessage, Send, Task
from addin_server.runtime import Runtime
from tests.conftest import Actor, FrozenClock, make_actor
from tests.support.sending import cycle, email_step, launch, make_campaign

MANUAL_FIRST = [
    email_step(1, send_option="manual_task", send_time=None, subject="Idea for {{company}}",
               body_html="<p>Hi {{first_name}}, {{! one line about their industry }}</p>"),
    email_step(3, send_option="fixed_time", send_time="10:00", reply_to_previous=True,
               subject="", body_html="<p>Any thoughts?</p>"),
]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(queue_name=f"t-{uuid.uuid4().hex[:8]}")


@pytest.fixture(autouse=True)
def _clean_queue(runtime: Runtime) -> Iterator[None]:
    yield
    Queue(runtime.settings.queue_name, connection=runtime.redis()).empty()


def email_task(actor: Actor) -> int:
    cid = make_campaign(actor, MANUAL_FIRST)
    launch(actor, cid, [{"email": "zoe@corp.test", "first_name": "Zoe", "company": "Corp"}])
    (task,) = actor.get("/api/v1/tasks?status=open").json["tasks"]
    return int(task["id"])


def compose_body(**kw: Any) -> dict[str, Any]:
    body = {"subject": "Idea for Corp", "body_html": "<p>Hi {{first_name}}, retail is hot.</p>"}
    body.update(kw)
    return body


def test_task_send_goes_out_completes_the_task_and_the_reply_threads_on_it(
    runtime: Runtime, rep: Actor, clock: FrozenClock
) -> None:
    task_id = email_task(rep)
    response = rep.post(f"/api/v1/tasks/{task_id}/send", json=compose_body())
    assert response.status_code == 201, response.json
    assert response.json["state"] == "scheduled"
    send_id = response.json["id"]
    cycle(runtime, 1)
    got = rep.get(f"/api/v1/sends/{send_id}").json
    assert got["state"] == "sent" and got["attempts"] == 1
    assert [h["to"] for h in got["history"]] == ["scheduled", "queued", "sending", "sent"]
    with runtime.sessions() as s:
        task = s.get(Task, task_id)
        assert task is not None and task.status == TaskStatus.COMPLETED
    messages = rep.get("/api/v1/mailbox/messages").json["messages"]
    assert len(messages) == 1
    first = messages[0]
    assert first["subject"] == "Idea for Corp"
    assert "Hi Zoe, retail is hot." in first["text"]
    assert first["headers"]["X-Campaign-Send-Id"] == str(send_id)
    raw = rep.get(f"/api/v1/mailbox/messages/{first['id']}/raw")
    assert raw.mimetype == "message/rfc822"
    parsed = email.message_from_bytes(raw.data, policy=email.policy.default)
    assert parsed["Message-ID"] == first["message_id"]
    # The next (automatic) step replies to what the rep sent.
    clock.advance(days=2, hours=2)
    cycle(runtime, 1)
    messages = rep.get("/api/v1/mailbox/messages").json["messages"]
    assert [m["subject"] for m in messages] == ["Re: Idea for Corp", "Idea for Corp"]
    assert messages[0]["headers"]["In-Reply-To"] == first["message_id"]
    assert messages[0]["thread_id"] == first["thread_id"]


def test_double_click_makes_one_send(runtime: Runtime, rep: Actor, app: Flask) -> None:
    task_id = email_task(rep)
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def click() -> None:
        client = app.test_client()
        barrier.wait()
        codes.append(client.post(f"/api/v1/tasks/{task_id}/send", headers=rep.headers,
                                 json=compose_body()).status_code)

    threads = [threading.Thread(target=click) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200, 201]
    third = rep.post(f"/api/v1/tasks/{task_id}/send", json=compose_body())
    assert third.status_code == 200 and third.json["created"] is False
    cycle(runtime, 1)
    with runtime.sessions() as s:
        # One send for the task (the other row is the next step, scheduled by the completion).
        assert s.scalar(select(func.count()).select_from(Send).where(Send.task_id == task_id)) == 1
        sent = s.scalars(select(LocalMessage).where(LocalMessage.is_draft.is_(False))).all()
        assert len(sent) == 1


@pytest.mark.parametrize(("body", "field", "needle"), [
    (compose_body(body_html="<p>{{! one line about their industry }}</p>"), "body_html",
     "replace the prompts"),
    (compose_body(subject="Idea {{! their company }}"), "subject", "replace the prompts"),
    (compose_body(subject="Idea\r\nBcc: x@evil.test"), "subject", "line breaks"),
    (compose_body(body_html="<p>{{nickname}}</p>"), "body_html", "no value for: nickname"),
    (compose_body(send_at="tomorrow"), "send_at", "ISO 8601"),
    ({"body_html": "<p>x</p>"}, "subject", "required"),
])
def test_bad_compose_input_is_refused_naming_the_field(
    runtime: Runtime, rep: Actor, body: dict[str, Any], field: str, needle: str
) -> None:
    task_id = email_task(rep)
    response = rep.post(f"/api/v1/tasks/{task_id}/send", json=body)
    assert response.status_code == 422, response.json
    (error,) = response.json["errors"]
    assert error["field"] == field and needle in error["message"]
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Send)) == 0


def test_send_at_in_the_future_waits(runtime: Runtime, rep: Actor, clock: FrozenClock) -> None:
    task_id = email_task(rep)
    response = rep.post(f"/api/v1/tasks/{task_id}/send",
                        json=compose_body(send_at="2026-11-24T15:00:00+01:00"))
    assert response.json["due_at"] == "2026-11-24T14:00:00Z"
    cycle(runtime, 1)
    listed = rep.get("/api/v1/sends?state=scheduled").json["sends"]
    assert [s["id"] for s in listed] == [response.json["id"]]
    assert listed[0]["reason"] == "scheduled"
    assert rep.get("/api/v1/sends?state=bogus").status_code == 422
    clock.advance(hours=6)
    cycle(runtime, 1)
    assert rep.get("/api/v1/sends?state=sent").json["sends"][0]["id"] == response.json["id"]


def test_other_organisations_see_nothing(runtime: Runtime, rep: Actor, client: Any) -> None:
    task_id = email_task(rep)
    send_id = rep.post(f"/api/v1/tasks/{task_id}/send", json=compose_body()).json["id"]
    cycle(runtime, 1)
    other = make_actor(runtime, client, "eve@other.test", org="Other")
    assert other.get(f"/api/v1/sends/{send_id}").status_code == 404
    assert other.get("/api/v1/sends").json["sends"] == []
    assert other.get("/api/v1/mailbox/messages").json["messages"] == []
    (msg,) = rep.get("/api/v1/mailbox/messages").json["messages"]
    assert other.get(f"/api/v1/mailbox/messages/{msg['id']}/raw").status_code == 404
    assert other.post(f"/api/v1/tasks/{task_id}/send", json=compose_body()).status_code == 404
    assert client.get("/api/v1/sends").status_code == 401
    with runtime.sessions() as s:
        assert s.scalar(select(Send.state).where(Send.id == send_id)) == SendState.SENT


def test_a_merge_value_cannot_make_a_link(runtime: Runtime, rep: Actor,
                                          clock: FrozenClock) -> None:
    """`href="{{first_name}}"` with the first name `javascript:alert(1)`: the link is dropped
    in the preview, the compose window and the email that goes out."""
    evil = {"email": "zoe@corp.test", "first_name": "javascript:alert(1)", "company": "Corp"}
    body = '<p><a href="{{first_name}}">Hi</a> <a href="https://ok.test/{{company}}">ok</a></p>'
    cid = make_campaign(rep, [
        email_step(1, send_option="manual_task", send_time=None, subject="Hi", body_html=body),
        email_step(2, send_time="10:00", subject="Again", body_html=body)])
    launch(rep, cid, [evil])
    preview = rep.post("/api/v1/preview", json={"subject": "x", "body_html": body,
                                                "person_email": "zoe@corp.test"})
    assert preview.status_code == 200, preview.json
    (task,) = rep.get("/api/v1/tasks?status=open").json["tasks"]
    compose = rep.get(f"/api/v1/tasks/{task['id']}/compose")
    assert compose.status_code == 200, compose.json
    for html in (preview.json["body_html"], compose.json["body_html"]):
        assert "javascript" not in html and 'href="https://ok.test/Corp"' in html
    rep.post(f"/api/v1/tasks/{task['id']}/skip")
    clock.advance(days=1, hours=3)
    cycle(runtime, 2)
    [sent] = rep.get("/api/v1/mailbox/messages").json["messages"]
    raw = rep.get(f"/api/v1/mailbox/messages/{sent['id']}/raw").data
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    html_part = parsed.get_body(preferencelist=("html",))
    assert html_part is not None
    sent_html = html_part.get_content()
    assert "javascript" not in sent_html and 'href="https://ok.test/Corp"' in sent_html
