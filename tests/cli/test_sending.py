"""`addin-server dispatch --once`, `worker --burst` and `why`, through Flask's CLI runner on
the test database and a real Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from rq import Queue

from addin_server import create_app
from addin_server.cli import register_commands
from addin_server.config import Settings
from addin_server.runtime import Runtime
from tests.conftest import Actor, FrozenClock
from tests.support.sending import email_step, launch, make_campaign, people


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(queue_name=f"t-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def cli_app(runtime: Runtime) -> Iterator[Flask]:
    app = create_app(runtime=runtime)
    register_commands(app)
    yield app
    Queue(runtime.settings.queue_name, connection=runtime.redis()).empty()


def run(app: Flask, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return str(result.output)


def test_dispatch_worker_and_why(cli_app: Flask, rep: Actor, clock: FrozenClock) -> None:
    cid = make_campaign(rep, [email_step(1), email_step(2, send_option="same_time_as_previous",
                                                        reply_to_previous=True, subject="")])
    launch(rep, cid, people(3))
    clock.advance(hours=1)
    assert "promoted 3," in run(cli_app, "dispatch", "--once")
    assert "promoted 0," in run(cli_app, "dispatch", "--once")  # queued once
    run(cli_app, "worker", "--burst")
    messages = rep.get("/api/v1/mailbox/messages").json["messages"]
    assert sorted(m["to"] for m in messages) == [f"p{i}@corp.test" for i in range(3)]
    why = run(cli_app, "why", "1")
    assert "state: sent" in why and "attempts: 1" in why
    assert "queued -> sending" in why and "sending -> sent" in why
    # The second email is planned for the next day at the same time, as a reply.
    why4 = run(cli_app, "why", "4")
    assert "state: scheduled" in why4 and "reason: not due yet" in why4
    assert "2026-11-25 08:30:00 UTC" in why4
    clock.advance(days=1)
    run(cli_app, "dispatch", "--once")
    run(cli_app, "worker", "--burst")
    messages = rep.get("/api/v1/mailbox/messages").json["messages"]
    replies = [m for m in messages if m["subject"].startswith("Re: ")]
    assert len(replies) == 3 and all("In-Reply-To" in m["headers"] for m in replies)
    result = cli_app.test_cli_runner().invoke(args=["why", "999"])
    assert result.exit_code != 0 and "no send 999" in result.output
