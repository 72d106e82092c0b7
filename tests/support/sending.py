"""Helpers for the send pipeline tests: a campaign, a launch, running the queued jobs."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import redis
from rq import Queue
from sqlalchemy import func, select

from addin_server.enums import SendState
from addin_server.models import Send, SendLog
from addin_server.runtime import Runtime
from addin_server.workers import dispatch
from addin_server.workers.runtime import install_runtime
from addin_server.workers.worker import SendWorker
from tests.conftest import Actor


def email_step(day: int, **kw: Any) -> dict[str, Any]:
    step = {"day": day, "type": "email", "send_option": "fixed_time", "send_time": "09:30",
            "subject": "Hello {{first_name}}",
            "body_html": "<p>Hi {{first_name | default: \"there\"}}, a note from us.</p>"}
    step.update(kw)
    return step


def make_campaign(actor: Actor, steps: list[dict[str, Any]] | None = None,
                  **settings: Any) -> int:
    body = {"name": f"c-{uuid.uuid4().hex[:6]}", "timezone": "Europe/Paris",
            "settings": {"skip_weekends": False, "stop_on_reply": True,
                         "remove_on_bounce": True, **settings},
            "steps": steps or [email_step(1)]}
    response = actor.post("/api/v1/campaigns", json=body)
    assert response.status_code == 201, response.json
    return int(response.json["id"])


def launch(actor: Actor, campaign_id: int, people: list[dict[str, Any]],
           **options: Any) -> list[int]:
    response = actor.post(f"/api/v1/campaigns/{campaign_id}/launch",
                          json={"people": people, **options})
    assert response.status_code == 201, response.json
    return [e["id"] for e in response.json["enrollments"]]


def people(n: int, prefix: str = "p") -> list[dict[str, Any]]:
    return [{"email": f"{prefix}{i}@corp.test", "first_name": f"N{i}"} for i in range(n)]


def redis_conn(rt: Runtime) -> redis.Redis:
    return rt.redis()


def drain(rt: Runtime) -> int:
    """Run every job on the queue in this process (the worker command's class, burst), with
    `rt`."""
    install_runtime(rt)
    queue = Queue(rt.settings.queue_name, connection=rt.redis())
    before = queue.count
    SendWorker([queue], connection=rt.redis()).work(burst=True)
    return before


def cycle(rt: Runtime, rounds: int = 3) -> None:
    """The dispatcher process's pass (duties and sends), then run what it queued; a few
    rounds."""
    for _ in range(rounds):
        dispatch.tick(rt)
        drain(rt)


def states(rt: Runtime) -> Counter[str]:
    with rt.sessions() as s:
        return Counter({st.value: n for st, n in s.execute(
            select(Send.state, func.count()).group_by(Send.state))})


def history(rt: Runtime, send_id: int) -> list[tuple[str, str]]:
    with rt.sessions() as s:
        return [(a, b) for a, b in s.execute(
            select(SendLog.from_state, SendLog.to_state).where(SendLog.send_id == send_id)
            .order_by(SendLog.id))]


def only_send(rt: Runtime, position: int = 0) -> Send:
    with rt.sessions() as s:
        rows = list(s.scalars(select(Send).where(Send.position == position)))
        assert len(rows) == 1, rows
        return rows[0]


SENT = SendState.SENT.value
